package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mfagate/store/postgres/pgtest"
)

// pgCluster is one PostgreSQL server and the database the nodes share.
type pgCluster struct {
	srv *pgtest.Server
	db  string
}

func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	if errors.Is(err, pgtest.ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	db, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &pgCluster{srv: srv, db: db}
}

// modemsims is cmd/modemsim with several modems in one process; it counts
// the messages its handsets received.
type modemsims struct {
	ports     []string
	delivered atomic.Int64
	cmd       *exec.Cmd
}

func startModemsims(t *testing.T, bin string, n int, args ...string) *modemsims {
	t.Helper()
	m := &modemsims{}
	m.cmd = exec.Command(filepath.Join(bin, "modemsim"), append([]string{"-dir", t.TempDir(), "-count", fmt.Sprint(n)}, args...)...)
	stdout, _ := m.cmd.StdoutPipe()
	stderr, _ := m.cmd.StderrPipe()
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.cmd.Process.Signal(syscall.SIGTERM); m.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "sms delivered") {
				m.delivered.Add(1)
			}
		}
	}()
	r := bufio.NewReader(stdout)
	for range n {
		line := readUntil(t, r, "port=")
		m.ports = append(m.ports, regexp.MustCompile(`port=(\S+)`).FindStringSubmatch(line)[1])
	}
	return m
}

// newNode configures mfagated as node name of the cluster, driving the
// modems at ports, with a short lease so that a takeover is quick to see,
// and the given [policy] lines.
func newNode(t *testing.T, bin string, pg *pgCluster, name string, ports []string, policy ...string) *gateway {
	t.Helper()
	if len(policy) == 0 {
		policy = []string{"phone_challenges_per_user = 20"} // the burst registers each user once
	}
	dir := t.TempDir()
	g := &gateway{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "api.sock"), token: "cluster-token-0123456789abcdef"}
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(strings.Repeat("cd", 32)), 0o600) // one key for all nodes
	os.WriteFile(filepath.Join(dir, "api.token"), []byte(g.token), 0o600)
	var modems strings.Builder
	for i, p := range ports {
		fmt.Fprintf(&modems, "[[modem]]\nid = \"%s-m%d\"\nport = %q\nprofile = \"quectel\"\n", name, i, p)
	}
	conf := fmt.Sprintf(`[server]
listen = "unix:%s"
node = %q
[store]
driver = "postgres"
dsn = %q
password_file = %q
lease = "3s"
[secrets]
key_file = "secret.key"
[policy]
%s
[[api.client]]
name = "idp"
token_file = "api.token"
roles = ["idp", "enroll", "admin"]
%s`, g.sock, name, pg.srv.DSN(pg.db), pg.srv.PasswordFile(), strings.Join(policy, "\n"), modems.String())
	os.WriteFile(filepath.Join(dir, "mfagate.toml"), []byte(conf), 0o600)
	g.client = &http.Client{Timeout: 30 * time.Second, Transport: unixTransport(g.sock)}
	return g
}

// race runs fn n times at once, alternately through node a and node b.
func race(n int, a, b *gateway, fn func(g *gateway)) {
	var wg sync.WaitGroup
	for i := range n {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Go(func() { fn(g) })
	}
	wg.Wait()
}

