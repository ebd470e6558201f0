// Package postgres is the store for several gateway nodes sharing one
// PostgreSQL database. It keeps the schema and the semantics of store/sqlite:
// Update runs at SERIALIZABLE, so a read-check-write in the domain (attempts
// left, rate limits, "does this user exist yet") behaves as it does behind
// SQLite's single writer, and transactions that lose a race are re-run; View
// reads a snapshot and never waits; ClaimJob skips jobs another node holds.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mfagate/mfa"
	"mfagate/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the advisory lock that serialises schema
// migrations between nodes starting at the same time ("mfagate" in ASCII).
const migrationLock int64 = 0x6d6661676174650

// MaxAttempts is how many times Update runs fn when its transaction keeps
// losing to concurrent ones (serialization failure or deadlock). Claims are
// what conflict most: eight claimers on one outbox needed up to six runs in
// tests. With the backoff below, twenty runs take at most about 1.5 s.
const MaxAttempts = 20

// DB is an open PostgreSQL store. It implements mfa.Store.
type DB struct {
	pool    *pgxpool.Pool
	commits atomic.Uint64 // write transactions committed
}

var _ mfa.Store = (*DB)(nil)

// Open connects to the database named by dsn (a postgres:// URL or
// "key=value" connection string, with pgxpool's pool_* settings allowed),
// applies any migrations it has not seen yet and returns the store.
//
// The DSN must not carry a password: it is read from passwordFile instead
// (its whole content, one trailing newline dropped), so that configuration
// files can be shown and shared and the secret can come from a credential
// store such as systemd's LoadCredential=. An empty passwordFile means no
// password (peer or certificate authentication, or PGPASSFILE).
func Open(ctx context.Context, dsn, passwordFile string) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres: store.dsn is empty")
	}
	if dsnHasPassword(dsn) {
		return nil, errors.New("postgres: store.dsn contains a password: remove it and name a password file instead")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse store.dsn: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without one, a server that vanished from the network (no reset)
		// holds every request for the operating system's TCP timeout.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if passwordFile != "" {
		pw, err := readPassword(passwordFile)
		if err != nil {
			return nil, err
		}
		cfg.ConnConfig.Password = pw
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", describe(cfg), err)
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// describe names the server and database for error messages, without
// credentials.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("database %q on %s port %d as %q", c.Database, c.Host, c.Port, c.User)
}

var kvPassword = regexp.MustCompile(`(^|\s)password\s*=`)

// dsnHasPassword reports whether a DSN carries a password, in either form.
func dsnHasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return false // ParseConfig reports it, with any password redacted
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	return kvPassword.MatchString(dsn)
}

func readPassword(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("postgres: read password file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("postgres: password file %s is empty", name)
	}
	return pw, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the server answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		// A ping that fails or times out means the server cannot be
		// reached: the daemon itself is not stuck.
		return fmt.Errorf("postgres: ping: %w: %w", mfa.ErrUnavailable, err)
	}
	return nil
}

// migrate applies the pending migrations in one transaction under an
// advisory lock, so that of several nodes starting together one migrates
// and the others then find the schema current. The transaction runs at READ
// COMMITTED on purpose: each statement after the lock sees what the node
// that held it committed (a snapshot taken before the lock would not).
func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: begin migration: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: wait for the migration lock: %w", err)
	}
	c := &conn{ctx: ctx, q: tx}
	err = store.Migrate(c, migrations, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		func(script string) error {
			// No arguments: the simple protocol runs a file of several statements.
			_, err := tx.Exec(ctx, script, pgx.QueryExecModeSimpleProtocol)
			return err
		})
	if errors.Is(err, store.ErrSchemaNewer) {
		return fmt.Errorf("%w: upgrade every node", err)
	}
	if err != nil {
		return err
	}
	return c.Err("commit migrations", tx.Commit(ctx))
}

// Update runs fn in a SERIALIZABLE read-write transaction. When PostgreSQL
// aborts it for a conflict with a concurrent transaction (serialization
// failure or deadlock) the whole transaction, fn included, is run again,
// at most MaxAttempts times: fn must leave no trace outside tx other than
// the variables it sets.
func (db *DB) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	return db.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite}, fn)
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot,
// never blocked by writers and never aborted for them.
func (db *DB) View(ctx context.Context, fn func(mfa.Tx) error) error {
	return db.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (db *DB) run(ctx context.Context, opts pgx.TxOptions, fn func(mfa.Tx) error) error {
	backoff := time.Millisecond
	for attempt := 1; ; attempt++ {
		err := db.once(ctx, opts, fn)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == MaxAttempts {
			return fmt.Errorf("postgres: transaction still conflicting after %d attempts: %w", attempt, err)
		}
		// Jitter keeps the losers of one race from colliding again.
		wait := backoff/2 + rand.N(backoff)
		backoff = min(2*backoff, 100*time.Millisecond)
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: %w (after a conflict: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

func (db *DB) once(ctx context.Context, opts pgx.TxOptions, fn func(mfa.Tx) error) error {
	pgTx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", unreachable(ctx, err))
	}
	// Also releases the connection when fn panics; a no-op after Commit.
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	t := &conn{ctx: ctx, q: pgTx}
	if err := fn(store.NewTx(t, &dialect)); err != nil {
		if t.conflict != nil && !retryable(err) {
			// fn hid the conflict (or went on in the aborted
			// transaction and failed otherwise): still a conflict.
			return fmt.Errorf("%w (%v)", t.conflict, err)
		}
		return err
	}
	if t.conflict != nil {
		return t.conflict
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", unreachable(ctx, err))
	}
	if opts.AccessMode == pgx.ReadWrite {
		db.commits.Add(1)
	}
	return nil
}

// WriteStats reports the write transactions this node committed since
// the store was opened. PostgreSQL's WAL is the server's: its frames are
// not counted here (walFrames is always 0).
func (db *DB) WriteStats() (commits, walFrames uint64) { return db.commits.Load(), 0 }

// unreachable marks an error that is not the server's answer to a
// statement (a refused or broken connection) as mfa.ErrUnavailable.
func unreachable(ctx context.Context, err error) error {
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &pe) || errors.Is(err, pgx.ErrNoRows) || ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: %w", mfa.ErrUnavailable, err)
}

// retryable reports whether err is PostgreSQL telling a transaction it lost
// to a concurrent one: running it again can succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" // serialization_failure, deadlock_detected
	}
	return false
}
