package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o600)
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[secrets]\nkey_file = \"secret.key\"\n[store]\npath = \"m.db\"\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-check-config", "-config", good}, &out, &errb); code != 0 || !strings.Contains(out.String(), "valid") {
		t.Fatalf("good config: exit %d, %s%s", code, out.String(), errb.String())
	}

	for name, tc := range map[string]struct{ body, mention string }{
		"unknown key":  {"[policy]\ncode_tll = \"5m\"\n", "toml:2: policy.code_tll"},
		"bad value":    {"[policy]\ncode_ttl = \"15m\"\n", "10m"},
		"missing key":  {"[secrets]\nkey_file = \"nope.key\"\n", "nope.key"},
		"syntax error": {"[policy\n", "toml:1:8"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".toml")
		os.WriteFile(p, []byte(tc.body), 0o600)
		out.Reset()
		errb.Reset()
		code := run([]string{"-check-config", "-config", p}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tc.mention) {
			t.Errorf("%s: exit %d, stderr %q should mention %q", name, code, errb.String(), tc.mention)
		}
	}
}

// The demo starts from nothing, serves the API on a unix socket, and stops
// cleanly on SIGTERM, keeping its state for the next start.
func TestDemoStartsAndStops(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mfagated")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	state := t.TempDir()
	sock := filepath.Join(state, "api.sock")
	start := func() (*exec.Cmd, *bufio.Reader) {
		cmd := exec.Command(bin, "-demo", "-state-dir", state, "-listen", "unix:"+sock)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, bufio.NewReader(stdout)
	}
	cmd, stdout := start()
	banner := readUntil(t, stdout, "Stop it with Ctrl-C")
	token, err := os.ReadFile(filepath.Join(state, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(state, "admin.token")); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(banner, strings.TrimSpace(string(token))) || !strings.Contains(banner, "mfagatectl") {
		t.Fatalf("banner lacks the token or example commands:\n%s", banner)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", "http://mfagate/v1/users/0123456789/methods", strings.NewReader(`{"kind":"totp"}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("register totp in the demo: %d %s", res.StatusCode, body)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop within 20s of SIGTERM")
	}

	// Same state directory: the method registered before is still there.
	_, stdout = start()
	readUntil(t, stdout, "Stop it with Ctrl-C")
	req, _ = http.NewRequest("GET", "http://mfagate/v1/users/0123456789", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u struct{ Methods []any }
	json.NewDecoder(res.Body).Decode(&u)
	res.Body.Close()
	if len(u.Methods) != 1 {
		t.Fatalf("after restart the user has %d methods, want 1", len(u.Methods))
	}
}

func readUntil(t *testing.T, r *bufio.Reader, marker string) string {
	t.Helper()
	var sb strings.Builder
	deadline := time.AfterFunc(30*time.Second, func() { t.Error("timed out waiting for " + marker) })
	defer deadline.Stop()
	for {
		line, err := r.ReadString('\n')
		sb.WriteString(line)
		if strings.Contains(line, marker) {
			return sb.String()
		}
		if err != nil {
			t.Fatalf("output ended before %q:\n%s", marker, sb.String())
		}
	}
}
