package storetest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/selfservice"
)

// Growing are the tables that grow with users and sign-ins. A statement
// that reads every row of one of them gets slower every day; the small
// tables (nodes, user_counts, sim_usage, signing keys, schema_migrations)
// may be scanned.
var Growing = []string{"users", "methods", "challenges", "outbox", "audit", "kiosk_sessions", "oidc_flows",
	"selfservice_sessions", "selfservice_links", "selfservice_logins"}

// PlanBackend is what the query-plan test needs of a backend.
type PlanBackend struct {
	Open            Open
	OpenKiosk       func(t *testing.T) KioskStore
	OpenOIDC        func(t *testing.T) OIDCStore
	OpenSelfService func(t *testing.T) selfservice.Store
	OpenReseal      func(t *testing.T) ResealStore
	// Trace has fn called with every statement the backend runs, and its
	// arguments, until stop is called.
	Trace func(fn func(q string, args []any)) (stop func())
	// Explain returns the plan of q with args on s (a store Open made),
	// one step a line, in the backend's own words: EXPLAIN QUERY PLAN on
	// SQLite, EXPLAIN with sequential scans disabled on PostgreSQL (so
	// that a Seq Scan means no index can serve the statement).
	Explain func(t *testing.T, s mfa.Store, q string, args []any) ([]string, error)
	// FullScan returns the table (or alias) a plan line reads whole, if
	// any.
	FullScan func(line string) (table string, ok bool)
	// SortsAll reports whether a plan line sorts every row a statement
	// matched (to keep a LIMIT's page of them); "" when the backend's plan
	// does not say so on one line.
	SortsAll func(line string) bool
}

// QueryPlans runs the conformance suites with every statement recorded,
// then asks the backend's planner about each statement the store ran: it
// fails for a statement that reads a growing table whole, or sorts every
// matching row of one to return a page of them.
func QueryPlans(t *testing.T, b PlanBackend) {
	type stmt struct {
		q    string
		args []any
	}
	var mu sync.Mutex
	seen := map[string]stmt{}
	stop := b.Trace(func(q string, args []any) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[q]; !ok {
			seen[q] = stmt{q, slices.Clone(args)}
		}
	})
	t.Run("Run", func(t *testing.T) {
		for _, tc := range conformance {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, b.Open(t)) })
		}
		if b.OpenKiosk != nil {
			t.Run("Kiosk", func(t *testing.T) { RunKiosk(t, b.OpenKiosk) })
		}
		if b.OpenOIDC != nil {
			t.Run("OIDC", func(t *testing.T) { RunOIDC(t, b.OpenOIDC) })
		}
		if b.OpenSelfService != nil {
			t.Run("SelfService", func(t *testing.T) { RunSelfService(t, b.OpenSelfService) })
		}
		t.Run("UserListing", func(t *testing.T) { RunUserListing(t, b.Open) })
		if b.OpenReseal != nil {
			t.Run("Reseal", func(t *testing.T) { RunReseal(t, b.OpenReseal) })
		}
	})
	stop()
	if t.Failed() {
		return
	}
	var qs []string
	for q := range seen {
		if explainable(q) {
			qs = append(qs, q)
		}
	}
	slices.Sort(qs)
	if len(qs) < 40 {
		t.Fatalf("only %d statements recorded: is the trace wired to every statement?", len(qs))
	}
	s := b.Open(t)
	for _, q := range qs {
		st := seen[q]
		lines, err := b.Explain(t, s, st.q, st.args)
		if err != nil {
			t.Errorf("explain %s: %v", oneLine(q), err)
			continue
		}
		plan := strings.Join(lines, "\n\t")
		if testing.Verbose() {
			t.Logf("%s\n\t%s", oneLine(q), plan)
		}
		for _, l := range lines {
			if name, ok := b.FullScan(l); ok && slices.Contains(Growing, tableOf(q, name)) {
				t.Errorf("%s\nreads all of %s:\n\t%s", oneLine(q), tableOf(q, name), plan)
			}
			if b.SortsAll != nil && b.SortsAll(l) && listing(q) {
				t.Errorf("%s\nsorts every matching row for a page:\n\t%s", oneLine(q), plan)
			}
		}
	}
	t.Logf("%d statements explained", len(qs))
}

