package selfservice_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/mfa/mfatest"
	"mfagate/selfservice"
	"mfagate/store/sqlite"
)

func TestManager(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	m := selfservice.New(selfservice.Options{Store: db, Now: clk.Now})
	tok, exp, err := m.NewLink(t.Context(), "0123456789")
	if err != nil || !exp.Equal(clk.Now().Add(selfservice.DefaultLinkTTL)) {
		t.Fatalf("link expires %v (%v), want in %s", exp, err, selfservice.DefaultLinkTTL)
	}
	s, secret, err := m.OpenLink(t.Context(), tok)
	if err != nil || s.User != "0123456789" || s.Via != selfservice.ViaLink || !s.Expires.Equal(clk.Now().Add(selfservice.DefaultSessionTTL)) {
		t.Fatalf("session %+v, %v", s, err)
	}
	if _, _, err := m.OpenLink(t.Context(), tok); !errors.Is(err, selfservice.ErrLinkUsed) {
		t.Fatalf("a link opened twice: %v", err)
	}
	if _, _, err := m.OpenLink(t.Context(), "not-a-token"); !errors.Is(err, selfservice.ErrLinkNotFound) {
		t.Fatalf("a malformed link: %v", err)
	}
	if got, err := m.Session(t.Context(), secret); err != nil || got.User != s.User {
		t.Fatalf("the session by its secret: %+v %v", got, err)
	}
	// Another secret: the last character changed (to E when it is A).
	other := secret[:len(secret)-1] + map[bool]string{true: "E", false: "A"}[strings.HasSuffix(secret, "A")]
	if _, err := m.Session(t.Context(), other); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("another secret: %v", err)
	}
	c, err := m.BeginCeremony(t.Context(), s)
	if err != nil || len(c.Challenge) != 32 || len(c.ID) < 10 {
		t.Fatalf("ceremony %+v %v", c, err)
	}
	clk.Advance(selfservice.CeremonyTTL)
	if _, err := m.TakeCeremony(t.Context(), s, c.ID); !errors.Is(err, selfservice.ErrCeremonyExpired) {
		t.Fatalf("a late ceremony: %v", err)
	}
	if _, err := m.TakeCeremony(t.Context(), s, c.ID); !errors.Is(err, selfservice.ErrNoCeremony) {
		t.Fatalf("a late ceremony is not taken: %v", err)
	}
	clk.Advance(selfservice.DefaultSessionTTL - selfservice.CeremonyTTL)
	if _, err := m.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrSessionExpired) {
		t.Fatalf("a session after its lifetime: %v", err)
	}
	if err := m.End(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Session(t.Context(), secret); !errors.Is(err, selfservice.ErrNoSession) {
		t.Fatalf("a signed-out session: %v", err)
	}
}
