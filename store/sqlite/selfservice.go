package sqlite

import (
	"context"
	"time"

	"mfagate/selfservice"
	"mfagate/store"
)

// The Security info page's sessions, links and sign-ins: single
// statements, like the External MFA flows (oidc.go).

var _ selfservice.Store = (*DB)(nil)

// CreateSelfSession stores a new session.
func (db *DB) CreateSelfSession(ctx context.Context, s selfservice.Session) error {
	return store.CreateSelfSession(db.writer(ctx), s)
}

// SelfSession returns the session with idHash, or selfservice.ErrNoSession.
func (db *DB) SelfSession(ctx context.Context, idHash []byte) (selfservice.Session, error) {
	return store.ReadSelfSession(&conn{ctx: ctx, q: db.r}, idHash)
}

// DeleteSelfSession removes the session.
func (db *DB) DeleteSelfSession(ctx context.Context, idHash []byte) error {
	return store.DeleteSelfSession(db.writer(ctx), idHash)
}

// SetCeremony records the session's pending passkey registration.
func (db *DB) SetCeremony(ctx context.Context, idHash []byte, c selfservice.Ceremony) error {
	return store.SetCeremony(db.writer(ctx), idHash, c)
}

// TakeCeremony returns the session's pending ceremony id and clears it.
func (db *DB) TakeCeremony(ctx context.Context, idHash []byte, id string) (selfservice.Ceremony, error) {
	return store.TakeCeremony(db.writer(ctx), idHash, id)
}

// CreateLink stores a new one-time link.
func (db *DB) CreateLink(ctx context.Context, l selfservice.Link) error {
	return store.CreateLink(db.writer(ctx), l)
}

// UseLink marks the link used, unless it is used or expired at now.
func (db *DB) UseLink(ctx context.Context, tokenHash []byte, now time.Time) (selfservice.Link, error) {
	return store.UseLink(db.writer(ctx), tokenHash, now)
}

// CreateLogin stores a new OpenID Connect sign-in.
func (db *DB) CreateLogin(ctx context.Context, l selfservice.Login) error {
	return store.CreateLogin(db.writer(ctx), l)
}

// UseLogin marks the sign-in used, unless it is another browser's, used
// or expired at now.
func (db *DB) UseLogin(ctx context.Context, stateHash, bindingHash []byte, now time.Time) (selfservice.Login, error) {
	return store.UseLogin(db.writer(ctx), stateHash, bindingHash, now)
}

// DeleteExpiredSelfService deletes what expired before t.
func (db *DB) DeleteExpiredSelfService(ctx context.Context, t time.Time) (int, error) {
	return store.DeleteSelfServiceBefore(db.writer(ctx), t)
}
