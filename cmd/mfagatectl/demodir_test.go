package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -demo-dir carries the running demo's address (demo.url) as well as its
// tokens, and -as idp picks the identity provider's token, which lacks
// the admin role.
func TestDemoDirAddressAndTokens(t *testing.T) {
	t.Setenv("MFAGATE_URL", "http://127.0.0.1:1") // on the command line, -demo-dir wins
	b, err := os.ReadFile(filepath.Join(daemonState, "demo.url"))
	if err != nil || strings.TrimSpace(string(b)) != "unix:"+daemonSock {
		t.Fatalf("demo.url = %q, %v; want unix:%s", b, err, daemonSock)
	}
	r := ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "show", "2000000012")
	if r.code != 0 || field(t, r.stdout, "mfa") != "off" {
		t.Fatalf("-demo-dir alone: exit %d, stderr %q", r.code, r.stderr)
	}
	// The IdP token reads users but is not an admin.
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "-as", "idp", "user", "show", "2000000012")
	if r.code != 0 {
		t.Fatalf("-as idp user show: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "-as", "idp", "audit")
	if r.code != 1 || !strings.Contains(r.stderr, `client "demo-idp-client" lacks the role`) {
		t.Fatalf("-as idp audit: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "-as", "admin", "audit", "-limit", "1")
	if r.code != 0 {
		t.Fatalf("-as admin audit: exit %d, stderr %q", r.code, r.stderr)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown client", []string{"-demo-dir", daemonState, "-as", "root", "user", "show", "2000000012"}, `-as "root": want admin or idp`},
		{"-as without -demo-dir", []string{"-url", "unix:" + daemonSock, "-token", adminToken(t), "-as", "idp", "user", "show", "2000000012"}, "give -demo-dir DIR too"},
		{"-as alone", []string{"-url", "unix:" + daemonSock, "-as", "idp", "user", "show", "2000000012"}, "give -demo-dir DIR too"},
	} {
		r := ctlRaw(t, nil, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, r.code, r.stderr, c.want)
		}
	}

	// A stopped demo leaves no demo.url: the error says what to do.
	stopped := t.TempDir()
	os.WriteFile(filepath.Join(stopped, "admin.token"), []byte(adminToken(t)+"\n"), 0o600)
	r = ctlRaw(t, nil, nil, "-demo-dir", stopped, "user", "show", "2000000012")
	if r.code != 2 || !strings.Contains(r.stderr, "is the demo running") {
		t.Errorf("no demo.url: exit %d, stderr %q", r.code, r.stderr)
	}
	// An explicit -url still wins over demo.url.
	r = ctlRaw(t, nil, nil, "-url", "unix:"+daemonSock, "-demo-dir", stopped, "user", "show", "2000000012")
	if r.code != 0 {
		t.Errorf("-url with a stopped demo's dir: exit %d, stderr %q", r.code, r.stderr)
	}
}
