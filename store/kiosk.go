package store

import "time"

// KioskSession is a kiosk enrollment session as the backends keep it, so
// that every gateway node sharing the database can serve it (package
// kiosk). The session's ID is the kiosk page's credential: only its digest
// is stored. Data is the session's state as JSON, which holds no PIN, code,
// secret or hash; methods and challenges appear in it by ID only.
type KioskSession struct {
	IDHash    string    // hex SHA-256 of the session ID
	User      string    // the user the session acts for
	Node      string    // the node running the session's operation; "" when none runs
	Data      []byte    // the session state, JSON
	Seq       int64     // increases with every change; a write needs a higher Seq than the stored one
	ExpiresAt time.Time // the session ends then, on every node
	UpdatedAt time.Time // when Seq last advanced
}

// PutKioskSession stores r unless the stored record has the same or a
// higher Seq (another writer got there first): it reports whether r was
// written. It is one statement: of two writers of the same Seq, the second
// finds the first's row and its own Seq not higher, so exactly one wins.
func PutKioskSession(c Conn, r KioskSession) (bool, error) {
	n, err := c.Exec(`INSERT INTO kiosk_sessions (id_hash, user_id, node, data, seq, expires_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, node = excluded.node, data = excluded.data,
		seq = excluded.seq, expires_at = excluded.expires_at, updated_at = excluded.updated_at
		WHERE kiosk_sessions.seq < excluded.seq`,
		r.IDHash, r.User, r.Node, string(r.Data), r.Seq, Nanos(r.ExpiresAt), Nanos(r.UpdatedAt))
	return n == 1, c.Err("store kiosk session", err)
}

// ReadKioskSession returns the record stored under idHash, or mfa.ErrNotFound.
func ReadKioskSession(c Conn, idHash string) (KioskSession, error) {
	return one(c, "read kiosk session", func(row Row) (KioskSession, error) {
		var r KioskSession
		var data string
		var expires, updated int64
		err := row.Scan(&r.IDHash, &r.User, &r.Node, &data, &r.Seq, &expires, &updated)
		r.Data, r.ExpiresAt, r.UpdatedAt = []byte(data), Time(expires), Time(updated)
		return r, err
	}, `SELECT id_hash, user_id, node, data, seq, expires_at, updated_at FROM kiosk_sessions WHERE id_hash = ?`, idHash)
}

// DeleteKioskSessionsBefore deletes the records of sessions that expired
// before t and returns how many it deleted.
func DeleteKioskSessionsBefore(c Conn, t time.Time) (int, error) {
	n, err := c.Exec(`DELETE FROM kiosk_sessions WHERE expires_at < ?`, Nanos(t))
	return int(n), c.Err("delete expired kiosk sessions", err)
}
