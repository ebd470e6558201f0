package postgres

import (
	"regexp"
	"testing"

	"mfagate/mfa"
	"mfagate/selfservice"
	"mfagate/store/storetest"
)

// TestQueryPlans: no statement of the store reads a growing table whole.
// Sequential scans are disabled while explaining, so that the planner
// picks an index wherever one can serve the statement, however few rows
// the test tables hold; a Seq Scan left in a plan means none can.
func TestQueryPlans(t *testing.T) {
	seq := regexp.MustCompile(`Seq Scan on (\w+)(?: (\w+))?`)
	storetest.QueryPlans(t, storetest.PlanBackend{
		Open:            func(t *testing.T) mfa.Store { return open(t) },
		OpenKiosk:       func(t *testing.T) storetest.KioskStore { return open(t) },
		OpenOIDC:        func(t *testing.T) storetest.OIDCStore { return open(t) },
		OpenSelfService: func(t *testing.T) selfservice.Store { return open(t) },
		OpenReseal:      func(t *testing.T) storetest.ResealStore { return open(t) },
		Trace:           traceStatements,
		Explain: func(t *testing.T, s mfa.Store, q string, args []any) ([]string, error) {
			return explainPlan(t, s.(*DB), false, q, args)
		},
		FullScan: func(line string) (string, bool) {
			m := seq.FindStringSubmatch(line)
			if m == nil {
				return "", false
			}
			return m[1], true
		},
	})
}

// traceStatements has fn see every statement the store runs until stop.
func traceStatements(fn func(q string, args []any)) (stop func()) {
	trace.Store(&fn)
	return func() { trace.Store(nil) }
}

// explainPlan returns the lines of EXPLAIN for q (with ? placeholders)
// and args on db; without seqscan, on a connection where sequential
// scans are disabled.
func explainPlan(t *testing.T, db *DB, seqscan bool, q string, args []any) ([]string, error) {
	c, err := db.pool.Acquire(t.Context())
	if err != nil {
		return nil, err
	}
	defer c.Release()
	if !seqscan {
		if _, err := c.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
			return nil, err
		}
	}
	rows, err := c.Query(t.Context(), `EXPLAIN `+rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, rows.Err()
}
