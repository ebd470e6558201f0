package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/config"
)

// A daemon whose HTTP server has died answers nothing: it must stop with
// an error (run exits 1, systemd restarts it) instead of lingering and
// feeding the watchdog.
func TestDeadHTTPServerStopsTheDaemon(t *testing.T) {
	ns := newNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", ns.path)
	t.Setenv("WATCHDOG_USEC", "400000")
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600)
	sock := filepath.Join(dir, "api.sock")
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(dir, "mfagate.db")
	cfg.Secrets.KeyFile = key
	cfg.Server.Listen = "unix:" + sock
	cfg.FIDO.DevicePaths = nil
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- serve(context.Background(), ln, cfg, nil, nil, simLatency{}, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard)
	}()
	// Whatever happens below, the daemon must not outlive this test: a
	// daemon left running would ping the next test's notify socket.
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	})
	ns.expect(t, "WATCHDOG=1", 30*time.Second) // a bound for a loaded machine, not a speed target

	ln.Close() // the server dies under the running daemon
	select {
	case err := <-done:
		done <- err // for the cleanup, which waits for the daemon too
		if err == nil {
			t.Fatal("serve returned nil after its HTTP server died: the daemon would exit 0 and not be restarted")
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatalf("the daemon kept running after its HTTP server died; log:\n%s", logs.String())
	}
	for _, want := range []string{"the HTTP server stopped", `msg="mfagated stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}

	// Everything the daemon sent is queued before this marker: after
	// STOPPING it never pinged the watchdog again.
	c, err := net.Dial("unixgram", ns.path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("END-OF-TEST"))
	c.Close()
	stopping := false
	for m := range ns.msgs {
		if m == "END-OF-TEST" {
			break
		}
		if strings.Contains(m, "STOPPING=1") {
			stopping = true
		} else if stopping && strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("watchdog pinged after STOPPING: %q", m)
		}
	}
	if !stopping {
		t.Fatal("the daemon did not tell systemd it is stopping")
	}
}
