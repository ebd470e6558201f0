package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/store"
)

// KioskStore is how a backend keeps kiosk sessions (kiosk.SessionStore).
type KioskStore interface {
	PutKioskSession(ctx context.Context, r store.KioskSession) (bool, error)
	KioskSession(ctx context.Context, idHash string) (store.KioskSession, error)
	DeleteKioskSessionsBefore(ctx context.Context, t time.Time) (int, error)
}

// RunKiosk runs the kiosk session tests against stores made by open, each
// test on a fresh store.
func RunKiosk(t *testing.T, open func(t *testing.T) KioskStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, KioskStore)
	}{
		{"RoundTrip", testKioskRoundTrip},
		{"NotFound", testKioskNotFound},
		{"HigherSeqWins", testKioskHigherSeqWins},
		{"ConcurrentWriters", testKioskConcurrentWriters},
		{"DeleteBefore", testKioskDeleteBefore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func kioskSession(hash string, seq int64, expires time.Time) store.KioskSession {
	return store.KioskSession{IDHash: hash, User: "0123456789", Node: "node-a", Data: []byte(`{"State":"ready"}`),
		Seq: seq, ExpiresAt: expires, UpdatedAt: t0}
}

func putKiosk(t *testing.T, s KioskStore, r store.KioskSession) bool {
	t.Helper()
	ok, err := s.PutKioskSession(t.Context(), r)
	if err != nil {
		t.Fatalf("put kiosk session: %v", err)
	}
	return ok
}

func getKiosk(t *testing.T, s KioskStore, hash string) store.KioskSession {
	t.Helper()
	r, err := s.KioskSession(t.Context(), hash)
	if err != nil {
		t.Fatalf("read kiosk session: %v", err)
	}
	return r
}

func sameKiosk(t *testing.T, got, want store.KioskSession) {
	t.Helper()
	if got.IDHash != want.IDHash || got.User != want.User || got.Node != want.Node || !bytes.Equal(got.Data, want.Data) ||
		got.Seq != want.Seq || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("kiosk session read back as\n%+v\nwant\n%+v", got, want)
	}
	if got.ExpiresAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		t.Fatal("times not read back in UTC")
	}
}

func testKioskRoundTrip(t *testing.T, s KioskStore) {
	r := kioskSession("aa01", 1, t0.Add(15*time.Minute))
	if !putKiosk(t, s, r) {
		t.Fatal("a new session was not written")
	}
	sameKiosk(t, getKiosk(t, s, r.IDHash), r)
	// An update replaces every field.
	r.Node, r.Data, r.Seq, r.ExpiresAt, r.UpdatedAt = "", []byte(`{"State":"done","Message":"ok"}`), 2, t0.Add(time.Hour), t0.Add(time.Second)
	if !putKiosk(t, s, r) {
		t.Fatal("a higher Seq was not written")
	}
	sameKiosk(t, getKiosk(t, s, r.IDHash), r)
}

func testKioskNotFound(t *testing.T, s KioskStore) {
	putKiosk(t, s, kioskSession("aa01", 1, t0))
	if _, err := s.KioskSession(t.Context(), "aa02"); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("unknown session: %v, want mfa.ErrNotFound", err)
	}
}

// A write with a Seq not above the stored one changes nothing: a node that
// fell behind cannot overwrite the progress another node made.
func testKioskHigherSeqWins(t *testing.T, s KioskStore) {
	r := kioskSession("aa01", 5, t0.Add(time.Minute))
	putKiosk(t, s, r)
	for _, seq := range []int64{5, 4, 1} {
		old := r
		old.Seq, old.Data, old.Node = seq, []byte(`{"State":"failed"}`), "node-b"
		if putKiosk(t, s, old) {
			t.Fatalf("Seq %d overwrote Seq 5", seq)
		}
	}
	sameKiosk(t, getKiosk(t, s, r.IDHash), r)
}

// Nodes racing to write the same next Seq: exactly one wins, and the record
// is the winner's.
func testKioskConcurrentWriters(t *testing.T, s KioskStore) {
	putKiosk(t, s, kioskSession("aa01", 1, t0.Add(time.Minute)))
	const writers = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []int
		errs []error
	)
	for i := range writers {
		wg.Go(func() {
			r := kioskSession("aa01", 2, t0.Add(time.Minute))
			r.Node = string(rune('a' + i))
			ok, err := s.PutKioskSession(context.Background(), r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won = append(won, i)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent writes failed: %v", errs)
	}
	if len(won) != 1 {
		t.Fatalf("%d writers won Seq 2, want exactly 1", len(won))
	}
	if got := getKiosk(t, s, "aa01"); got.Seq != 2 || got.Node != string(rune('a'+won[0])) {
		t.Fatalf("stored Seq %d by %q, want 2 by the winner %q", got.Seq, got.Node, string(rune('a'+won[0])))
	}
}

func testKioskDeleteBefore(t *testing.T, s KioskStore) {
	putKiosk(t, s, kioskSession("aa01", 1, t0.Add(-time.Hour)))
	putKiosk(t, s, kioskSession("aa02", 1, t0.Add(-time.Nanosecond)))
	putKiosk(t, s, kioskSession("aa03", 1, t0))
	putKiosk(t, s, kioskSession("aa04", 1, t0.Add(time.Hour)))
	n, err := s.DeleteKioskSessionsBefore(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("deleted %d, want the 2 that expired before the cut-off", n)
	}
	for _, h := range []string{"aa01", "aa02"} {
		if _, err := s.KioskSession(t.Context(), h); !errors.Is(err, mfa.ErrNotFound) {
			t.Fatalf("%s expired before the cut-off and is still there (%v)", h, err)
		}
	}
	for _, h := range []string{"aa03", "aa04"} {
		getKiosk(t, s, h)
	}
}
