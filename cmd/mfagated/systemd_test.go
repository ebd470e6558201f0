package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"mfagate/config"
	"mfagate/mfa"
	"mfagate/modem"
	"mfagate/store/sqlite"
)

// notifySocket listens where systemd would and collects what the daemon says.
type notifySocket struct {
	path string
	msgs chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// expect waits for a datagram containing want.
func (n *notifySocket) expect(t *testing.T, want string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-n.msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from the daemon within %s", want, within)
			return ""
		}
	}
}

// none fails if a datagram containing what arrives within d.
func (n *notifySocket) none(t *testing.T, what string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-n.msgs:
			if strings.Contains(m, what) {
				t.Fatalf("got %q, expected none", m)
			}
		case <-deadline:
			return
		}
	}
}

// Under Type=notify the daemon says READY once it serves, pings the
// watchdog, reloads on SIGHUP (RELOADING then READY, keeping the running
// configuration when the new one is bad) and says STOPPING on SIGTERM.
func TestSystemdNotifyReloadStop(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNotifySocket(t)
	g := newGateway(t, bin, "")
	conf := filepath.Join(g.dir, "mfagate.toml")
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-config", conf)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path, "WATCHDOG_USEC=1000000")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
		}
	}()
	ready := ns.expect(t, "READY=1", 15*time.Second)
	if !strings.Contains(ready, "STATUS=0 of 0 modems up") {
		t.Errorf("READY without a status line: %q", ready)
	}
	if code := g.call("GET", "/v1/outbox", "", nil); code != 200 {
		t.Fatalf("API after READY: %d", code)
	}
	ns.expect(t, "WATCHDOG=1", 5*time.Second)

	// A second client added to the file works after SIGHUP.
	os.WriteFile(filepath.Join(g.dir, "idp.token"), []byte("idp-token-added-by-reload-0001"), 0o600)
	orig, _ := os.ReadFile(conf)
	os.WriteFile(conf, append(append([]byte{}, orig...), []byte("[[api.client]]\nname = \"idp\"\ntoken_file = \"idp.token\"\nroles = [\"idp\"]\n")...), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	ns.expect(t, "RELOADING=1", 5*time.Second)
	ns.expect(t, "READY=1", 5*time.Second)
	idp := *g
	idp.token = "idp-token-added-by-reload-0001"
	if code := idp.call("GET", "/v1/users/0123456789", "", nil); code != 200 {
		t.Fatalf("the reloaded client was refused: %d", code)
	}
	if got := scrape(t, g, "mfagate_config_last_reload_successful"); got != "1" {
		t.Fatalf("reload_successful = %q", got)
	}

	// A broken file leaves everything as it was.
	os.WriteFile(conf, append(append([]byte{}, orig...), []byte("[policy]\ncode_ttl = \"1h\"\n")...), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	ns.expect(t, "READY=1", 5*time.Second)
	if got := scrape(t, g, "mfagate_config_last_reload_successful"); got != "0" {
		t.Fatalf("after a bad reload, reload_successful = %q", got)
	}
	if code := idp.call("GET", "/v1/users/0123456789", "", nil); code != 200 {
		t.Fatalf("a failed reload dropped the running clients: %d", code)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	ns.expect(t, "STOPPING=1", 10*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func scrape(t *testing.T, g *gateway, metric string) string {
	t.Helper()
	res, err := g.client.Get("http://mfagate/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	m := regexp.MustCompile(`(?m)^` + metric + ` (\S+)$`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("no %s in /metrics", metric)
	}
	return m[1]
}

// watchdogRig is a notify socket with a 400 ms watchdog, and a service
// on the store wrap makes of a new SQLite database.
func watchdogRig(t *testing.T, wrap func(*sqlite.DB) mfa.Store) (*notifySocket, *mfa.Service, *modem.Pool) {
	t.Helper()
	ns := newNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", ns.path)
	t.Setenv("WATCHDOG_USEC", "400000")
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{1}, 32))
	svc, err := mfa.New(mfa.Options{Store: wrap(db), Keys: keys, Policy: policyFrom(mustDefault(t))})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := modem.New(modem.Options{Service: svc})
	return ns, svc, pool
}

// The watchdog is fed only while the housekeeping loop beats: a stuck loop
// stops the pings so that systemd restarts the daemon.
func TestWatchdogNeedsProgress(t *testing.T) {
	ns, svc, pool := watchdogRig(t, func(db *sqlite.DB) mfa.Store { return db })
	hk := &heartbeat{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchdog(ctx, notifier{log: discard()}, hk, svc, pool)

	ns.none(t, "WATCHDOG=1", time.Second) // never beat: no pings
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				hk.beat()
			}
		}
	}()
	ns.expect(t, "WATCHDOG=1", 2*time.Second)
	close(stop) // the loop wedges
	time.Sleep(500 * time.Millisecond)
	for len(ns.msgs) > 0 {
		<-ns.msgs
	}
	ns.none(t, "WATCHDOG=1", time.Second)
}

func mustDefault(t *testing.T) *config.Config {
	t.Helper()
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// pingStore is a store whose Ping fails with err.
type pingStore struct {
	*sqlite.DB
	err error
}

func (p pingStore) Ping(context.Context) error { return p.err }

// A database server that is away is not the daemon being stuck: the
// watchdog goes on (systemd restarting every node would not bring the
// database back) and the status says why; a store that fails otherwise
// still stops it.
func TestWatchdogSurvivesUnreachableDatabase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		pings bool
	}{
		{"unreachable", fmt.Errorf("postgres: ping: %w: connection refused", mfa.ErrUnavailable), true},
		{"broken", errors.New("sqlite: disk I/O error"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, svc, pool := watchdogRig(t, func(db *sqlite.DB) mfa.Store { return pingStore{db, tc.err} })
			hk := &heartbeat{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { // housekeeping keeps beating
				for ctx.Err() == nil {
					hk.beat()
					time.Sleep(50 * time.Millisecond)
				}
			}()
			go watchdog(ctx, notifier{log: discard()}, hk, svc, pool)
			if !tc.pings {
				ns.none(t, "WATCHDOG=1", 1500*time.Millisecond)
				return
			}
			ns.expect(t, "STATUS=database unreachable", 2*time.Second)
			ns.expect(t, "WATCHDOG=1", 2*time.Second)
		})
	}
}
