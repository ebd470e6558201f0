package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/store"
)

func putUser(id string) func(mfa.Tx) error {
	return func(tx mfa.Tx) error {
		return tx.PutUser(mfa.User{ID: id, State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0})
	}
}

// holdWriter starts an Update that keeps the writer busy until release is
// called, so that the Updates started meanwhile queue up and then run as
// one batch.
func holdWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	started, hold, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(tx mfa.Tx) error {
			close(started)
			<-hold
			return putUser("holder")(tx)
		})
	}()
	<-started
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("the update holding the writer: %v", err)
		}
	}
}

// waitQueued waits until n writes wait for the writer.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	for i := 0; ; i++ {
		db.mu.Lock()
		q := len(db.queue)
		db.mu.Unlock()
		if q == n {
			return
		}
		if i == 10000 {
			t.Fatalf("%d writes queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func users(t *testing.T, db *DB, ids ...string) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	err := db.View(t.Context(), func(tx mfa.Tx) error {
		for _, id := range ids {
			_, err := tx.User(id)
			switch {
			case err == nil:
				found[id] = true
			case !errors.Is(err, mfa.ErrNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// In one batch, a write that fails or panics leaves no trace, the others
// commit, each fn sees the writes of those before it in the batch (and not
// the rolled-back ones), and each caller gets its own outcome.
func TestBatchIsolatesFailures(t *testing.T) {
	db := open(t)
	release := holdWriter(t, db)
	boom := errors.New("boom")
	type outcome struct {
		err      error
		panicked any
	}
	fns := []func(mfa.Tx) error{
		putUser("a"),
		func(tx mfa.Tx) error {
			if err := putUser("b")(tx); err != nil {
				return err
			}
			return boom
		},
		func(tx mfa.Tx) error {
			if _, err := tx.User("a"); err != nil {
				return fmt.Errorf("c does not see a, written before it in the batch: %w", err)
			}
			if _, err := tx.User("b"); !errors.Is(err, mfa.ErrNotFound) {
				return fmt.Errorf("c sees b, whose write failed (%v)", err)
			}
			return putUser("c")(tx)
		},
		func(tx mfa.Tx) error {
			if err := putUser("d")(tx); err != nil {
				return err
			}
			panic(boom)
		},
		putUser("e"),
	}
	outcomes := make([]outcome, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		if i > 0 {
			waitQueued(t, db, i) // queue them in this order
		}
		wg.Go(func() {
			defer func() { outcomes[i].panicked = recover() }()
			outcomes[i].err = db.Update(t.Context(), fn)
		})
	}
	waitQueued(t, db, len(fns))
	release()
	wg.Wait()
	for i, want := range []outcome{{}, {err: boom}, {}, {panicked: boom}, {}} {
		if got := outcomes[i]; got.err != want.err || got.panicked != want.panicked {
			t.Errorf("write %d: err %v, panic %v; want err %v, panic %v", i, got.err, got.panicked, want.err, want.panicked)
		}
	}
	got := users(t, db, "holder", "a", "b", "c", "d", "e")
	for id, want := range map[string]bool{"holder": true, "a": true, "b": false, "c": true, "d": false, "e": true} {
		if got[id] != want {
			t.Errorf("user %s stored: %v, want %v", id, got[id], want)
		}
	}
}

// When the COMMIT of a batch fails, no write of the batch is stored and
// every caller gets the error; the writer is usable afterwards.
func TestBatchCommitFailureFailsEveryWrite(t *testing.T) {
	db := open(t)
	release := holdWriter(t, db)
	fns := []func(mfa.Tx) error{
		putUser("a"),
		func(t mfa.Tx) error {
			// A foreign key checked only at COMMIT: the method's user does
			// not exist, so the COMMIT fails.
			if _, err := t.(*store.Tx).Conn().Exec(`PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			return t.PutMethod(mfa.Method{ID: "orphan", User: "nobody", Kind: mfa.KindTOTP, Label: "x", CreatedAt: t0})
		},
		putUser("c"),
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		if i > 0 {
			waitQueued(t, db, i)
		}
		wg.Go(func() { errs[i] = db.Update(t.Context(), fn) })
	}
	waitQueued(t, db, len(fns))
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "commit") {
			t.Errorf("write %d of the batch whose COMMIT failed: err = %v", i, err)
		}
	}
	if got := users(t, db, "a", "c"); len(got) != 0 {
		t.Errorf("users of a batch whose COMMIT failed were stored: %v", got)
	}
	if err := db.Update(t.Context(), putUser("after")); err != nil {
		t.Fatalf("write after a failed batch: %v", err)
	}
	if got := users(t, db, "after"); !got["after"] {
		t.Error("the write after a failed batch was not stored")
	}
}

// A write whose context ends while it waits for the writer is withdrawn:
// its fn never runs and Update returns the context's error.
func TestQueuedWriteCanceled(t *testing.T) {
	db := open(t)
	release := holdWriter(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	ran := false
	done := make(chan error, 1)
	go func() {
		done <- db.Update(ctx, func(tx mfa.Tx) error {
			ran = true
			return putUser("late")(tx)
		})
	}()
	waitQueued(t, db, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled queued write: err = %v", err)
	}
	release()
	if ran {
		t.Error("the fn of a write withdrawn from the queue ran")
	}
	if got := users(t, db, "late"); got["late"] {
		t.Error("a withdrawn write was stored")
	}
}

// A leader whose fn never returns (runtime.Goexit, as t.FailNow does) still
// hands the writer on: the writes queued behind it run.
func TestLeaderGoexitHandsOn(t *testing.T) {
	db := open(t)
	started, hold := make(chan struct{}), make(chan struct{})
	go db.Update(context.Background(), func(tx mfa.Tx) error {
		putUser("ghost")(tx)
		close(started)
		<-hold
		runtime.Goexit()
		return nil
	})
	<-started
	done := make(chan error, 1)
	go func() { done <- db.Update(t.Context(), putUser("next")) }()
	waitQueued(t, db, 1)
	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("write queued behind a leader that exited: %v", err)
	}
	got := users(t, db, "ghost", "next")
	if got["ghost"] || !got["next"] {
		t.Errorf("stored %v, want next only", got)
	}
}

// A fn that ends its goroutine in the middle of a batch (runtime.Goexit)
// takes the batch's transaction with it: the writes before it in the batch
// are not stored and their callers hear so; the writer is usable after.
func TestGoexitInBatchFailsBatch(t *testing.T) {
	db := open(t)
	release := holdWriter(t, db)
	fns := []func(mfa.Tx) error{
		putUser("a"),
		putUser("b"),
		func(tx mfa.Tx) error {
			putUser("x")(tx)
			runtime.Goexit()
			return nil
		},
		putUser("d"),
	}
	errs := make([]error, len(fns))
	returned := make([]bool, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		if i > 0 {
			waitQueued(t, db, i)
		}
		wg.Go(func() {
			errs[i] = db.Update(t.Context(), fn)
			returned[i] = true
		})
	}
	waitQueued(t, db, len(fns))
	release()
	wg.Wait()
	// The batch ran on the goroutine of the first write, which the third
	// write's fn ended.
	for i, err := range errs {
		if returned[i] && err == nil {
			t.Errorf("write %d of a batch that never committed returned no error", i)
		}
	}
	if !returned[1] || !returned[3] {
		t.Error("the writes of the other callers did not return")
	}
	if got := users(t, db, "a", "b", "x", "d"); len(got) != 0 {
		t.Errorf("users of a batch that never committed are stored: %v", got)
	}
	if err := db.Update(t.Context(), putUser("after")); err != nil {
		t.Fatalf("write after the batch: %v", err)
	}
}

// Many writers at once: every write that succeeded is stored exactly once,
// none that failed is, and read-modify-write updates lose nothing.
func TestManyConcurrentWriters(t *testing.T) {
	db := open(t)
	if err := db.Update(t.Context(), putUser("counter")); err != nil {
		t.Fatal(err)
	}
	const writers, each = 64, 20
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("u%02d-%02d", w, i)
				fail := (w+i)%7 == 0
				err := db.Update(t.Context(), func(tx mfa.Tx) error {
					u, err := tx.User("counter")
					if err != nil {
						return err
					}
					u.ConsecutiveFailures++
					if err := errors.Join(tx.PutUser(u), putUser(id)(tx)); err != nil {
						return err
					}
					if fail {
						return boom
					}
					return nil
				})
				if fail != errors.Is(err, boom) || (!fail && err != nil) {
					errs <- fmt.Errorf("write %s (fail %v): %v", id, fail, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var ids []string
	wantOK := 0
	for w := range writers {
		for i := range each {
			ids = append(ids, fmt.Sprintf("u%02d-%02d", w, i))
			if (w+i)%7 != 0 {
				wantOK++
			}
		}
	}
	got := users(t, db, ids...)
	for w := range writers {
		for i := range each {
			id := fmt.Sprintf("u%02d-%02d", w, i)
			if want := (w+i)%7 != 0; got[id] != want {
				t.Errorf("user %s stored: %v, want %v", id, got[id], want)
			}
		}
	}
	db.View(t.Context(), func(tx mfa.Tx) error {
		u, err := tx.User("counter")
		if err != nil || u.ConsecutiveFailures != wantOK {
			t.Errorf("counter = %d (%v), want %d: one per successful write", u.ConsecutiveFailures, err, wantOK)
		}
		return nil
	})
}

// The WAL is checkpointed while writes go on, so it is reused instead of
// growing by every write: 5000 writes of at least one 4 KiB page each
// would make a WAL of 20 MiB or more without checkpoints; SQLite's
// automatic checkpoint keeps it near 1000 pages (4 MiB).
func TestWALIsCheckpointed(t *testing.T) {
	db := open(t)
	const writes = 5000
	for i := range writes {
		if err := db.Update(t.Context(), putUser(fmt.Sprintf("u%05d", i))); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(db.Path() + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if limit := int64(8 << 20); fi.Size() > limit {
		t.Errorf("WAL is %d bytes after %d writes, want under %d: not checkpointed", fi.Size(), writes, limit)
	}
}
