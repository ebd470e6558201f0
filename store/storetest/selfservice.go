package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"mfagate/selfservice"
)

// RunSelfService runs the Security info page's store tests (sessions,
// passkey ceremonies, one-time links, OpenID Connect sign-ins) against
// stores made by open, each test on a fresh store.
func RunSelfService(t *testing.T, open func(t *testing.T) selfservice.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, selfservice.Store)
	}{
		{"SessionRoundTrip", testSelfSessionRoundTrip},
		{"SessionNotReplaced", testSelfSessionNotReplaced},
		{"SessionDelete", testSelfSessionDelete},
		{"CeremonyOnce", testCeremonyOnce},
		{"CeremonyOfAnotherSession", testCeremonyOfAnotherSession},
		{"ConcurrentCeremonyTakes", testConcurrentCeremonyTakes},
		{"LinkOnce", testLinkOnce},
		{"LinkExpired", testLinkExpired},
		{"ConcurrentLinkUses", testConcurrentLinkUses},
		{"LoginOnce", testLoginOnce},
		{"DeleteExpired", testDeleteExpiredSelfService},
		{"StaffSessions", testStaffSessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func digest(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func selfSession(secret string) selfservice.Session {
	return selfservice.Session{IDHash: digest(secret), User: "0123456789", Via: selfservice.ViaLink,
		Created: t0, Expires: t0.Add(15 * time.Minute)}
}

func createSession(t *testing.T, s selfservice.Store, sess selfservice.Session) {
	t.Helper()
	if err := s.CreateSelfSession(t.Context(), sess); err != nil {
		t.Fatalf("create session: %v", err)
	}
}

func readSession(t *testing.T, s selfservice.Store, idHash []byte) selfservice.Session {
	t.Helper()
	got, err := s.SelfSession(t.Context(), idHash)
	if err != nil {
		t.Fatalf("read session: %v", err)
	}
	return got
}

func testSelfSessionRoundTrip(t *testing.T, s selfservice.Store) {
	want := selfSession("a")
	want.Via = selfservice.ViaOIDC
	createSession(t, s, want)
	got := readSession(t, s, want.IDHash)
	if !bytes.Equal(got.IDHash, want.IDHash) || got.User != want.User || got.Via != want.Via || !got.Created.Equal(want.Created) ||
		!got.Expires.Equal(want.Expires) || got.Ceremony.ID != "" || got.Created.Location() != time.UTC {
		t.Fatalf("session read back as %+v, want %+v", got, want)
	}
	if _, err := s.SelfSession(t.Context(), digest("b")); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("an unknown session: %v, want ErrNoSession", err)
	}
}

// A second session under a stored hash is refused and the first stays.
func testSelfSessionNotReplaced(t *testing.T, s selfservice.Store) {
	first := selfSession("a")
	createSession(t, s, first)
	other := selfSession("a")
	other.User = "9876543210"
	if err := s.CreateSelfSession(t.Context(), other); err == nil {
		t.Fatal("a second session with the same hash was stored")
	}
	if got := readSession(t, s, first.IDHash); got.User != first.User {
		t.Fatalf("the first session now acts for %s", got.User)
	}
}

func testSelfSessionDelete(t *testing.T, s selfservice.Store) {
	a, b := selfSession("a"), selfSession("b")
	createSession(t, s, a)
	createSession(t, s, b)
	if err := s.DeleteSelfSession(t.Context(), a.IDHash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SelfSession(t.Context(), a.IDHash); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a deleted session: %v, want ErrNoSession", err)
	}
	readSession(t, s, b.IDHash) // the other stays
	if err := s.DeleteSelfSession(t.Context(), a.IDHash); err != nil {
		t.Fatalf("deleting a deleted session: %v", err)
	}
	if err := s.SetCeremony(t.Context(), a.IDHash, selfservice.Ceremony{ID: "r_x", Challenge: []byte{1}, Expires: t0}); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a ceremony for a deleted session: %v, want ErrNoSession", err)
	}
}

func ceremony(id string) selfservice.Ceremony {
	return selfservice.Ceremony{ID: id, Challenge: bytes.Repeat([]byte{byte(len(id))}, 32), Expires: t0.Add(5 * time.Minute)}
}

// A ceremony is taken once; a newer one replaces the older, which can
// no longer be taken.
func testCeremonyOnce(t *testing.T, s selfservice.Store) {
	sess := selfSession("a")
	createSession(t, s, sess)
	old, cur := ceremony("r_old"), ceremony("r_current")
	for _, c := range []selfservice.Ceremony{old, cur} {
		if err := s.SetCeremony(t.Context(), sess.IDHash, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.TakeCeremony(t.Context(), sess.IDHash, old.ID); !errors.Is(err, selfservice.ErrNoCeremony) {
		t.Fatalf("a replaced ceremony: %v, want ErrNoCeremony", err)
	}
	got, err := s.TakeCeremony(t.Context(), sess.IDHash, cur.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != cur.ID || !bytes.Equal(got.Challenge, cur.Challenge) || !got.Expires.Equal(cur.Expires) {
		t.Fatalf("ceremony read back as %+v, want %+v", got, cur)
	}
	if _, err := s.TakeCeremony(t.Context(), sess.IDHash, cur.ID); !errors.Is(err, selfservice.ErrNoCeremony) {
		t.Fatalf("a ceremony taken twice: %v, want ErrNoCeremony", err)
	}
	if _, err := s.TakeCeremony(t.Context(), sess.IDHash, ""); !errors.Is(err, selfservice.ErrNoCeremony) {
		t.Fatalf("the empty ceremony ID: %v, want ErrNoCeremony", err)
	}
}

func testCeremonyOfAnotherSession(t *testing.T, s selfservice.Store) {
	a, b := selfSession("a"), selfSession("b")
	createSession(t, s, a)
	createSession(t, s, b)
	c := ceremony("r_a")
	if err := s.SetCeremony(t.Context(), a.IDHash, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeCeremony(t.Context(), b.IDHash, c.ID); !errors.Is(err, selfservice.ErrNoCeremony) {
		t.Fatalf("another session's ceremony: %v, want ErrNoCeremony", err)
	}
	if _, err := s.TakeCeremony(t.Context(), a.IDHash, c.ID); err != nil {
		t.Fatalf("the ceremony's own session after the refusal: %v", err)
	}
}

// race runs fn on n goroutines at once and counts the nil errors.
func race(n int, fn func() error) (int, []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, errs := 0, []error{}
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			err := fn()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return ok, errs
}

func testConcurrentCeremonyTakes(t *testing.T, s selfservice.Store) {
	sess := selfSession("a")
	createSession(t, s, sess)
	c := ceremony("r_race")
	if err := s.SetCeremony(t.Context(), sess.IDHash, c); err != nil {
		t.Fatal(err)
	}
	ok, errs := race(8, func() error { _, err := s.TakeCeremony(t.Context(), sess.IDHash, c.ID); return err })
	if ok != 1 {
		t.Fatalf("%d of 8 concurrent takes got the ceremony, want 1", ok)
	}
	for _, err := range errs {
		if !errors.Is(err, selfservice.ErrNoCeremony) {
			t.Fatalf("a losing take: %v, want ErrNoCeremony", err)
		}
	}
}

func link(token string) selfservice.Link {
	return selfservice.Link{TokenHash: digest(token), User: "0123456789", Created: t0, Expires: t0.Add(time.Minute)}
}

func testLinkOnce(t *testing.T, s selfservice.Store) {
	l := link("tok")
	if err := s.CreateLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(t.Context(), l); err == nil {
		t.Fatal("a second link with the same hash was stored")
	}
	got, err := s.UseLink(t.Context(), l.TokenHash, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.User != l.User || !got.Expires.Equal(l.Expires) || !got.Used {
		t.Fatalf("used link read back as %+v", got)
	}
	if _, err := s.UseLink(t.Context(), l.TokenHash, t0.Add(31*time.Second)); !errors.Is(err, selfservice.ErrLinkUsed) {
		t.Fatalf("a link used twice: %v, want ErrLinkUsed", err)
	}
	if _, err := s.UseLink(t.Context(), digest("other"), t0); !errors.Is(err, selfservice.ErrLinkNotFound) {
		t.Fatalf("an unknown link: %v, want ErrLinkNotFound", err)
	}
}

// An expired link is refused as expired and stays unused.
func testLinkExpired(t *testing.T, s selfservice.Store) {
	l := link("tok")
	if err := s.CreateLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.UseLink(t.Context(), l.TokenHash, l.Expires); !errors.Is(err, selfservice.ErrLinkExpired) {
			t.Fatalf("a link at its expiry: %v, want ErrLinkExpired", err)
		}
	}
	// Still unused: one second before expiry (a clock that went back) it works.
	if _, err := s.UseLink(t.Context(), l.TokenHash, l.Expires.Add(-time.Second)); err != nil {
		t.Fatalf("the refused expired link was changed: %v", err)
	}
}

func testConcurrentLinkUses(t *testing.T, s selfservice.Store) {
	l := link("tok")
	if err := s.CreateLink(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	ok, errs := race(8, func() error { _, err := s.UseLink(t.Context(), l.TokenHash, t0); return err })
	if ok != 1 {
		t.Fatalf("%d of 8 concurrent uses opened the link, want 1", ok)
	}
	for _, err := range errs {
		if !errors.Is(err, selfservice.ErrLinkUsed) {
			t.Fatalf("a losing use: %v, want ErrLinkUsed", err)
		}
	}
}

func testLoginOnce(t *testing.T, s selfservice.Store) {
	l := selfservice.Login{StateHash: digest("state"), BindingHash: digest("binding"), Nonce: "n-0S6_WzA2Mj",
		Created: t0, Expires: t0.Add(10 * time.Minute)}
	if err := s.CreateLogin(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseLogin(t.Context(), l.StateHash, l.BindingHash, l.Expires); !errors.Is(err, selfservice.ErrLoginExpired) {
		t.Fatalf("a sign-in at its expiry: %v, want ErrLoginExpired", err)
	}
	// The state sent from another browser: refused, and the sign-in stays.
	if _, err := s.UseLogin(t.Context(), l.StateHash, digest("another browser"), t0); !errors.Is(err, selfservice.ErrLoginBinding) {
		t.Fatalf("another browser's callback: %v, want ErrLoginBinding", err)
	}
	ok, errs := race(8, func() error {
		_, err := s.UseLogin(t.Context(), l.StateHash, l.BindingHash, t0.Add(time.Minute))
		return err
	})
	if ok != 1 {
		t.Fatalf("%d of 8 concurrent callbacks took the sign-in, want 1", ok)
	}
	for _, err := range errs {
		if !errors.Is(err, selfservice.ErrLoginUsed) {
			t.Fatalf("a losing callback: %v, want ErrLoginUsed", err)
		}
	}
	if _, err := s.UseLogin(t.Context(), digest("other"), l.BindingHash, t0); !errors.Is(err, selfservice.ErrLoginNotFound) {
		t.Fatalf("an unknown state: %v, want ErrLoginNotFound", err)
	}
	// What the winner read back is what was stored.
	l2 := l
	l2.StateHash = digest("state2")
	if err := s.CreateLogin(t.Context(), l2); err != nil {
		t.Fatal(err)
	}
	got, err := s.UseLogin(t.Context(), l2.StateHash, l2.BindingHash, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.BindingHash, l.BindingHash) || got.Nonce != l.Nonce || !got.Expires.Equal(l.Expires) {
		t.Fatalf("sign-in read back as %+v, want %+v", got, l2)
	}
}

func testDeleteExpiredSelfService(t *testing.T, s selfservice.Store) {
	old, live := selfSession("old"), selfSession("live")
	old.Expires = t0.Add(-time.Second)
	createSession(t, s, old)
	createSession(t, s, live)
	oldLink, liveLink := link("old"), link("live")
	oldLink.Expires = t0.Add(-time.Second)
	for _, l := range []selfservice.Link{oldLink, liveLink} {
		if err := s.CreateLink(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	oldLogin := selfservice.Login{StateHash: digest("old"), BindingHash: digest("b"), Nonce: "n", Created: t0, Expires: t0.Add(-time.Second)}
	if err := s.CreateLogin(t.Context(), oldLogin); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteExpiredSelfService(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("deleted %d rows, want 3 (a session, a link, a sign-in)", n)
	}
	if _, err := s.SelfSession(t.Context(), old.IDHash); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("an expired session after housekeeping: %v", err)
	}
	readSession(t, s, live.IDHash)
	if _, err := s.UseLink(t.Context(), oldLink.TokenHash, t0.Add(-time.Minute)); !errors.Is(err, selfservice.ErrLinkNotFound) {
		t.Fatalf("an expired link after housekeeping: %v, want ErrLinkNotFound", err)
	}
	if _, err := s.UseLink(t.Context(), liveLink.TokenHash, t0); err != nil {
		t.Fatalf("a live link after housekeeping: %v", err)
	}
	if _, err := s.UseLogin(t.Context(), oldLogin.StateHash, oldLogin.BindingHash, t0.Add(-time.Minute)); !errors.Is(err, selfservice.ErrLoginNotFound) {
		t.Fatalf("an expired sign-in after housekeeping: %v, want ErrLoginNotFound", err)
	}
}

// testStaffSessions: the console's staff sessions live in the same table
// (staff name in user_id, via "staff:<role>"), apart from the page's, and
// housekeeping removes them once expired.
func testStaffSessions(t *testing.T, s selfservice.Store) {
	now := t0
	clock := func() time.Time { return now }
	staff := selfservice.NewStaffSessions(s, 30*time.Minute, clock)
	sess, secret, err := staff.Open(t.Context(), selfservice.Staff{Name: "hana.sato@example.ac.jp", Role: selfservice.StaffAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, st, err := staff.Session(t.Context(), secret); err != nil || st.Name != "hana.sato@example.ac.jp" || st.Role != selfservice.StaffAdmin {
		t.Fatalf("staff session read back: %+v %v", st, err)
	}
	pages := selfservice.New(selfservice.Options{Store: s, Now: clock})
	if _, err := pages.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a staff secret as a page session: %v", err)
	}
	now = sess.Expires.Add(time.Second)
	if _, _, err := staff.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrSessionExpired) {
		t.Fatalf("an expired staff session: %v", err)
	}
	if n, err := s.DeleteExpiredSelfService(t.Context(), now); err != nil || n != 1 {
		t.Fatalf("housekeeping deleted %d rows, %v; want the staff session", n, err)
	}
	if _, _, err := staff.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("after housekeeping: %v", err)
	}
}
