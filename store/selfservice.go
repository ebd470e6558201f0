package store

import (
	"bytes"
	"database/sql"
	"errors"
	"time"

	"mfagate/mfa"
	"mfagate/selfservice"
)

// The Security info page's sessions, one-time links and OpenID Connect
// sign-ins (selfservice.Store), written like the External MFA flows: one
// statement per change, outside Update, and every single use a statement
// conditional on the row being unused, atomic on every backend and node.

const selfSessionCols = `id_hash, user_id, via, created_at, expires_at, ceremony_id, ceremony_challenge, ceremony_expires_at`

// CreateSelfSession stores a new session.
func CreateSelfSession(c Conn, s selfservice.Session) error {
	_, err := c.Exec(`INSERT INTO selfservice_sessions (`+selfSessionCols+`) VALUES (?,?,?,?,?,?,?,?)`,
		s.IDHash, s.User, s.Via, Nanos(s.Created), Nanos(s.Expires), s.Ceremony.ID, s.Ceremony.Challenge, Nanos(s.Ceremony.Expires))
	return c.Err("store self-service session", err)
}

// ReadSelfSession returns the session with idHash, or selfservice.ErrNoSession.
func ReadSelfSession(c Conn, idHash []byte) (selfservice.Session, error) {
	s, err := one(c, "read self-service session", func(row Row) (selfservice.Session, error) {
		var s selfservice.Session
		var created, expires, cexp int64
		err := row.Scan(&s.IDHash, &s.User, &s.Via, &created, &expires, &s.Ceremony.ID, &s.Ceremony.Challenge, &cexp)
		s.Created, s.Expires, s.Ceremony.Expires = Time(created), Time(expires), Time(cexp)
		return s, err
	}, `SELECT `+selfSessionCols+` FROM selfservice_sessions WHERE id_hash = ?`, idHash)
	if errors.Is(err, mfa.ErrNotFound) {
		return selfservice.Session{}, selfservice.ErrNoSession
	}
	return s, err
}

// DeleteSelfSession removes the session; one not there is left alone.
func DeleteSelfSession(c Conn, idHash []byte) error {
	_, err := c.Exec(`DELETE FROM selfservice_sessions WHERE id_hash = ?`, idHash)
	return c.Err("delete self-service session", err)
}

// SetCeremony records the session's pending passkey registration.
func SetCeremony(c Conn, idHash []byte, cer selfservice.Ceremony) error {
	n, err := c.Exec(`UPDATE selfservice_sessions SET ceremony_id = ?, ceremony_challenge = ?, ceremony_expires_at = ? WHERE id_hash = ?`,
		cer.ID, cer.Challenge, Nanos(cer.Expires), idHash)
	if err != nil {
		return c.Err("record passkey registration", err)
	}
	if n == 0 {
		return selfservice.ErrNoSession
	}
	return nil
}

// TakeCeremony returns the session's pending ceremony id and clears it.
// The read finds the challenge; the update, conditional on the same ID
// (random, never reused), is what takes it: of two callers only one
// changes the row, and a ceremony replaced in between is not taken.
func TakeCeremony(c Conn, idHash []byte, id string) (selfservice.Ceremony, error) {
	if id == "" {
		return selfservice.Ceremony{}, selfservice.ErrNoCeremony
	}
	s, err := ReadSelfSession(c, idHash)
	if err != nil {
		return selfservice.Ceremony{}, err
	}
	if s.Ceremony.ID != id {
		return selfservice.Ceremony{}, selfservice.ErrNoCeremony
	}
	n, err := c.Exec(`UPDATE selfservice_sessions SET ceremony_id = '', ceremony_challenge = NULL, ceremony_expires_at = 0
		WHERE id_hash = ? AND ceremony_id = ?`, idHash, id)
	if err != nil {
		return selfservice.Ceremony{}, c.Err("take passkey registration", err)
	}
	if n != 1 {
		return selfservice.Ceremony{}, selfservice.ErrNoCeremony
	}
	return s.Ceremony, nil
}

// CreateLink stores a new one-time link.
func CreateLink(c Conn, l selfservice.Link) error {
	_, err := c.Exec(`INSERT INTO selfservice_links (token_hash, user_id, created_at, expires_at, used) VALUES (?,?,?,?,?)`,
		l.TokenHash, l.User, Nanos(l.Created), Nanos(l.Expires), l.Used)
	return c.Err("store self-service link", err)
}

