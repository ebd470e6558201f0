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
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"mfagate/mfa"
	"mfagate/store"

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

	// Group commit (see Update). mu guards queue and leading.
	mu      sync.Mutex
	queue   []*write // writes waiting for a batch, oldest first
	leading bool     // a writer is running a batch

	stats writeStats
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
	// synchronous=FULL: a commit is on disk before the API answers, so an
	// accepted sign-in's SMS survives a power cut, not only a crash of the
	// process (NORMAL in WAL mode may lose the last commits). Group commit
	// shares each fsync among the writes of a batch.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)"},
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
	db.stats.open(path)
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.wStmts.close()
	db.rStmts.close()
	defer db.stats.close()
	return errors.Join(db.r.Close(), db.w.Close())
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// migrate applies the pending migrations in one transaction.
func (db *DB) migrate(ctx context.Context) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin migration of %s: %w", db.path, err)
	}
	defer sqlTx.Rollback()
	c := newConn(ctx, sqlTx, nil)
	err = store.Migrate(c, migrations, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now'))) STRICT`,
		func(script string) error { _, err := sqlTx.ExecContext(ctx, script); return err })
	if errors.Is(err, store.ErrSchemaNewer) {
		return fmt.Errorf("%w in %s: run the newer mfagated or restore a backup", err, db.path)
	}
	if err != nil {
		return fmt.Errorf("%w (in %s)", err, db.path)
	}
	return c.Err("commit migrations", sqlTx.Commit())
}

// Update runs fn in a write transaction. Concurrent calls are committed
// together (group commit): the goroutine that finds the writer idle leads a
// batch of the writes queued so far, runs each fn in its own savepoint of
// one BEGIN IMMEDIATE transaction, and commits once. A fn that fails (or
// panics) rolls back to its savepoint only, so the others' writes stay; no
// caller returns before the COMMIT that holds its writes has succeeded, and
// when that COMMIT fails every caller in the batch gets its error. The next
// waiting writer then leads the next batch.
func (db *DB) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{ctx: ctx, fn: fn, done: make(chan struct{})}
	db.mu.Lock()
	db.queue = append(db.queue, w)
	lead := !db.leading
	db.leading = true
	db.mu.Unlock()
	if !lead && !db.wait(w) {
		return ctx.Err()
	}
	if w.lead || lead {
		db.lead()
	}
	if w.panicked {
		panic(w.panicValue)
	}
	return w.err
}

// maxBatch bounds the writes one COMMIT serves, and so the wait of the
// first of them.
const maxBatch = 64

// write is one Update waiting for, or running in, a batch.
type write struct {
	ctx context.Context
	fn  func(mfa.Tx) error
	// Set by the leader of the write's batch before done is closed.
	err        error
	panicked   bool
	panicValue any
	// lead is set under DB.mu when the write is handed the next batch
	// (done is closed then too, before the write's own result exists).
	lead bool
	done chan struct{}
}

// wait blocks until w has its result or must lead the next batch. It
// returns false when ctx ended while w was still queued: w is then
// withdrawn and nothing of it ran.
func (db *DB) wait(w *write) bool {
	select {
	case <-w.done:
		return true
	case <-w.ctx.Done():
	}
	db.mu.Lock()
	if !w.lead {
		for i, q := range db.queue {
			if q == w {
				db.queue = append(db.queue[:i], db.queue[i+1:]...)
				db.mu.Unlock()
				return false
			}
		}
	}
	db.mu.Unlock()
	<-w.done // in a batch already, or leading the next: its fn sees the ended ctx
	return true
}

// lead runs one batch from the head of the queue (which holds the calling
// writer), then hands the writer to the next queued write, if any, and
// wakes the batch's callers.
func (db *DB) lead() {
	// Let the goroutines that are ready to run do so first: under load some
	// of them are about to queue a write, which then joins this batch
	// instead of waiting for the next COMMIT. On an idle server this
	// returns at once.
	runtime.Gosched()
	db.mu.Lock()
	n := min(len(db.queue), maxBatch)
	batch := make([]*write, n)
	copy(batch, db.queue)
	db.queue = append(db.queue[:0], db.queue[n:]...)
	db.mu.Unlock()
	defer func() {
		db.mu.Lock()
		var next *write
		if len(db.queue) > 0 {
			next = db.queue[0]
			next.lead = true
		} else {
			db.leading = false
		}
		db.mu.Unlock()
		if next != nil {
			close(next.done)
		}
		for _, w := range batch {
			if !w.lead { // a leader's done is closed already
				close(w.done)
			}
		}
	}()
	db.commit(batch)
}

