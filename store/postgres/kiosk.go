package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mfagate/mfa"
	"mfagate/store"
)

// PutKioskSession stores r unless the stored record has the same or a
// higher Seq (another writer got there first): it reports whether r was
// written. It is one statement at READ COMMITTED: of two nodes writing the
// same Seq, the second waits for the first's row and then finds its Seq not
// higher, so exactly one wins without a retry.
func (db *DB) PutKioskSession(ctx context.Context, r store.KioskSession) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO kiosk_sessions (id_hash, user_id, node, data, seq, expires_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, node = excluded.node, data = excluded.data,
		seq = excluded.seq, expires_at = excluded.expires_at, updated_at = excluded.updated_at
		WHERE kiosk_sessions.seq < excluded.seq`,
		r.IDHash, r.User, r.Node, string(r.Data), r.Seq, store.Nanos(r.ExpiresAt), store.Nanos(r.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("postgres: store kiosk session: %w", unreachable(ctx, err))
	}
	return tag.RowsAffected() == 1, nil
}

// KioskSession returns the record stored under idHash, or mfa.ErrNotFound.
func (db *DB) KioskSession(ctx context.Context, idHash string) (store.KioskSession, error) {
	var (
		r                  store.KioskSession
		data               string
		expires, updatedAt int64
	)
	err := db.pool.QueryRow(ctx, `SELECT id_hash, user_id, node, data, seq, expires_at, updated_at
		FROM kiosk_sessions WHERE id_hash = $1`, idHash).Scan(&r.IDHash, &r.User, &r.Node, &data, &r.Seq, &expires, &updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KioskSession{}, mfa.ErrNotFound
	}
	if err != nil {
		return store.KioskSession{}, fmt.Errorf("postgres: read kiosk session: %w", unreachable(ctx, err))
	}
	r.Data, r.ExpiresAt, r.UpdatedAt = []byte(data), store.Time(expires), store.Time(updatedAt)
	return r, nil
}

// DeleteKioskSessionsBefore deletes the records of sessions that expired
// before t and returns how many it deleted.
func (db *DB) DeleteKioskSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM kiosk_sessions WHERE expires_at < $1`, store.Nanos(t))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired kiosk sessions: %w", unreachable(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}
