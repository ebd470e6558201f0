package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	_ "mfagate/store/sqlite" // the "sqlite" database/sql driver
)

// oldRows is how many rows of each pruned table the retention tests seed
// 40 days in the past: hundreds of pruning batches (100 rows a batch,
// 2 s a round), so that pruning runs through many batches while the
// sign-ins go on.
const oldRows = 20000

// The seeded rows' IDs start with c9 and j9, which no ID the gateway draws
// can (its IDs are c_ or j_ and base32), so the counts below see only them.
//
// seedSQL is the SQL that stores oldRows rows of each pruned table past
// the default retention, finished: challenges and sent jobs of 40 days
// ago, audit events of 410 days ago; and rows that must stay (an old open
// challenge, an old queued job, a fresh finished challenge). series is the
// backend's table of the numbers 1 to oldRows (column i), blob its literal
// of a non-empty byte string.
func seedSQL(series, blob string) []string {
	old := time.Now().Add(-40 * 24 * time.Hour).UnixNano()
	later := time.Now().Add(time.Hour).UnixNano()
	ancient := time.Now().Add(-410 * 24 * time.Hour).UnixNano() // audit events are kept 400 days
	return []string{
		fmt.Sprintf(`INSERT INTO challenges (id, user_id, method_id, kind, purpose, status, attempts_left, created_at, expires_at)
			SELECT 'c9old' || i, '9000000000', 'm_old', 'totp', 'signin', 'approved', 0, %d + i, %d + i FROM %s`, old, old+int64(time.Minute), series),
		fmt.Sprintf(`INSERT INTO outbox (id, challenge_id, channel, dest, sealed, state, created_at, updated_at, expires_at)
			SELECT 'j9old' || i, 'c9old' || i, 'sms', '+819012345678', %s, 'sent', %d + i, %d + i, %d + i FROM %s`, blob, old, old, old, series),
		fmt.Sprintf(`INSERT INTO audit (at, user_id, type) SELECT %d + i, '9000000000', 'challenge_approved' FROM %s`, ancient, series),
		// Old but open (expiring only in an hour, so the sweeper leaves it
		// too), with its queued job (no modem takes it).
		fmt.Sprintf(`INSERT INTO challenges (id, user_id, method_id, kind, purpose, status, attempts_left, created_at, expires_at)
			VALUES ('c9keep_open', '9000000000', 'm_old', 'phone', 'signin', 'sent', 3, %d, %d),
			('c9keep_young', '9000000000', 'm_old', 'totp', 'signin', 'approved', 0, %d, %d)`,
			old, later, time.Now().UnixNano(), later),
		fmt.Sprintf(`INSERT INTO outbox (id, challenge_id, channel, dest, sealed, state, created_at, updated_at, expires_at)
			VALUES ('j_keep_queued', 'c9keep_open', 'sms', '+819012345678', %s, 'queued', %d, %d, %d)`, blob, old, old, later),
	}
}

// signinUsers registers and confirms an authenticator app for n users
// through g and returns their TOTP secrets by user.
func signinUsers(t *testing.T, g *gateway, n int) map[string]string {
	t.Helper()
	secrets := map[string]string{}
	for i := range n {
		user := fmt.Sprintf("%010d", 1000000000+i)
		var added struct {
			Method struct{ ID string }
			TOTP   struct{ Secret string }
		}
		if c := g.call("POST", "/v1/users/"+user+"/methods", `{"kind":"totp"}`, &added); c != 201 {
			t.Fatalf("register %s: %d", user, c)
		}
		if c := g.call("POST", "/v1/users/"+user+"/methods/"+added.Method.ID+"/confirm", `{"code":"`+totpNow(added.TOTP.Secret)+`"}`, nil); c != 200 {
			t.Fatalf("confirm %s: %d", user, c)
		}
		secrets[user] = added.TOTP.Secret
	}
	return secrets
}

// signInDuring signs every user in once (a challenge, then the code of the
// next time step: the confirmation used this one) through the gateways in
// turn, spread over d, and returns the IDs of the approved challenges.
func signInDuring(t *testing.T, gs []*gateway, secrets map[string]string, d time.Duration) []string {
	var mu sync.Mutex
	var approved []string
	var wg sync.WaitGroup
	users := make([]string, 0, len(secrets))
	for u := range secrets {
		users = append(users, u)
	}
	const workers = 4
	pause := d * workers / time.Duration(len(users))
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(users); i += workers {
				g := gs[i%len(gs)]
				user := users[i]
				var ch struct{ ID string }
				if c := g.call("POST", "/v1/users/"+user+"/challenges", `{}`, &ch); c != 201 {
					t.Errorf("sign-in challenge for %s: %d", user, c)
					continue
				}
				var v struct{ Status, Code string }
				code := totpFor(secrets[user], time.Now().Add(30*time.Second))
				if c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+code+`"}`, &v); c != 200 || v.Status != "approved" {
					t.Errorf("sign-in of %s: %d %s %s", user, c, v.Status, v.Code)
					continue
				}
				mu.Lock()
				approved = append(approved, ch.ID)
				mu.Unlock()
				time.Sleep(pause)
			}
		})
	}
	wg.Wait()
	return approved
}