func readLink(c Conn, tokenHash []byte) (selfservice.Link, error) {
	return one(c, "read self-service link", func(row Row) (selfservice.Link, error) {
		var l selfservice.Link
		var created, expires int64
		err := row.Scan(&l.TokenHash, &l.User, &created, &expires, &l.Used)
		l.Created, l.Expires = Time(created), Time(expires)
		return l, err
	}, `SELECT token_hash, user_id, created_at, expires_at, used FROM selfservice_links WHERE token_hash = ?`, tokenHash)
}

// UseLink marks the link used, unless it is used or expired at now.
func UseLink(c Conn, tokenHash []byte, now time.Time) (selfservice.Link, error) {
	n, err := c.Exec(`UPDATE selfservice_links SET used = true WHERE token_hash = ? AND NOT used AND expires_at > ?`, tokenHash, Nanos(now))
	if err != nil {
		return selfservice.Link{}, c.Err("use self-service link", err)
	}
	l, err := readLink(c, tokenHash)
	switch {
	case errors.Is(err, mfa.ErrNotFound) || errors.Is(err, sql.ErrNoRows):
		return selfservice.Link{}, selfservice.ErrLinkNotFound
	case err != nil:
		return selfservice.Link{}, err
	case n == 1:
		return l, nil
	case l.Used:
		return selfservice.Link{}, selfservice.ErrLinkUsed
	}
	return selfservice.Link{}, selfservice.ErrLinkExpired
}

// CreateLogin stores a new OpenID Connect sign-in.
func CreateLogin(c Conn, l selfservice.Login) error {
	_, err := c.Exec(`INSERT INTO selfservice_logins (state_hash, binding_hash, nonce, created_at, expires_at, used) VALUES (?,?,?,?,?,?)`,
		l.StateHash, l.BindingHash, l.Nonce, Nanos(l.Created), Nanos(l.Expires), l.Used)
	return c.Err("store self-service sign-in", err)
}

// UseLogin marks the sign-in used, unless it is another browser's, used
// or expired at now. The binding is part of the condition, so a state
// sent from another browser leaves the sign-in as it was.
func UseLogin(c Conn, stateHash, bindingHash []byte, now time.Time) (selfservice.Login, error) {
	n, err := c.Exec(`UPDATE selfservice_logins SET used = true WHERE state_hash = ? AND binding_hash = ? AND NOT used AND expires_at > ?`,
		stateHash, bindingHash, Nanos(now))
	if err != nil {
		return selfservice.Login{}, c.Err("use self-service sign-in", err)
	}
	l, err := one(c, "read self-service sign-in", func(row Row) (selfservice.Login, error) {
		var l selfservice.Login
		var created, expires int64
		err := row.Scan(&l.StateHash, &l.BindingHash, &l.Nonce, &created, &expires, &l.Used)
		l.Created, l.Expires = Time(created), Time(expires)
		return l, err
	}, `SELECT state_hash, binding_hash, nonce, created_at, expires_at, used FROM selfservice_logins WHERE state_hash = ?`, stateHash)
	switch {
	case errors.Is(err, mfa.ErrNotFound):
		return selfservice.Login{}, selfservice.ErrLoginNotFound
	case err != nil:
		return selfservice.Login{}, err
	case n == 1:
		return l, nil
	case !bytes.Equal(l.BindingHash, bindingHash):
		return selfservice.Login{}, selfservice.ErrLoginBinding
	case l.Used:
		return selfservice.Login{}, selfservice.ErrLoginUsed
	}
	return selfservice.Login{}, selfservice.ErrLoginExpired
}

// DeleteSelfServiceBefore deletes the sessions, links and sign-ins that
// expired before t and returns how many rows it deleted.
func DeleteSelfServiceBefore(c Conn, t time.Time) (int, error) {
	total := 0
	for _, table := range []string{"selfservice_sessions", "selfservice_links", "selfservice_logins"} {
		n, err := c.Exec(`DELETE FROM `+table+` WHERE expires_at < ?`, Nanos(t))
		if err != nil {
			return total, c.Err("delete expired "+table, err)
		}
		total += int(n)
	}
	return total, nil
}
