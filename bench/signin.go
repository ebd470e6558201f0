package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the floor's durable commit, with the daemon's driver
)

// verifyOp is figure 1's sign-in attempt through the API in one request:
// POST /v1/users/{user}/verify {"code":…}: 200 for the correct code of a
// fresh time step, 422 for a wrong (or replayed) one.
func verifyOp(ctx context.Context, d *daemon, s *signins) func(int, func(time.Duration, int)) bool {
	base := "http://" + d.addr
	return func(w int, rec func(time.Duration, int)) bool {
		u, code, step := s.next(w)
		if u == nil {
			return false
		}
		st := timed(ctx, d.client, base+"/v1/users/"+u.id+"/verify", `{"code":"`+code+`"}`, nil, rec)
		u.outcome(step, st == 200, st == 422)
		return st > 0
	}
}

// durableCommit is half of figure 1's floor: the median (and mean) time
// of one durable SQLite commit (WAL, synchronous=FULL, as the daemon's store;
// one small row per transaction) in a file of dir, the daemon's state
// directory, so on the same file system and disk.
func durableCommit(dir string, n int) (p50, mean time.Duration, err error) {
	path := filepath.Join(dir, "floor.db")
	defer os.Remove(path)
	defer os.Remove(path + "-wal")
	defer os.Remove(path + "-shm")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + url.Values{
		"_pragma": {"journal_mode(WAL)", "synchronous(FULL)"}}.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`); err != nil {
		return 0, 0, err
	}
	ins, err := db.Prepare(`INSERT INTO t (v) VALUES (?)`)
	if err != nil {
		return 0, 0, err
	}
	defer ins.Close()
	for range 20 { // warm the file and the page cache
		if _, err := ins.Exec("warm"); err != nil {
			return 0, 0, err
		}
	}
	lat := make([]time.Duration, n)
	var sum time.Duration
	for i := range n {
		t := time.Now()
		if _, err := ins.Exec("a row of a sign-in's size, more or less"); err != nil {
			return 0, 0, err
		}
		lat[i] = time.Since(t)
		sum += lat[i]
	}
	return percentile(lat, 50), sum / time.Duration(n), nil
}

// cpuTime is the CPU time (user and system) process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 12th and 13th, in USER_HZ (100 on Linux) ticks.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(u+k) * 10 * time.Millisecond, nil
}

// verifySeries measures the one-request sign-in at concurrency conc
// against the floor: at concurrency 1 the bare round trip plus one
// durable commit (bareReq: the bare server's mean request time at
// concurrency 1), above it the bare server's request rate (be). It also
// reports the daemon's CPU time per sign-in and its commits per sign-in.
func verifySeries(ctx context.Context, run *Run, d *daemon, si *signins, conc int, dur time.Duration, be, floor *Entry) error {
	cpu0, err := cpuTime(d.cmd.Process.Pid)
	if err != nil {
		return err
	}
	c0, _ := d.metric(ctx, "mfagate_store_commits_total")
	f0, _ := d.metric(ctx, "mfagate_store_wal_frames_total")
	v := closedLoop(conc, dur, 1<<20, verifyOp(ctx, d, si))
	si.release()
	cpu1, err := cpuTime(d.cmd.Process.Pid)
	if err != nil {
		return err
	}
	c1, _ := d.metric(ctx, "mfagate_store_commits_total")
	f1, _ := d.metric(ctx, "mfagate_store_wal_frames_total")
	n := len(v.ops)
	if n == 0 {
		return fmt.Errorf("no sign-in through /v1/users/{user}/verify at concurrency %d; statuses %v", conc, v.status)
	}
	note := fmt.Sprintf("POST /v1/users/{user}/verify, one request per sign-in; %d in %s; statuses %v", n, v.elapsed.Round(time.Millisecond), v.status)
	if v.stopped != "" {
		note += "; ended early: " + v.stopped
	}
	e := run.add(Entry{Name: fmt.Sprintf("totp_verify_c%d_signins", conc), Value: v.opsPerSec(), Unit: "sign-ins/s", Note: note})
	if conc == 1 {
		e.Target = "ratio >= 0.8 (of bare round trip + one durable commit)"
		if err := run.compare(e, floor, v.opsPerSec()/floor.Value, 0.8); err != nil {
			return err
		}
	} else {
		e.Target = "ratio >= 0.5 (of bare net/http req/s)"
		if err := run.compare(e, be, v.opsPerSec()/be.Value, 0.5); err != nil {
			return err
		}
	}
	for _, p := range []float64{50, 99} {
		run.add(Entry{Name: fmt.Sprintf("totp_verify_c%d_p%g", conc, p), Value: ms(percentile(v.ops, p)), Unit: "ms"})
	}
	per := (cpu1 - cpu0) / time.Duration(n)
	ce := run.add(Entry{Name: fmt.Sprintf("daemon_cpu_per_signin_verify_c%d", conc), Value: ms(per), Unit: "ms", Target: "<= 0.1 ms",
		Note: fmt.Sprintf("mfagated's utime+stime (/proc/<pid>/stat, 10 ms ticks) over the loop: %s for %d sign-ins", (cpu1 - cpu0).Round(time.Millisecond), n)})
	met := per <= 100*time.Microsecond
	ce.Met = &met
	run.add(Entry{Name: fmt.Sprintf("store_commits_per_signin_verify_c%d", conc), Value: (c1 - c0) / float64(n), Unit: "commits",
		Note: fmt.Sprintf("mfagate_store_commits_total grew by %.0f over the loop (heartbeats and housekeeping included; group commit shares one among several sign-ins); WAL frames per sign-in %.1f", c1-c0, (f1-f0)/float64(n))})
	fmt.Fprintf(os.Stderr, "figure 1: concurrency %d: one-request sign-ins/s %.0f, daemon CPU %.3f ms per sign-in\n", conc, v.opsPerSec(), ms(per))
	return nil
}
