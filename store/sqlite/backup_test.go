package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mfagate/mfa"
)

// A backup taken while writes continue is a whole database of its own:
// it opens, migrates nothing, and holds the rows committed before it.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(id string) error {
		return db.Update(ctx, func(tx mfa.Tx) error {
			return tx.PutUser(mfa.User{ID: id, State: mfa.StateOff, CreatedAt: time.Now(), UpdatedAt: time.Now()})
		})
	}
	if err := put("1000000001"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			n++
			if err := put("2" + time.Now().Format("150405.000000000")); err != nil {
				t.Error(err)
			}
		}
	}()
	dst := filepath.Join(dir, "copy.db")
	if err := db.Backup(ctx, dst); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	if err := db.Backup(ctx, dst); err == nil {
		t.Fatal("a second backup over the first one succeeded")
	}
	info, err := Inspect(ctx, dst)
	if err != nil || info.Version != info.Latest || info.Version == 0 {
		t.Fatalf("Inspect = %+v, %v; want the current schema", info, err)
	}
	cp, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if err := cp.View(ctx, func(tx mfa.Tx) error { _, err := tx.User("1000000001"); return err }); err != nil {
		t.Fatalf("the user written before the backup: %v", err)
	}
	if _, err := Inspect(ctx, filepath.Join(dir, "live.db-wal")); !errors.Is(err, ErrNotDatabase) {
		t.Fatalf("Inspect of a WAL file: %v, want ErrNotDatabase", err)
	}
}
