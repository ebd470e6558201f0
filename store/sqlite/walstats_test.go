package sqlite

import (
	"fmt"
	"os"
	"testing"

	"mfagate/mfa"
)

// The WAL frames counted are the frames the WAL file grew by, including
// across the restart of the WAL after an automatic checkpoint.
func TestWALFramesCounted(t *testing.T) {
	db := open(t)
	var pageSize int64
	if err := db.r.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(db.Path() + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	_, f0 := db.WriteStats()
	s0 := size()
	const n = 50
	for i := range n {
		if err := db.Update(t.Context(), func(tx mfa.Tx) error {
			return tx.PutUser(mfa.User{ID: fmt.Sprintf("%010d", i), State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0})
		}); err != nil {
			t.Fatal(err)
		}
	}
	c, f := db.WriteStats()
	// A WAL frame is a 24-byte header and a page; the WAL has not
	// restarted yet (fewer than wal_autocheckpoint frames).
	grown := (size() - s0) / (24 + pageSize)
	if f-f0 == 0 || int64(f-f0) != grown {
		t.Fatalf("%d commits counted %d frames; the WAL grew by %d", c, f-f0, grown)
	}
	// Past an automatic checkpoint (1000 frames) and the WAL's restart,
	// frames keep being counted.
	before := f
	for i := range 1200 {
		if err := db.Update(t.Context(), func(tx mfa.Tx) error {
			return tx.PutUser(mfa.User{ID: fmt.Sprintf("%010d", 1000+i), State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0})
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, after := db.WriteStats()
	if per := float64(after-before) / 1200; per < 1 || per > 8 {
		t.Fatalf("%.1f frames per one-row commit across a checkpoint", per)
	}
}
