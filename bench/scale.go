package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"mfagate/mfa"
	"mfagate/store/sqlite"
)

// scaleRows is how many users, challenges, outbox jobs and audit events
// figure 7 seeds.
const scaleRows = 1_000_000

// seedScale fills a new database in dir with n users (MFA on, one
// confirmed authenticator app each), n finished challenges and n outbox
// jobs spread over the last 60 days, and n audit events spread over the
// last 800 days: with the default retention (30, 30 and 400 days) half of
// each is due for pruning. The rows go in with SQL run by SQLite itself,
// a table a statement: through the API this would take hours.
func seedScale(dir string, n int) error {
	ctx := context.Background()
	path := filepath.Join(dir, "mfagate.db")
	db, err := sqlite.Open(ctx, path) // creates the schema
	if err != nil {
		return err
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer raw.Close()
	now := time.Now().UnixNano()
	day := int64(24 * time.Hour)
	series := fmt.Sprintf(`(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d) SELECT i FROM s)`, n-1)
	uid := `printf('%010d', 3000000000 + i)`
	start := now - 60*day // of the challenges and jobs
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, state, default_method, created_at, updated_at)
			SELECT ` + uid + `, 'active', 'm_' || ` + uid + `, ?, ? FROM ` + series, []any{now, now}},
		{`INSERT INTO methods (id, user_id, kind, label, confirmed, secret, created_at, confirmed_at)
			SELECT 'm_' || ` + uid + `, ` + uid + `, 'totp', 'Authenticator app', 1, x'00', ?, ? FROM ` + series, []any{now, now}},
		{fmt.Sprintf(`INSERT INTO challenges (id, user_id, method_id, kind, purpose, status, attempts_left, created_at, expires_at, finished_at)
			SELECT printf('c_s%%07d', i), `+uid+`, 'm_' || `+uid+`, 'totp', 'signin', 'approved', 0, ? + i * %[1]d, ? + i * %[1]d, ? + i * %[1]d FROM `+series, 60*day/int64(n)),
			[]any{start, start + int64(5*time.Minute), start + int64(time.Second)}},
		{fmt.Sprintf(`INSERT INTO outbox (id, challenge_id, channel, dest, sealed, state, created_at, updated_at, expires_at)
			SELECT printf('j_s%%07d', i), printf('c_s%%07d', i), 'sms', '+8190' || printf('%%08d', i), x'00',
				CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'sent' END, ? + i * %[1]d, ? + i * %[1]d, ? + i * %[1]d FROM `+series, 60*day/int64(n)),
			[]any{start, start + int64(3*time.Second), start + int64(5*time.Minute)}},
		{fmt.Sprintf(`INSERT INTO audit (at, user_id, type, challenge_id)
			SELECT ? + i * %d, `+uid+`, 'challenge_approved', printf('c_s%%07d', i) FROM `+series, 800*day/int64(n)), []any{now - 800*day}},
	} {
		if _, err := raw.ExecContext(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// figureScale is figure 7: listing and pruning with scaleRows users,
// challenges, outbox jobs and audit events.
func figureScale(ctx context.Context, run *Run, bin string, quick bool) error {
	n := scaleRows
	if quick {
		n = 100_000
	}
	t0 := time.Now()
	dir := ""
	// Retention off in the daemon: the bench prunes itself, below, to
	// time each batch alone.
	d, err := startDaemonWith(bin, "[store]\nretention_challenges = \"0s\"\nretention_outbox = \"0s\"\nretention_audit = \"0s\"\n", 16,
		func(dd string) error { dir = dd; return seedScale(dd, n) })
	if err != nil {
		return err
	}
	defer func() {
		if d != nil {
			d.stop()
		}
	}()
	seeded := time.Since(t0)
	if fi, err := os.Stat(filepath.Join(dir, "mfagate.db")); err == nil {
		run.add(Entry{Name: "scale_database_size", Value: float64(fi.Size()) / (1 << 20), Unit: "MiB",
			Note: fmt.Sprintf("%d users, methods, challenges, outbox jobs and audit events, seeded in %s", n, seeded.Round(time.Second))})
	}
	lat := func(path string, reps int) (time.Duration, time.Duration, error) {
		var ds []time.Duration
		for range reps {
			s := time.Now()
			c, err := d.call(ctx, "GET", path, "", nil)
			if err != nil || c != 200 {
				return 0, 0, fmt.Errorf("GET %s: %d %v", path, c, err)
			}
			ds = append(ds, time.Since(s))
		}
		return percentile(ds, 50), percentile(ds, 99), nil
	}
	target := 5 * time.Millisecond
	for _, l := range []struct{ name, path, note string }{
		{"scale_outbox_list_p50", "/v1/outbox?limit=100", "GET /v1/outbox?limit=100 (newest first)"},
		{"scale_outbox_list_failed_p50", "/v1/outbox?state=failed&limit=100", "GET /v1/outbox?state=failed&limit=100"},
		{"scale_outbox_deep_page_p50", fmt.Sprintf("/v1/outbox?limit=100&before=j_s%07d", n/2), "GET /v1/outbox?limit=100&before=<a job half-way down>"},
		{"scale_audit_list_p50", "/v1/audit?limit=100", "GET /v1/audit?limit=100"},
		{"scale_audit_user_p50", fmt.Sprintf("/v1/audit?user=%010d&limit=100", 3000000000+n/3), "GET /v1/audit?user=…&limit=100"},
	} {
		p50, p99, err := lat(l.path, 300)
		if err != nil {
			return err
		}
		e := run.add(Entry{Name: l.name, Value: ms(p50), Unit: "ms", Note: fmt.Sprintf("%s, the same page 300 times one at a time; p99 %.2f ms", l.note, ms(p99))})
		if l.name == "scale_outbox_list_p50" {
			e.Target = "≤ 5 ms"
			met := p50 <= target
			e.Met = &met
		}
	}

	// Pages never listed before: every job has its own number, so each
	// of these pages masks 100 numbers afresh.
	var cold []time.Duration
	for i := range 50 {
		s := time.Now()
		path := fmt.Sprintf("/v1/outbox?limit=100&before=j_s%07d", n/4+i*(n/200))
		if c, err := d.call(ctx, "GET", path, "", nil); err != nil || c != 200 {
			return fmt.Errorf("GET %s: %d %v", path, c, err)
		}
		cold = append(cold, time.Since(s))
	}
	run.add(Entry{Name: "scale_outbox_first_listing_p50", Value: ms(percentile(cold, 50)), Unit: "ms",
		Note: fmt.Sprintf("GET /v1/outbox?limit=100&before=… of 50 pages never listed before (100 numbers each to mask afresh); p99 %.2f ms", ms(percentile(cold, 99)))})

	// Under load: 16 clients start sign-ins (a TOTP challenge: a write,
	// with its audit event) for random users of the million and read
	// users, the outbox and the audit log, for 10 s.
	dur := 10 * time.Second
	if quick {
		dur = 2 * time.Second
	}
	var reqs, fails atomic.Int64
	lctx, cancel := context.WithTimeout(ctx, dur)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; lctx.Err() == nil; i++ {
				user := fmt.Sprintf("%010d", 3000000000+rand.IntN(n))
				var c int
				var err error
				switch (w + i) % 4 {
				case 0, 1:
					c, err = d.call(lctx, "POST", "/v1/users/"+user+"/challenges", `{}`, nil)
					if c == 201 {
						c = 200
					}
				case 2:
					c, err = d.call(lctx, "GET", "/v1/users/"+user, "", nil)
				default:
					c, err = d.call(lctx, "GET", "/v1/outbox?limit=100", "", nil)
				}
				if lctx.Err() != nil {
					return
				}
				reqs.Add(1)
				if err != nil || c != 200 {
					fails.Add(1)
				}
			}
		})
	}
	wg.Wait()
	cancel()
	rss, hwm := memory(d.cmd.Process.Pid)
	e := run.add(Entry{Name: "scale_rss_under_load", Value: rss / 1024, Unit: "MiB", Target: "≤ 64 MiB",
		Note: fmt.Sprintf("VmRSS after %s of 16 clients (sign-in challenges for random users of %d, user reads, outbox pages): %d requests, %d failed; peak VmHWM %.1f MiB",
			dur, n, reqs.Load(), fails.Load(), hwm/1024)})
	met := rss/1024 <= 64
	e.Met = &met
	if fails.Load() > 0 {
		return fmt.Errorf("%d of %d requests under load failed", fails.Load(), reqs.Load())
	}

	// The users-by-state gauge: counting every user, as the gauge did,
	// against the counts the store keeps.
	db, err := sqlite.Open(ctx, filepath.Join(dir, "mfagate.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mfagate.db")+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer raw.Close()
	var scans, reads []time.Duration
	for range 5 {
		s := time.Now()
		rows, err := raw.QueryContext(ctx, `SELECT state, COUNT(*) FROM users GROUP BY state`)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		scans = append(scans, time.Since(s))
		s = time.Now()
		if err := db.View(ctx, func(tx mfa.Tx) error { _, err := tx.CountUsers(); return err }); err != nil {
			return err
		}
		reads = append(reads, time.Since(s))
	}
	scan := run.add(Entry{Name: "scale_users_by_state_count_scan", Value: ms(percentile(scans, 50)), Unit: "ms",
		Note: fmt.Sprintf("SELECT state, COUNT(*) FROM users GROUP BY state over %d users (what the gauge ran every 15 s), median of 5", n)})
	kept := run.add(Entry{Name: "scale_users_by_state_counts_kept", Value: ms(percentile(reads, 50)), Unit: "ms",
		Note: "CountUsers from user_counts (kept by triggers), median of 5"})
	if kept.Value > 0 {
		if err := run.compare(kept, scan, scan.Value/kept.Value, 0); err != nil {
			return err
		}
	}

	// Pruning: each batch is one write transaction of the single writer;
	// its duration (BEGIN IMMEDIATE to the durable COMMIT) is how long a
	// sign-in arriving meanwhile waits at most. The daemon (retention off)
	// is idle and still holds the file, as in service.
	now := time.Now()
	for _, p := range []struct {
		table string
		keep  time.Duration
		fn    func(mfa.Tx, time.Time, int) (int, error)
	}{
		{"challenges", 30 * 24 * time.Hour, mfa.Tx.PruneChallenges},
		{"outbox", 30 * 24 * time.Hour, mfa.Tx.PruneJobs},
		{"audit", 400 * 24 * time.Hour, mfa.Tx.PruneEvents},
	} {
		var holds []time.Duration
		rows := 0
		start := time.Now()
		for time.Since(start) < 20*time.Second {
			var k int
			s := time.Now()
			err := db.Update(ctx, func(tx mfa.Tx) (err error) {
				k, err = p.fn(tx, now.Add(-p.keep), mfa.PruneBatch)
				return err
			})
			if err != nil {
				return err
			}
			holds = append(holds, time.Since(s))
			rows += k
			if k < mfa.PruneBatch {
				break
			}
		}
		took := time.Since(start)
		run.add(Entry{Name: "scale_prune_batch_hold_p50_" + p.table, Value: ms(percentile(holds, 50)), Unit: "ms",
			Note: fmt.Sprintf("writer held per batch of up to %d rows (one transaction, durable commit); p99 %.2f ms, max %.2f ms; %d rows in %d batches, %.0f rows/s",
				mfa.PruneBatch, ms(percentile(holds, 99)), ms(percentile(holds, 100)), rows, len(holds), float64(rows)/took.Seconds())})
	}
	return nil
}
