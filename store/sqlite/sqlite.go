// Package sqlite is the embedded default store: one SQLite file in WAL mode.
// Writes go through a single connection (SQLite allows one writer at a
// time); reads use a pool of read-only connections that see a consistent
// snapshot and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"mfagate/mfa"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite store. It implements mfa.Store.
type DB struct {
	w    *sql.DB // exactly one connection: the writer
	r    *sql.DB // read-only connections
	path string
	// Prepared statements per pool: SQLite would otherwise parse every
	// statement on every call (a third of a sign-in's CPU time).
	wStmts, rStmts stmtCache
}

// stmtCache holds statements prepared on a pool. A statement is prepared
// the first time it is asked for outside a transaction: preparing on the
// pool from inside one could wait for the very connection the transaction
// holds (the writer pool has one). database/sql then keeps it prepared on
// each connection it runs on.
type stmtCache struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

// lookup returns the prepared statement for q, or nil after noting that q
// should be prepared.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[q]; s != nil {
		return s
	}
	if c.wanted == nil {
		c.wanted = map[string]bool{}
	}
	c.wanted[q] = true
	return nil
}

// prepareWanted prepares the statements noted since the last call. The
// caller holds no connection of pool.
func (c *stmtCache) prepareWanted(ctx context.Context, pool *sql.DB) {
	c.mu.Lock()
	var qs []string
	for q := range c.wanted {
		qs = append(qs, q)
	}
	c.wanted = nil
	c.mu.Unlock()
	for _, q := range qs {
		s, err := pool.PrepareContext(ctx, q)
		if err != nil {
			continue // the statement runs unprepared, and reports its own error
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		if c.m[q] == nil {
			c.m[q] = s
		} else {
			s.Close()
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

var _ mfa.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and applies
// any migrations it has not seen yet.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: store.path is empty")
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("sqlite: directory of store.path %s: %w", path, err)
		}
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"},
	}.Encode()
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{w: w, path: path}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: restrict %s to its owner: %w", path, err)
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	db.r = r
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.wStmts.close()
	db.rStmts.close()
	return errors.Join(db.r.Close(), db.w.Close())
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now'))) STRICT`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations in %s (is it an SQLite database?): %w", db.path, err)
	}
	var current int
	if err := db.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	latest := 0
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s has no numeric prefix", f)
		}
		latest = max(latest, v)
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: begin migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: apply migration %s: %w", filepath.Base(f), err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: record migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: commit migration %d: %w", v, err)
		}
	}
	if current > latest {
		return fmt.Errorf("sqlite: %s has schema version %d but this mfagated knows only up to %d: run the newer mfagated or restore a backup", db.path, current, latest)
	}
	return nil
}

// Update runs fn in a write transaction (BEGIN IMMEDIATE).
func (db *DB) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	return db.run(ctx, db.w, &db.wStmts, false, fn)
}

// View runs fn in a read transaction on a snapshot.
func (db *DB) View(ctx context.Context, fn func(mfa.Tx) error) error {
	return db.run(ctx, db.r, &db.rStmts, true, fn)
}

func (db *DB) run(ctx context.Context, pool *sql.DB, stmts *stmtCache, readOnly bool, fn func(mfa.Tx) error) error {
	stmts.prepareWanted(ctx, pool)
	sqlTx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer sqlTx.Rollback() // a no-op after Commit; frees the single writer if fn panics
	if err := fn(&tx{ctx: ctx, tx: sqlTx, stmts: stmts}); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: read: %w", err)
	}
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: write: %w", err)
	}
	return nil
}