// explainable: statements with a plan (not savepoints, DDL or the
// schema_migrations bookkeeping).
func explainable(q string) bool {
	w := strings.ToUpper(strings.Fields(q)[0])
	switch w {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH":
		return !strings.Contains(q, "schema_migrations")
	}
	return false
}

// listing: a SELECT of a page (a LIMIT) of a growing table.
func listing(q string) bool {
	return strings.HasPrefix(strings.TrimSpace(q), "SELECT") && strings.Contains(q, "LIMIT")
}

var alias = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|UPDATE|INTO)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?`)

// tableOf resolves name, as a plan calls a table, to the table q reads.
func tableOf(q, name string) string {
	for _, m := range alias.FindAllStringSubmatch(q, -1) {
		if m[2] == name {
			return m[1]
		}
	}
	return name
}

func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }

// testPrune deletes only finished rows older than the cutoff, in batches of
// at most n, and leaves everything else as it was.
func testPrune(t *testing.T, s mfa.Store) {
	cutoff := t0.Add(-24 * time.Hour)
	old, young := cutoff.Add(-time.Second), cutoff.Add(time.Second)
	var values []any
	wantChallenges := []string{}
	for _, st := range []mfa.Status{mfa.StatusApproved, mfa.StatusDenied, mfa.StatusExpired, mfa.StatusFailed,
		mfa.StatusLocked, mfa.StatusNoAnswer, mfa.StatusBusy, mfa.StatusCreated, mfa.StatusSent, mfa.StatusCalling} {
		for _, at := range []time.Time{old, young} {
			c := challenge(fmt.Sprintf("c-%s-%d", st, at.Unix()), "u", "m", mfa.KindPhone, at)
			c.Status = st
			values = append(values, c)
			if at == young || !st.Final() {
				wantChallenges = append(wantChallenges, c.ID)
			}
		}
	}
	wantJobs := []string{}
	for _, st := range []mfa.JobState{mfa.JobQueued, mfa.JobSending, mfa.JobSent, mfa.JobFailed} {
		for _, at := range []time.Time{old, young} {
			j := job(fmt.Sprintf("j-%s-%d", st, at.Unix()), mfa.ChannelSMS, 0, time.Hour)
			j.State, j.CreatedAt = st, at
			values = append(values, j)
			if at == young || st == mfa.JobQueued || st == mfa.JobSending {
				wantJobs = append(wantJobs, j.ID)
			}
		}
	}
	for i := range 5 {
		values = append(values, mfa.Event{At: old.Add(-time.Duration(i) * time.Minute), Type: "old"})
	}
	values = append(values, mfa.Event{At: young, Type: "young"}, mfa.Event{At: old, Type: "late clock"})
	put(t, s, values...)

	prune := func(fn func(mfa.Tx) (int, error)) int {
		var n int
		update(t, s, func(tx mfa.Tx) error {
			ok, err := tx.PruneLock()
			if err != nil || !ok {
				return fmt.Errorf("pruning lock: %v, %v", ok, err)
			}
			n, err = fn(tx)
			return err
		})
		return n
	}
	for _, tc := range []struct {
		name string
		fn   func(tx mfa.Tx, n int) (int, error)
		want []int
	}{
		{"challenges", func(tx mfa.Tx, n int) (int, error) { return tx.PruneChallenges(cutoff, n) }, []int{4, 3, 0}},
		{"jobs", func(tx mfa.Tx, n int) (int, error) { return tx.PruneJobs(cutoff, n) }, []int{2, 0}},
		// The oldest 4 events are old; then 1 old, 1 young (kept), and
		// one that ran late, behind the young one: pruned too.
		{"events", func(tx mfa.Tx, n int) (int, error) { return tx.PruneEvents(cutoff, n) }, []int{4, 2, 0}},
	} {
		var got []int
		for range tc.want {
			got = append(got, prune(func(tx mfa.Tx) (int, error) { return tc.fn(tx, 4) }))
		}
		same(t, "pruned "+tc.name+" per batch of 4", got, tc.want)
	}
	view(t, s, func(tx mfa.Tx) error {
		for _, id := range wantChallenges {
			if _, err := tx.Challenge(id); err != nil {
				t.Errorf("challenge %s: %v, want kept", id, err)
			}
		}
		js, err := tx.Jobs(mfa.JobFilter{Limit: 100})
		got := ids(js)
		slices.Sort(got)
		slices.Sort(wantJobs)
		same(t, "jobs kept", got, wantJobs)
		es, err2 := tx.Events(mfa.EventFilter{Limit: 100})
		if len(es) != 1 || es[0].Type != "young" {
			t.Errorf("events kept: %+v, want the young one", es)
		}
		return errors.Join(err, err2)
	})
	var left int
	view(t, s, func(tx mfa.Tx) error {
		cs, err := tx.ExpiredOpenChallenges(t0.Add(time.Hour), 100)
		left = len(cs)
		return err
	})
	if left != 6 {
		t.Errorf("%d open challenges after pruning, want the 6 stored", left)
	}
}

// testCountUsersTracked: the counts follow state changes, rewrites with
// the same state and deletions made by the store's own writes.
func testCountUsersTracked(t *testing.T, s mfa.Store) {
	count := func() map[mfa.State]int {
		var m map[mfa.State]int
		view(t, s, func(tx mfa.Tx) (err error) { m, err = tx.CountUsers(); return err })
		return m
	}
	a, b, c := user("a", mfa.StateOff), user("b", mfa.StateOff), user("c", mfa.StatePending)
	put(t, s, a, b, c)
	same(t, "counts after storing", count(), map[mfa.State]int{mfa.StateOff: 2, mfa.StatePending: 1, mfa.StateActive: 0})
	a.State, c.State = mfa.StatePending, mfa.StateActive
	b.ConsecutiveFailures = 3 // same state: no change of counts
	put(t, s, a, b, c)
	put(t, s, b)
	same(t, "counts after changes", count(), map[mfa.State]int{mfa.StateOff: 1, mfa.StatePending: 1, mfa.StateActive: 1})
	// A write that fails rolls the counts back with it.
	err := s.Update(t.Context(), func(tx mfa.Tx) error {
		a.State = mfa.StateActive
		if err := tx.PutUser(a); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("update = %v", err)
	}
	same(t, "counts after a rolled-back change", count(), map[mfa.State]int{mfa.StateOff: 1, mfa.StatePending: 1, mfa.StateActive: 1})
}

var errRollback = errors.New("roll back")

// testEventsAfter pages forward with AfterID: each page is the events
// right after the cursor, newest first.
func testEventsAfter(t *testing.T, s mfa.Store) {
	for i := range 6 {
		u := "alice"
		if i%2 == 1 {
			u = "bob"
		}
		put(t, s, mfa.Event{At: t0.Add(time.Duration(i)), User: u, Type: fmt.Sprintf("e%d", i)})
	}
	var all []mfa.Event
	view(t, s, func(tx mfa.Tx) (err error) { all, err = tx.Events(mfa.EventFilter{Limit: 100}); return err })
	if len(all) != 6 {
		t.Fatalf("events = %+v", all)
	}
	oldest := all[5].ID
	types := func(f mfa.EventFilter) []string {
		var es []mfa.Event
		view(t, s, func(tx mfa.Tx) (err error) { es, err = tx.Events(f); return err })
		out := []string{}
		for _, e := range es {
			out = append(out, e.Type)
		}
		return out
	}
	same(t, "after the oldest, 2", types(mfa.EventFilter{AfterID: oldest, Limit: 2}), []string{"e2", "e1"})
	same(t, "after the oldest, all", types(mfa.EventFilter{AfterID: oldest, Limit: 100}), []string{"e5", "e4", "e3", "e2", "e1"})
	same(t, "after the newest", types(mfa.EventFilter{AfterID: all[0].ID, Limit: 100}), []string{})
	same(t, "alice after the oldest", types(mfa.EventFilter{User: "alice", AfterID: oldest, Limit: 1}), []string{"e2"})
}
