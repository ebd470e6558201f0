package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSelfServiceOffUnlessPresent(t *testing.T) {
	c, err := Parse([]byte(""), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.SelfService != nil || c.SelfService.OIDC() {
		t.Fatalf("the Security info page is on without a section: %+v", c.SelfService)
	}
	c, err = Parse([]byte("[selfservice]\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := c.SelfService
	if s == nil || !s.Links || s.OIDC() || s.SessionTTL.Duration != 15*time.Minute || s.LinkTTL.Duration != time.Minute {
		t.Fatalf("an empty [selfservice] = %+v, want links on, no OpenID Connect, session_ttl 15m, link_ttl 1m", s)
	}
}

func TestSelfServiceOIDC(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "client.secret"), "s3cr3t-from-the-provider", 0o600)
	c, err := Parse([]byte("[fido]\norigin = \"https://mfa.example.ac.jp\"\nrp_id = \"mfa.example.ac.jp\"\n"+
		"[selfservice]\noidc_issuer = \"https://idp.example.ac.jp/realms/campus\"\nclient_id = \"mfagate\"\n"+
		"client_secret_file = \"client.secret\"\nlinks = false\nsession_ttl = \"30m\"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	s := c.SelfService
	switch {
	case !s.OIDC() || s.Links || s.ClientSecret != "s3cr3t-from-the-provider" || s.SessionTTL.Duration != 30*time.Minute:
		t.Fatalf("[selfservice] = %+v", s)
	case s.RedirectURI != "https://mfa.example.ac.jp/me/callback":
		t.Errorf("redirect_uri defaults to %q, want fido.origin + /me/callback", s.RedirectURI)
	case s.UserClaim != DefaultOIDCUserClaim || s.User == nil || s.User.FindStringSubmatch("0123456789@example.ac.jp")[1] != "0123456789":
		t.Errorf("user_claim %q / user_pattern not defaulted and compiled", s.UserClaim)
	}
}

func TestSelfServiceProblems(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "ok.secret"), "s3cr3t-from-the-provider", 0o600)
	writeSecret(t, filepath.Join(dir, "open.secret"), "s3cr3t-from-the-provider", 0o644)
	oidc := "oidc_issuer = \"https://idp.example.ac.jp/realms/campus\"\nclient_id = \"mfagate\"\nclient_secret_file = \"ok.secret\"\n"
	for _, tt := range []struct {
		name, body, key string
		line            int
		msg             string
	}{
		{"no way in", "links = false\n", "selfservice.links", 2, "without a way in"},
		{"client without issuer", "client_id = \"x\"\n", "selfservice.client_id", 2, "set selfservice.oidc_issuer too"},
		{"session_ttl long", "session_ttl = \"2h\"\n", "selfservice.session_ttl", 2, "at most 1h"},
		{"session_ttl short", "session_ttl = \"10s\"\n", "selfservice.session_ttl", 2, "at least 1m"},
		{"link_ttl long", "link_ttl = \"1h\"\n", "selfservice.link_ttl", 2, "at most 15m"},
		{"issuer http", "oidc_issuer = \"http://idp.example.ac.jp\"\nclient_id = \"m\"\nclient_secret_file = \"ok.secret\"\n", "selfservice.oidc_issuer", 2, "must use https"},
		{"no client_id", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_secret_file = \"ok.secret\"\n", "selfservice.client_id", 0, "is required with oidc_issuer"},
		{"no secret", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_id = \"m\"\n", "selfservice.client_secret_file", 0, "is required with oidc_issuer"},
		{"secret open", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_id = \"m\"\nclient_secret_file = \"open.secret\"\n", "selfservice.client_secret_file", 4, "chmod 600"},
		{"secret missing", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_id = \"m\"\nclient_secret_file = \"absent\"\n", "selfservice.client_secret_file", 4, "does not exist"},
		{"user_claim", oidc + "user_claim = \"a b\"\n", "selfservice.user_claim", 5, "must name a claim"},
		{"user_pattern unanchored", oidc + "user_pattern = \"([0-9]+)@\"\n", "selfservice.user_pattern", 5, "not anchored"},
		{"redirect_uri path", oidc + "redirect_uri = \"https://mfa.example.ac.jp/callback\"\n", "selfservice.redirect_uri", 5, "/me/callback"},
		{"redirect_uri relative", oidc + "redirect_uri = \"/me/callback\"\n", "selfservice.redirect_uri", 5, "absolute URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantOneProblem(t, "[selfservice]\n"+tt.body, dir, tt.key, tt.line, tt.msg)
		})
	}
}

// The example's commented-out [selfservice] loads once uncommented (with
// its secret file present).
func TestExampleSelfService(t *testing.T) {
	section := exampleSection(t, "selfservice")
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "client.secret"), "s3cr3t-from-the-provider", 0o600)
	text := strings.Replace(strings.Join(section, "\n"), "/etc/mfagate/selfservice-client.secret", "client.secret", 1)
	c, err := Parse([]byte(text), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SelfService.OIDC() || !c.SelfService.Links {
		t.Fatalf("the example's [selfservice] = %+v", c.SelfService)
	}
}

// wantOneProblem parses src and fails t unless it gives exactly one
// problem, at key (and line, unless 0), whose message contains msg; it
// returns the parse error.
func wantOneProblem(t *testing.T, src, dir, key string, line int, msg string) error {
	t.Helper()
	_, err := Parse([]byte(src), dir)
	ps := Problems(err)
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(ps), err)
	}
	if p := ps[0]; p.Key != key || (line != 0 && p.Line != line) || !strings.Contains(p.Msg, msg) {
		t.Errorf("got  %v\nwant key %s, line %d, message containing %q", p, key, line, msg)
	}
	return err
}

// exampleSection is the example configuration's commented-out [table]
// section, uncommented, a line each.
func exampleSection(t *testing.T, table string) []string {
	t.Helper()
	src, err := os.ReadFile("../systemd/mfagate.toml")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(src, []byte("\n#["+table+"]\n"))
	if start < 0 {
		t.Fatalf("the example has no commented-out [%s] section", table)
	}
	var section []string
	for _, l := range strings.Split(string(src[start+1:]), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		section = append(section, strings.TrimPrefix(l, "#"))
	}
	return section
}
