package postgres

import (
	"regexp"
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
	`INSERT INTO users (id, state, created_at, updated_at)
	 SELECT lpad(i::text, 10, '0'), CASE i % 3 WHEN 0 THEN 'active' WHEN 1 THEN 'pending' ELSE 'off' END, 1, 1
	 FROM generate_series(1, ?::int) AS i`,
	`INSERT INTO methods (id, user_id, kind, label, confirmed, slot, channel, phone, created_at)
	 SELECT 'm1-' || i, lpad(i::text, 10, '0'), CASE i % 2 WHEN 0 THEN 'phone' ELSE 'totp' END, 'x', true,
	        CASE i % 2 WHEN 0 THEN 'mobile' ELSE '' END, CASE i % 2 WHEN 0 THEN 'sms' ELSE '' END,
	        CASE i % 2 WHEN 0 THEN '+819012345678' ELSE '' END, 1
	 FROM generate_series(1, ?::int) AS i`,
	`INSERT INTO methods (id, user_id, kind, label, confirmed, created_at)
	 SELECT 'm2-' || i, lpad(i::text, 10, '0'), 'totp', 'y', true, 2 FROM generate_series(5, ?::int, 5) AS i`,
}

// Listing users at 100 000 users: EXPLAIN shows an index scan of users
// (the byte-order indexes of migration 0012) and of methods, no sequential
// scan and no sort; keyset pages hold exactly the matching users.
func TestUserListingAtScale(t *testing.T) {
	db := open(t)
	if err := db.Update(t.Context(), func(tx mfa.Tx) error {
		for _, q := range seedScale {
			if _, err := tx.(*store.Tx).Conn().Exec(q, storetest.ScaleUsers); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx mfa.Tx) error {
		_, err := tx.(*store.Tx).Conn().Exec(`ANALYZE users, methods`)
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
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") {
				t.Errorf("%+v: the plan scans a table whole or sorts:\n%s", q, plan)
			}
			// The planner may walk the ID index and filter the state when
			// a third of the users have it; either index keeps the order.
			if !regexp.MustCompile(`Index Scan using users_(id_bytes|state_id|blocked_id|failing_id) on users u`).MatchString(plan) {
				t.Errorf("%+v: the plan does not read users through an index in byte order:\n%s", q, plan)
			}
		}
	}
	t.Logf("plan of the phones-only listing:\n%s", usersPlans(t, db, mfa.UserQuery{Kind: mfa.KindPhone, OnlyKind: true, Limit: 1000})[0])
	storetest.CheckScale(t, db)
}

// usersPlans returns the EXPLAIN of each statement Users runs for q (one
// per state when q has several), as the planner would run it.
func usersPlans(t *testing.T, db *DB, q mfa.UserQuery) []string {
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
	var plans []string
	for _, st := range stmts {
		if !strings.HasPrefix(st.q, "SELECT") {
			continue
		}
		plan, err := explainPlan(t, db, true, st.q, st.args)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, strings.Join(plan, "\n"))
	}
	if len(plans) == 0 {
		t.Fatalf("%+v: Users ran no statement", q)
	}
	return plans
}
