package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mfagate/mfa"
	"mfagate/store"
)

// tx implements mfa.Tx on one SQL transaction.
type tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *stmtCache
}

// queryRow, query and exec run a statement, prepared when the cache has it.
func (t *tx) queryRow(q string, args ...any) *sql.Row {
	if s := t.stmts.lookup(q); s != nil {
		return t.tx.StmtContext(t.ctx, s).QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, q, args...)
}

func (t *tx) query(q string, args ...any) (*sql.Rows, error) {
	if s := t.stmts.lookup(q); s != nil {
		return t.tx.StmtContext(t.ctx, s).QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, q, args...)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return mfa.ErrNotFound
	}
	return err
}

func (t *tx) exec(q string, args ...any) error {
	_, err := t.execResult(q, args...)
	return err
}

func (t *tx) execResult(q string, args ...any) (sql.Result, error) {
	if s := t.stmts.lookup(q); s != nil {
		return t.tx.StmtContext(t.ctx, s).ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, q, args...)
}

const userCols = `id, state, activates_at, last_test_signin_at, last_method_change_at, default_method, consecutive_failures, phone_blocked, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (mfa.User, error) {
	var u mfa.User
	var act, test, change, created, updated, blocked int64
	err := row.Scan(&u.ID, &u.State, &act, &test, &change, &u.DefaultMethod, &u.ConsecutiveFailures, &blocked, &created, &updated)
	u.ActivatesAt, u.LastTestSigninAt, u.LastMethodChangeAt = store.Time(act), store.Time(test), store.Time(change)
	u.CreatedAt, u.UpdatedAt, u.PhoneBlocked = store.Time(created), store.Time(updated), blocked != 0
	return u, err
}

func (t *tx) User(id string) (mfa.User, error) {
	u, err := scanUser(t.queryRow(`SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err)
}

