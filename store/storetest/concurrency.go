package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mfagate/mfa"
)

const workers = 8

// Claimers working side by side, as the modems of several nodes do, never
// get the same job, and together they get every job.
func testConcurrentClaims(t *testing.T, s mfa.Store) {
	const jobs = 60
	var values []any
	for i := range jobs {
		values = append(values, job(fmt.Sprintf("j%02d", i), mfa.ChannelSMS, i%3, time.Duration(i)*time.Second))
	}
	put(t, s, values...)
	claimed := make([][]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			modem := fmt.Sprintf("modem-%d", w)
			for {
				var j mfa.Job
				err := s.Update(t.Context(), func(tx mfa.Tx) error {
					var err error
					j, err = tx.ClaimJob(mfa.JobClaim{Channels: sms, Modem: modem, Node: "n1", Now: t0, LeaseUntil: t0.Add(lease)})
					return err
				})
				if errors.Is(err, mfa.ErrNotFound) {
					return
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", modem, err)
					return
				}
				if j.Modem != modem {
					errs <- fmt.Errorf("%s claimed %s for %q", modem, j.ID, j.Modem)
				}
				claimed[w] = append(claimed[w], j.ID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	owner := map[string]string{}
	for w, js := range claimed {
		modem := fmt.Sprintf("modem-%d", w)
		for _, id := range js {
			if prev, ok := owner[id]; ok {
				t.Errorf("job %s claimed by %s and %s", id, prev, modem)
			}
			owner[id] = modem
		}
	}
	if len(owner) != jobs {
		t.Errorf("%d of %d jobs claimed", len(owner), jobs)
	}
	view(t, s, func(tx mfa.Tx) error {
		js, err := tx.Jobs(mfa.JobFilter{Limit: 2 * jobs})
		for _, j := range js {
			if j.State != mfa.JobSending || j.Modem != owner[j.ID] {
				t.Errorf("job %s stored as %s by %q, claimed by %q", j.ID, j.State, j.Modem, owner[j.ID])
			}
		}
		return err
	})
}

// Read-modify-write transactions running at the same time lose no update:
// an Update behaves as if it ran alone.
func testConcurrentIncrements(t *testing.T, s mfa.Store) {
	put(t, s, user("u", mfa.StateActive))
	const each = 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- s.Update(t.Context(), func(tx mfa.Tx) error {
					u, err := tx.User("u")
					if err != nil {
						return err
					}
					u.ConsecutiveFailures++
					return tx.PutUser(u)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	view(t, s, func(tx mfa.Tx) error {
		u, err := tx.User("u")
		if u.ConsecutiveFailures != workers*each {
			t.Errorf("counter = %d after %d increments", u.ConsecutiveFailures, workers*each)
		}
		return err
	})
}

// A reader is not held up by a writer that keeps its transaction open, and
// does not see what the writer has not committed.
func testReaderNotBlocked(t *testing.T, s mfa.Store) {
	put(t, s, user("1", mfa.StateOff))
	inWrite, release := make(chan struct{}), make(chan struct{})
	writeDone := make(chan error, 1)
	go func() {
		writeDone <- s.Update(context.Background(), func(tx mfa.Tx) error {
			// Both a changed row (locked by the writer) and a new one.
			if err := errors.Join(tx.PutUser(user("1", mfa.StateActive)), tx.PutUser(user("2", mfa.StateOff))); err != nil {
				close(inWrite)
				return err
			}
			close(inWrite)
			<-release
			return nil
		})
	}()
	<-inWrite
	readDone := make(chan error, 1)
	go func() {
		readDone <- s.View(context.Background(), func(tx mfa.Tx) error {
			u, err := tx.User("1")
			if err != nil {
				return err
			}
			if u.State != mfa.StateOff {
				return errors.New("a reader saw an uncommitted change")
			}
			if _, err := tx.User("2"); !errors.Is(err, mfa.ErrNotFound) {
				return fmt.Errorf("a reader saw an uncommitted insert (%v)", err)
			}
			return nil
		})
	}()
	select {
	case err := <-readDone:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the read waited for the open write transaction")
	}
	close(release)
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx mfa.Tx) error {
		u, err := tx.User("1")
		if u.State != mfa.StateActive {
			t.Errorf("after commit user 1 is %s", u.State)
		}
		return err
	})
}

// A View reads one snapshot: a write committed while it runs stays out.
func testViewIsSnapshot(t *testing.T, s mfa.Store) {
	put(t, s, user("u", mfa.StateOff))
	view(t, s, func(tx mfa.Tx) error {
		if u, err := tx.User("u"); err != nil || u.State != mfa.StateOff {
			return fmt.Errorf("first read: %+v %v", u, err)
		}
		if err := s.Update(t.Context(), func(w mfa.Tx) error {
			return errors.Join(w.PutUser(user("u", mfa.StateActive)), w.PutUser(user("v", mfa.StateActive)))
		}); err != nil {
			return fmt.Errorf("write during the read: %w", err)
		}
		if u, err := tx.User("u"); err != nil || u.State != mfa.StateOff {
			t.Errorf("second read in the same View: %+v %v, want the snapshot's off", u, err)
		}
		if _, err := tx.User("v"); !errors.Is(err, mfa.ErrNotFound) {
			t.Errorf("a View saw a row committed after its snapshot (%v)", err)
		}
		return nil
	})
}

// SIM usage adds up per SIM and day, also from several writers at once.
func testUsage(t *testing.T, s mfa.Store) {
	u, ok := s.(Usage)
	if !ok {
		t.Fatalf("%T has no AddUsage and Usage", s)
	}
	ctx := t.Context()
	if n, err := u.Usage(ctx, "8981", "2026-04-01"); n != 0 || err != nil {
		t.Fatalf("usage before any SMS = %d, %v", n, err)
	}
	steps := []struct {
		sim, day string
		add      int
		want     int
	}{
		{"8981", "2026-04-01", 1, 1},
		{"8981", "2026-04-01", 3, 4},
		{"8981", "2026-04-02", 2, 2},
		{"8982", "2026-04-01", 5, 5},
		{"8981", "2026-04-01", 0, 4},
	}
	for _, st := range steps {
		n, err := u.AddUsage(ctx, st.sim, st.day, st.add)
		if err != nil || n != st.want {
			t.Fatalf("AddUsage(%s, %s, %d) = %d, %v; want %d", st.sim, st.day, st.add, n, err, st.want)
		}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range 5 {
				if _, err := u.AddUsage(ctx, "8983", "2026-04-01", 2); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, want := range []struct {
		sim, day string
		n        int
	}{{"8981", "2026-04-01", 4}, {"8981", "2026-04-02", 2}, {"8982", "2026-04-01", 5}, {"8983", "2026-04-01", workers * 5 * 2}} {
		if n, err := u.Usage(ctx, want.sim, want.day); n != want.n || err != nil {
			t.Errorf("Usage(%s, %s) = %d, %v; want %d", want.sim, want.day, n, err, want.n)
		}
	}
}
