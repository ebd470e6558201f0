package sqlite

import (
	"context"
	"time"

	"mfagate/store"
)

// PutKioskSession stores r unless the stored record has the same or a
// higher Seq: it reports whether r was written.
func (db *DB) PutKioskSession(ctx context.Context, r store.KioskSession) (bool, error) {
	return store.PutKioskSession(db.writer(ctx), r)
}

// KioskSession returns the record stored under idHash, or mfa.ErrNotFound.
func (db *DB) KioskSession(ctx context.Context, idHash string) (store.KioskSession, error) {
	return store.ReadKioskSession(&conn{ctx: ctx, q: db.r}, idHash)
}

// DeleteKioskSessionsBefore deletes the records of sessions that expired
// before t and returns how many it deleted.
func (db *DB) DeleteKioskSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	return store.DeleteKioskSessionsBefore(db.writer(ctx), t)
}
