package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"mfagate/store"
)

// dialect is SQLite's part of the SQL both backends share: lists of
// values are spelled out, and no claim needs to skip locked jobs, as the
// single writer serialises claims.
var dialect = store.Dialect{
	AnyOf: func(column string, values []string) (string, []any) {
		args := make([]any, len(values))
		for i, v := range values {
			args[i] = v
		}
		return column + ` IN (?` + strings.Repeat(",?", len(values)-1) + `)`, args
	},
	Ints: func(ns []int) any {
		s := make([]string, len(ns))
		for i, n := range ns {
			s[i] = strconv.Itoa(n)
		}
		return strings.Join(s, ",")
	},
	ScanInts: func(ns *[]int) any { return (*intList)(ns) },
	// Strings are a JSON array: unlike message references, a value may
	// hold a comma.
	Strings: func(ss []string) any {
		if ss == nil {
			ss = []string{}
		}
		b, _ := json.Marshal(ss) // a []string always marshals
		return string(b)
	},
	ScanStrings: func(ss *[]string) any { return (*stringList)(ss) },
}

// stringList scans a JSON array of strings.
type stringList []string

func (l *stringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("list of strings stored as %T", src)
	}
	*l = nil
	if err := json.Unmarshal(b, (*[]string)(l)); err != nil {
		return fmt.Errorf("list of strings: %w", err)
	}
	return nil
}

// intList scans a comma-separated list of integers.
type intList []int

func (l *intList) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("list of integers stored as %T", src)
	}
	*l = (*l)[:0]
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("bad message reference %q", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// conn runs statements for store.Tx on a transaction, prepared when the
// cache has them, or on a pool.
type conn struct {
	ctx context.Context
	q   interface {
		QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
		QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
		ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	}
	tx    *sql.Tx    // q when it is a transaction
	stmts *stmtCache // of the pool of tx; nil: statements run unprepared
	// stats, when set, counts each statement as a commit: q is the
	// writer's pool outside a transaction, where a statement commits on
	// its own.
	stats *writeStats
}

// writer runs single statements on the writer, each its own commit.
func (db *DB) writer(ctx context.Context) *conn {
	return &conn{ctx: ctx, q: db.w, stats: &db.stats}
}

func (c *conn) counted(err error) {
	if c.stats != nil && err == nil {
		c.stats.committed()
	}
}

func newConn(ctx context.Context, tx *sql.Tx, stmts *stmtCache) *conn {
	return &conn{ctx: ctx, q: tx, tx: tx, stmts: stmts}
}

func (c *conn) prepared(q string) *sql.Stmt {
	if c.stmts == nil {
		return nil
	}
	if s := c.stmts.lookup(q); s != nil {
		return c.tx.StmtContext(c.ctx, s)
	}
	return nil
}

func (c *conn) QueryRow(q string, args ...any) store.Row {
	traced(q, args)
	if s := c.prepared(q); s != nil {
		return s.QueryRowContext(c.ctx, args...)
	}
	r := c.q.QueryRowContext(c.ctx, q, args...)
	c.counted(r.Err())
	return r
}

// rows gives *sql.Rows the Close of store.Rows.
type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

func (c *conn) Query(q string, args ...any) (store.Rows, error) {
	traced(q, args)
	var rs *sql.Rows
	var err error
	if s := c.prepared(q); s != nil {
		rs, err = s.QueryContext(c.ctx, args...)
	} else {
		rs, err = c.q.QueryContext(c.ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	c.counted(nil)
	return rows{rs}, nil
}

func (c *conn) Exec(q string, args ...any) (int64, error) {
	traced(q, args)
	var res sql.Result
	var err error
	if s := c.prepared(q); s != nil {
		res, err = s.ExecContext(c.ctx, args...)
	} else {
		res, err = c.q.ExecContext(c.ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	c.counted(nil)
	return res.RowsAffected()
}

func (c *conn) Err(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// trace, when set, sees every statement a conn runs, with its arguments
// (the query-plan test collects them; nothing else sets it).
var trace atomic.Pointer[func(q string, args []any)]

func traced(q string, args []any) {
	if fn := trace.Load(); fn != nil {
		(*fn)(q, args)
	}
}
