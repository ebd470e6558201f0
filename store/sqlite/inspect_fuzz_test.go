package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Inspect reads files handed to mfagated -restore: whatever their bytes,
// it answers an error or an Info, without panicking or writing the file.
func FuzzInspect(f *testing.F) {
	dir := f.TempDir()
	db, err := Open(context.Background(), filepath.Join(dir, "seed.db"))
	if err != nil {
		f.Fatal(err)
	}
	cp := filepath.Join(dir, "copy.db")
	if err := db.Backup(context.Background(), cp); err != nil {
		f.Fatal(err)
	}
	db.Close()
	real, _ := os.ReadFile(cp)
	f.Add(real)
	f.Add(real[:4096])
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte("not a database"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "in.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		info, err := Inspect(t.Context(), p)
		if err == nil && info.Latest == 0 {
			t.Fatalf("Inspect accepted a file without knowing this build's schema: %+v", info)
		}
		after, _ := os.ReadFile(p)
		if string(after) != string(data) {
			t.Fatal("Inspect changed the file it read")
		}
	})
}
