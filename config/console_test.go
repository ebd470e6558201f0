package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConsoleSignIn(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse([]byte(""), dir)
	if err != nil || c.Console != nil {
		t.Fatalf("without [console]: %+v, %v; want no staff sign-in", c.Console, err)
	}
	writeSecret(t, filepath.Join(dir, "console.secret"), "console-secret-from-the-provider", 0o600)
	c, err = Parse([]byte("[fido]\norigin = \"https://mfa.example.ac.jp\"\nrp_id = \"mfa.example.ac.jp\"\n"+
		"[console]\noidc_issuer = \"https://idp.example.ac.jp/realms/campus\"\nclient_id = \"mfagate-console\"\n"+
		"client_secret_file = \"console.secret\"\nhelpdesk_group = \"/staff/helpdesk\"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Console
	switch {
	case s.ClientSecret != "console-secret-from-the-provider" || s.HelpdeskGroup != "/staff/helpdesk" || s.AdminGroup != "":
		t.Fatalf("[console] = %+v", s)
	case s.RedirectURI != "https://mfa.example.ac.jp/console/callback":
		t.Errorf("redirect_uri defaults to %q, want fido.origin + /console/callback", s.RedirectURI)
	case s.GroupsClaim != "groups" || s.NameClaim != "preferred_username" || s.SessionLifetime.Duration != 30*time.Minute:
		t.Errorf("defaults: groups_claim %q, name_claim %q, session_lifetime %v", s.GroupsClaim, s.NameClaim, s.SessionLifetime)
	}
}

func TestConsoleProblems(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "ok.secret"), "console-secret-from-the-provider", 0o600)
	writeSecret(t, filepath.Join(dir, "open.secret"), "console-secret-from-the-provider", 0o644)
	base := "oidc_issuer = \"https://idp.example.ac.jp/realms/campus\"\nclient_id = \"mfagate-console\"\nclient_secret_file = \"ok.secret\"\n"
	groups := "helpdesk_group = \"helpdesk\"\nadmin_group = \"mfa-admins\"\n"
	for _, tt := range []struct {
		name, body, key string
		line            int
		msg             string
	}{
		{"no issuer", "client_id = \"m\"\nclient_secret_file = \"ok.secret\"\n" + groups, "console.oidc_issuer", 0, "is required in [console]"},
		{"issuer http", "oidc_issuer = \"http://idp.example.ac.jp\"\nclient_id = \"m\"\nclient_secret_file = \"ok.secret\"\n" + groups, "console.oidc_issuer", 2, "must use https"},
		{"no client_id", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_secret_file = \"ok.secret\"\n" + groups, "console.client_id", 0, "is required"},
		{"no secret", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_id = \"m\"\n" + groups, "console.client_secret_file", 0, "is required"},
		{"secret open", "oidc_issuer = \"https://idp.example.ac.jp\"\nclient_id = \"m\"\nclient_secret_file = \"open.secret\"\n" + groups, "console.client_secret_file", 4, "chmod 600"},
		{"no group", base, "console.helpdesk_group", 0, "set helpdesk_group or admin_group"},
		{"same group", base + "helpdesk_group = \"staff\"\nadmin_group = \"staff\"\n", "console.helpdesk_group", 5, "is also admin_group"},
		{"group spaces", base + "helpdesk_group = \" staff\"\n", "console.helpdesk_group", 5, "surrounding spaces"},
		{"groups_claim", base + groups + "groups_claim = \"my groups\"\n", "console.groups_claim", 7, "must name a claim"},
		{"name_claim", base + groups + "name_claim = \"\\u00e9\"\n", "console.name_claim", 7, "must name a claim"},
		{"lifetime long", base + groups + "session_lifetime = \"12h\"\n", "console.session_lifetime", 7, "at most 8h"},
		{"lifetime short", base + groups + "session_lifetime = \"1m\"\n", "console.session_lifetime", 7, "at least 5m"},
		{"redirect_uri path", base + groups + "redirect_uri = \"https://mfa.example.ac.jp/me/callback\"\n", "console.redirect_uri", 7, "/console/callback"},
		{"redirect_uri relative", base + groups + "redirect_uri = \"/console/callback\"\n", "console.redirect_uri", 7, "absolute URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantOneProblem(t, "[console]\n"+tt.body, dir, tt.key, tt.line, tt.msg)
		})
	}
}

// The example's commented-out [console] loads once uncommented (with its
// secret file present), and the values it shows are the defaults.
func TestExampleConsole(t *testing.T) {
	section := exampleSection(t, "console")
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "console.secret"), "console-secret-from-the-provider", 0o600)
	text := strings.Replace(strings.Join(section, "\n"), "/etc/mfagate/console-client.secret", "console.secret", 1)
	c, err := Parse([]byte(text), dir)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Console
	if s.GroupsClaim != DefaultConsoleGroupsClaim || s.NameClaim != DefaultConsoleNameClaim || s.SessionLifetime.Duration != DefaultConsoleSessionLifetime {
		t.Fatalf("the example's [console] shows %q, %q, %v; the defaults are %q, %q, %v", s.GroupsClaim, s.NameClaim, s.SessionLifetime,
			DefaultConsoleGroupsClaim, DefaultConsoleNameClaim, DefaultConsoleSessionLifetime)
	}
}
