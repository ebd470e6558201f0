package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mfagate/mfa"
	"mfagate/store"
)

// PutKioskSession stores r unless the stored record has the same or a
// higher Seq (another writer got there first): it reports whether r was
// written.
func (db *DB) PutKioskSession(ctx context.Context, r store.KioskSession) (bool, error) {
	res, err := db.w.ExecContext(ctx, `INSERT INTO kiosk_sessions (id_hash, user_id, node, data, seq, expires_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, node = excluded.node, data = excluded.data,
		seq = excluded.seq, expires_at = excluded.expires_at, updated_at = excluded.updated_at
		WHERE kiosk_sessions.seq < excluded.seq`,
		r.IDHash, r.User, r.Node, string(r.Data), r.Seq, store.Nanos(r.ExpiresAt), store.Nanos(r.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("sqlite: store kiosk session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: store kiosk session: %w", err)
	}
	return n == 1, nil
}

// KioskSession returns the record stored under idHash, or mfa.ErrNotFound.
func (db *DB) KioskSession(ctx context.Context, idHash string) (store.KioskSession, error) {
	var (
		r                  store.KioskSession
		data               string
		expires, updatedAt int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT id_hash, user_id, node, data, seq, expires_at, updated_at
		FROM kiosk_sessions WHERE id_hash = ?`, idHash).Scan(&r.IDHash, &r.User, &r.Node, &data, &r.Seq, &expires, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.KioskSession{}, mfa.ErrNotFound
	}
	if err != nil {
		return store.KioskSession{}, fmt.Errorf("sqlite: read kiosk session: %w", err)
	}
	r.Data, r.ExpiresAt, r.UpdatedAt = []byte(data), store.Time(expires), store.Time(updatedAt)
	return r, nil
}

// DeleteKioskSessionsBefore deletes the records of sessions that expired
// before t and returns how many it deleted.
func (db *DB) DeleteKioskSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM kiosk_sessions WHERE expires_at < ?`, store.Nanos(t))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired kiosk sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired kiosk sessions: %w", err)
	}
	return int(n), nil
}
