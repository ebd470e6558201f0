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

// tx implements mfa.Tx on one PostgreSQL transaction. Unlike SQLite, a
// failed statement aborts the whole transaction; conflict remembers the
// first serialization failure or deadlock so that Update re-runs fn even
// when fn handled the error itself.
type tx struct {
	ctx      context.Context
	tx       pgx.Tx
	conflict error
}

// limitArg turns a Tx limit into a LIMIT argument: a negative limit means
// none (NULL is LIMIT ALL), as it does in SQLite.
func limitArg(n int) any {
	if n < 0 {
		return nil
	}
	return n
}

type scanner interface{ Scan(dest ...any) error }

// fail wraps a statement error with what was being done and notes a
// conflict.
func (t *tx) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if retryable(err) && t.conflict == nil {
		t.conflict = err
	}
	return fmt.Errorf("postgres: %s: %w", what, unreachable(t.ctx, err))
}

func (t *tx) exec(what, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, q, args...)
	if err != nil {
		return 0, t.fail(what, err)
	}
	return tag.RowsAffected(), nil
}

// one scans the single row q returns; mfa.ErrNotFound when there is none.
func one[T any](t *tx, what string, scan func(scanner) (T, error), q string, args ...any) (T, error) {
	v, err := scan(t.tx.QueryRow(t.ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, mfa.ErrNotFound
	}
	return v, t.fail(what, err)
}

// list scans every row q returns.
func list[T any](t *tx, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.tx.Query(t.ctx, q, args...)
	if err != nil {
		return nil, t.fail(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.fail(what, err)
		}
		out = append(out, v)
	}
	return out, t.fail(what, rows.Err())
}

const userCols = `id, state, activates_at, last_test_signin_at, last_method_change_at, default_method, consecutive_failures, phone_blocked, created_at, updated_at`

func scanUser(row scanner) (mfa.User, error) {
	var u mfa.User
	var act, test, change, created, updated int64
	err := row.Scan(&u.ID, &u.State, &act, &test, &change, &u.DefaultMethod, &u.ConsecutiveFailures, &u.PhoneBlocked, &created, &updated)
	u.ActivatesAt, u.LastTestSigninAt, u.LastMethodChangeAt = store.Time(act), store.Time(test), store.Time(change)
	u.CreatedAt, u.UpdatedAt = store.Time(created), store.Time(updated)
	return u, err
}

func (t *tx) User(id string) (mfa.User, error) {
	return one(t, "read user", scanUser, `SELECT `+userCols+` FROM users WHERE id = $1`, id)
}

func (t *tx) PutUser(u mfa.User) error {
	_, err := t.exec("store user", `INSERT INTO users (`+userCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, activates_at = excluded.activates_at,
		last_test_signin_at = excluded.last_test_signin_at, last_method_change_at = excluded.last_method_change_at,
		default_method = excluded.default_method, consecutive_failures = excluded.consecutive_failures,
		phone_blocked = excluded.phone_blocked, updated_at = excluded.updated_at`,
		u.ID, string(u.State), store.Nanos(u.ActivatesAt), store.Nanos(u.LastTestSigninAt), store.Nanos(u.LastMethodChangeAt),
		u.DefaultMethod, u.ConsecutiveFailures, u.PhoneBlocked, store.Nanos(u.CreatedAt), store.Nanos(u.UpdatedAt))
	return err
}

const methodCols = `id, user_id, kind, label, confirmed, slot, channel, phone, extension, language, secret, last_step, created_at, confirmed_at,
	credential_id, public_key, aaguid, sign_count, attestation_object, client_data, attestation_format`

func scanMethod(row scanner) (mfa.Method, error) {
	var m mfa.Method
	var created, confirmedAt, count int64
	var f mfa.FIDOCredential
	err := row.Scan(&m.ID, &m.User, &m.Kind, &m.Label, &m.Confirmed, &m.Slot, &m.Channel, &m.Phone, &m.Extension,
		&m.Language, &m.Secret, &m.LastStep, &created, &confirmedAt,
		&f.ID, &f.PublicKey, &f.AAGUID, &count, &f.AttestationObject, &f.ClientDataJSON, &f.AttestationFormat)
	m.CreatedAt, m.ConfirmedAt = store.Time(created), store.Time(confirmedAt)
	if f.ID != nil {
		f.SignCount = uint32(count)
		m.FIDO = &f
	}
	return m, err
}

func (t *tx) Methods(user string) ([]mfa.Method, error) {
	return list(t, "list methods", scanMethod, `SELECT `+methodCols+` FROM methods WHERE user_id = $1 ORDER BY created_at, id`, user)
}

func (t *tx) Method(id string) (mfa.Method, error) {
	return one(t, "read method", scanMethod, `SELECT `+methodCols+` FROM methods WHERE id = $1`, id)
}

func (t *tx) PutMethod(m mfa.Method) error {
	f := m.FIDO
	if f == nil {
		f = &mfa.FIDOCredential{}
	}
	_, err := t.exec("store method", `INSERT INTO methods (`+methodCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)
		ON CONFLICT (id) DO UPDATE SET label = excluded.label, confirmed = excluded.confirmed,
		channel = excluded.channel, language = excluded.language, secret = excluded.secret,
		last_step = excluded.last_step, confirmed_at = excluded.confirmed_at, sign_count = excluded.sign_count`,
		m.ID, m.User, string(m.Kind), m.Label, m.Confirmed, string(m.Slot), string(m.Channel), m.Phone,
		m.Extension, m.Language, m.Secret, m.LastStep, store.Nanos(m.CreatedAt), store.Nanos(m.ConfirmedAt),
		f.ID, f.PublicKey, f.AAGUID, int64(f.SignCount), f.AttestationObject, f.ClientDataJSON, f.AttestationFormat)
	return err
}

func (t *tx) DeleteMethod(id string) error {
	_, err := t.exec("delete method", `DELETE FROM methods WHERE id = $1`, id)
	return err
}

const challengeCols = `id, user_id, method_id, kind, channel, purpose, status, reason, code_hash, number_match, attempts_left,
	created_at, expires_at, finished_at, delivery_modem, delivery_attempts, delivery_status, delivery_reason, webauthn_challenge`

func scanChallenge(row scanner) (mfa.Challenge, error) {
	var c mfa.Challenge
	var created, expires, finished int64
	err := row.Scan(&c.ID, &c.User, &c.Method, &c.Kind, &c.Channel, &c.Purpose, &c.Status, &c.Reason, &c.CodeHash,
		&c.NumberMatch, &c.AttemptsLeft, &created, &expires, &finished, &c.Delivery.Modem, &c.Delivery.Attempts,
		&c.Delivery.Status, &c.Delivery.Reason, &c.WebAuthn)
	c.CreatedAt, c.ExpiresAt, c.FinishedAt = store.Time(created), store.Time(expires), store.Time(finished)
	return c, err
}

func (t *tx) Challenge(id string) (mfa.Challenge, error) {
	return one(t, "read challenge", scanChallenge, `SELECT `+challengeCols+` FROM challenges WHERE id = $1`, id)
}

func (t *tx) PutChallenge(c mfa.Challenge) error {
	_, err := t.exec("store challenge", `INSERT INTO challenges (`+challengeCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
		attempts_left = excluded.attempts_left, finished_at = excluded.finished_at,
		delivery_modem = excluded.delivery_modem, delivery_attempts = excluded.delivery_attempts,
		delivery_status = excluded.delivery_status, delivery_reason = excluded.delivery_reason`,
		c.ID, c.User, c.Method, string(c.Kind), string(c.Channel), string(c.Purpose), string(c.Status), c.Reason,
		c.CodeHash, c.NumberMatch, c.AttemptsLeft, store.Nanos(c.CreatedAt), store.Nanos(c.ExpiresAt), store.Nanos(c.FinishedAt),
		c.Delivery.Modem, c.Delivery.Attempts, c.Delivery.Status, c.Delivery.Reason, c.WebAuthn)
	return err
}

func scanTime(row scanner) (time.Time, error) {
	var n int64
	err := row.Scan(&n)
	return store.Time(n), err
}

func (t *tx) PhoneChallengeTimes(user string, since time.Time) ([]time.Time, error) {
	return list(t, "list phone challenge times", scanTime,
		`SELECT created_at FROM challenges WHERE kind = 'phone' AND user_id = $1 AND created_at > $2 ORDER BY created_at`, user, store.Nanos(since))
}

func (t *tx) LatestChallenge(method string, p mfa.Purpose) (mfa.Challenge, error) {
	return one(t, "read latest challenge", scanChallenge,
		`SELECT `+challengeCols+` FROM challenges WHERE method_id = $1 AND purpose = $2 ORDER BY created_at DESC, id DESC LIMIT 1`, method, string(p))
}

func (t *tx) ExpiredOpenChallenges(at time.Time, limit int) ([]mfa.Challenge, error) {
	return list(t, "list expired challenges", scanChallenge,
		`SELECT `+challengeCols+` FROM challenges WHERE open AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, store.Nanos(at), limitArg(limit))
}

func (t *tx) AddEvent(e mfa.Event) error {
	_, err := t.exec("record event", `INSERT INTO audit (at, user_id, type, actor, method_id, challenge_id, detail) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		store.Nanos(e.At), e.User, e.Type, e.Actor, e.Method, e.Challenge, e.Detail)
	return err
}

func scanEvent(row scanner) (mfa.Event, error) {
	var e mfa.Event
	var at int64
	err := row.Scan(&e.ID, &at, &e.User, &e.Type, &e.Actor, &e.Method, &e.Challenge, &e.Detail)
	e.At = store.Time(at)
	return e, err
}

func (t *tx) Events(f mfa.EventFilter) ([]mfa.Event, error) {
	// The filters shape the statement (so that audit_user serves it); the
	// values are always parameters.
	q := `SELECT id, at, user_id, type, actor, method_id, challenge_id, detail FROM audit WHERE true`
	var args []any
	if f.User != "" {
		args = append(args, f.User)
		q += fmt.Sprintf(` AND user_id = $%d`, len(args))
	}
	if f.BeforeID > 0 {
		args = append(args, f.BeforeID)
		q += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	args = append(args, limitArg(f.Limit))
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	return list(t, "list events", scanEvent, q, args...)
}

const jobCols = `id, challenge_id, channel, dest, extension, sealed, language, state, modem, attempts, mr, reason, priority, created_at, updated_at, expires_at, pinned, node, lease_until`

func scanJob(row scanner) (mfa.Job, error) {
	var j mfa.Job
	var created, updated, expires, lease int64
	err := row.Scan(&j.ID, &j.Challenge, &j.Channel, &j.To, &j.Extension, &j.Sealed, &j.Language, &j.State, &j.Modem,
		&j.Attempts, &j.MR, &j.Reason, &j.Priority, &created, &updated, &expires, &j.Pinned, &j.Node, &lease)
	j.CreatedAt, j.UpdatedAt, j.ExpiresAt = store.Time(created), store.Time(updated), store.Time(expires)
	j.LeaseUntil = store.Time(lease)
	if len(j.MR) == 0 {
		j.MR = nil // as SQLite returns a job without message references
	}
	return j, err
}

func (t *tx) PutJob(j mfa.Job) error {
	mr := j.MR
	if mr == nil {
		mr = []int{} // the column is NOT NULL
	}
	_, err := t.exec("store job", `INSERT INTO outbox (`+jobCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, modem = excluded.modem, attempts = excluded.attempts,
		mr = excluded.mr, reason = excluded.reason, updated_at = excluded.updated_at,
		node = excluded.node, lease_until = excluded.lease_until`,
		j.ID, j.Challenge, string(j.Channel), j.To, j.Extension, j.Sealed, j.Language, string(j.State), j.Modem,
		j.Attempts, mr, j.Reason, j.Priority, store.Nanos(j.CreatedAt), store.Nanos(j.UpdatedAt), store.Nanos(j.ExpiresAt), j.Pinned,
		j.Node, store.Nanos(j.LeaseUntil))
	return err
}

func (t *tx) Job(id string) (mfa.Job, error) {
	return one(t, "read job", scanJob, `SELECT `+jobCols+` FROM outbox WHERE id = $1`, id)
}

func (t *tx) JobForChallenge(challenge string) (mfa.Job, error) {
	return one(t, "read job of challenge", scanJob, `SELECT `+jobCols+` FROM outbox WHERE challenge_id = $1`, challenge)
}

// ClaimJob takes the most urgent queued job that no other transaction holds:
// FOR UPDATE SKIP LOCKED lets nodes claim side by side instead of queueing
// behind each other's row locks.
func (t *tx) ClaimJob(c mfa.JobClaim) (mfa.Job, error) {
	if len(c.Channels) == 0 {
		return mfa.Job{}, mfa.ErrNotFound
	}
	chans := make([]string, len(c.Channels))
	for i, ch := range c.Channels {
		chans[i] = string(ch)
	}
	return one(t, "claim job", scanJob, `UPDATE outbox SET state = 'sending', modem = $1, updated_at = $2, node = $4, lease_until = $5
		WHERE id = (SELECT id FROM outbox WHERE state = 'queued' AND pinned IN ('', $1) AND channel = ANY($3)
			ORDER BY priority, expires_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols, c.Modem, store.Nanos(c.Now), chans, c.Node, store.Nanos(c.LeaseUntil))
}

func (t *tx) RenewLeases(node string, jobs []string, until time.Time) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	n, err := t.exec("renew leases", `UPDATE outbox SET lease_until = $1 WHERE state = 'sending' AND node = $2 AND id = ANY($3)`,
		store.Nanos(until), node, jobs)
	return int(n), err
}

func (t *tx) Jobs(state mfa.JobState, limit int) ([]mfa.Job, error) {
	if state == "" {
		return list(t, "list jobs", scanJob, `SELECT `+jobCols+` FROM outbox ORDER BY created_at, id LIMIT $1`, limitArg(limit))
	}
	return list(t, "list jobs", scanJob, `SELECT `+jobCols+` FROM outbox WHERE state = $1 ORDER BY created_at, id LIMIT $2`,
		string(state), limitArg(limit))
}

func (t *tx) RequeueSending(node string, now time.Time) (int, error) {
	n, err := t.exec("requeue jobs left in sending", `UPDATE outbox SET state = 'queued', modem = '', node = '', lease_until = 0
		WHERE state = 'sending' AND (node = $1 AND node <> '' OR lease_until < $2)`, node, store.Nanos(now))
	return int(n), err
}

func (t *tx) PutNode(n mfa.Node) error {
	modems := n.Modems
	if modems == nil {
		modems = []mfa.NodeModem{} // the column is NOT NULL
	}
	_, err := t.exec("record node", `INSERT INTO nodes (id, version, started_at, seen_at, modems) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_at = excluded.started_at,
		seen_at = excluded.seen_at, modems = excluded.modems`,
		n.ID, n.Version, store.Nanos(n.StartedAt), store.Nanos(n.SeenAt), modems)
	return err
}

func (t *tx) Nodes() ([]mfa.Node, error) {
	return list(t, "list nodes", func(row scanner) (mfa.Node, error) {
		var n mfa.Node
		var started, seen int64
		err := row.Scan(&n.ID, &n.Version, &started, &seen, &n.Modems, &n.Sending)
		n.StartedAt, n.SeenAt = store.Time(started), store.Time(seen)
		if len(n.Modems) == 0 {
			n.Modems = nil // as SQLite returns a node without modems
		}
		return n, err
	}, `SELECT n.id, n.version, n.started_at, n.seen_at, n.modems,
		(SELECT COUNT(*) FROM outbox o WHERE o.state = 'sending' AND o.node = n.id)
		FROM nodes n ORDER BY n.id`)
}

func (t *tx) DueActivations(at time.Time, limit int) ([]mfa.User, error) {
	return list(t, "list due activations", scanUser,
		`SELECT `+userCols+` FROM users WHERE state = 'pending' AND activates_at <= $1 ORDER BY activates_at, id LIMIT $2`, store.Nanos(at), limitArg(limit))
}

type stateCount struct {
	state mfa.State
	n     int
}

func (t *tx) CountUsers() (map[mfa.State]int, error) {
	counts, err := list(t, "count users", func(row scanner) (stateCount, error) {
		var c stateCount
		return c, row.Scan(&c.state, &c.n)
	}, `SELECT state, COUNT(*) FROM users GROUP BY state`)
	if err != nil {
		return nil, err
	}
	out := map[mfa.State]int{mfa.StateOff: 0, mfa.StatePending: 0, mfa.StateActive: 0}
	for _, c := range counts {
		out[c.state] += c.n
	}
	return out, nil
}

func (t *tx) OutboxStats() (mfa.OutboxStats, error) {
	var s mfa.OutboxStats
	var oldest *int64
	err := t.tx.QueryRow(t.ctx, `SELECT
		COUNT(*) FILTER (WHERE state = 'queued'), COUNT(*) FILTER (WHERE state = 'sending'),
		MIN(created_at) FILTER (WHERE state = 'queued')
		FROM outbox WHERE state IN ('queued', 'sending')`).Scan(&s.Queued, &s.Sending, &oldest)
	if oldest != nil {
		s.Oldest = store.Time(*oldest)
	}
	return s, t.fail("read outbox stats", err)
}
