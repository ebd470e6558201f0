package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binaries builds mfagated, modemsim and mfagatectl once per test binary. mfagated is
// built with the e2eclock tag: MFAGATED_E2E_CLOCK_OFFSET then runs its
// clock ahead (clock_e2e.go).
var binaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mfagate-e2e-bin-")
	if err != nil {
		return "", err
	}
	for _, args := range [][]string{{"-tags", "e2eclock", "."}, {"../modemsim"}, {"../mfagatectl"}} {
		if out, err := exec.Command("go", append([]string{"build", "-o", dir + "/"}, args...)...).CombinedOutput(); err != nil {
			pkg := args[len(args)-1]
			return "", fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir, nil
})

// modemsimProc is cmd/modemsim in its own process: its handsets outlive
// the daemon, and its log counts what they received.
type modemsimProc struct {
	port string
	mu   sync.Mutex
	sms  int
}

func (m *modemsimProc) delivered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sms
}

func startModemsim(t *testing.T, bin string, args ...string) *modemsimProc {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "modemsim"), append([]string{"-dir", t.TempDir()}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	m := &modemsimProc{}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "sms delivered") {
				m.mu.Lock()
				m.sms++
				m.mu.Unlock()
			}
		}
	}()
	line := readUntil(t, bufio.NewReader(stdout), "port=")
	m.port = regexp.MustCompile(`port=(\S+)`).FindStringSubmatch(line)[1]
	return m
}

// gateway is mfagated in its own process, configured by a file.
type gateway struct {
	t      *testing.T
	bin    string
	dir    string
	sock   string
	token  string
	cmd    *exec.Cmd
	client *http.Client
	env    []string // added to the environment of the next start
}

func newGateway(t *testing.T, bin, extra string) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "api.sock"), token: "e2e-admin-token-0123456789"}
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(strings.Repeat("ab", 32)), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.token"), []byte(g.token), 0o600)
	store := "[store]\npath = \"mfagate.db\"\n"
	if strings.Contains(extra, "[store]") {
		store = "" // the test chooses the store
	}
	conf := fmt.Sprintf(`[server]
listen = "unix:%s"
%s[secrets]
key_file = "secret.key"
[[api.client]]
name = "ops"
token_file = "admin.token"
roles = ["admin"]
%s`, g.sock, store, extra)
	os.WriteFile(filepath.Join(dir, "mfagate.toml"), []byte(conf), 0o600)
	g.client = &http.Client{Timeout: 30 * time.Second, Transport: unixTransport(g.sock)}
	return g
}

func unixTransport(sock string) *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
}

