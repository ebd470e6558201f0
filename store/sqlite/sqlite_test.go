package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
)

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 123456789, time.UTC)

func TestRoundTrip(t *testing.T) {
	db := open(t)
	u := mfa.User{ID: "0123456789", State: mfa.StatePending, ActivatesAt: t0.Add(time.Hour), DefaultMethod: "m_1",
		ConsecutiveFailures: 3, PhoneBlocked: true, CreatedAt: t0, UpdatedAt: t0}
	m := mfa.Method{ID: "m_1", User: u.ID, Kind: mfa.KindPhone, Label: "x", Confirmed: true, Slot: mfa.SlotOffice,
		Channel: mfa.ChannelVoice, Phone: "+81312345678", Extension: "12", Language: "en", Secret: []byte{1, 2}, LastStep: 9, CreatedAt: t0, ConfirmedAt: t0}
	c := mfa.Challenge{ID: "c_1", User: u.ID, Method: m.ID, Kind: mfa.KindPhone, Channel: mfa.ChannelVoice, Purpose: mfa.PurposeTest,
		Status: mfa.StatusQueued, CodeHash: []byte{3}, NumberMatch: "42", AttemptsLeft: 5, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
		Delivery: mfa.Delivery{Modem: "a", Attempts: 2, Status: "sent", Reason: "r"}}
	j := mfa.Job{ID: "j_1", Challenge: c.ID, Channel: mfa.ChannelVoice, To: m.Phone, Extension: "12", Sealed: []byte{4}, Language: "en",
		State: mfa.JobSent, Modem: "a", Attempts: 2, MR: []int{7, 8}, Reason: "r", Priority: 2, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: c.ExpiresAt}
	err := db.Update(t.Context(), func(tx mfa.Tx) error {
		return errors.Join(tx.PutUser(u), tx.PutMethod(m), tx.PutChallenge(c), tx.PutJob(j),
			tx.AddEvent(mfa.Event{At: t0, User: u.ID, Type: "x", Detail: "d"}))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(t.Context(), func(tx mfa.Tx) error {
		gu, err1 := tx.User(u.ID)
		gm, err2 := tx.Method(m.ID)
		gc, err3 := tx.Challenge(c.ID)
		gj, err4 := tx.Job(j.ID)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		if !gu.ActivatesAt.Equal(u.ActivatesAt) || gu.PhoneBlocked != true || gu.ConsecutiveFailures != 3 || gu.DefaultMethod != "m_1" {
			t.Errorf("user = %+v", gu)
		}
		if gm.Extension != "12" || gm.LastStep != 9 || !gm.Confirmed || string(gm.Secret) != "\x01\x02" || !gm.ConfirmedAt.Equal(t0) {
			t.Errorf("method = %+v", gm)
		}
		if gc.NumberMatch != "42" || gc.Delivery != c.Delivery || !gc.ExpiresAt.Equal(c.ExpiresAt) || gc.Purpose != mfa.PurposeTest {
			t.Errorf("challenge = %+v", gc)
		}
		if len(gj.MR) != 2 || gj.MR[1] != 8 || gj.State != mfa.JobSent || gj.Priority != 2 {
			t.Errorf("job = %+v", gj)
		}
		if _, err := tx.User("nobody"); !errors.Is(err, mfa.ErrNotFound) {
			t.Errorf("missing user: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailedUpdateLeavesNothing(t *testing.T) {
	db := open(t)
	boom := errors.New("boom")
	err := db.Update(t.Context(), func(tx mfa.Tx) error {
		if err := tx.PutUser(mfa.User{ID: "1", State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	db.View(t.Context(), func(tx mfa.Tx) error {
		if _, err := tx.User("1"); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatal("a rolled-back write is visible")
		}
		return nil
	})
}

// A reader is not held up by a writer that keeps its transaction open.
func TestReadsDoNotWaitForWriter(t *testing.T) {
	db := open(t)
	db.Update(t.Context(), func(tx mfa.Tx) error {
		return tx.PutUser(mfa.User{ID: "1", State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0})
	})
	inWrite, release := make(chan struct{}), make(chan struct{})
	writeDone := make(chan error, 1)
	go func() {
		writeDone <- db.Update(context.Background(), func(tx mfa.Tx) error {
			if err := tx.PutUser(mfa.User{ID: "2", State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0}); err != nil {
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
		readDone <- db.View(context.Background(), func(tx mfa.Tx) error {
			if _, err := tx.User("1"); err != nil {
				return err
			}
			if _, err := tx.User("2"); !errors.Is(err, mfa.ErrNotFound) {
				return errors.New("a reader saw an uncommitted write")
			}
			return nil
		})
	}()
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read waited for the open write transaction")
	}
	close(release)
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
}

func TestClaimOrder(t *testing.T) {
	db := open(t)
	put := func(id string, ch mfa.Channel, prio int, exp time.Duration) {
		db.Update(t.Context(), func(tx mfa.Tx) error {
			return tx.PutJob(mfa.Job{ID: id, Challenge: "c" + id, Channel: ch, To: "+8190", Sealed: []byte{1}, State: mfa.JobQueued,
				Priority: prio, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(exp)})
		})
	}
	put("test-late", mfa.ChannelSMS, 2, 2*time.Minute)
	put("signin-late", mfa.ChannelSMS, 0, 4*time.Minute)
	put("signin-soon", mfa.ChannelSMS, 0, 3*time.Minute)
	put("voice", mfa.ChannelVoice, 0, time.Minute)
	var got []string
	for range 4 {
		db.Update(t.Context(), func(tx mfa.Tx) error {
			j, err := tx.ClaimJob(mfa.JobClaim{Channels: []mfa.Channel{mfa.ChannelSMS}, Modem: "m1", Node: "n1", Now: t0, LeaseUntil: t0.Add(time.Minute)})
			if err == nil {
				got = append(got, j.ID)
				if j.State != mfa.JobSending || j.Modem != "m1" {
					t.Errorf("claimed job %+v", j)
				}
			}
			return nil
		})
	}
	if strings.Join(got, " ") != "signin-soon signin-late test-late" {
		t.Fatalf("claim order = %v: want sign-ins first, earliest expiry first, voice left alone", got)
	}
	var n int
	db.Update(t.Context(), func(tx mfa.Tx) (err error) { n, err = tx.RequeueSending("n1", t0); return })
	if n != 3 {
		t.Fatalf("requeued %d, want 3", n)
	}
}

func TestOpenRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600)
	if _, err := Open(t.Context(), garbage); err == nil {
		t.Fatal("opened a file that is not SQLite")
	}
	if _, err := Open(t.Context(), filepath.Join(dir, "missing", "m.db")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing directory: %v", err)
	}
	path := filepath.Join(dir, "m.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.w.Exec(`INSERT INTO schema_migrations (version) VALUES (999)`)
	db.Close()
	if _, err := Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer mfagated") {
		t.Fatalf("newer schema: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("database mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(t.Context(), func(tx mfa.Tx) error {
		return tx.PutUser(mfa.User{ID: "1", State: mfa.StateActive, CreatedAt: t0, UpdatedAt: t0})
	})
	db.Close()
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(t.Context(), func(tx mfa.Tx) error {
		u, err := tx.User("1")
		if err != nil || u.State != mfa.StateActive {
			t.Fatalf("after reopen: %+v %v", u, err)
		}
		return nil
	})
}

// A migration numbered below the newest applied one (written alongside it)
// still runs on the next start.
func TestMigrationAppliedOutOfOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// As if 0004 had not existed when 0005 was applied.
	for _, q := range []string{`DROP TABLE nodes`, `DROP INDEX outbox_lease`, `ALTER TABLE outbox DROP COLUMN lease_until`,
		`ALTER TABLE outbox DROP COLUMN node`, `DELETE FROM schema_migrations WHERE version = 4`} {
		if _, err := db.w.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(t.Context(), func(tx mfa.Tx) error { return tx.PutNode(mfa.Node{ID: "n1", StartedAt: t0, SeenAt: t0}) })
	if err != nil {
		t.Fatalf("migration 0004 was not applied on reopen: %v", err)
	}
}

// Commits reach the disk before Update returns (synchronous=FULL): an
// accepted job survives a power cut, not only a crash of the process.
func TestCommitsAreSynced(t *testing.T) {
	db := open(t)
	var level int
	if err := db.w.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != 2 {
		t.Fatalf("PRAGMA synchronous = %d on the writer, want 2 (FULL)", level)
	}
}
