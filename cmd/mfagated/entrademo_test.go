package main

import (
	"bufio"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// binariesAndPort builds the binaries and picks a free loopback TCP
// address for a daemon under test to listen on.
func binariesAndPort(t *testing.T) (bin, addr string) {
	t.Helper()
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return bin, ln.Addr().String()
}

// The README's "Try it in the demo": mfagated -demo on a TCP port serves
// the External MFA provider and the Entra stand-in; a sign-in started at
// the stand-in ends at its callback with an id_token it verified against
// the provider's published keys. The browser is played by an HTTP client
// with a cookie jar that submits each auto-submitting form as a browser
// would.
func TestDemoEntraStandIn(t *testing.T) {
	bin, addr := binariesAndPort(t)
	state := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-demo", "-state-dir", state, "-listen", addr, "-log-level", "warn")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	banner := readUntil(t, bufio.NewReader(stdout), "Stop it with Ctrl-C")
	_, port, _ := net.SplitHostPort(addr)
	base := "http://localhost:" + port
	if !strings.Contains(banner, base+"/demo/entra/") {
		t.Fatalf("the demo does not announce the Entra stand-in:\n%s", banner)
	}
	tok, _ := os.ReadFile(filepath.Join(state, "admin.token"))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	api := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}

	var disc struct {
		Issuer                string
		AuthorizationEndpoint string `json:"authorization_endpoint"`
	}
	if api("GET", "/.well-known/openid-configuration", "", &disc); disc.Issuer != base || disc.AuthorizationEndpoint != base+"/oidc/authorize" {
		t.Fatalf("discovery: %+v, want issuer %s", disc, base)
	}

	// The setup guide's steps for the user: an app, a test sign-in, apply.
	const u = "/v1/users/0123456789"
	var added struct {
		Method struct{ ID string }
		TOTP   struct{ Secret string }
	}
	if code := api("POST", u+"/methods", `{"kind":"totp"}`, &added); code != 201 {
		t.Fatalf("add totp: %d", code)
	}
	secret := added.TOTP.Secret
	// Three time steps in a row (the server accepts one step of skew), so
	// that no code is a replay of the one before.
	if code := api("POST", u+"/methods/"+added.Method.ID+"/confirm", `{"code":"`+totpFor(secret, time.Now().Add(-30*time.Second))+`"}`, nil); code != 200 {
		t.Fatalf("confirm: %d", code)
	}
	var ch struct{ ID string }
	api("POST", u+"/challenges", `{"purpose":"test"}`, &ch)
	if code := api("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+totpNow(secret)+`"}`, nil); code != 200 {
		t.Fatalf("test sign-in: %d", code)
	}
	if code := api("PUT", u+"/mfa", `{"enabled":true}`, nil); code != 200 {
		t.Fatalf("apply: %d", code)
	}

	// The stand-in's start form, then the form it posts to the provider.
	res, err := c.PostForm(base+"/demo/entra/signin", url.Values{"user": {"0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	action, fields := formOf(t, res)
	if action != base+"/oidc/authorize" || fields["id_token_hint"] == "" || fields["nonce"] == "" {
		t.Fatalf("the stand-in posts to %s: %v", action, fields)
	}
	res, err = c.PostForm(action, toValues(fields))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	flow := res.Request.URL.Path
	if !strings.HasPrefix(flow, "/oidc/flows/") {
		t.Fatalf("authorize led to %s (%d)", res.Request.URL, res.StatusCode)
	}
	var st struct {
		Flow    struct{ CSRF string }
		Methods []struct{ ID string }
	}
	page := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+flow+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", st.Flow.CSRF)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	if code := page("GET", "api/state", "", &st); code != 200 || len(st.Methods) != 1 {
		t.Fatalf("state: %d %+v", code, st)
	}
	page("POST", "api/challenges", `{"method":"`+st.Methods[0].ID+`"}`, &ch)
	if code := page("POST", "api/challenges/"+ch.ID+"/verify", `{"code":"`+totpFor(secret, time.Now().Add(30*time.Second))+`"}`, nil); code != 200 {
		t.Fatalf("verify on the page: %d", code)
	}
	res, err = c.PostForm(base+flow+"finish", url.Values{"csrf": {st.Flow.CSRF}, "action": {"complete"}})
	if err != nil {
		t.Fatal(err)
	}
	action, fields = formOf(t, res)
	if action != base+"/demo/entra/callback" || fields["id_token"] == "" {
		t.Fatalf("the answer goes to %s: %v", action, fields)
	}
	res, err = c.PostForm(action, toValues(fields))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "Signed in") || !strings.Contains(string(body), "[otp]") {
		t.Fatalf("the stand-in's callback (%d):\n%s", res.StatusCode, body)
	}
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	formField  = regexp.MustCompile(`<input type="hidden" name="([a-zA-Z_-]+)" value="([^"]*)"`)
)

// formOf reads an auto-submitting form_post page.
func formOf(t *testing.T, res *http.Response) (string, map[string]string) {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := formAction.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s answered %d without a form:\n%s", res.Request.URL, res.StatusCode, b)
	}
	out := map[string]string{}
	for _, f := range formField.FindAllSubmatch(b, -1) {
		out[string(f[1])] = html.UnescapeString(string(f[2]))
	}
	return html.UnescapeString(string(m[1])), out
}

func toValues(m map[string]string) url.Values {
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	return v
}
