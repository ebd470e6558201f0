package selfservice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Limits of the configuration (config [selfservice] checks them too).
const (
	DefaultSessionTTL = 15 * time.Minute
	MaxSessionTTL     = time.Hour
	DefaultLinkTTL    = time.Minute
	// CeremonyTTL is how long a passkey registration's options stay good:
	// WebAuthn L3 §15.1 recommends 300 s (5 minutes) to 600 s for a
	// ceremony with user verification required.
	CeremonyTTL = 5 * time.Minute
	// LoginTTL is how long an OpenID Connect sign-in to the page may take
	// between the redirect to the issuer and the callback.
	LoginTTL = 10 * time.Minute
)

// ErrSessionExpired is a session that is stored but past its expiry.
var ErrSessionExpired = errors.New("selfservice: the session expired")

// ErrCeremonyExpired is a passkey registration answered too late.
var ErrCeremonyExpired = errors.New("selfservice: the passkey registration took too long")

// Options configure a Manager.
type Options struct {
	Store      Store
	SessionTTL time.Duration    // default DefaultSessionTTL
	LinkTTL    time.Duration    // default DefaultLinkTTL
	Now        func() time.Time // default time.Now
}

// Manager opens, finds and ends sessions and hands out one-time links.
type Manager struct {
	store      Store
	sessionTTL time.Duration
	linkTTL    time.Duration
	now        func() time.Time
}

// New returns a Manager on o.Store.
func New(o Options) *Manager {
	m := &Manager{store: o.Store, sessionTTL: o.SessionTTL, linkTTL: o.LinkTTL, now: o.Now}
	if m.sessionTTL <= 0 {
		m.sessionTTL = DefaultSessionTTL
	}
	if m.linkTTL <= 0 {
		m.linkTTL = DefaultLinkTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// SessionTTL is how long a session lasts from its start.
func (m *Manager) SessionTTL() time.Duration { return m.sessionTTL }

// Store is the manager's store.
func (m *Manager) Store() Store { return m.store }

// Now is the manager's clock.
func (m *Manager) Now() time.Time { return m.now() }

// token is 256 random bits, base64url without padding (43 characters).
func token() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the SHA-256 the store keeps of a secret.
func Hash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// wellFormed reports whether s looks like a token this package made, so
// that outside input of any other shape is refused before the store.
func wellFormed(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// NewLink creates a one-time link for user and returns its token (the
// last part of /me/link/<token>) and expiry. The caller has checked that
// user is a valid user ID.
func (m *Manager) NewLink(ctx context.Context, user string) (string, time.Time, error) {
	tok, now := token(), m.now()
	l := Link{TokenHash: Hash(tok), User: user, Created: now, Expires: now.Add(m.linkTTL)}
	if err := m.store.CreateLink(ctx, l); err != nil {
		return "", time.Time{}, err
	}
	return tok, l.Expires, nil
}

// OpenLink uses the link and opens a session for its user; it returns
// the session and the cookie's secret. A used, expired or unknown link
// gives ErrLinkUsed, ErrLinkExpired or ErrLinkNotFound and opens nothing.
func (m *Manager) OpenLink(ctx context.Context, tok string) (Session, string, error) {
	if !wellFormed(tok) {
		return Session{}, "", ErrLinkNotFound
	}
	l, err := m.store.UseLink(ctx, Hash(tok), m.now())
	if err != nil {
		return Session{}, "", err
	}
	return m.Open(ctx, l.User, ViaLink)
}

// Open starts a session for user, begun via (ViaLink, ViaOIDC), and
// returns it with the cookie's secret.
func (m *Manager) Open(ctx context.Context, user, via string) (Session, string, error) {
	secret, now := token(), m.now()
	s := Session{IDHash: Hash(secret), User: user, Via: via, Created: now, Expires: now.Add(m.sessionTTL)}
	if err := m.store.CreateSelfSession(ctx, s); err != nil {
		return Session{}, "", err
	}
	return s, secret, nil
}

// Session returns the session whose cookie holds secret: ErrNoSession
// when there is none (never opened, forged, signed out, deleted by
// housekeeping), ErrSessionExpired when it has ended.
func (m *Manager) Session(ctx context.Context, secret string) (Session, error) {
	if !wellFormed(secret) {
		return Session{}, ErrNoSession
	}
	s, err := m.store.SelfSession(ctx, Hash(secret))
	if err != nil {
		return Session{}, err
	}
	if strings.HasPrefix(s.Via, staffVia) {
		return Session{}, ErrNoSession // a console session is no page session
	}
	if !m.now().Before(s.Expires) {
		return Session{}, ErrSessionExpired
	}
	return s, nil
}

// End deletes the session (signing out).
func (m *Manager) End(ctx context.Context, s Session) error {
	return m.store.DeleteSelfSession(ctx, s.IDHash)
}

// CSRF is the session's CSRF token, derived from its secret: the page
// reads it from /me/api/state (a same-origin read), a cross-site page
// cannot, and nothing more is stored for it.
func CSRF(secret string) string {
	sum := sha256.Sum256([]byte("mfagate selfservice csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckCSRF reports, in constant time, whether tok is the CSRF token of
// the session whose secret is secret.
func CheckCSRF(secret, tok string) bool {
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(CSRF(secret))) == 1
}

// BeginCeremony gives the session a new passkey registration ceremony
// (32 random challenge bytes, valid CeremonyTTL), replacing any pending.
func (m *Manager) BeginCeremony(ctx context.Context, s Session) (Ceremony, error) {
	ch := make([]byte, 32)
	if _, err := rand.Read(ch); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	id := make([]byte, 16)
	rand.Read(id)
	c := Ceremony{ID: "r_" + base64.RawURLEncoding.EncodeToString(id), Challenge: ch, Expires: m.now().Add(CeremonyTTL)}
	if err := m.store.SetCeremony(ctx, s.IDHash, c); err != nil {
		return Ceremony{}, err
	}
	return c, nil
}

// TakeCeremony takes the session's pending ceremony id, once: another
// session's, a replaced or an already answered one is ErrNoCeremony, a
// late one ErrCeremonyExpired (and taken all the same).
func (m *Manager) TakeCeremony(ctx context.Context, s Session, id string) (Ceremony, error) {
	c, err := m.store.TakeCeremony(ctx, s.IDHash, id)
	if err != nil {
		return Ceremony{}, err
	}
	if !m.now().Before(c.Expires) {
		return Ceremony{}, ErrCeremonyExpired
	}
	return c, nil
}
