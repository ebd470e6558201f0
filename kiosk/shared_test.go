package kiosk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mfagate/device"
	"mfagate/device/softkey"
	"mfagate/fido"
	"mfagate/kiosk"
	"mfagate/mfa"
	"mfagate/store/sqlite"
)

// cluster is several gateway nodes sharing one database: each node has its
// own domain service and kiosk; only the node named "kiosk" has the
// security key plugged in.
type cluster struct {
	t      *testing.T
	db     *sqlite.DB
	path   string
	key    *softkey.Key
	policy kiosk.Policy
	nodes  map[string]*node
}

type node struct {
	svc  *mfa.Service
	k    *kiosk.Kiosk
	skew atomic.Int64 // how far this node's clock runs ahead, in nanoseconds
}

func newCluster(t *testing.T, ttl time.Duration, names ...string) *cluster {
	t.Helper()
	key, err := softkey.Start(t.Context(), softkey.Options{Presence: softkey.PresenceManual, PresenceTimeout: 20 * time.Second})
	if err != nil {
		t.Skipf("software key unavailable: %v", err)
	}
	t.Cleanup(func() { key.Close() })
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &cluster{t: t, db: db, path: path, key: key, nodes: map[string]*node{}, policy: kiosk.Policy{
		WebAuthn:     fido.Policy{RPID: "login.example.ac.jp", RPName: "Example", Origin: "https://login.example.ac.jp", UserVerification: "required"},
		MinPINLength: 6, SessionTTL: ttl, TouchTimeout: 20 * time.Second,
	}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, name := range names {
		keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
		svc, err := mfa.New(mfa.Options{Store: db, Keys: keys, Policy: mfa.Policy{
			CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100, PhoneChallengesPerUser: 5,
			PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute, UserID: regexp.MustCompile(`^[0-9]{10}$`),
			DefaultRegion: "JP", TOTP: mfa.TOTPParams{Issuer: "t", Digits: 6, Period: 30 * time.Second, Skew: 1}, Messages: messages{},
		}})
		if err != nil {
			t.Fatal(err)
		}
		n := &node{svc: svc}
		o := kiosk.Options{Service: svc, Policy: c.policy, Store: db, Node: name,
			Now: func() time.Time { return time.Now().Add(time.Duration(n.skew.Load())) }}
		if name == "kiosk" {
			w := device.NewWatcher([]string{key.Path()}, 100*time.Millisecond, device.WithTimeout(c.policy.TouchTimeout))
			go w.Run(ctx)
			o.Keys = kiosk.WatcherKeys(w)
		} else {
			// The other nodes' operations wait on a key that never answers.
			o.Keys = newFakeKeys(newFakeKey(stuckPath, false))
		}
		n.k = kiosk.New(o)
		svc.SetWebAuthn(n.k.Verifier())
		go n.k.Run(ctx)
		c.nodes[name] = n
	}
	if k := c.nodes["kiosk"]; k != nil {
		deadline := time.Now().Add(10 * time.Second)
		for len(k.k.Devices()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the kiosk never saw the software key")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

func (c *cluster) k(name string) *kiosk.Kiosk { return c.nodes[name].k }

// next returns the next session a subscription delivers.
func next(t *testing.T, ch <-chan kiosk.Session) kiosk.Session {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("the subscription ended")
		}
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("no session change within 30 s")
	}
	return kiosk.Session{}
}

// until reads a subscription until the session reaches state.
func until(t *testing.T, ch <-chan kiosk.Session, state kiosk.State) (kiosk.Session, []kiosk.State) {
	t.Helper()
	var seen []kiosk.State
	for {
		s := next(t, ch)
		seen = append(seen, s.State)
		if s.State == state {
			return s, seen
		}
		if s.State == kiosk.StateFailed || s.State == kiosk.StateExpired {
			t.Fatalf("waiting for %s, got %s: %q (seen %v)", state, s.State, s.Message, seen)
		}
	}
}

// The identity provider opens a session through node idp; the kiosk page
// talks to node kiosk, where the key is: idp's readers follow the
// enrollment as it happens and see its result, method included.
func TestEnrollThroughAnotherNode(t *testing.T) {
	c := newCluster(t, 15*time.Minute, "idp", "kiosk")
	idp, kk := c.k("idp"), c.k("kiosk")
	s, err := idp.Open(t.Context(), mfa.Actor{Name: "idp"}, user, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events, err := idp.Subscribe(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first := next(t, events); first.State != kiosk.StateReady {
		t.Fatalf("first event %s", first.State)
	}
	got, err := kk.Get(t.Context(), s.ID)
	if err != nil {
		t.Fatalf("the kiosk's node does not know the session: %v", err)
	}
	if got.User != user || got.Actor != "idp" || !got.ExpiresAt.Equal(s.ExpiresAt) || got.State != kiosk.StateReady || got.MinPINLength != 6 {
		t.Fatalf("session on the kiosk's node: %+v", got)
	}

	const pin = "kq7#Zt9w" // letters and signs: cannot occur by chance in stored numbers
	op, err := kk.Enroll(t.Context(), mfa.Actor{Name: "kiosk:idp"}, s.ID, kiosk.EnrollRequest{Device: c.key.Path(), NewPIN: pin, Label: "Blue key"})
	if err != nil {
		t.Fatal(err)
	}
	// One operation at a time, whichever node is asked.
	if _, err := idp.Enroll(t.Context(), mfa.Actor{Name: "idp"}, s.ID, kiosk.EnrollRequest{Device: c.key.Path(), PIN: pin}); !errors.Is(err, kiosk.ErrBusy) {
		t.Fatalf("a second operation through the other node: %v, want ErrBusy", err)
	}
	// The key waits for a touch: the other node shows it.
	if err := c.key.WaitForTouchRequest(t.Context()); err != nil {
		t.Fatal(err)
	}
	touch, _ := until(t, events, kiosk.StateTouchKey)
	if touch.Operation != op || touch.Kind != "enroll" {
		t.Fatalf("operation %q %q, want %q enroll", touch.Operation, touch.Kind, op)
	}
	if g, err := idp.Get(t.Context(), s.ID); err != nil || g.State != kiosk.StateTouchKey {
		t.Fatalf("Get on the other node during the touch: %s %v", g.State, err)
	}
	c.key.Touch()
	done, _ := until(t, events, kiosk.StateDone)
	if done.Method == nil || done.Method.Label != "Blue key" || done.Method.Kind != mfa.KindFIDO || done.Method.FIDO == nil {
		t.Fatalf("method seen on the other node: %+v", done.Method)
	}
	local, err := kk.Get(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	g, err := idp.Get(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.State != kiosk.StateDone || g.Seq != local.Seq || g.Message != local.Message || g.Method == nil || g.Method.ID != local.Method.ID {
		t.Fatalf("Get on the other node: %s seq %d %q; the kiosk's node: %s seq %d", g.State, g.Seq, g.Message, local.State, local.Seq)
	}

	// A sign-in at the kiosk for a challenge the identity provider made
	// through its node; the result shows there too.
	if err := c.key.SetPresence(softkey.PresenceAuto, 0); err != nil {
		t.Fatal(err)
	}
	ch, err := c.nodes["idp"].svc.CreateChallenge(t.Context(), mfa.Actor{Name: "idp"}, user, mfa.ChallengeRequest{Method: g.Method.ID, Purpose: mfa.PurposeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kk.Assert(t.Context(), mfa.Actor{Name: "kiosk:idp"}, s.ID, kiosk.AssertRequest{Device: c.key.Path(), PIN: pin, Challenge: ch.ID}); err != nil {
		t.Fatal(err)
	}
	signed, _ := until(t, events, kiosk.StateDone)
	if signed.Kind != "assert" || signed.Challenge == nil || signed.Challenge.ID != ch.ID || signed.Challenge.Status != mfa.StatusApproved || signed.Method != nil {
		t.Fatalf("sign-in seen on the other node: kind %q challenge %+v method %v", signed.Kind, signed.Challenge, signed.Method)
	}

	// What the nodes share holds neither the PIN nor the session ID (the
	// page's credential): not in the record, not anywhere in the files.
	sum := sha256.Sum256([]byte(s.ID))
	rows := storedSessions(t, c.path)
	if len(rows) != 1 || !strings.HasPrefix(rows[0], hex.EncodeToString(sum[:])+"|"+user+"|") {
		t.Fatalf("stored records %q, want one keyed by the SHA-256 of the session ID", rows)
	}
	for _, secret := range []string{pin, s.ID} {
		if strings.Contains(rows[0], secret) {
			t.Fatalf("the stored record holds %q: %s", secret, rows[0])
		}
	}
	for _, f := range []string{c.path, c.path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, secret := range []string{pin, s.ID} {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("%s holds %q", filepath.Base(f), secret)
			}
		}
	}
}

// storedSessions returns every kiosk session record in the database file,
// columns joined by "|".
func storedSessions(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT id_hash || '|' || user_id || '|' || node || '|' || data || '|' || seq FROM kiosk_sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A session ends at the same time on every node: a node following it tells
// its subscribers, and one that never saw it answers "expired", not
// "unknown".
func TestExpiryAcrossNodes(t *testing.T) {
	c := newCluster(t, 1500*time.Millisecond, "a", "b", "c")
	s, err := c.k("a").Open(t.Context(), mfa.Actor{Name: "idp"}, user, "")
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.k("b").Subscribe(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first := next(t, events); first.State != kiosk.StateReady {
		t.Fatalf("first event %s", first.State)
	}
	if last := next(t, events); last.State != kiosk.StateExpired {
		t.Fatalf("event after the expiry: %s", last.State)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("a second event after the expiry")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription stayed open after the expiry")
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.k(name).Get(t.Context(), s.ID); !errors.Is(err, kiosk.ErrExpired) {
			t.Fatalf("Get on node %s after the expiry: %v, want ErrExpired", name, err)
		}
		if _, err := c.k(name).Enroll(t.Context(), mfa.Actor{}, s.ID, kiosk.EnrollRequest{Device: "x", PIN: "123456"}); !errors.Is(err, kiosk.ErrExpired) {
			t.Fatalf("Enroll on node %s after the expiry: %v, want ErrExpired", name, err)
		}
	}
	if _, err := c.k("c").Get(t.Context(), "e_nope"); !errors.Is(err, kiosk.ErrUnknownSession) {
		t.Fatalf("unknown session: %v", err)
	}
}

// awaitingTouch opens a session through node "idp" and starts an
// enrollment on node "kiosk", which waits for the key to be touched.
func (c *cluster) awaitingTouch(t *testing.T) kiosk.Session {
	t.Helper()
	s, err := c.k("idp").Open(t.Context(), mfa.Actor{Name: "idp"}, user, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.k("kiosk").Enroll(t.Context(), mfa.Actor{}, s.ID, kiosk.EnrollRequest{Device: c.key.Path(), NewPIN: "135790"}); err != nil {
		t.Fatal(err)
	}
	if err := c.key.WaitForTouchRequest(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// A node that stopped during an operation leaves the session busy; another
// node can start one once the operation would have ended anyway.
func TestTakeOverFromAStoppedNode(t *testing.T) {
	c := newCluster(t, 15*time.Minute, "idp", "kiosk")
	idp := c.k("idp")
	// The kiosk's node asks for a touch that never comes (its node "died").
	s := c.awaitingTouch(t)
	req := kiosk.EnrollRequest{Device: stuckPath, PIN: "135790"}
	c.nodes["idp"].skew.Store(int64(time.Minute))
	if _, err := idp.Enroll(t.Context(), mfa.Actor{}, s.ID, req); !errors.Is(err, kiosk.ErrBusy) {
		t.Fatalf("a minute into the operation: %v, want ErrBusy", err)
	}
	c.nodes["idp"].skew.Store(int64(3 * time.Minute))
	op, err := idp.Enroll(t.Context(), mfa.Actor{}, s.ID, req)
	if err != nil {
		t.Fatalf("three minutes into an operation bounded to %v: %v", c.policy.TouchTimeout+time.Minute, err)
	}
	g, err := idp.Get(t.Context(), s.ID)
	if err != nil || g.Operation != op || g.State != kiosk.StateWaitingKey {
		t.Fatalf("after the take-over: %s %q %v, want %s %q", g.State, g.Operation, err, kiosk.StateWaitingKey, op)
	}
	// The stopped node's late progress does not overwrite the new operation.
	c.key.Touch()
	time.Sleep(2 * time.Second)
	if g, err := idp.Get(t.Context(), s.ID); err != nil || g.Operation != op {
		t.Fatalf("after the old operation's late end: %s %q %v", g.State, g.Operation, err)
	}
}

// A node whose operation outlived its bound (its process was stopped for a
// while) keeps its late result to itself: another node may have taken the
// session over by then.
func TestOverdueOperationNotShared(t *testing.T) {
	c := newCluster(t, 15*time.Minute, "idp", "kiosk")
	idp, kk := c.k("idp"), c.k("kiosk")
	s := c.awaitingTouch(t)
	c.nodes["kiosk"].skew.Store(int64(3 * time.Minute))
	c.key.Touch()
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, err := kk.Get(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.State == kiosk.StateDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kiosk's node: %s %q", g.State, g.Message)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g, err := idp.Get(t.Context(), s.ID); err != nil || g.State != kiosk.StateTouchKey {
		t.Fatalf("the other node after the overdue result: %s %v, want the last shared state %s", g.State, err, kiosk.StateTouchKey)
	}
}

// Two nodes asked to start an operation in one session at the same moment:
// exactly one starts it, the other answers busy.
func TestConcurrentBeginsAcrossNodes(t *testing.T) {
	c := newCluster(t, 15*time.Minute, "a", "b")
	for round := range 20 {
		s, err := c.k("a").Open(t.Context(), mfa.Actor{Name: "idp"}, user, "")
		if err != nil {
			t.Fatal(err)
		}
		c.k("b").Get(t.Context(), s.ID) // both nodes hold a copy
		errs := make(chan error, 2)
		for _, name := range []string{"a", "b"} {
			go func() {
				_, err := c.k(name).Enroll(t.Context(), mfa.Actor{}, s.ID, kiosk.EnrollRequest{Device: stuckPath, PIN: "135790"})
				errs <- err
			}()
		}
		started, busy := 0, 0
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				started++
			case errors.Is(err, kiosk.ErrBusy):
				busy++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if started != 1 || busy != 1 {
			t.Fatalf("round %d: %d started, %d busy; want one of each", round, started, busy)
		}
	}
}
