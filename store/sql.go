package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"mfagate/mfa"
)

// Conn runs the statements of one transaction (or, for the single
// statements of the kiosk and usage records, of a connection pool).
// Statements are written once, with ? placeholders, in the SQL both
// backends speak; a Conn whose driver wants $1 rewrites them.
type Conn interface {
	QueryRow(q string, args ...any) Row
	Query(q string, args ...any) (Rows, error)
	Exec(q string, args ...any) (int64, error) // rows affected
	// Err turns the error of a statement into the error returned, saying
	// what was being done; nil stays nil.
	Err(what string, err error) error
}

// Row and Rows are what *sql.Row(s) and pgx.Row(s) have in common.
type Row interface{ Scan(dest ...any) error }

type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Dialect is what differs between the backends' SQL beyond placeholders.
type Dialect struct {
	// SkipLocked ends ClaimJob's choice of a job: how to pass over the
	// jobs other transactions are claiming ("" behind a single writer,
	// which serialises claims).
	SkipLocked string
	// TryLock takes an advisory lock for the rest of the transaction and
	// answers whether it got it, given its key ("": the single writer is
	// the lock).
	TryLock string
	// AnyOf is a condition that column holds one of values: IN (?,…) or
	// = ANY(?) with an array, which keeps one statement for any count.
	AnyOf func(column string, values []string) (string, []any)
	// Ints and ScanInts bind and scan a list of integers (outbox.mr).
	Ints     func([]int) any
	ScanInts func(*[]int) any
	// Strings and ScanStrings bind and scan a list of strings
	// (oidc_flows.amr_values); nil and empty both read back as empty.
	Strings     func([]string) any
	ScanStrings func(*[]string) any
	// ByteOrder follows a text column to compare and order it by bytes,
	// whatever the database's collation, for keyset pagination that
	// agrees with Go's string order ("" where that is the default).
	ByteOrder string
}

// Tx implements mfa.Tx on a Conn.
type Tx struct {
	c Conn
	d *Dialect
}

// NewTx returns the mfa.Tx that runs its statements on c.
func NewTx(c Conn, d *Dialect) *Tx { return &Tx{c: c, d: d} }

var _ mfa.Tx = (*Tx)(nil)

// Conn is what t runs its statements on, for a backend's own statements.
func (t *Tx) Conn() Conn { return t.c }