// A challenge made on one node is verified on the other, and a long poll
// on the second node sees the first node's decision at once; wrong codes
// sent through both nodes at the same time never get more tries than the
// attempt limit.
func TestClusterVerifyAnywhere(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	pg := startPostgres(t)
	a, b := newNode(t, bin, pg, "node-a", nil), newNode(t, bin, pg, "node-b", nil)
	a.start()
	b.start()

	const user = "0123456789"
	var added struct {
		Method struct{ ID string }
		TOTP   struct{ Secret string }
	}
	if c := a.call("POST", "/v1/users/"+user+"/methods", `{"kind":"totp"}`, &added); c != 201 {
		t.Fatalf("register on node-a: %d", c)
	}
	if c := b.call("POST", "/v1/users/"+user+"/methods/"+added.Method.ID+"/confirm", `{"code":"`+totpNow(added.TOTP.Secret)+`"}`, nil); c != 200 {
		t.Fatalf("confirm on node-b: %d", c)
	}

	// Challenge on b, long poll on b, verified on a.
	var ch struct{ ID, Status string }
	if c := b.call("POST", "/v1/users/"+user+"/challenges", `{}`, &ch); c != 201 {
		t.Fatalf("challenge on node-b: %d", c)
	}
	polled := make(chan string, 1)
	var pollTook time.Duration
	go func() {
		var got struct{ Status string }
		start := time.Now()
		b.call("GET", "/v1/challenges/"+ch.ID+"?wait=20s", "", &got)
		pollTook = time.Since(start)
		polled <- got.Status
	}()
	time.Sleep(300 * time.Millisecond) // the poll is waiting
	verified := time.Now()
	var v struct{ Status string }
	// The code of the next step: the confirmation used this one.
	code := totpFor(added.TOTP.Secret, time.Now().Add(30*time.Second))
	if c := a.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+code+`"}`, &v); c != 200 || v.Status != "approved" {
		t.Fatalf("verify on node-a of node-b's challenge: %d %q", c, v.Status)
	}
	select {
	case st := <-polled:
		if st != "approved" {
			t.Fatalf("node-b's long poll returned %q", st)
		}
		t.Logf("node-b's long poll saw node-a's decision %s after it (poll held %s)", time.Since(verified).Round(time.Millisecond), pollTook.Round(time.Millisecond))
	case <-time.After(25 * time.Second):
		t.Fatal("node-b's long poll did not return")
	}

	// 40 wrong codes at once, half through each node, on one challenge.
	if c := a.call("POST", "/v1/users/"+user+"/challenges", `{}`, &ch); c != 201 {
		t.Fatalf("challenge: %d", c)
	}
	var wrong, other atomic.Int64
	race(40, a, b, func(g *gateway) {
		var p struct{ Code string }
		c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"000000"}`, &p)
		switch {
		case c == 422 && p.Code == "invalid_code":
			wrong.Add(1)
		case c >= 400:
			other.Add(1)
		default:
			t.Errorf("a wrong code was accepted: %d", c)
		}
	})
	if wrong.Load() != 5 {
		t.Errorf("%d wrong codes were counted as attempts through two nodes, want exactly policy.max_attempts = 5 (%d refused otherwise)", wrong.Load(), other.Load())
	}
	var after struct{ Status string }
	a.call("GET", "/v1/challenges/"+ch.ID, "", &after)
	if after.Status != "locked" {
		t.Errorf("challenge after 40 wrong codes: %q, want locked", after.Status)
	}
	var events []struct{ Type string }
	b.call("GET", "/v1/audit?user="+user+"&limit=200", "", &events)
	failed := 0
	for _, e := range events {
		if e.Type == "verification_failed" {
			failed++
		}
	}
	if failed != 5 {
		t.Errorf("the audit records %d failed verifications, want 5", failed)
	}
}

// A burst of 300 SMS over two nodes with two modems each. Node A is
// killed mid-burst: node B takes over A's claimed jobs once their lease
// runs out and delivers every accepted job; duplicates are bounded by A's
// modems (one exchange each in flight). PostgreSQL is then restarted
// mid-run: B reconnects and loses nothing.
func TestClusterKillNodeAndRestartDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a node and restarts PostgreSQL; takes about a minute")
	}
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	pg := startPostgres(t)
	simA := startModemsims(t, bin, 2, "-latency", "150ms", "-report-delay", "100ms")
	simB := startModemsims(t, bin, 2, "-latency", "150ms", "-report-delay", "100ms")
	a, b := newNode(t, bin, pg, "node-a", simA.ports), newNode(t, bin, pg, "node-b", simB.ports)
	a.start()
	b.start()
	delivered := func() int64 { return simA.delivered.Load() + simB.delivered.Load() }

	const burst = 300
	var accepted atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int, burst)
	for i := range burst {
		next <- i
	}
	close(next)
	for w := range 8 {
		g := a
		if w%2 == 1 {
			g = b
		}
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"kind":"phone","slot":"mobile","phone":"090-2%03d-%04d"}`, i/1000, i%10000)
				if c := g.call("POST", fmt.Sprintf("/v1/users/%010d/methods", 2000000000+i), body, nil); c != 201 {
					t.Errorf("register phone %d: HTTP %d", i, c)
					return
				}
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != burst {
		t.Fatalf("accepted %d of %d", accepted.Load(), burst)
	}
	waitFor(t, "both nodes to deliver", 30*time.Second, func() bool { return simA.delivered.Load() >= 10 && simB.delivered.Load() >= 10 })

	a.kill()
	killedAt := time.Now()
	t.Logf("node-a killed after %d deliveries (%d through its modems)", delivered(), simA.delivered.Load())
	time.Sleep(500 * time.Millisecond) // exchanges already in A's modems complete there
	fromA := simA.delivered.Load()

	// node-b alone goes on; A's claimed jobs come back after the lease.
	waitFor(t, "node-b to take node-a's jobs over", 20*time.Second, func() bool {
		var ns []struct {
			ID          string
			Alive       bool
			JobsSending int `json:"jobs_sending"`
		}
		b.call("GET", "/v1/nodes", "", &ns)
		for _, n := range ns {
			if n.ID == "node-a" {
				return !n.Alive && n.JobsSending == 0
			}
		}
		return false
	})
	t.Logf("node-a's claims lapsed and were taken over %s after the kill", time.Since(killedAt).Round(100*time.Millisecond))

	// Restart PostgreSQL while B sends. While it is down, the API says
	// so: 503, retry shortly.
	before := simB.delivered.Load()
	if err := pg.srv.Halt(); err != nil {
		t.Fatal(err)
	}
	var p struct{ Code string }
	req, _ := http.NewRequest("GET", "http://mfagate/v1/users/2000000001", nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	if res, err := b.client.Do(req); err != nil {
		t.Fatal(err)
	} else {
		json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if res.StatusCode != 503 || p.Code != "store_unavailable" || res.Header.Get("Retry-After") == "" {
			t.Errorf("with the database down: %d %q Retry-After %q, want 503 store_unavailable with Retry-After",
				res.StatusCode, p.Code, res.Header.Get("Retry-After"))
		}
	}
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL restarted; node-b had delivered %d", before)
	waitFor(t, "node-b to deliver again after the database restart", 30*time.Second, func() bool { return simB.delivered.Load() > before+5 })

	sent := func() int {
		var js []job
		b.call("GET", "/v1/outbox?limit=1000&state=sent", "", &js)
		return len(js)
	}
	waitFor(t, "every accepted job to be sent", 90*time.Second, func() bool { return sent() == burst })
	time.Sleep(time.Second)
	if simA.delivered.Load() != fromA {
		t.Errorf("node-a's modems delivered after node-a died")
	}
	total := delivered()
	// Each of A's two modems had at most one exchange in flight when A died.
	if total < burst || total > burst+2 {
		t.Fatalf("handsets received %d messages for %d accepted jobs: want all, with at most 2 duplicates", total, burst)
	}
	t.Logf("%d jobs, %d messages received (%d duplicates)", burst, total, total-burst)
	if q := b.jobs("queued"); len(q) != 0 {
		t.Errorf("%d jobs still queued", len(q))
	}
}

