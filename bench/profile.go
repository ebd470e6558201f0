package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// profileShares are the functions whose share of the CPU profile (the
// function and what it calls) explains figure 1: where a sign-in's time goes.
var profileShares = []struct{ key, fn, what string }{
	{"http_server", "net/http.(*conn).serve", "the server side of each request: net/http, the API handlers and what they call"},
	{"sqlite_write_transactions", "mfagate/store/sqlite.(*DB).Update", "the write transactions (begin, statements, commit)"},
	{"sqlite_commit", "database/sql.(*Tx).Commit", "committing them (WAL frames written with pwrite)"},
	{"challenge_row_writes", "mfagate/store.(*Tx).PutChallenge", "writing the challenge row (at creation and again when it is decided)"},
	{"transaction_statements", "mfagate/store/sqlite.(*write).run", "the sign-in's own statements in the write transaction (reads and row writes, before the commit)"},
	{"wal_frames", "modernc.org/sqlite/lib._walFrames", "writing the commit's pages to the WAL: one pwrite per frame, then the fsync"},
	{"syscalls", "internal/runtime/syscall/linux.Syscall6", "system calls (socket reads and writes, pwrite, fsync)"},
	{"totp_match", "mfagate/mfa.matchTOTP", "computing and comparing the TOTP codes"},
	{"benchmark_client", "mfagate/api_test.(*harness).do", "the benchmark's own HTTP client"},
}

// profiles are the two sign-in paths of figure 1 the profile explains.
var profiles = []struct{ bench, prefix, op string }{
	{"BenchmarkTOTPSignin", "profile_signin_", "POST /v1/users/{user}/challenges and POST /v1/challenges/{id}/verify with the right code"},
	{"BenchmarkOneRequestSignin", "profile_verify_", "POST /v1/users/{user}/verify with the right code"},
}

var (
	totalLine   = regexp.MustCompile(`Total samples = ([\d.]+)(ms|s)`)
	profileLine = regexp.MustCompile(`^\s*\S+\s+\S+%\s+\S+%\s+\S+\s+([\d.]+)%\s+(.+)$`)
)

// figureProfile profiles figure 1's API path once: api's
// BenchmarkTOTPSignin (create a challenge, verify a TOTP code, through the
// real handlers and SQLite, in one process) under the CPU profiler, and
// records the share of the samples in the functions above.
func figureProfile(ctx context.Context, run *Run) error {
	for _, p := range profiles {
		if err := profileOne(ctx, run, p.bench, p.prefix, p.op); err != nil {
			return err
		}
	}
	return nil
}

// profileOne profiles one benchmark of package api.
func profileOne(ctx context.Context, run *Run, bench, prefix, op string) error {
	benchLine := regexp.MustCompile(`^` + bench + `-\d+\s+(\d+)\s+(.*)$`)
	dir, err := os.MkdirTemp("", "mfagate-bench-prof-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	prof, testBin := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "api.test")
	out, err := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^"+bench+"$", "-benchtime", "5s", "-count", "1",
		"-cpuprofile", prof, "-o", testBin, "./api").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench %s: %v\n%s", bench, err, tail(string(out), 2000))
	}
	cmd := "go test -run '^$' -bench " + bench + " -benchtime 5s -cpuprofile cpu.out ./api"
	for _, l := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		// "<value> <unit>" pairs: ns/op, any custom metric, B/op, allocs/op.
		vals := map[string]float64{}
		f := strings.Fields(m[2])
		for k := 0; k+1 < len(f); k += 2 {
			v, _ := strconv.ParseFloat(f[k], 64)
			vals[f[k+1]] = v
		}
		if ns, ok := vals["ns/op"]; ok {
			run.add(Entry{Name: prefix + "per_op", Value: ns / 1000, Unit: "µs",
				Note: cmd + ": one op is " + op + ", server and client in one process (" + m[1] + " ops)"})
		}
		if b, ok := vals["B/op"]; ok {
			run.add(Entry{Name: prefix + "alloc_per_op", Value: b / 1024, Unit: "KiB"})
		}
		if a, ok := vals["allocs/op"]; ok {
			run.add(Entry{Name: prefix + "allocs_per_op", Value: a, Unit: "allocs"})
		}
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=100000", testBin, prof).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	cum := map[string]float64{}
	for _, l := range strings.Split(string(top), "\n") {
		if m := profileLine.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			cum[strings.TrimSpace(m[2])] = v
		}
	}
	if m := totalLine.FindSubmatch(top); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		if string(m[2]) == "ms" {
			v /= 1000
		}
		run.add(Entry{Name: prefix + "samples", Value: v, Unit: "s CPU", Note: "CPU time sampled in the profile (go tool pprof -top -cum)"})
	}
	for _, s := range profileShares {
		v, ok := cum[s.fn]
		if !ok {
			run.NotDone = append(run.NotDone, "profile of "+bench+": "+s.fn+" not in the profile")
			continue
		}
		run.add(Entry{Name: prefix + s.key, Value: v, Unit: "% CPU", Note: s.fn + ": " + s.what})
	}
	fmt.Fprintf(os.Stderr, "profile of %s: SQLite write transactions %.1f %% of the CPU samples\n", bench, cum["mfagate/store/sqlite.(*DB).Update"])
	return nil
}
