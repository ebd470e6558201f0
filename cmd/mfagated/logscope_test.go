package main

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The demo's log is one scope per line: each attribute key once (drivers
// add their identity, the daemon adds component), one "started" line per
// thing, and at shutdown the software key outlives the HTTP drain and
// "mfagated stopped" is the last line.
func TestDemoLogScope(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	g := &gateway{t: t, bin: bin, dir: state, sock: filepath.Join(state, "api.sock")}
	g.client = &http.Client{Timeout: 30 * time.Second, Transport: unixTransport(g.sock)}
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-demo", "-state-dir", state, "-listen", "unix:"+g.sock,
		"-sim-sms-latency", "100ms")
	var logs syncBuffer
	cmd.Stderr = &logs
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	readUntil(t, bufio.NewReader(stdout), "Stop it with Ctrl-C")
	tok, err := os.ReadFile(filepath.Join(state, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	g.token = strings.TrimSpace(string(tok))

	waitFor(t, "both simulated modems up", 20*time.Second, func() bool {
		var modems []map[string]any
		g.call("GET", "/v1/modems", "", &modems)
		return len(modems) == 2 && modems[0]["state"] == "up" && modems[1]["state"] == "up"
	})
	waitFor(t, "the software key listed", 20*time.Second, func() bool {
		var devs []map[string]any
		g.call("GET", "/v1/kiosk/devices", "", &devs)
		return len(devs) == 1
	})
	// An SMS through a modem, so that the modem's send path logs too.
	if c := g.call("POST", "/v1/users/0123456789/methods", `{"kind":"phone","slot":"mobile","phone":"090-1234-5678","channel":"sms"}`, nil); c != 201 {
		t.Fatalf("register SMS phone: %d", c)
	}
	g.handsetCode("090-1234-5678", 1)

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo did not exit cleanly on SIGTERM: %v\n%s", err, logs.String())
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	started := map[string][]string{}
	for _, line := range lines {
		attrs, err := parseLogLine(line)
		if err != nil {
			t.Errorf("unparsable log line %q: %v", line, err)
			continue
		}
		seen := map[string]bool{}
		for _, a := range attrs {
			if seen[a[0]] {
				t.Errorf("key %q appears twice in: %s", a[0], line)
			}
			seen[a[0]] = true
		}
		if msg := attr(attrs, "msg"); strings.HasSuffix(msg, " started") {
			// A thing is named by its identity, else its component.
			thing := cmp.Or(attr(attrs, "modem"), attr(attrs, "device"), attr(attrs, "component"), "mfagated")
			started[thing] = append(started[thing], line)
		}
	}
	for thing, ls := range started {
		if len(ls) > 1 {
			t.Errorf("%d \"started\" lines for %s:\n%s", len(ls), thing, strings.Join(ls, "\n"))
		}
	}

	at := func(msg string) int {
		for i, l := range lines {
			if strings.Contains(l, `msg="`+msg+`"`) {
				return i
			}
		}
		t.Errorf("no %q line in the log", msg)
		return -1
	}
	draining, keyGone := at("stopping: draining requests"), at("software key removed")
	if keyGone < draining {
		t.Errorf("the software key went away (line %d) before the requests drained (line %d)", keyGone, draining)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, `msg="mfagated stopped"`) {
		t.Errorf("the last line is %q, want \"mfagated stopped\"", last)
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}

func attr(attrs [][2]string, key string) string {
	for _, a := range attrs {
		if a[0] == key {
			return a[1]
		}
	}
	return ""
}

// parseLogLine splits a line of slog's text handler into key/value pairs
// in order; quoted values are unquoted.
func parseLogLine(line string) ([][2]string, error) {
	var out [][2]string
	for rest := line; rest != ""; {
		rest = strings.TrimLeft(rest, " ")
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.ContainsAny(key, ` "`) {
			return nil, fmt.Errorf("no key=value at %q", rest)
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				return nil, fmt.Errorf("value of %s: %w", key, err)
			}
			val, _ = strconv.Unquote(q)
			rest = after[len(q):]
		} else {
			val, rest, _ = strings.Cut(after, " ")
		}
		out = append(out, [2]string{key, val})
	}
	return out, nil
}

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
