package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The demo serves the Security info page with links: the admin token asks
// for a link, a browser opens http://localhost:<port>/me/link/…, lands on
// /me signed in, and the passkey options name the demo's relying party.
func TestDemoSecurityInfoPage(t *testing.T) {
	bin, addr := binariesAndPort(t)
	state := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-demo", "-state-dir", state, "-listen", addr, "-log-level", "warn")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	banner := readUntil(t, bufio.NewReader(stdout), "Stop it with Ctrl-C")
	if !strings.Contains(banner, "Security info page") {
		t.Fatalf("the demo does not announce the Security info page:\n%s", banner)
	}
	_, port, _ := net.SplitHostPort(addr)
	base := "http://localhost:" + port
	tok, _ := os.ReadFile(filepath.Join(state, "admin.token"))
	req, _ := http.NewRequest("POST", base+"/v1/users/0123456789/selfservice-links", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct{ URL string }
	json.NewDecoder(res.Body).Decode(&link)
	res.Body.Close()
	if res.StatusCode != 201 || !strings.HasPrefix(link.URL, "/me/link/") {
		t.Fatalf("link: %d %+v", res.StatusCode, link)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	res, err = c.Get(base + link.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/me" || !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("opening the link ended at %s with %d", res.Request.URL, res.StatusCode)
	}
	var st struct {
		User struct{ User string }
		CSRF string
	}
	res, err = c.Get(base + "/me/api/state")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if res.StatusCode != 200 || st.User.User != "0123456789" || st.CSRF == "" {
		t.Fatalf("state: %d %+v", res.StatusCode, st)
	}
	req, _ = http.NewRequest("POST", base+"/me/api/passkeys/options", strings.NewReader(`{}`))
	req.Header.Set("X-CSRF-Token", st.CSRF)
	req.Header.Set("Content-Type", "application/json")
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct{ RP struct{ ID string } }
	}
	json.NewDecoder(res.Body).Decode(&opts)
	res.Body.Close()
	if res.StatusCode != 200 || opts.PublicKey.RP.ID != "localhost" {
		t.Fatalf("passkey options: %d %+v", res.StatusCode, opts)
	}
}

// The demo's WebAuthn origin is the browser's for its port, with or
// without the External MFA provider.
func TestDemoOrigin(t *testing.T) {
	d, err := prepareDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.cfg
	cfg.Server.Listen = "127.0.0.1:8471"
	demoOrigin(cfg)
	if cfg.FIDO.Origin != "http://localhost:8471" || cfg.SelfService == nil || !cfg.SelfService.Links {
		t.Fatalf("origin %q, [selfservice] %+v", cfg.FIDO.Origin, cfg.SelfService)
	}
	cfg.Server.Listen = "unix:/run/x.sock"
	cfg.FIDO.Origin = "http://localhost"
	demoOrigin(cfg)
	if cfg.FIDO.Origin != "http://localhost" {
		t.Fatalf("a unix socket changed the origin to %q", cfg.FIDO.Origin)
	}
}
