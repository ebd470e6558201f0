package sqlite

import (
	"regexp"
	"strings"
	"testing"

	"mfagate/mfa"
	"mfagate/selfservice"
	"mfagate/store/storetest"
)

// TestQueryPlans: no statement of the store reads a growing table whole.
func TestQueryPlans(t *testing.T) {
	scan := regexp.MustCompile(`^SCAN (\w+)`)
	storetest.QueryPlans(t, storetest.PlanBackend{
		Open:            func(t *testing.T) mfa.Store { return open(t) },
		OpenKiosk:       func(t *testing.T) storetest.KioskStore { return open(t) },
		OpenOIDC:        func(t *testing.T) storetest.OIDCStore { return open(t) },
		OpenSelfService: func(t *testing.T) selfservice.Store { return open(t) },
		OpenReseal:      func(t *testing.T) storetest.ResealStore { return open(t) },
		Trace:           traceStatements,
		Explain: func(t *testing.T, s mfa.Store, q string, args []any) ([]string, error) {
			return explainPlan(t, s.(*DB), q, args)
		},
		FullScan: func(line string) (string, bool) {
			m := scan.FindStringSubmatch(line)
			if m == nil {
				return "", false
			}
			return m[1], true
		},
		// "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" sorts only the rows
		// that tie on the index's order; this sorts them all.
		SortsAll: func(line string) bool { return strings.HasPrefix(line, "USE TEMP B-TREE FOR ORDER BY") },
	})
}

// traceStatements has fn see every statement the store runs until stop.
func traceStatements(fn func(q string, args []any)) (stop func()) {
	trace.Store(&fn)
	return func() { trace.Store(nil) }
}

// explainPlan returns the detail column of EXPLAIN QUERY PLAN for q with
// args on db, a step a line.
func explainPlan(t *testing.T, db *DB, q string, args []any) ([]string, error) {
	rows, err := db.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		lines = append(lines, detail)
	}
	return lines, rows.Err()
}
