package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mfagate/store"
)

// dialect is PostgreSQL's part of the SQL both backends share: lists of
// values are arrays, and a claim skips the jobs other nodes are claiming
// instead of queueing behind their row locks.
var dialect = store.Dialect{
	SkipLocked: ` FOR UPDATE SKIP LOCKED`,
	TryLock:    `SELECT pg_try_advisory_xact_lock(?)`,
	ByteOrder:  ` COLLATE "C"`, // the indexes of migration 0012 are in this order
	AnyOf: func(column string, values []string) (string, []any) {
		return column + ` = ANY(?)`, []any{values}
	},
	Ints: func(ns []int) any {
		if ns == nil {
			return []int{} // the column is NOT NULL
		}
		return ns
	},
	ScanInts: func(ns *[]int) any { return ns },
	Strings: func(ss []string) any {
		if ss == nil {
			return []string{} // the column is NOT NULL
		}
		return ss
	},
	ScanStrings: func(ss *[]string) any { return ss },
}

// conn runs statements for store.Tx on a transaction or the pool. Unlike
// SQLite, a failed statement aborts the whole transaction; conflict
// remembers the first serialization failure or deadlock so that Update
// re-runs fn even when fn handled the error itself.
type conn struct {
	ctx context.Context
	q   interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	conflict error
}

// rebound holds each statement with its ? placeholders numbered.
var rebound sync.Map

// rebind numbers the ? placeholders of q ($1, $2…); the statements hold
// no other question mark.
func rebind(q string) string {
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(q, "?") {
		if p, ok := strings.CutSuffix(part, "?"); ok {
			n++
			part = p + "$" + strconv.Itoa(n)
		}
		b.WriteString(part)
	}
	rebound.Store(q, b.String())
	return b.String()
}

func (c *conn) QueryRow(q string, args ...any) store.Row {
	traced(q, args)
	return c.q.QueryRow(c.ctx, rebind(q), args...)
}

func (c *conn) Query(q string, args ...any) (store.Rows, error) {
	traced(q, args)
	rs, err := c.q.Query(c.ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return rs, nil
}

func (c *conn) Exec(q string, args ...any) (int64, error) {
	traced(q, args)
	tag, err := c.q.Exec(c.ctx, rebind(q), args...)
	return tag.RowsAffected(), err
}

// Err wraps a statement error with what was being done and notes a
// conflict.
func (c *conn) Err(what string, err error) error {
	if err == nil {
		return nil
	}
	if retryable(err) && c.conflict == nil {
		c.conflict = err
	}
	return fmt.Errorf("postgres: %s: %w", what, unreachable(c.ctx, err))
}

// trace, when set, sees every statement a conn runs, with its arguments
// (the query-plan test collects them; nothing else sets it).
var trace atomic.Pointer[func(q string, args []any)]

func traced(q string, args []any) {
	if fn := trace.Load(); fn != nil {
		(*fn)(q, args)
	}
}