// The per-user phone-challenge limit holds across nodes: requests racing
// through two nodes never get more challenges than the limit allows.
func TestClusterRateLimit(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	pg := startPostgres(t)
	// Handsets answer at once and press # (plain-# confirmation).
	sims := startModemsims(t, bin, 2, "-dial-delay", "50ms", "-ring", "100ms", "-keys", "#", "-keys-after", "100ms", "-wait-prompt=false")
	pol := []string{"phone_challenges_per_user = 5", `voice_confirmation = "pound"`}
	a := newNode(t, bin, pg, "node-a", sims.ports[:1], pol...)
	b := newNode(t, bin, pg, "node-b", sims.ports[1:], pol...)
	a.start()
	b.start()
	const user = "0123456789"
	var added struct {
		Method struct{ ID, Status string }
	}
	if c := a.call("POST", "/v1/users/"+user+"/methods", `{"kind":"phone","slot":"office","phone":"03-1234-5678","channel":"voice"}`, &added); c != 201 {
		t.Fatalf("register an office phone: %d", c)
	}
	waitFor(t, "the call to confirm the office phone", 30*time.Second, func() bool {
		var u struct {
			Methods []struct {
				ID        string
				Confirmed bool
			}
		}
		b.call("GET", "/v1/users/"+user, "", &u)
		return len(u.Methods) == 1 && u.Methods[0].Confirmed
	})

	// The confirmation call was the first of 5 phone challenges in the
	// window: 4 remain, whichever node is asked.
	var created, limited, other atomic.Int64
	race(20, a, b, func(g *gateway) {
		var p struct{ Code string }
		switch c := g.call("POST", "/v1/users/"+user+"/challenges", `{"method":"`+added.Method.ID+`","channel":"voice"}`, &p); {
		case c == 201:
			created.Add(1)
		case c == 429 && p.Code == "rate_limited":
			limited.Add(1)
		default:
			other.Add(1)
			t.Errorf("challenge: %d %q", c, p.Code)
		}
	})
	if created.Load() != 4 || limited.Load() != 16 {
		t.Fatalf("20 racing challenge requests through two nodes: %d created, %d rate-limited, %d other; want 4 and 16",
			created.Load(), limited.Load(), other.Load())
	}
}
