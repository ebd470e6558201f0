package postgres

import (
	"context"
	"time"

	"mfagate/store"
)

// The kiosk and usage records (usage.go) are written by one statement
// each, outside Update, at the server's default isolation (READ
// COMMITTED): writers from several nodes need no retry.

// PutKioskSession stores r unless the stored record has the same or a
// higher Seq: it reports whether r was written.
func (db *DB) PutKioskSession(ctx context.Context, r store.KioskSession) (bool, error) {
	return store.PutKioskSession(&conn{ctx: ctx, q: db.pool}, r)
}

// KioskSession returns the record stored under idHash, or mfa.ErrNotFound.
func (db *DB) KioskSession(ctx context.Context, idHash string) (store.KioskSession, error) {
	return store.ReadKioskSession(&conn{ctx: ctx, q: db.pool}, idHash)
}

// DeleteKioskSessionsBefore deletes the records of sessions that expired
// before t and returns how many it deleted.
func (db *DB) DeleteKioskSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	return store.DeleteKioskSessionsBefore(&conn{ctx: ctx, q: db.pool}, t)
}