func (t *tx) PutUser(u mfa.User) error {
	return t.exec(`INSERT INTO users (`+userCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, activates_at = excluded.activates_at,
		last_test_signin_at = excluded.last_test_signin_at, last_method_change_at = excluded.last_method_change_at,
		default_method = excluded.default_method, consecutive_failures = excluded.consecutive_failures,
		phone_blocked = excluded.phone_blocked, updated_at = excluded.updated_at`,
		u.ID, string(u.State), store.Nanos(u.ActivatesAt), store.Nanos(u.LastTestSigninAt), store.Nanos(u.LastMethodChangeAt),
		u.DefaultMethod, u.ConsecutiveFailures, b2i(u.PhoneBlocked), store.Nanos(u.CreatedAt), store.Nanos(u.UpdatedAt))
}

const methodCols = `id, user_id, kind, label, confirmed, slot, channel, phone, extension, language, secret, last_step, created_at, confirmed_at,
	credential_id, public_key, aaguid, sign_count, attestation_object, client_data, attestation_format`

func scanMethod(row interface{ Scan(...any) error }) (mfa.Method, error) {
	var m mfa.Method
	var confirmed, created, confirmedAt int64
	var f mfa.FIDOCredential
	var count int64
	err := row.Scan(&m.ID, &m.User, &m.Kind, &m.Label, &confirmed, &m.Slot, &m.Channel, &m.Phone, &m.Extension,
		&m.Language, &m.Secret, &m.LastStep, &created, &confirmedAt,
		&f.ID, &f.PublicKey, &f.AAGUID, &count, &f.AttestationObject, &f.ClientDataJSON, &f.AttestationFormat)
	m.Confirmed, m.CreatedAt, m.ConfirmedAt = confirmed != 0, store.Time(created), store.Time(confirmedAt)
	if f.ID != nil {
		f.SignCount = uint32(count)
		m.FIDO = &f
	}
	return m, err
}

func (t *tx) Methods(user string) ([]mfa.Method, error) {
	rows, err := t.query(`SELECT `+methodCols+` FROM methods WHERE user_id = ? ORDER BY created_at, id`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.Method
	for rows.Next() {
		m, err := scanMethod(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (t *tx) Method(id string) (mfa.Method, error) {
	m, err := scanMethod(t.queryRow(`SELECT `+methodCols+` FROM methods WHERE id = ?`, id))
	return m, notFound(err)
}

func (t *tx) PutMethod(m mfa.Method) error {
	f := m.FIDO
	if f == nil {
		f = &mfa.FIDOCredential{}
	}
	return t.exec(`INSERT INTO methods (`+methodCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET label = excluded.label, confirmed = excluded.confirmed,
		channel = excluded.channel, language = excluded.language, secret = excluded.secret,
		last_step = excluded.last_step, confirmed_at = excluded.confirmed_at, sign_count = excluded.sign_count`,
		m.ID, m.User, string(m.Kind), m.Label, b2i(m.Confirmed), string(m.Slot), string(m.Channel), m.Phone,
		m.Extension, m.Language, m.Secret, m.LastStep, store.Nanos(m.CreatedAt), store.Nanos(m.ConfirmedAt),
		f.ID, f.PublicKey, f.AAGUID, int64(f.SignCount), f.AttestationObject, f.ClientDataJSON, f.AttestationFormat)
}

func (t *tx) DeleteMethod(id string) error {
	return t.exec(`DELETE FROM methods WHERE id = ?`, id)
}

const challengeCols = `id, user_id, method_id, kind, channel, purpose, status, reason, code_hash, number_match, attempts_left,
	created_at, expires_at, finished_at, delivery_modem, delivery_attempts, delivery_status, delivery_reason, webauthn_challenge`

func scanChallenge(row interface{ Scan(...any) error }) (mfa.Challenge, error) {
	var c mfa.Challenge
	var created, expires, finished int64
	err := row.Scan(&c.ID, &c.User, &c.Method, &c.Kind, &c.Channel, &c.Purpose, &c.Status, &c.Reason, &c.CodeHash,
		&c.NumberMatch, &c.AttemptsLeft, &created, &expires, &finished, &c.Delivery.Modem, &c.Delivery.Attempts,
		&c.Delivery.Status, &c.Delivery.Reason, &c.WebAuthn)
	c.CreatedAt, c.ExpiresAt, c.FinishedAt = store.Time(created), store.Time(expires), store.Time(finished)
	return c, err
}

func (t *tx) Challenge(id string) (mfa.Challenge, error) {
	c, err := scanChallenge(t.queryRow(`SELECT `+challengeCols+` FROM challenges WHERE id = ?`, id))
	return c, notFound(err)
}

func (t *tx) PutChallenge(c mfa.Challenge) error {
	return t.exec(`INSERT INTO challenges (`+challengeCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
		attempts_left = excluded.attempts_left, finished_at = excluded.finished_at,
		delivery_modem = excluded.delivery_modem, delivery_attempts = excluded.delivery_attempts,
		delivery_status = excluded.delivery_status, delivery_reason = excluded.delivery_reason`,
		c.ID, c.User, c.Method, string(c.Kind), string(c.Channel), string(c.Purpose), string(c.Status), c.Reason,
		c.CodeHash, c.NumberMatch, c.AttemptsLeft, store.Nanos(c.CreatedAt), store.Nanos(c.ExpiresAt), store.Nanos(c.FinishedAt),
		c.Delivery.Modem, c.Delivery.Attempts, c.Delivery.Status, c.Delivery.Reason, c.WebAuthn)
}

func (t *tx) PhoneChallengeTimes(user string, since time.Time) ([]time.Time, error) {
	rows, err := t.query(`SELECT created_at FROM challenges WHERE kind = 'phone' AND user_id = ? AND created_at > ? ORDER BY created_at`, user, store.Nanos(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, store.Time(n))
	}
	return out, rows.Err()
}

func (t *tx) LatestChallenge(method string, p mfa.Purpose) (mfa.Challenge, error) {
	c, err := scanChallenge(t.queryRow(`SELECT `+challengeCols+` FROM challenges WHERE method_id = ? AND purpose = ? ORDER BY created_at DESC, id DESC LIMIT 1`, method, string(p)))
	return c, notFound(err)
}

func (t *tx) ExpiredOpenChallenges(at time.Time, limit int) ([]mfa.Challenge, error) {
	rows, err := t.query(`SELECT `+challengeCols+` FROM challenges WHERE open AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, store.Nanos(at), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.Challenge
	for rows.Next() {
		c, err := scanChallenge(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) AddEvent(e mfa.Event) error {
	return t.exec(`INSERT INTO audit (at, user_id, type, actor, method_id, challenge_id, detail) VALUES (?,?,?,?,?,?,?)`,
		store.Nanos(e.At), e.User, e.Type, e.Actor, e.Method, e.Challenge, e.Detail)
}

func (t *tx) Events(f mfa.EventFilter) ([]mfa.Event, error) {
	q := `SELECT id, at, user_id, type, actor, method_id, challenge_id, detail FROM audit WHERE 1=1`
	var args []any
	if f.User != "" {
		q += ` AND user_id = ?`
		args = append(args, f.User)
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.Event
	for rows.Next() {
		var e mfa.Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.User, &e.Type, &e.Actor, &e.Method, &e.Challenge, &e.Detail); err != nil {
			return nil, err
		}
		e.At = store.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

const jobCols = `id, challenge_id, channel, dest, extension, sealed, language, state, modem, attempts, mr, reason, priority, created_at, updated_at, expires_at, pinned, node, lease_until`

func scanJob(row interface{ Scan(...any) error }) (mfa.Job, error) {
	var j mfa.Job
	var mr string
	var created, updated, expires, lease int64
	err := row.Scan(&j.ID, &j.Challenge, &j.Channel, &j.To, &j.Extension, &j.Sealed, &j.Language, &j.State, &j.Modem,
		&j.Attempts, &mr, &j.Reason, &j.Priority, &created, &updated, &expires, &j.Pinned, &j.Node, &lease)
	if err != nil {
		return j, err
	}
	j.CreatedAt, j.UpdatedAt, j.ExpiresAt = store.Time(created), store.Time(updated), store.Time(expires)
	j.LeaseUntil = store.Time(lease)
	for _, f := range strings.Split(mr, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return j, fmt.Errorf("job %s: bad message reference %q", j.ID, f)
		}
		j.MR = append(j.MR, n)
	}
	return j, nil
}

func (t *tx) PutJob(j mfa.Job) error {
	mr := make([]string, len(j.MR))
	for i, n := range j.MR {
		mr[i] = strconv.Itoa(n)
	}
	return t.exec(`INSERT INTO outbox (`+jobCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, modem = excluded.modem, attempts = excluded.attempts,
		mr = excluded.mr, reason = excluded.reason, updated_at = excluded.updated_at,
		node = excluded.node, lease_until = excluded.lease_until`,
		j.ID, j.Challenge, string(j.Channel), j.To, j.Extension, j.Sealed, j.Language, string(j.State), j.Modem,
		j.Attempts, strings.Join(mr, ","), j.Reason, j.Priority, store.Nanos(j.CreatedAt), store.Nanos(j.UpdatedAt), store.Nanos(j.ExpiresAt), j.Pinned,
		j.Node, store.Nanos(j.LeaseUntil))
}

func (t *tx) Job(id string) (mfa.Job, error) {
	j, err := scanJob(t.queryRow(`SELECT `+jobCols+` FROM outbox WHERE id = ?`, id))
	return j, notFound(err)
}

func (t *tx) JobForChallenge(challenge string) (mfa.Job, error) {
	j, err := scanJob(t.queryRow(`SELECT `+jobCols+` FROM outbox WHERE challenge_id = ?`, challenge))
	return j, notFound(err)
}

// ClaimJob needs no SKIP LOCKED: the single writer serialises claims.
func (t *tx) ClaimJob(c mfa.JobClaim) (mfa.Job, error) {
	if len(c.Channels) == 0 {
		return mfa.Job{}, mfa.ErrNotFound
	}
	q := `SELECT ` + jobCols + ` FROM outbox WHERE state = 'queued' AND pinned IN ('', ?) AND channel IN (?` + strings.Repeat(",?", len(c.Channels)-1) + `)
		ORDER BY priority, expires_at, id LIMIT 1`
	args := []any{c.Modem}
	for _, ch := range c.Channels {
		args = append(args, string(ch))
	}
	j, err := scanJob(t.queryRow(q, args...))
	if err != nil {
		return j, notFound(err)
	}
	j.State, j.Modem, j.Node, j.UpdatedAt, j.LeaseUntil = mfa.JobSending, c.Modem, c.Node, c.Now, c.LeaseUntil
	return j, t.PutJob(j)
}

func (t *tx) RenewLeases(node string, jobs []string, until time.Time) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	args := []any{store.Nanos(until), node}
	for _, id := range jobs {
		args = append(args, id)
	}
	res, err := t.execResult(`UPDATE outbox SET lease_until = ? WHERE state = 'sending' AND node = ? AND id IN (?`+
		strings.Repeat(",?", len(jobs)-1)+`)`, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) Jobs(state mfa.JobState, limit int) ([]mfa.Job, error) {
	q := `SELECT ` + jobCols + ` FROM outbox`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, string(state))
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit)
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func (t *tx) RequeueSending(node string, now time.Time) (int, error) {
	res, err := t.execResult(`UPDATE outbox SET state = 'queued', modem = '', node = '', lease_until = 0
		WHERE state = 'sending' AND (node = ? AND node != '' OR lease_until < ?)`, node, store.Nanos(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) DueActivations(at time.Time, limit int) ([]mfa.User, error) {
	rows, err := t.query(`SELECT `+userCols+` FROM users WHERE state = 'pending' AND activates_at <= ? ORDER BY activates_at, id LIMIT ?`, store.Nanos(at), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func (t *tx) CountUsers() (map[mfa.State]int, error) {
	rows, err := t.query(`SELECT state, COUNT(*) FROM users GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[mfa.State]int{mfa.StateOff: 0, mfa.StatePending: 0, mfa.StateActive: 0}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[mfa.State(s)] += n
	}
	return out, rows.Err()
}

func (t *tx) OutboxStats() (mfa.OutboxStats, error) {
	var s mfa.OutboxStats
	var oldest sql.NullInt64
	err := t.queryRow(`SELECT
		COALESCE(SUM(state = 'queued'), 0), COALESCE(SUM(state = 'sending'), 0),
		MIN(CASE WHEN state = 'queued' THEN created_at END)
		FROM outbox WHERE state IN ('queued', 'sending')`).Scan(&s.Queued, &s.Sending, &oldest)
	if oldest.Valid {
		s.Oldest = store.Time(oldest.Int64)
	}
	return s, err
}

func (t *tx) PutNode(n mfa.Node) error {
	modems, err := json.Marshal(n.Modems)
	if err != nil {
		return err
	}
	return t.exec(`INSERT INTO nodes (id, version, started_at, seen_at, modems) VALUES (?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_at = excluded.started_at,
		seen_at = excluded.seen_at, modems = excluded.modems`,
		n.ID, n.Version, store.Nanos(n.StartedAt), store.Nanos(n.SeenAt), string(modems))
}

func (t *tx) Nodes() ([]mfa.Node, error) {
	rows, err := t.query(`SELECT n.id, n.version, n.started_at, n.seen_at, n.modems,
		(SELECT COUNT(*) FROM outbox o WHERE o.state = 'sending' AND o.node = n.id)
		FROM nodes n ORDER BY n.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.Node
	for rows.Next() {
		var n mfa.Node
		var started, seen int64
		var modems string
		if err := rows.Scan(&n.ID, &n.Version, &started, &seen, &modems, &n.Sending); err != nil {
			return nil, err
		}
		n.StartedAt, n.SeenAt = store.Time(started), store.Time(seen)
		if err := json.Unmarshal([]byte(modems), &n.Modems); err != nil {
			return nil, fmt.Errorf("node %s: modems: %w", n.ID, err)
		}
		if len(n.Modems) == 0 {
			n.Modems = nil
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
