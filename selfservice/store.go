package selfservice

import (
	"context"
	"errors"
	"time"
)

// Session is a signed-in browser as the store keeps it.
type Session struct {
	IDHash  []byte // SHA-256 of the cookie's secret
	User    string // the user the session acts for
	Via     string // how it began: ViaLink, ViaOIDC
	Created time.Time
	Expires time.Time
	// Ceremony is the pending passkey registration, if any (ID "").
	Ceremony Ceremony
}

// How a session began.
const (
	ViaLink = "link"
	ViaOIDC = "oidc"
)

// Ceremony is a passkey registration the session asked options for: the
// WebAuthn challenge the browser signs over and when it lapses.
type Ceremony struct {
	ID        string // "r_…"; "" when none is pending
	Challenge []byte // the 32 random bytes sent as publicKey.challenge
	Expires   time.Time
}

// Link is a one-time sign-in link.
type Link struct {
	TokenHash []byte // SHA-256 of the token in the URL
	User      string
	Created   time.Time
	Expires   time.Time
	Used      bool
}

// Login is an OpenID Connect sign-in to the page between the redirect to
// the issuer and the callback.
type Login struct {
	StateHash   []byte // SHA-256 of the state parameter
	BindingHash []byte // SHA-256 of the login cookie's secret
	Nonce       string
	Created     time.Time
	Expires     time.Time
	Used        bool
}

// Store keeps sessions, links and logins, shared by every node of one
// database. The Use and Take calls are single statements conditional on
// the row not being used (UPDATE … WHERE NOT used), so that of concurrent
// callers on any nodes exactly one succeeds.
type Store interface {
	// CreateSelfSession stores a new session; an existing IDHash is an error.
	CreateSelfSession(ctx context.Context, s Session) error
	// SelfSession returns the session with idHash, or ErrNoSession.
	SelfSession(ctx context.Context, idHash []byte) (Session, error)
	// DeleteSelfSession removes the session (signing out); removing one
	// that is not there is not an error.
	DeleteSelfSession(ctx context.Context, idHash []byte) error
	// SetCeremony records c as the session's pending ceremony, replacing
	// any other; ErrNoSession when the session is gone.
	SetCeremony(ctx context.Context, idHash []byte, c Ceremony) error
	// TakeCeremony returns the session's pending ceremony named id and
	// clears it; ErrNoCeremony when the session has no ceremony of that ID
	// (another session's, taken already, or replaced).
	TakeCeremony(ctx context.Context, idHash []byte, id string) (Ceremony, error)

	// CreateLink stores a new link; an existing TokenHash is an error.
	CreateLink(ctx context.Context, l Link) error
	// UseLink marks the link used if it is unused and not expired at now
	// and returns it; else ErrLinkUsed, ErrLinkExpired or ErrLinkNotFound,
	// and nothing changes.
	UseLink(ctx context.Context, tokenHash []byte, now time.Time) (Link, error)

	// CreateLogin stores a new sign-in; an existing StateHash is an error.
	CreateLogin(ctx context.Context, l Login) error
	// UseLogin marks the sign-in used if it is bound to bindingHash, unused
	// and not expired at now, and returns it; else ErrLoginBinding (another
	// browser's), ErrLoginUsed, ErrLoginExpired or ErrLoginNotFound, and
	// nothing changes.
	UseLogin(ctx context.Context, stateHash, bindingHash []byte, now time.Time) (Login, error)

	// DeleteExpiredSelfService deletes the sessions, links and logins that
	// expired before t and returns how many rows it deleted.
	DeleteExpiredSelfService(ctx context.Context, t time.Time) (int, error)
}

// Errors of the store and of this package's checks.
var (
	ErrNoSession     = errors.New("selfservice: no such session")
	ErrNoCeremony    = errors.New("selfservice: no such passkey registration pending for this session")
	ErrLinkNotFound  = errors.New("selfservice: no such link")
	ErrLinkUsed      = errors.New("selfservice: the link was already used")
	ErrLinkExpired   = errors.New("selfservice: the link expired")
	ErrLoginNotFound = errors.New("selfservice: no such sign-in")
	ErrLoginUsed     = errors.New("selfservice: the sign-in was already completed")
	ErrLoginExpired  = errors.New("selfservice: the sign-in expired")
	ErrLoginBinding  = errors.New("selfservice: the sign-in was started in another browser")
)
