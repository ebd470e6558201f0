package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The demo publishes the address it answers at (demo.url) and an
// identity provider's token (idp.token, roles idp and enroll) beside the
// admin token; a handset nothing reached yet has an empty inbox; demo.url
// is gone once the demo stops.
func TestDemoPublishesAddressAndIDPToken(t *testing.T) {
	bin, addr := binariesAndPort(t)
	state := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-demo", "-state-dir", state, "-listen", addr, "-log-level", "warn")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	out := bufio.NewReader(stdout)
	banner := readUntil(t, out, "Stop it with Ctrl-C")
	go io.Copy(io.Discard, out)

	b, err := os.ReadFile(filepath.Join(state, "demo.url"))
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(string(b))
	if base != "http://"+addr || !strings.Contains(banner, base) {
		t.Fatalf("demo.url = %q; want http://%s, as announced", base, addr)
	}
	token := func(name string) string {
		b, err := os.ReadFile(filepath.Join(state, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	admin, idp := token("admin.token"), token("idp.token")
	if admin == idp || !strings.HasPrefix(idp, "mfa_") {
		t.Fatalf("idp.token %q is not a token of its own", idp)
	}
	if strings.Contains(banner, idp) {
		t.Fatal("the banner shows the IdP token; it should point at its file")
	}
	get := func(tok, path string, v any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if v != nil {
			if err := json.NewDecoder(res.Body).Decode(v); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return res.StatusCode
	}
	if c := get(idp, "/v1/users/0123456789", nil); c != 200 {
		t.Errorf("the IdP token reads a user: %d", c)
	}
	var p struct{ Code string }
	if c := get(idp, "/v1/audit", &p); c != 403 || p.Code != "forbidden" {
		t.Errorf("the IdP token reads the audit log: %d %+v", c, p)
	}
	var msgs []any
	if c := get(idp, "/v1/demo/phones/090-9876-5432/messages", &msgs); c != 200 || msgs == nil || len(msgs) != 0 {
		t.Errorf("messages of a handset nothing reached: %d %v; want 200 and []", c, msgs)
	}
	if c := get(idp, "/v1/demo/phones/not-a-number/messages", &p); c != 422 || p.Code != "invalid_phone" {
		t.Errorf("messages of a malformed number: %d %+v; want 422 invalid_phone", c, p)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the demo did not stop on SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(state, "demo.url")); !os.IsNotExist(err) {
		t.Errorf("demo.url outlives the demo: %v", err)
	}
}
