package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"mfagate/mfa"
)

// WriteStats is what a store reports of its own writes, for
// mfagate_store_commits_total and mfagate_store_wal_frames_total.
type WriteStats interface {
	WriteStats() (commits, walFrames uint64)
}

// A write transaction counts one commit, a read or a rolled-back write
// none, and concurrent writes at most one each (fewer when a group commit
// serves several). WAL frames, where counted, grow with the commits and
// stay few for a one-row write.
func testWriteStats(t *testing.T, s mfa.Store) {
	ws, ok := s.(WriteStats)
	if !ok {
		t.Skip("the store reports no write counters")
	}
	c0, f0 := ws.WriteStats()
	update(t, s, func(tx mfa.Tx) error {
		return tx.PutUser(mfa.User{ID: "0000000001", State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0})
	})
	c1, f1 := ws.WriteStats()
	if c1 != c0+1 {
		t.Fatalf("one write transaction counted %d commits", c1-c0)
	}
	if f1 < f0 || f1-f0 > 8 {
		t.Fatalf("a one-row write counted %d WAL frames", f1-f0)
	}
	if err := s.View(t.Context(), func(tx mfa.Tx) error { _, err := tx.User("0000000001"); return err }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := s.Update(t.Context(), func(tx mfa.Tx) error {
		if err := tx.PutUser(mfa.User{ID: "0000000002", State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing write: %v", err)
	}
	if c, f := ws.WriteStats(); c != c1 || f != f1 {
		t.Fatalf("a read and a rolled-back write counted %d commits and %d frames", c-c1, f-f1)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("%010d", 100+i)
			if err := s.Update(t.Context(), func(tx mfa.Tx) error {
				return tx.PutUser(mfa.User{ID: id, State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0})
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c, f := ws.WriteStats(); c <= c1 || c > c1+n || f < f1 {
		t.Fatalf("%d concurrent writes counted %d commits, %d frames", n, c-c1, f-f1)
	}
}