// startDemo runs mfagated -demo on a unix socket in a fresh state
// directory and returns a client holding its admin token.
func startDemo(t *testing.T, args ...string) *gateway {
	t.Helper()
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	g := &gateway{t: t, bin: bin, dir: state, sock: filepath.Join(state, "api.sock")}
	g.client = &http.Client{Timeout: 30 * time.Second, Transport: unixTransport(g.sock)}
	cmd := exec.Command(filepath.Join(bin, "mfagated"), append([]string{"-demo", "-state-dir", state, "-listen", "unix:" + g.sock}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	readUntil(t, bufio.NewReader(stdout), "Stop it with Ctrl-C")
	tok, _ := os.ReadFile(filepath.Join(state, "admin.token"))
	g.token = strings.TrimSpace(string(tok))
	return g
}

func (g *gateway) start() {
	g.t.Helper()
	g.cmd = exec.Command(filepath.Join(g.bin, "mfagated"), "-config", filepath.Join(g.dir, "mfagate.toml"))
	g.cmd.Env = append(os.Environ(), g.env...)
	stderr, _ := g.cmd.StderrPipe()
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	cmd := g.cmd
	g.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	readUntil(g.t, bufio.NewReader(stderr), "mfagated ready")
	go io.Copy(io.Discard, stderr)
}

// rewrite replaces the configuration's extra part (after the API client)
// for the next start.
func (g *gateway) rewrite(extra string) {
	g.t.Helper()
	path := filepath.Join(g.dir, "mfagate.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		g.t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(b), "[policy]\n")
	if !ok {
		g.t.Fatalf("%s has no [policy] to replace:\n%s", path, b)
	}
	if err := os.WriteFile(path, []byte(head+extra), 0o600); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) kill() {
	g.cmd.Process.Signal(syscall.SIGKILL)
	g.cmd.Wait()
}

func (g *gateway) call(method, path, body string, out any) int {
	g.t.Helper()
	req, _ := http.NewRequest(method, "http://mfagate"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := g.client.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

type job struct {
	ID, Challenge, State, Reason string
}

func (g *gateway) jobs(state string) []job {
	var js []job
	g.call("GET", "/v1/outbox?limit=1000&state="+state, "", &js)
	return js
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SIGKILL mid-queue: on restart every accepted job is delivered, and a
// message whose challenge expired while the daemon was down is never sent.
func TestKillMidQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the daemon; takes about 15 s")
	}
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	ms := startModemsim(t, bin, "-profile", "quectel", "-latency", "700ms", "-report-delay", "200ms")
	const ttl = 2 * time.Minute // a whole number of minutes, as the default message texts state
	config := func(port string) string {
		return fmt.Sprintf(`[policy]
code_ttl = %q
[[modem]]
id = "m1"
port = %q
profile = "quectel"
`, ttl.String(), port)
	}
	g := newGateway(t, bin, config(ms.port))
	g.start()
	register := func(n int, first int) {
		for i := range n {
			body := fmt.Sprintf(`{"kind":"phone","slot":"mobile","phone":"090-1000-%04d"}`, first+i)
			if code := g.call("POST", fmt.Sprintf("/v1/users/%010d/methods", 1000000000+first+i), body, nil); code != 201 {
				t.Fatalf("register phone %d: HTTP %d", i, code)
			}
		}
	}

	// Phase 1: six accepted, the daemon dies after the first is sent.
	register(6, 0)
	waitFor(t, "the first SMS", 20*time.Second, func() bool { return ms.delivered() >= 1 })
	g.kill()
	g.start()
	waitFor(t, "every accepted job to be sent", 40*time.Second, func() bool { return len(g.jobs("sent")) == 6 })
	// One modem has at most one exchange in flight when killed: at most one duplicate.
	waitFor(t, "the handsets to log the 6 messages", 10*time.Second, func() bool { return ms.delivered() >= 6 })
	if d := ms.delivered(); d > 7 {
		t.Fatalf("handsets received %d messages for 6 accepted jobs (at most one duplicate allowed)", d)
	}

	// Phase 2: three accepted while the modem is away (so none is in
	// flight), the daemon dies, and it restarts with its modem back and its
	// clock past the code TTL: the clock moves instead of the test waiting.
	g.kill()
	g.rewrite(config(filepath.Join(g.dir, "absent-modem")))
	g.start()
	register(3, 100)
	queued := g.jobs("queued")
	if len(queued) != 3 {
		t.Fatalf("with the modem away, %d jobs are queued, want the 3 accepted: %+v", len(queued), queued)
	}
	before := ms.delivered()
	g.kill()
	g.rewrite(config(ms.port))
	g.env = []string{"MFAGATED_E2E_CLOCK_OFFSET=" + (ttl + 5*time.Second).String()}
	g.start()
	waitFor(t, "the expired jobs to be dropped", 20*time.Second, func() bool {
		return len(g.jobs("queued"))+len(g.jobs("sending")) == 0
	})
	failed := map[string]job{}
	for _, j := range g.jobs("failed") {
		failed[j.ID] = j
	}
	for _, q := range queued {
		// A failed job is never sent afterwards. The outbox drops it as
		// "challenge_ended", or the sweep ends its challenge first.
		if j, ok := failed[q.ID]; !ok || j.Reason != "challenge_ended" && j.Reason != "challenge_expired" {
			t.Errorf("job %s of an expired challenge: %+v, want failed because its challenge ended", q.ID, j)
		}
		var c struct{ Status string }
		if code := g.call("GET", "/v1/challenges/"+q.Challenge, "", &c); code != 200 || c.Status != "expired" {
			t.Errorf("challenge %s of job %s: HTTP %d, status %q, want expired", q.Challenge, q.ID, code, c.Status)
		}
	}
	if got := ms.delivered() - before; got != 0 {
		t.Fatalf("%d messages sent after their challenges expired", got)
	}
}
