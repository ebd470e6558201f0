package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests drive run against the real daemon: TestMain builds mfagated,
// starts it with -demo on a unix socket in a temporary directory, and
// stops it afterwards.
var (
	daemonSock  string // unix socket path
	daemonState string // -state-dir, holding admin.token
)

func TestMain(m *testing.M) {
	os.Exit(withDaemon(m))
}

func withDaemon(m *testing.M) int {
	// A short directory name: unix socket paths are limited to ~108 bytes.
	dir, err := os.MkdirTemp("", "mfagatectl-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "mfagated")
	gocmd, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the tests build mfagated and need the go command:", err)
		return 1
	}
	build := exec.Command(gocmd, "build", "-o", bin, "mfagate/cmd/mfagated")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build mfagated: %v\n%s", err, out)
		return 1
	}

	daemonState = filepath.Join(dir, "state")
	daemonSock = filepath.Join(dir, "api.sock")
	logPath := filepath.Join(dir, "mfagated.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	d := exec.Command(bin, "-demo", "-state-dir", daemonState, "-listen", "unix:"+daemonSock, "-log-level", "warn",
		"-sim-sms-latency", "100ms", "-sim-answer-after", "200ms")
	d.Stdout = io.Discard // the demo banner shows the admin token; the tests read the file
	d.Stderr = logFile
	if err := d.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start mfagated:", err)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- d.Wait() }()
	defer func() {
		d.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			d.Process.Kill()
			<-exited
		}
	}()
	if err := awaitDaemon(exited); err != nil {
		log, _ := os.ReadFile(logPath)
		fmt.Fprintf(os.Stderr, "mfagated did not come up: %v\n%s", err, log)
		return 1
	}
	return m.Run()
}

// awaitDaemon polls /healthz on the socket until the daemon answers, it
// exits, or 30 s pass.
func awaitDaemon(exited <-chan error) error {
	hc := socketClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("it exited: %v", err)
		default:
		}
		if _, err := os.Stat(filepath.Join(daemonState, "admin.token")); err == nil {
			resp, err := hc.Get("http://mfagated/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within 30s", daemonSock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// socketClient talks HTTP to the daemon's socket, for checks that must
// not go through the code under test.
func socketClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", daemonSock)
		}},
	}
}

// result is one run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

// ctlRaw runs the CLI with exactly args. stdout, when non-nil, receives
// the output as it is written (lazyInput reads it).
func ctlRaw(t *testing.T, stdin io.Reader, stdout *bytes.Buffer, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if stdout == nil {
		stdout = new(bytes.Buffer)
	}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(args, stdin, stdout, &stderr) }()
	select {
	case code := <-done:
		return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	case <-time.After(20 * time.Second):
		t.Fatalf("mfagatectl %s did not finish within 20s", strings.Join(args, " "))
		return result{}
	}
}

// ctl runs the CLI against the test daemon with its admin token.
func ctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return ctlRaw(t, strings.NewReader(stdin), nil, append([]string{"-url", "unix:" + daemonSock, "-demo-dir", daemonState}, args...)...)
}

// mustCtl is ctl that fails the test unless the command succeeds.
func mustCtl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := ctl(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("mfagatectl %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r
}

// lazyInput is a stdin whose lines are computed when the CLI reads them,
// so a line can depend on what the CLI printed before asking.
type lazyInput struct {
	lines []func() string
	buf   []byte
}

func (l *lazyInput) Read(p []byte) (int, error) {
	if len(l.buf) == 0 {
		if len(l.lines) == 0 {
			return 0, io.EOF
		}
		l.buf = []byte(l.lines[0]() + "\n")
		l.lines = l.lines[1:]
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// authenticator is an RFC 6238 app written for the tests (HMAC-SHA1, six
// digits), independent of the gateway's TOTP code. It never offers a time
// step twice, as the gateway refuses replayed codes.
type authenticator struct {
	secret string
	period int64
	last   int64
}

func newAuthenticator(t *testing.T, secret string) *authenticator {
	t.Helper()
	secret = strings.ToUpper(strings.Join(strings.Fields(secret), ""))
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret); err != nil {
		t.Fatalf("the key %q the CLI printed is not base32: %v", secret, err)
	}
	return &authenticator{secret: secret, period: 30}
}

// next returns the code of the current time step, or of the step after
// the last one used when that is later (the gateway accepts one step of
// clock skew).
func (a *authenticator) next() string {
	step := max(time.Now().Unix()/a.period, a.last+1)
	a.last = step
	return hotp(a.secret, step, 6)
}

// wrong returns a well-formed code that no step near now produces.
func (a *authenticator) wrong() string {
	now := time.Now().Unix() / a.period
	for _, c := range []string{"000000", "111111", "222222"} {
		ok := true
		for s := now - 2; s <= max(now, a.last)+2; s++ {
			ok = ok && hotp(a.secret, s, 6) != c
		}
		if ok {
			return c
		}
	}
	panic("unreachable: three codes cannot all be valid")
}

// hotp is RFC 4226 with SHA-1.
func hotp(secret string, counter int64, digits int) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TestAuthenticatorVectors checks the tests' own TOTP against RFC 6238
// appendix B (SHA-1 seed "12345678901234567890", 8 digits).
func TestAuthenticatorVectors(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		want string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1234567890, "89005924"}, {2000000000, "69279037"}} {
		if got := hotp(secret, v.unix/30, 8); got != v.want {
			t.Errorf("T=%d: got %s, want %s", v.unix, got, v.want)
		}
	}
}

// adminToken is the demo daemon's token, for checks that must not leak it.
func adminToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(daemonState, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