// one scans the single row q returns; mfa.ErrNotFound when there is none.
// (pgx.ErrNoRows is sql.ErrNoRows too.)
func one[T any](c Conn, what string, scan func(Row) (T, error), q string, args ...any) (T, error) {
	v, err := scan(c.QueryRow(q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, mfa.ErrNotFound
	}
	return v, c.Err(what, err)
}

// list scans every row q returns.
func list[T any](c Conn, what string, scan func(Row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := c.Query(q, args...)
	if err != nil {
		return nil, c.Err(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, c.Err(what, err)
		}
		out = append(out, v)
	}
	return out, c.Err(what, rows.Err())
}

func (t *Tx) exec(what, q string, args ...any) error {
	_, err := t.c.Exec(q, args...)
	return t.c.Err(what, err)
}

func (t *Tx) count(what, q string, args ...any) (int, error) {
	n, err := t.c.Exec(q, args...)
	return int(n), t.c.Err(what, err)
}

// limit turns a Tx limit into a LIMIT argument: a negative limit means none.
func limit(n int) int64 {
	if n < 0 {
		return math.MaxInt64
	}
	return int64(n)
}

const userCols = `id, state, activates_at, last_test_signin_at, last_method_change_at, default_method, consecutive_failures, phone_blocked, created_at, updated_at`

func scanUser(row Row) (mfa.User, error) {
	var u mfa.User
	var act, test, change, created, updated int64
	err := row.Scan(&u.ID, &u.State, &act, &test, &change, &u.DefaultMethod, &u.ConsecutiveFailures, &u.PhoneBlocked, &created, &updated)
	u.ActivatesAt, u.LastTestSigninAt, u.LastMethodChangeAt = Time(act), Time(test), Time(change)
	u.CreatedAt, u.UpdatedAt = Time(created), Time(updated)
	return u, err
}

func (t *Tx) User(id string) (mfa.User, error) {
	return one(t.c, "read user", scanUser, `SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

func (t *Tx) PutUser(u mfa.User) error {
	return t.exec("store user", `INSERT INTO users (`+userCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, activates_at = excluded.activates_at,
		last_test_signin_at = excluded.last_test_signin_at, last_method_change_at = excluded.last_method_change_at,
		default_method = excluded.default_method, consecutive_failures = excluded.consecutive_failures,
		phone_blocked = excluded.phone_blocked, updated_at = excluded.updated_at`,
		u.ID, string(u.State), Nanos(u.ActivatesAt), Nanos(u.LastTestSigninAt), Nanos(u.LastMethodChangeAt),
		u.DefaultMethod, u.ConsecutiveFailures, u.PhoneBlocked, Nanos(u.CreatedAt), Nanos(u.UpdatedAt))
}

const methodCols = `id, user_id, kind, label, confirmed, slot, channel, phone, extension, language, secret, last_step, created_at, confirmed_at,
	credential_id, public_key, aaguid, sign_count, attestation_object, client_data, attestation_format, last_used_at,
	expires_at, used_at, one_time`

func scanMethod(row Row) (mfa.Method, error) {
	var m mfa.Method
	var created, confirmedAt, count, used, expires, spent int64
	var f mfa.FIDOCredential
	err := row.Scan(&m.ID, &m.User, &m.Kind, &m.Label, &m.Confirmed, &m.Slot, &m.Channel, &m.Phone, &m.Extension,
		&m.Language, &m.Secret, &m.LastStep, &created, &confirmedAt,
		&f.ID, &f.PublicKey, &f.AAGUID, &count, &f.AttestationObject, &f.ClientDataJSON, &f.AttestationFormat, &used,
		&expires, &spent, &m.OneTime)
	m.CreatedAt, m.ConfirmedAt, m.LastUsedAt = Time(created), Time(confirmedAt), Time(used)
	m.ExpiresAt, m.UsedAt = Time(expires), Time(spent)
	if f.ID != nil {
		f.SignCount = uint32(count)
		m.FIDO = &f
	}
	return m, err
}

func (t *Tx) Methods(user string) ([]mfa.Method, error) {
	return list(t.c, "list methods", scanMethod, `SELECT `+methodCols+` FROM methods WHERE user_id = ? ORDER BY created_at, id`, user)
}

func (t *Tx) Method(id string) (mfa.Method, error) {
	return one(t.c, "read method", scanMethod, `SELECT `+methodCols+` FROM methods WHERE id = ?`, id)
}

func (t *Tx) PutMethod(m mfa.Method) error {
	f := m.FIDO
	if f == nil {
		f = &mfa.FIDOCredential{}
	}
	return t.exec("store method", `INSERT INTO methods (`+methodCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET label = excluded.label, confirmed = excluded.confirmed,
		channel = excluded.channel, language = excluded.language, secret = excluded.secret,
		last_step = excluded.last_step, confirmed_at = excluded.confirmed_at, sign_count = excluded.sign_count,
		last_used_at = excluded.last_used_at, used_at = excluded.used_at`,
		m.ID, m.User, string(m.Kind), m.Label, m.Confirmed, string(m.Slot), string(m.Channel), m.Phone,
		m.Extension, m.Language, m.Secret, m.LastStep, Nanos(m.CreatedAt), Nanos(m.ConfirmedAt),
		f.ID, f.PublicKey, f.AAGUID, int64(f.SignCount), f.AttestationObject, f.ClientDataJSON, f.AttestationFormat, Nanos(m.LastUsedAt),
		Nanos(m.ExpiresAt), Nanos(m.UsedAt), m.OneTime)
}

func (t *Tx) ExpiredTAPs(at time.Time, n int) ([]mfa.Method, error) {
	return list(t.c, "list expired passes", scanMethod,
		`SELECT `+methodCols+` FROM methods WHERE kind = 'tap' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, Nanos(at), limit(n))
}

func (t *Tx) DeleteMethod(id string) error {
	return t.exec("delete method", `DELETE FROM methods WHERE id = ?`, id)
}

const challengeCols = `id, user_id, method_id, kind, channel, purpose, status, reason, code_hash, number_match, attempts_left,
	created_at, expires_at, finished_at, delivery_modem, delivery_attempts, delivery_status, delivery_reason, webauthn_challenge, redeemed_at`

func scanChallenge(row Row) (mfa.Challenge, error) {
	var c mfa.Challenge
	var created, expires, finished, redeemed int64
	err := row.Scan(&c.ID, &c.User, &c.Method, &c.Kind, &c.Channel, &c.Purpose, &c.Status, &c.Reason, &c.CodeHash,
		&c.NumberMatch, &c.AttemptsLeft, &created, &expires, &finished, &c.Delivery.Modem, &c.Delivery.Attempts,
		&c.Delivery.Status, &c.Delivery.Reason, &c.WebAuthn, &redeemed)
	c.CreatedAt, c.ExpiresAt, c.FinishedAt, c.RedeemedAt = Time(created), Time(expires), Time(finished), Time(redeemed)
	return c, err
}

func (t *Tx) Challenge(id string) (mfa.Challenge, error) {
	return one(t.c, "read challenge", scanChallenge, `SELECT `+challengeCols+` FROM challenges WHERE id = ?`, id)
}

func (t *Tx) PutChallenge(c mfa.Challenge) error {
	return t.exec("store challenge", `INSERT INTO challenges (`+challengeCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET method_id = excluded.method_id, status = excluded.status, reason = excluded.reason,
		attempts_left = excluded.attempts_left, finished_at = excluded.finished_at,
		delivery_modem = excluded.delivery_modem, delivery_attempts = excluded.delivery_attempts,
		delivery_status = excluded.delivery_status, delivery_reason = excluded.delivery_reason,
		redeemed_at = excluded.redeemed_at`,
		c.ID, c.User, c.Method, string(c.Kind), string(c.Channel), string(c.Purpose), string(c.Status), c.Reason,
		c.CodeHash, c.NumberMatch, c.AttemptsLeft, Nanos(c.CreatedAt), Nanos(c.ExpiresAt), Nanos(c.FinishedAt),
		c.Delivery.Modem, c.Delivery.Attempts, c.Delivery.Status, c.Delivery.Reason, c.WebAuthn, Nanos(c.RedeemedAt))
}

func scanTime(row Row) (time.Time, error) {
	var n int64
	err := row.Scan(&n)
	return Time(n), err
}

func (t *Tx) PhoneChallengeTimes(user string, since time.Time) ([]time.Time, error) {
	return list(t.c, "list phone challenge times", scanTime,
		`SELECT created_at FROM challenges WHERE kind = 'phone' AND user_id = ? AND created_at > ? ORDER BY created_at`, user, Nanos(since))
}

// Rows that tie on a time are ordered by id, so that every backend (and
// every node) returns the same one.

func (t *Tx) LatestChallenge(method string, p mfa.Purpose) (mfa.Challenge, error) {
	return one(t.c, "read latest challenge", scanChallenge,
		`SELECT `+challengeCols+` FROM challenges WHERE method_id = ? AND purpose = ? ORDER BY created_at DESC, id DESC LIMIT 1`, method, string(p))
}

func (t *Tx) ExpiredOpenChallenges(at time.Time, n int) ([]mfa.Challenge, error) {
	return list(t.c, "list expired challenges", scanChallenge,
		`SELECT `+challengeCols+` FROM challenges WHERE open AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, Nanos(at), limit(n))
}

func (t *Tx) AddEvent(e mfa.Event) error {
	return t.exec("record event", `INSERT INTO audit (at, user_id, type, actor, method_id, challenge_id, detail) VALUES (?,?,?,?,?,?,?)`,
		Nanos(e.At), e.User, e.Type, e.Actor, e.Method, e.Challenge, e.Detail)
}

func scanEvent(row Row) (mfa.Event, error) {
	var e mfa.Event
	var at int64
	err := row.Scan(&e.ID, &at, &e.User, &e.Type, &e.Actor, &e.Method, &e.Challenge, &e.Detail)
	e.At = Time(at)
	return e, err
}

func (t *Tx) Events(f mfa.EventFilter) ([]mfa.Event, error) {
	// The filters shape the statement (so that audit_user serves it); the
	// values are always parameters. The cursor is always bound, so that
	// every listing is a search of an index, never a scan of the table.
	q := `SELECT id, at, user_id, type, actor, method_id, challenge_id, detail FROM audit WHERE `
	var args []any
	if f.User != "" {
		q += `user_id = ? AND `
		args = append(args, f.User)
	}
	if f.AfterID > 0 {
		// The page that follows the cursor: the oldest newer events,
		// turned newest first.
		es, err := list(t.c, "list events", scanEvent, q+`id > ? ORDER BY id LIMIT ?`, append(args, f.AfterID, limit(f.Limit))...)
		reverse(es)
		return es, err
	}
	before := int64(math.MaxInt64)
	if f.BeforeID > 0 {
		before = f.BeforeID
	}
	return list(t.c, "list events", scanEvent, q+`id < ? ORDER BY id DESC LIMIT ?`, append(args, before, limit(f.Limit))...)
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

const jobCols = `id, challenge_id, channel, dest, extension, sealed, language, state, modem, attempts, mr, reason, priority, created_at, updated_at, expires_at, pinned, node, lease_until`

func (t *Tx) scanJob(row Row) (mfa.Job, error) {
	var j mfa.Job
	var created, updated, expires, lease int64
	err := row.Scan(&j.ID, &j.Challenge, &j.Channel, &j.To, &j.Extension, &j.Sealed, &j.Language, &j.State, &j.Modem,
		&j.Attempts, t.d.ScanInts(&j.MR), &j.Reason, &j.Priority, &created, &updated, &expires, &j.Pinned, &j.Node, &lease)
	j.CreatedAt, j.UpdatedAt, j.ExpiresAt = Time(created), Time(updated), Time(expires)
	j.LeaseUntil = Time(lease)
	if len(j.MR) == 0 {
		j.MR = nil
	}
	if err != nil && j.ID != "" {
		err = fmt.Errorf("job %s: %w", j.ID, err)
	}
	return j, err
}

func (t *Tx) PutJob(j mfa.Job) error {
	return t.exec("store job", `INSERT INTO outbox (`+jobCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, modem = excluded.modem, attempts = excluded.attempts,
		mr = excluded.mr, reason = excluded.reason, updated_at = excluded.updated_at,
		node = excluded.node, lease_until = excluded.lease_until`,
		j.ID, j.Challenge, string(j.Channel), j.To, j.Extension, j.Sealed, j.Language, string(j.State), j.Modem,
		j.Attempts, t.d.Ints(j.MR), j.Reason, j.Priority, Nanos(j.CreatedAt), Nanos(j.UpdatedAt), Nanos(j.ExpiresAt), j.Pinned,
		j.Node, Nanos(j.LeaseUntil))
}

func (t *Tx) Job(id string) (mfa.Job, error) {
	return one(t.c, "read job", t.scanJob, `SELECT `+jobCols+` FROM outbox WHERE id = ?`, id)
}

func (t *Tx) JobForChallenge(challenge string) (mfa.Job, error) {
	// challenge_id <> '' lets SQLite use the partial index outbox_challenge
	// (test messages have no challenge).
	return one(t.c, "read job of challenge", t.scanJob, `SELECT `+jobCols+` FROM outbox WHERE challenge_id = ? AND challenge_id <> ''`, challenge)
}

func (t *Tx) ClaimJob(c mfa.JobClaim) (mfa.Job, error) {
	if len(c.Channels) == 0 {
		return mfa.Job{}, mfa.ErrNotFound
	}
	chans := make([]string, len(c.Channels))
	for i, ch := range c.Channels {
		chans[i] = string(ch)
	}
	in, args := t.d.AnyOf("channel", chans)
	return one(t.c, "claim job", t.scanJob, `UPDATE outbox SET state = 'sending', modem = ?, updated_at = ?, node = ?, lease_until = ?
		WHERE id = (SELECT id FROM outbox WHERE state = 'queued' AND pinned IN ('', ?) AND `+in+`
			ORDER BY priority, expires_at, id LIMIT 1`+t.d.SkipLocked+`)
		RETURNING `+jobCols,
		append([]any{c.Modem, Nanos(c.Now), c.Node, Nanos(c.LeaseUntil), c.Modem}, args...)...)
}

func (t *Tx) RenewLeases(node string, jobs []string, until time.Time) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	in, args := t.d.AnyOf("id", jobs)
	return t.count("renew leases", `UPDATE outbox SET lease_until = ? WHERE state = 'sending' AND node = ? AND `+in,
		append([]any{Nanos(until), node}, args...)...)
}

func (t *Tx) Jobs(f mfa.JobFilter) ([]mfa.Job, error) {
	// Keyset pages on (created_at, id), served by outbox_created or, with
	// a state, outbox_state_created; the cursor is always bound.
	q := `SELECT ` + jobCols + ` FROM outbox WHERE `
	var args []any
	if f.State != "" {
		q += `state = ? AND `
		args = append(args, string(f.State))
	}
	key := func(id string) (created int64, err error) {
		created, err = one(t.c, "read the cursor job", func(row Row) (n int64, err error) { return n, row.Scan(&n) },
			`SELECT created_at FROM outbox WHERE id = ?`, id)
		return created, err
	}
	if f.After != "" {
		created, err := key(f.After)
		if err != nil {
			return nil, err
		}
		js, err := list(t.c, "list jobs", t.scanJob, q+`(created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`,
			append(args, created, f.After, limit(f.Limit))...)
		reverse(js)
		return js, err
	}
	created, id := int64(math.MaxInt64), ""
	if f.Before != "" {
		var err error
		if created, err = key(f.Before); err != nil {
			return nil, err
		}
		id = f.Before
	}
	return list(t.c, "list jobs", t.scanJob, q+`(created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`,
		append(args, created, id, limit(f.Limit))...)
}

func (t *Tx) RequeueSending(node string, now time.Time) (int, error) {
	return t.count("requeue jobs left in sending", `UPDATE outbox SET state = 'queued', modem = '', node = '', lease_until = 0
		WHERE state = 'sending' AND (node = ? AND node <> '' OR lease_until < ?)`, node, Nanos(now))
}

func (t *Tx) DueActivations(at time.Time, n int) ([]mfa.User, error) {
	return list(t.c, "list due activations", scanUser,
		`SELECT `+userCols+` FROM users WHERE state = 'pending' AND activates_at <= ? ORDER BY activates_at, id LIMIT ?`, Nanos(at), limit(n))
}

type stateCount struct {
	state mfa.State
	n     int
}

func (t *Tx) CountUsers() (map[mfa.State]int, error) {
	// user_counts is kept by triggers on users (migration 0011).
	counts, err := list(t.c, "count users", func(row Row) (stateCount, error) {
		var c stateCount
		return c, row.Scan(&c.state, &c.n)
	}, `SELECT state, n FROM user_counts`)
	if err != nil {
		return nil, err
	}
	out := map[mfa.State]int{mfa.StateOff: 0, mfa.StatePending: 0, mfa.StateActive: 0}
	for _, c := range counts {
		if c.n != 0 {
			out[c.state] += c.n
		}
	}
	return out, nil
}

// pruneLock is the key of the advisory lock that lets one node at a time
// prune ("mfprune" in ASCII).
const pruneLock int64 = 0x6d6670_72756e65

func (t *Tx) PruneLock() (bool, error) {
	if t.d.TryLock == "" {
		return true, nil
	}
	var ok bool
	err := t.c.QueryRow(t.d.TryLock, pruneLock).Scan(&ok)
	return ok, t.c.Err("take the pruning lock", err)
}

func (t *Tx) PruneChallenges(before time.Time, n int) (int, error) {
	return t.count("prune challenges", `DELETE FROM challenges WHERE id IN
		(SELECT id FROM challenges WHERE created_at < ? AND NOT open LIMIT ?)`, Nanos(before), limit(n))
}

func (t *Tx) PruneJobs(before time.Time, n int) (int, error) {
	return t.count("prune jobs", `DELETE FROM outbox WHERE id IN
		(SELECT id FROM outbox WHERE state IN ('sent', 'failed') AND created_at < ? LIMIT ?)`, Nanos(before), limit(n))
}

func (t *Tx) PruneEvents(before time.Time, n int) (int, error) {
	// Of the n oldest events, those before the cutoff: ids grow with time
	// (up to the clocks of the nodes), so no index on at is needed, and an
	// event written with a clock running late is kept, never one too young.
	// The oldest ids are read first so that the delete is a range of the
	// primary key: on PostgreSQL a plan that read the whole table would
	// also make every concurrent audit write a serialization conflict.
	ids, err := list(t.c, "list the oldest events", func(row Row) (id int64, err error) { return id, row.Scan(&id) },
		`SELECT id FROM audit WHERE id > 0 ORDER BY id LIMIT ?`, limit(n))
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return t.count("prune events", `DELETE FROM audit WHERE id <= ? AND at < ?`, ids[len(ids)-1], Nanos(before))
}

func (t *Tx) OutboxStats() (mfa.OutboxStats, error) {
	var s mfa.OutboxStats
	var oldest int64
	err := t.c.QueryRow(`SELECT
		COUNT(CASE WHEN state = 'queued' THEN 1 END), COUNT(CASE WHEN state = 'sending' THEN 1 END),
		COALESCE(MIN(CASE WHEN state = 'queued' THEN created_at END), 0)
		FROM outbox WHERE state IN ('queued', 'sending')`).Scan(&s.Queued, &s.Sending, &oldest)
	s.Oldest = Time(oldest)
	return s, t.c.Err("read outbox stats", err)
}

func (t *Tx) PutNode(n mfa.Node) error {
	modems := n.Modems
	if modems == nil {
		modems = []mfa.NodeModem{}
	}
	b, err := json.Marshal(modems)
	if err != nil {
		return err
	}
	return t.exec("record node", `INSERT INTO nodes (id, version, started_at, seen_at, modems) VALUES (?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_at = excluded.started_at,
		seen_at = excluded.seen_at, modems = excluded.modems`,
		n.ID, n.Version, Nanos(n.StartedAt), Nanos(n.SeenAt), string(b))
}

func (t *Tx) Nodes() ([]mfa.Node, error) {
	return list(t.c, "list nodes", func(row Row) (mfa.Node, error) {
		var n mfa.Node
		var started, seen int64
		var modems string
		if err := row.Scan(&n.ID, &n.Version, &started, &seen, &modems, &n.Sending); err != nil {
			return n, err
		}
		n.StartedAt, n.SeenAt = Time(started), Time(seen)
		if err := json.Unmarshal([]byte(modems), &n.Modems); err != nil {
			return n, fmt.Errorf("node %s: modems: %w", n.ID, err)
		}
		if len(n.Modems) == 0 {
			n.Modems = nil
		}
		return n, nil
	}, `SELECT n.id, n.version, n.started_at, n.seen_at, n.modems,
		(SELECT COUNT(*) FROM outbox o WHERE o.state = 'sending' AND o.node = n.id)
		FROM nodes n ORDER BY n.id`)
}
