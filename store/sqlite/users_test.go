package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mfagate/mfa"
	"mfagate/store"
	"mfagate/store/storetest"
)

func TestUserListing(t *testing.T) {
	storetest.RunUserListing(t, func(t *testing.T) mfa.Store { return open(t) })
}

// seedScale stores storetest.ScaleUsers users as storetest.ScaleUser says,
// in bulk.
var seedScale = []string{
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
	 INSERT INTO users (id, state, created_at, updated_at)
	 SELECT substr('0000000000' || i, -10, 10), CASE i % 3 WHEN 0 THEN 'active' WHEN 1 THEN 'pending' ELSE 'off' END, 1, 1 FROM n`,
	`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
	 INSERT INTO methods (id, user_id, kind, label, confirmed, slot, channel, phone, created_at)
	 SELECT 'm1-' || i, substr('0000000000' || i, -10, 10), CASE i % 2 WHEN 0 THEN 'phone' ELSE 'totp' END, 'x', 1,
	        CASE i % 2 WHEN 0 THEN 'mobile' ELSE '' END, CASE i % 2 WHEN 0 THEN 'sms' ELSE '' END,
	        CASE i % 2 WHEN 0 THEN '+819012345678' ELSE '' END, 1 FROM n`,
	`WITH RECURSIVE n(i) AS (SELECT 5 UNION ALL SELECT i + 5 FROM n WHERE i + 5 <= ?)
	 INSERT INTO methods (id, user_id, kind, label, confirmed, created_at)
	 SELECT 'm2-' || i, substr('0000000000' || i, -10, 10), 'totp', 'y', 1, 2 FROM n`,
}

// Listing users at 100 000 users: every listing is an index range scan
// (EXPLAIN QUERY PLAN names an index for users and for methods, and no
// table is scanned whole or sorted), and keyset pages hold exactly the
// matching users.
func TestUserListingAtScale(t *testing.T) {
	db := open(t)
	if err := db.Update(t.Context(), func(tx mfa.Tx) error {
		for _, q := range seedScale {
			if _, err := tx.(*store.Tx).Conn().Exec(q, storetest.ScaleUsers); err != nil {
				return err
			}
		}
		_, err := tx.(*store.Tx).Conn().Exec(`ANALYZE`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	queries := []mfa.UserQuery{{}, {After: "0000050000"}, {States: []mfa.State{mfa.StateActive}, After: "0000050000"}}
	for _, c := range storetest.ScaleQueries {
		queries = append(queries, c.Query)
	}
	queries = append(queries, mfa.UserQuery{PhoneBlocked: true}, mfa.UserQuery{MinFailures: 3}, mfa.UserQuery{SomeUsable: true, NoDefault: true})
	for _, q := range queries {
		q.Limit = 1000
		for _, plan := range usersPlans(t, db, q) {
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") || strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("%+v: the plan scans or sorts: %q\n%s", q, line, strings.Join(plan, "\n"))
				}
			}
			if !strings.Contains(strings.Join(plan, "\n"), "SEARCH u USING INDEX") {
				t.Errorf("%+v: users are not read through an index:\n%s", q, strings.Join(plan, "\n"))
			}
		}
	}
	t.Logf("plan of the phones-only listing:\n%s", strings.Join(usersPlans(t, db, mfa.UserQuery{Kind: mfa.KindPhone, OnlyKind: true, Limit: 1000})[0], "\n"))
	storetest.CheckScale(t, db)
}

// BenchmarkListUsers reads one page of 100 users at 100 000 users, from
// the middle of the ID range, with the listings of storetest.ScaleQueries:
// the time of one GET /v1/users page in the store.
func BenchmarkListUsers(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(b.Context(), func(tx mfa.Tx) error {
		for _, q := range seedScale {
			if _, err := tx.(*store.Tx).Conn().Exec(q, storetest.ScaleUsers); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for _, c := range storetest.ScaleQueries {
		b.Run(strings.ReplaceAll(c.Name, " ", "_"), func(b *testing.B) {
			q := c.Query
			q.After, q.Limit = storetest.ScaleID(storetest.ScaleUsers/2), 100
			for b.Loop() {
				if err := db.View(b.Context(), func(tx mfa.Tx) error {
					us, err := tx.Users(q)
					if err == nil && len(us) != 100 {
						err = fmt.Errorf("%d users", len(us))
					}
					if err != nil {
						return err
					}
					ids := make([]string, len(us))
					for i, u := range us {
						ids[i] = u.ID
					}
					_, err = tx.MethodsOf(ids)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// usersPlans returns the plan of each statement Users runs for q (one
// per state when q has several), a line a step.
func usersPlans(t *testing.T, db *DB, q mfa.UserQuery) [][]string {
	t.Helper()
	type stmt struct {
		q    string
		args []any
	}
	var stmts []stmt
	stop := traceStatements(func(q string, args []any) { stmts = append(stmts, stmt{q, slices.Clone(args)}) })
	err := db.View(t.Context(), func(tx mfa.Tx) error { _, err := tx.Users(q); return err })
	stop()
	if err != nil {
		t.Fatal(err)
	}
	var plans [][]string
	for _, st := range stmts {
		if !strings.HasPrefix(st.q, "SELECT") {
			continue
		}
		plan, err := explainPlan(t, db, st.q, st.args)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, plan)
	}
	if len(plans) == 0 {
		t.Fatalf("%+v: Users ran no statement", q)
	}
	return plans
}