var errBatchAborted = errors.New("sqlite: the write transaction ended before this write ran (another write in its batch did not return)")

// commit runs the batch's fns in one transaction and sets each write's
// result.
func (db *DB) commit(batch []*write) {
	finished := false
	defer func() {
		if !finished { // a fn ended the goroutine (runtime.Goexit): the batch is rolled back
			abort(batch, errBatchAborted)
		}
	}()
	db.runBatch(batch)
	finished = true
}

func (db *DB) runBatch(batch []*write) {
	for _, w := range batch {
		w.err = errBatchAborted // until it has run
	}
	bg := context.Background()
	db.wStmts.prepareWanted(bg, db.w)
	sqlTx, err := db.w.BeginTx(bg, nil)
	if err != nil {
		for _, w := range batch {
			w.err = fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	defer sqlTx.Rollback() // a no-op after Commit; frees the writer if a fn never returns (runtime.Goexit)
	// With one write, the transaction is its savepoint.
	savepoints := len(batch) > 1
	sp := newConn(bg, sqlTx, &db.wStmts)
	savepoint := func(q string) error { _, err := sp.Exec(q); return err }
	ok := 0
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			continue
		}
		if savepoints {
			if err := savepoint(`SAVEPOINT w`); err != nil {
				abort(batch, fmt.Errorf("sqlite: savepoint: %w", err))
				return
			}
		}
		// Statements run without the caller's cancellation: an interrupted
		// write statement would roll back the whole batch, not just fn's
		// part. ctx is checked before fn runs.
		w.run(store.NewTx(newConn(context.WithoutCancel(w.ctx), sqlTx, &db.wStmts), &dialect))
		if w.err == nil && !w.panicked {
			ok++
			if savepoints {
				if err := savepoint(`RELEASE w`); err != nil {
					abort(batch, fmt.Errorf("sqlite: release savepoint: %w", err))
					return
				}
			}
			continue
		}
		if !savepoints {
			return // the deferred Rollback undoes fn's writes
		}
		// A failed statement can end the whole transaction (SQLite does so
		// for some I/O errors); then the rollback to the savepoint fails
		// and nothing of the batch can commit.
		if err := errors.Join(savepoint(`ROLLBACK TO w`), savepoint(`RELEASE w`)); err != nil {
			abort(batch, fmt.Errorf("sqlite: roll back to savepoint after a failed write: %w", err))
			return
		}
	}
	if ok == 0 {
		return
	}
	if err := sqlTx.Commit(); err != nil {
		abort(batch, fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	db.stats.committed()
}

// abort gives err to every write of a batch that did not panic: none of the
// batch's writes is stored.
func abort(batch []*write, err error) {
	for _, w := range batch {
		if !w.panicked {
			w.err = err
		}
	}
}

// run calls fn, turning a panic into a result the caller re-raises in its
// own goroutine.
func (w *write) run(t mfa.Tx) {
	w.err = errBatchAborted
	defer func() {
		if v := recover(); v != nil {
			w.panicked, w.panicValue = true, v
		}
	}()
	w.err = w.fn(t)
}

// View runs fn in a read transaction on a snapshot. Like Update's, its
// statements do not watch ctx (a statement with a cancellable context costs
// the driver a goroutine); ctx is checked when the read starts, and reads
// are short.
func (db *DB) View(ctx context.Context, fn func(mfa.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	db.rStmts.prepareWanted(ctx, db.r)
	sqlTx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer sqlTx.Rollback()
	if err := fn(store.NewTx(newConn(ctx, sqlTx, &db.rStmts), &dialect)); err != nil {
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
