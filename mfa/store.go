package mfa

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Tx getters for a missing row.
var ErrNotFound = errors.New("not found")

// ErrUnavailable is wrapped by a store's errors when it cannot reach its
// database (a restart or failover of a database server): nothing was
// changed, and the same request can succeed shortly.
var ErrUnavailable = errors.New("the database is unreachable")

// Store persists the domain. Implementations (store/sqlite, later
// store/postgres) hold no business rules.
type Store interface {
	// Update runs fn in one read-write transaction: all of fn's writes
	// commit together or, when fn returns an error, not at all. A store may
	// run fn again when the transaction loses a race with another node, so fn
	// must leave no trace outside the transaction but variables it resets.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn on a consistent read-only snapshot. Readers never wait
	// for writers.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the store is usable.
	Ping(ctx context.Context) error
}

// Tx is one transaction. It is bound to the context given to Update or View
// and must not be used after fn returns.
type Tx interface {
	User(id string) (User, error) // ErrNotFound when the user has no record
	PutUser(u User) error

	Methods(user string) ([]Method, error) // oldest first
	Method(id string) (Method, error)
	PutMethod(m Method) error
	DeleteMethod(id string) error

	Challenge(id string) (Challenge, error)
	PutChallenge(c Challenge) error
	// PhoneChallengeTimes lists when the user's phone challenges since t were
	// created, oldest first (for the per-user rate limit).
	PhoneChallengeTimes(user string, since time.Time) ([]time.Time, error)
	// LatestChallenge returns the newest challenge for a method with purpose p.
	LatestChallenge(method string, p Purpose) (Challenge, error)
	// OpenChallenges lists non-final challenges that expired before t.
	ExpiredOpenChallenges(t time.Time, limit int) ([]Challenge, error)

	AddEvent(e Event) error
	Events(f EventFilter) ([]Event, error)

	PutJob(j Job) error
	Job(id string) (Job, error)
	JobForChallenge(challenge string) (Job, error)
	// ClaimJob moves the most urgent queued job for one of c.Channels that
	// is not pinned to another modem to sending, held by c.Modem on c.Node
	// until c.LeaseUntil, and returns it; ErrNotFound when none waits. Jobs
	// other transactions are claiming are skipped, not waited for. The
	// caller drops jobs whose challenge has ended.
	ClaimJob(c JobClaim) (Job, error)
	// RenewLeases extends to until the lease of each listed job that is
	// still sending and held by node, and returns how many it extended.
	RenewLeases(node string, jobs []string, until time.Time) (int, error)
	// Jobs lists outbox jobs as f selects them, newest first; ErrNotFound
	// when f names a cursor job that is not in the outbox.
	Jobs(f JobFilter) ([]Job, error)
	// OutboxStats counts queued and sending jobs and finds the oldest queued.
	OutboxStats() (OutboxStats, error)
	// RequeueSending moves back to queued every job in sending that node
	// held (a node restarting after a crash mid-send; "" for none) or whose
	// lease ended before now (a node that died), and returns how many moved.
	RequeueSending(node string, now time.Time) (int, error)

	// PutNode records a node's heartbeat.
	PutNode(n Node) error
	// Nodes lists the nodes by ID, each with the number of jobs it holds.
	Nodes() ([]Node, error)

	// ExpiredTAPs lists Temporary Access Passes (methods of kind tap)
	// whose expiry is not after t, the oldest expiry first.
	ExpiredTAPs(t time.Time, limit int) ([]Method, error)

	// DueActivations lists pending users whose activation time is not after t.
	DueActivations(t time.Time, limit int) ([]User, error)
	// CountUsers counts stored users by their stored state.
	CountUsers() (map[State]int, error)
	// Users lists stored users by q (users.go), by ID in byte order.
	Users(q UserQuery) ([]User, error)
	// MethodsOf lists the methods of the listed users, each user's oldest
	// first.
	MethodsOf(users []string) ([]Method, error)

	// PruneLock reports whether this transaction may prune: true for the
	// one transaction of all nodes that holds the store's pruning lock
	// until it ends, false for the others.
	PruneLock() (bool, error)
	// PruneChallenges deletes up to n finished challenges created before
	// t, and returns how many it deleted. Open challenges stay.
	PruneChallenges(t time.Time, n int) (int, error)
	// PruneJobs deletes up to n sent or failed outbox jobs created before
	// t. Queued and sending jobs stay.
	PruneJobs(t time.Time, n int) (int, error)
	// PruneEvents deletes audit events that happened before t, among the
	// n oldest.
	PruneEvents(t time.Time, n int) (int, error)
}
