package sqlite

import (
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
		for _, one := range splitStates(q) {
			plan := explain(t, db, one)
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") || strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("%+v: the plan scans or sorts: %q\n%s", one, line, strings.Join(plan, "\n"))
				}
			}
			if !strings.Contains(strings.Join(plan, "\n"), "SEARCH u USING INDEX") {
				t.Errorf("%+v: users are not read through an index:\n%s", one, strings.Join(plan, "\n"))
			}
		}
	}
	t.Logf("plan of the phones-only listing:\n%s", strings.Join(explain(t, db, mfa.UserQuery{Kind: mfa.KindPhone, OnlyKind: true, Limit: 1000}), "\n"))
	storetest.CheckScale(t, db)
}

// splitStates gives the single-state queries Users runs for q.
func splitStates(q mfa.UserQuery) []mfa.UserQuery {
	if len(q.States) <= 1 {
		return []mfa.UserQuery{q}
	}
	var out []mfa.UserQuery
	for _, st := range q.States {
		one := q
		one.States = []mfa.State{st}
		out = append(out, one)
	}
	return out
}

// explain returns the detail column of EXPLAIN QUERY PLAN for the
// statement Users runs for q.
func explain(t *testing.T, db *DB, q mfa.UserQuery) []string {
	t.Helper()
	var plan []string
	if err := db.View(t.Context(), func(tx mfa.Tx) error {
		stx := tx.(*store.Tx)
		stmt, args := stx.UsersQuery(q)
		rows, err := stx.Conn().Query(`EXPLAIN QUERY PLAN `+stmt, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				return err
			}
			plan = append(plan, detail)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	return plan
}
