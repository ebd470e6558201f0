package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// user import, user list and user export against the demo gateway.
func TestUserImportListExport(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("user,phone,slot\n3000000001,090-4444-0001,mobile\n3000000002,03-4444-0002,mobile\n"), 0o600)
	r := ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "import", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "line 3: not_a_mobile_number") || !strings.Contains(r.stderr, "nothing was imported") {
		t.Fatalf("a bad import: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "show", "3000000001"); !strings.Contains(r.stdout, "no methods") && field(t, r.stdout, "mfa") != "off" {
		t.Fatalf("after a refused import: %q", r.stdout)
	}

	good := "user,phone,slot,channel\n3000000001,090-4444-0001,mobile,sms\n3000000002,03-4444-0002,office,voice\n"
	r = ctlRaw(t, strings.NewReader(good), nil, "-demo-dir", daemonState, "user", "import", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "imported 2 phones") {
		t.Fatalf("import from stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "list", "-state", "off")
	if r.code != 0 || !strings.Contains(r.stdout, "USER") {
		t.Fatalf("user list: exit %d, stderr %q", r.code, r.stderr)
	}
	var line string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "3000000002 ") {
			line = l
		}
	}
	if !strings.Contains(line, "phone/voice(unconfirmed)") {
		t.Errorf("user list shows 3000000002 as %q:\n%s", line, r.stdout)
	}
	// Unconfirmed phones are not usable: a phones-only listing leaves them out.
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "list", "-method-kind", "phone", "-only")
	if r.code != 0 || strings.Contains(r.stdout, "3000000001") {
		t.Errorf("phones only: exit %d, %q", r.code, r.stdout)
	}
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "list", "-max", "1")
	if r.code != 0 || len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 2 || !strings.Contains(r.stderr, "1 users") {
		t.Errorf("-max 1: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}

	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "export", "-state", "off")
	if r.code != 0 {
		t.Fatalf("export: exit %d, stderr %q", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || rows[0][0] != "user" {
		t.Fatalf("export is not CSV: %v\n%s", err, r.stdout)
	}
	if strings.Contains(r.stdout, "4444-0001") || strings.Contains(r.stdout, "9044440001") || !strings.Contains(r.stdout, "+81 90-****-0001") {
		t.Errorf("export numbers: %s", r.stdout)
	}
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "user", "export", "-format", "json", "-method-kind", "tap")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "[") {
		t.Errorf("JSON export: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "list", "-state", "on"}, `-state "on": use off, pending or active`},
		{[]string{"user", "list", "-only"}, "-only needs -method-kind"},
		{[]string{"user", "list", "-warning", "lonely"}, "-warning"},
		{[]string{"user", "export", "-format", "xml"}, `-format "xml"`},
		{[]string{"user", "import", filepath.Join(dir, "missing.csv")}, "no such file"},
	} {
		r := ctlRaw(t, nil, nil, append([]string{"-demo-dir", daemonState}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	// The IdP's token may not list users.
	r = ctlRaw(t, nil, nil, "-demo-dir", daemonState, "-as", "idp", "user", "export")
	if r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("export as idp: exit %d, %q", r.code, r.stderr)
	}
}
