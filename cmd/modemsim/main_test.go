package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestRunServesModemsUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuf
	rc := make(chan int, 1)
	go func() {
		rc <- run(ctx, []string{"-count", "2", "-profile", "quectel,simcom", "-dir", dir, "-busy", "+815011112222"}, &stdout, &stderr)
	}()
	waitFor(t, "two port lines", func() bool { return strings.Count(stdout.String(), "port=") == 2 })
	out := stdout.String()
	for _, want := range []string{"profile=quectel", "profile=simcom", "port=" + filepath.Join(dir, "ttyGSM1")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p, err := serial.Open(filepath.Join(dir, "ttyGSM1"), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetReadTimeout(20 * time.Millisecond)
	var got strings.Builder
	buf := make([]byte, 512)
	waitFor(t, "boot URCs", func() bool { // input is ignored until the modem has booted
		n, _ := p.Read(buf)
		got.Write(buf[:n])
		return strings.Contains(got.String(), "PB DONE")
	})
	p.Write([]byte("ATE0\rAT+CGMI\rATD+815011112222;\r"))
	waitFor(t, "answers", func() bool {
		n, _ := p.Read(buf)
		got.Write(buf[:n])
		return strings.Contains(got.String(), "\r\nBUSY\r\n")
	})
	if !strings.Contains(got.String(), "SIMCOM INCORPORATED") {
		t.Errorf("answers %q", got.String())
	}
	cancel()
	select {
	case code := <-rc:
		if code != 0 {
			t.Errorf("exit code %d, stderr:\n%s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := os.Lstat(filepath.Join(dir, "ttyGSM0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("port link left behind: %v", err)
	}
	if strings.Contains(stderr.String(), "+815011112222") {
		t.Errorf("a full phone number was logged:\n%s", stderr.String())
	}
}

// -link places one modem's port at a path of the operator's choosing, as a
// udev rule would.
func TestRunLink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ec25")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuf
	rc := make(chan int, 1)
	go func() { rc <- run(ctx, []string{"-profile", "quectel", "-link", link}, &stdout, &stderr) }()
	waitFor(t, "the port line", func() bool { return strings.Contains(stdout.String(), "port="+link) })
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is not a symlink: %v", link, err)
	}
	p, err := serial.Open(link, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	cancel()
	if code := <-rc; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-profile", "nokia"}, "-profile \"nokia\""},
		{[]string{"-count", "0"}, "want 1 to 64"},
		{[]string{"-busy", "0901234"}, "not an E.164 number"},
		{[]string{"-keys", "12x"}, "not a keypad key"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-link", "/tmp/x", "-count", "2"}, "-count 1"},
		{[]string{"-link", "relative/ec25"}, "absolute"},
	} {
		var stdout, stderr syncBuf
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestIMEIChecksum(t *testing.T) {
	if got := imei(0); len(got) != 15 {
		t.Fatalf("imei %q", got)
	}
	seen := map[string]bool{}
	for i := 0; i < 10; i++ {
		v := imei(i)
		if seen[v] {
			t.Fatalf("duplicate IMEI %s", v)
		}
		seen[v] = true
		sum := 0
		for j, r := range v {
			d := int(r - '0')
			if j%2 == 1 {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		if sum%10 != 0 {
			t.Errorf("IMEI %s fails the Luhn check", v)
		}
	}
}