// pruned sums mfagate_store_pruned_rows_total over the gateways for table.
func pruned(t *testing.T, gs []*gateway, table string) int {
	t.Helper()
	n := 0
	for _, g := range gs {
		v, err := strconv.ParseFloat(scrape(t, g, `mfagate_store_pruned_rows_total\{table="`+table+`"\}`), 64)
		if err != nil {
			t.Fatal(err)
		}
		n += int(v)
	}
	return n
}

// checkRetention: while sign-ins run through the gateways, retention
// deletes every old finished row (and no other), and every sign-in
// stays approved and audited.
func checkRetention(t *testing.T, gs []*gateway, count func(q string) int) {
	secrets := signinUsers(t, gs[0], 120)
	done := make(chan []string)
	go func() { done <- signInDuring(t, gs, secrets, 14*time.Second) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, o, a := pruned(t, gs, "challenges"), pruned(t, gs, "outbox"), pruned(t, gs, "audit")
		if c >= oldRows && o >= oldRows && a >= oldRows {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s retention deleted %d challenges, %d jobs and %d events of the %d old of each", c, o, a, oldRows)
		}
		time.Sleep(200 * time.Millisecond)
	}
	approved := <-done
	if len(approved) != len(secrets) {
		t.Fatalf("%d of %d sign-ins approved while pruning", len(approved), len(secrets))
	}
	for table, want := range map[string]int{"challenges": oldRows, "outbox": oldRows, "audit": oldRows} {
		if got := pruned(t, gs, table); got != want {
			t.Errorf("mfagate_store_pruned_rows_total{table=%q} = %d over the nodes, want %d (each old row once)", table, got, want)
		}
	}
	for q, want := range map[string]int{
		`SELECT COUNT(*) FROM challenges WHERE id LIKE 'c9old%'`:     0,
		`SELECT COUNT(*) FROM outbox WHERE id LIKE 'j9old%'`:         0,
		`SELECT COUNT(*) FROM audit WHERE user_id = '9000000000'`:    0,
		`SELECT COUNT(*) FROM challenges WHERE id LIKE 'c9keep%'`:    2,
		`SELECT COUNT(*) FROM outbox WHERE id = 'j_keep_queued'`:     1,
		`SELECT COUNT(*) FROM audit WHERE type = 'method_confirmed'`: len(secrets),
	} {
		if got := count(q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
	// Every sign-in reads back approved, with its audit event.
	for i, id := range approved {
		g := gs[i%len(gs)]
		var ch struct{ Status, User string }
		if c := g.call("GET", "/v1/challenges/"+id, "", &ch); c != 200 || ch.Status != "approved" {
			t.Errorf("challenge %s after pruning: %d %q", id, c, ch.Status)
		}
		if n := count(`SELECT COUNT(*) FROM audit WHERE type = 'challenge_approved' AND challenge_id = '` + id + `'`); n != 1 {
			t.Errorf("challenge %s has %d challenge_approved events after pruning, want 1", id, n)
		}
	}
}

// Retention on SQLite prunes while sign-ins run and loses none of them.
func TestRetentionWhileSigningInSQLite(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, bin, "")
	// The daemon creates the schema; the old rows go in before it runs
	// again.
	g.start()
	g.kill()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(g.dir, "mfagate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	series := fmt.Sprintf(`(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT i FROM n)`, oldRows)
	for _, q := range seedSQL(series, "x'78'") {
		if _, err := db.Exec(strings.Replace(q, "FROM "+series, "FROM "+series+" AS s", 1)); err != nil {
			t.Fatalf("seed: %v\n%s", err, q)
		}
	}
	g.start()
	checkRetention(t, []*gateway{g}, func(q string) int {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	})
}

// Retention on two nodes sharing one PostgreSQL database prunes while
// sign-ins run through both, one node at a time, and loses none of them.
func TestRetentionWhileSigningInPostgres(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	pg := startPostgres(t)
	a, b := newNode(t, bin, pg, "node-a", nil), newNode(t, bin, pg, "node-b", nil)
	a.start() // creates the schema
	a.kill()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.srv.AdminDSN(pg.db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range seedSQL(fmt.Sprintf("generate_series(1, %d) AS s(i)", oldRows), `'\x78'::bytea`) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("seed: %v\n%s", err, q)
		}
	}
	a.start()
	b.start()
	checkRetention(t, []*gateway{a, b}, func(q string) int {
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	})
}
