package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var manualKey = regexp.MustCompile(`(?m)^Manual key:\s+([A-Z2-7 ]+)$`)

// methodRow returns the fields of the methods-table row of id in the
// output of "user show".
func methodRow(t *testing.T, out, id string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == id {
			return f
		}
	}
	t.Fatalf("method %s is not in the table:\n%s", id, out)
	return nil
}

// field returns the value of a "key   value" line of a summary.
func field(t *testing.T, out, key string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in:\n%s", key, out)
	return ""
}

// enroll registers and confirms an authenticator app for user through
// the -json and "user confirm" paths, returning the app and method ID.
func enroll(t *testing.T, user string) (*authenticator, string) {
	t.Helper()
	r := mustCtl(t, "", "-json", "user", "add-totp", user, "-no-confirm")
	var a struct {
		Method struct {
			ID        string `json:"id"`
			Confirmed bool   `json:"confirmed"`
		} `json:"method"`
		TOTP struct {
			Secret string `json:"secret"`
		} `json:"totp"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
		t.Fatalf("-json user add-totp: %v\n%s", err, r.stdout)
	}
	if a.Method.Confirmed || a.Method.ID == "" {
		t.Fatalf("new method: %+v", a.Method)
	}
	app := newAuthenticator(t, a.TOTP.Secret)
	r = mustCtl(t, "", "user", "confirm", user, a.Method.ID, app.next())
	if !strings.Contains(r.stdout, "Confirmed "+a.Method.ID) {
		t.Fatalf("user confirm printed:\n%s", r.stdout)
	}
	return app, a.Method.ID
}

// TestTOTPEnrollmentToMFA walks an operator through steps 1–4: register an
// authenticator app (a wrong code first), check the user, try signing in,
// apply for MFA, and terminate it.
func TestTOTPEnrollmentToMFA(t *testing.T) {
	const user = "2000000001"
	var app *authenticator
	var out bytes.Buffer
	in := &lazyInput{lines: []func() string{
		func() string {
			m := manualKey.FindStringSubmatch(out.String())
			if m == nil {
				t.Errorf("no manual key printed before the prompt:\n%s", out.String())
				return ""
			}
			app = newAuthenticator(t, m[1])
			return app.wrong()
		},
		func() string { c := app.next(); return " " + c[:3] + " " + c[3:] }, // typed as the app shows it
	}}
	r := ctlRaw(t, in, &out, "-url", "unix:"+daemonSock, "-demo-dir", daemonState, "user", "add-totp", user, "-label", "Work-phone")
	if r.code != 0 {
		t.Fatalf("add-totp: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "Enter the 6-digit code shown in the app:"); n != 2 {
		t.Errorf("prompted %d times, want 2 (a wrong code, then the right one):\n%s", n, r.stderr)
	}
	if !strings.Contains(r.stderr, "the code does not match") {
		t.Errorf("the wrong code was not reported:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "otpauth://totp/") || !strings.Contains(r.stdout, "█") {
		t.Errorf("no QR code and URI:\n%s", r.stdout)
	}
	m := regexp.MustCompile(`Confirmed (m_\S+) \(totp, "Work-phone"\)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no confirmation:\n%s", r.stdout)
	}
	id := m[1]

	r = mustCtl(t, "", "user", "show", user)
	if got := field(t, r.stdout, "default method"); got != id {
		t.Errorf("default method %q, want %q", got, id)
	}
	if got := field(t, r.stdout, "mfa"); got != "off" {
		t.Errorf("mfa %q before applying, want off", got)
	}
	if got := field(t, r.stdout, "warnings"); !strings.Contains(got, "single_method") {
		t.Errorf("warnings %q, want single_method", got)
	}
	row := methodRow(t, r.stdout, id)
	if want := []string{id, "totp", "Work-phone", "yes", "yes", "-", "-", "-"}; !slices.Equal(row, want) {
		t.Errorf("method row %q, want %q", row, want)
	}

	// Applying before a trial sign-in is refused with the reason.
	r = ctl(t, "", "mfa", "apply", user)
	if r.code != 1 || !strings.Contains(r.stderr, "no_test_signin") {
		t.Errorf("apply before a test sign-in: exit %d, stderr %q", r.code, r.stderr)
	}

	r = mustCtl(t, app.next()+"\n", "challenge", user, "-purpose", "test", "-verify")
	if got := field(t, r.stdout, "purpose"); got != "test" {
		t.Errorf("challenge purpose %q, want test", got)
	}
	if !regexp.MustCompile(`Challenge c_\S+: approved\.`).MatchString(r.stdout) {
		t.Errorf("the test sign-in was not approved:\n%s", r.stdout)
	}

	r = mustCtl(t, "", "mfa", "apply", user)
	if got := field(t, r.stdout, "mfa"); got != "pending" {
		t.Errorf("mfa %q after apply, want pending", got)
	}
	if got := field(t, r.stdout, "activates at"); got == "-" {
		t.Error("a pending user shows no activation time")
	}

	r = mustCtl(t, "", "-json", "user", "show", user)
	var u struct {
		MFA struct {
			State       string  `json:"state"`
			ActivatesAt *string `json:"activates_at"`
		} `json:"mfa"`
		DefaultMethod string `json:"default_method"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil {
		t.Fatalf("-json user show is not JSON: %v\n%s", err, r.stdout)
	}
	if u.MFA.State != "pending" || u.MFA.ActivatesAt == nil || u.DefaultMethod != id {
		t.Errorf("-json user show: %+v", u)
	}

	r = mustCtl(t, "", "mfa", "terminate", user)
	if got := field(t, r.stdout, "mfa"); got != "off" {
		t.Errorf("mfa %q after terminate, want off", got)
	}

	r = mustCtl(t, "", "audit", "-user", user)
	for _, ev := range []string{"method_added", "method_confirmed", "test_signin", "mfa_applied", "mfa_terminated"} {
		if !strings.Contains(r.stdout, " "+ev+" ") {
			t.Errorf("audit lacks %s:\n%s", ev, r.stdout)
		}
	}
}

func TestVerify(t *testing.T) {
	const user = "2000000002"
	app, id := enroll(t, user)

	r := mustCtl(t, "", "-json", "challenge", user, "-method", id)
	var c struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Kind   string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("-json challenge: %v\n%s", err, r.stdout)
	}
	if c.Kind != "totp" || c.Status != "created" {
		t.Errorf("challenge %+v", c)
	}

	r = ctl(t, "", "verify", c.ID, app.wrong())
	if r.code != 1 {
		t.Errorf("wrong code: exit %d, want 1", r.code)
	}
	if want := "mfagatectl: invalid_code: the code is wrong; 4 attempts left (HTTP 422)\n"; r.stderr != want {
		t.Errorf("wrong code: stderr %q, want %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("a refusal printed on stdout: %q", r.stdout)
	}

	r = mustCtl(t, "", "verify", c.ID, app.next())
	if got := field(t, r.stdout, "status"); got != "approved" {
		t.Errorf("status %q after the right code, want approved", got)
	}
	if got := field(t, r.stdout, "attempts left"); got != "4" {
		t.Errorf("attempts left %q, want 4", got)
	}
	r = ctl(t, "", "wait", c.ID, "-wait", "0s")
	if r.code != 0 || r.stderr != "" || field(t, r.stdout, "status") != "approved" {
		t.Errorf("wait on an approved challenge: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}

	r = ctl(t, "", "verify", c.ID, app.next())
	if r.code != 1 || !strings.HasPrefix(r.stderr, "mfagatectl: challenge_finished: ") {
		t.Errorf("verifying a finished challenge: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestJSONIsTheBody checks that -json prints the gateway's answer
// unchanged, comparing with a request made without the CLI.
func TestJSONIsTheBody(t *testing.T) {
	const user = "2000000003"
	enroll(t, user)
	req, _ := http.NewRequest("GET", "http://mfagated/v1/users/"+user, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken(t))
	resp, err := socketClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Global flags work after the command too.
	r := mustCtl(t, "", "user", "show", user, "-json")
	if r.stdout != string(want) {
		t.Errorf("-json printed\n%s\nthe API answered\n%s", r.stdout, want)
	}
}

func TestPhone(t *testing.T) {
	const user = "2000000004"
	r := mustCtl(t, "", "-json", "user", "add-phone", user, "-slot", "mobile", "-phone", "090-1234-5678", "-no-confirm")
	var a struct {
		Method struct {
			ID    string `json:"id"`
			Phone string `json:"phone"`
		} `json:"method"`
		Challenge struct {
			ID string `json:"id"`
		} `json:"challenge"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
		t.Fatalf("-json add-phone: %v\n%s", err, r.stdout)
	}
	if a.Method.Phone != "+81 90-****-5678" {
		t.Errorf("phone shown as %q, want the gateway's mask", a.Method.Phone)
	}

	// The demo's simulated modems pick the job up: wait shows its progress.
	r = mustCtl(t, "", "wait", a.Challenge.ID, "-wait", "0s")
	if got := field(t, r.stdout, "status"); !strings.Contains("queued sending sent delivered", got) || got == "" {
		t.Errorf("status %q, want queued, sending, sent or delivered", got)
	}
	// A call's challenge confirms a phone only once it is approved.
	r = mustCtl(t, "", "-json", "user", "add-phone", user, "-slot", "office", "-phone", "03-1234-5678", "-channel", "voice", "-no-confirm")
	var office struct {
		Method    struct{ ID string } `json:"method"`
		Challenge struct {
			ID      string `json:"id"`
			Channel string `json:"channel"`
		} `json:"challenge"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &office); err != nil || office.Challenge.Channel != "voice" {
		t.Fatalf("-json add-phone voice: %v\n%s", err, r.stdout)
	}
	r = ctl(t, "", "user", "confirm", user, office.Method.ID, office.Challenge.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "challenge_not_approved") {
		t.Errorf("confirm with a call nobody keyed: exit %d, stderr %q", r.code, r.stderr)
	}

	r = mustCtl(t, "", "outbox")
	if !strings.Contains(r.stdout, a.Challenge.ID) || !strings.Contains(r.stdout, "+81 90-****-5678") {
		t.Errorf("outbox lacks the masked job of %s:\n%s", a.Challenge.ID, r.stdout)
	}

	// Interactive SMS confirmation: a wrong code uses an attempt, then the
	// input ends and the CLI says how to finish later.
	r = ctl(t, "000000\n", "user", "add-phone", user, "-slot", "alternate", "-phone", "080-2222-3333")
	if r.code != 1 {
		t.Fatalf("add-phone with a wrong code and no more input: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "+81 80-****-3333") {
		t.Errorf("the registration was not shown:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "4 attempts left; try again") || !strings.Contains(r.stderr, "user confirm "+user) {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	for _, out := range []string{r.stdout, r.stderr} {
		for _, full := range []string{"1234", "2222", "9012345678"} {
			if strings.Contains(out, full) {
				t.Errorf("output shows %q of a phone number:\n%s", full, out)
			}
		}
	}

	// An unconfirmed method cannot be the default; it can be removed.
	r = ctl(t, "", "user", "default", user, a.Method.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "method_not_confirmed") {
		t.Errorf("default to an unconfirmed phone: exit %d, stderr %q", r.code, r.stderr)
	}
	r = mustCtl(t, "", "user", "remove", user, a.Method.ID)
	if !strings.Contains(r.stdout, "Removed "+a.Method.ID) {
		t.Errorf("remove printed %q", r.stdout)
	}
	r = mustCtl(t, "", "user", "show", user)
	if strings.Contains(r.stdout, a.Method.ID) || !strings.Contains(r.stdout, "alternate") {
		t.Errorf("after removing the mobile phone:\n%s", r.stdout)
	}
	mustCtl(t, "", "user", "unlock", user)
}

// TestErrors checks that mistakes end with one actionable line on stderr
// and the documented exit status.
func TestErrors(t *testing.T) {
	sock := "unix:" + daemonSock
	badToken := "mfa_not_the_right_token_0000"
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad token", []string{"-url", sock, "-token", badToken, "user", "show", "2000000009"}, 1,
			[]string{"unauthorized: the bearer token is not valid (HTTP 401)"}},
		{"unknown command", []string{"-url", sock, "frobnicate"}, 2,
			[]string{`unknown command "frobnicate"`, `mfagatectl help`}},
		{"unknown subcommand", []string{"user", "erase", "2000000009"}, 2,
			[]string{`unknown command "user erase"`, "show, add-totp"}},
		{"missing argument", []string{"-url", sock, "-demo-dir", daemonState, "user", "confirm", "2000000009", "m_x"}, 2,
			[]string{"missing CODE", "usage: mfagatectl user confirm USER METHOD_ID CODE"}},
		{"extra argument", []string{"verify", "c_x", "123456", "654321"}, 2,
			[]string{"3 arguments, want 2", "usage: mfagatectl verify CHALLENGE_ID CODE"}},
		{"unknown flag", []string{"user", "show", "2000000009", "-colour"}, 2,
			[]string{"-colour", "usage: mfagatectl user show USER"}},
		{"bad purpose", []string{"-url", sock, "-demo-dir", daemonState, "challenge", "2000000009", "-purpose", "login"}, 2,
			[]string{`-purpose "login": use signin, test or proof`}},
		{"add-phone without slot", []string{"-url", sock, "-demo-dir", daemonState, "user", "add-phone", "2000000009", "-phone", "090"}, 2,
			[]string{"-slot is required"}},
		{"two token sources", []string{"-url", sock, "-token", badToken, "-demo-dir", daemonState, "user", "show", "2000000009"}, 2,
			[]string{"give only one source of the API token"}},
		{"no token", []string{"-url", sock, "user", "show", "2000000009"}, 2,
			[]string{"no API token", "-token-file"}},
		{"missing token file", []string{"-url", sock, "-token-file", daemonState + "/nonexistent", "user", "show", "2000000009"}, 2,
			[]string{"-token-file", "no such file"}},
		{"URL without scheme", []string{"-url", "127.0.0.1:8470", "-demo-dir", daemonState, "user", "show", "2000000009"}, 2,
			[]string{`-url "127.0.0.1:8470": want http://host:port`}},
		{"nobody listening", []string{"-url", "unix:" + daemonState + "/no.sock", "-demo-dir", daemonState, "user", "show", "2000000009"}, 1,
			[]string{"cannot reach unix:", "no.sock"}},
		{"wait too long", []string{"-url", sock, "-demo-dir", daemonState, "wait", "c_x", "-wait", "1m"}, 2,
			[]string{"-wait 1m0s: use a duration from 0s to 25s"}},
		{"invalid user", []string{"-url", sock, "-demo-dir", daemonState, "user", "show", "alice"}, 1,
			[]string{"invalid_user_id:", "(HTTP 400)"}},
		{"bad limit", []string{"-url", sock, "-demo-dir", daemonState, "audit", "-limit", "0x"}, 2,
			[]string{"-limit"}},
		{"limit out of range", []string{"-url", sock, "-demo-dir", daemonState, "outbox", "-limit", "5000"}, 2,
			[]string{"-limit 5000: use a number from 1 to 1000"}},
		{"zero timeout", []string{"-url", sock, "-demo-dir", daemonState, "-timeout", "0s", "user", "show", "2000000009"}, 2,
			[]string{"-timeout 0s: must be positive"}},
		{"wait beyond timeout", []string{"-url", sock, "-demo-dir", daemonState, "-timeout", "5s", "wait", "c_x", "-wait", "10s"}, 2,
			[]string{"-wait 10s must be shorter than -timeout 5s"}},
	}
	t.Setenv("MFAGATE_TOKEN", "")
	t.Setenv("MFAGATE_URL", "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ctlRaw(t, nil, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "mfagatectl: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("stderr is not one mfagatectl: line: %q", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, badToken) || strings.Contains(r.stderr, adminToken(t)) {
				t.Errorf("stderr shows a token: %q", r.stderr)
			}
			if strings.Contains(r.stderr, "654321") {
				t.Errorf("stderr echoes a stray code: %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q on failure", r.stdout)
			}
		})
	}
}

// TestEnvironment checks MFAGATE_URL and MFAGATE_TOKEN, and that an
// explicit flag wins over them.
func TestEnvironment(t *testing.T) {
	t.Setenv("MFAGATE_URL", "unix:"+daemonSock)
	t.Setenv("MFAGATE_TOKEN", adminToken(t))
	r := ctlRaw(t, nil, nil, "user", "show", "2000000005")
	if r.code != 0 || field(t, r.stdout, "mfa") != "off" {
		t.Errorf("with MFAGATE_URL and MFAGATE_TOKEN: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = ctlRaw(t, nil, nil, "-token", "mfa_wrong", "user", "show", "2000000005")
	if r.code != 1 || !strings.Contains(r.stderr, "unauthorized") {
		t.Errorf("-token over MFAGATE_TOKEN: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	t.Setenv("MFAGATE_TOKEN", "mfa_secret_from_the_environment")
	for _, args := range [][]string{{"help"}, {"-h"}} {
		r := ctlRaw(t, nil, nil, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, c := range commands {
			if !strings.Contains(r.stdout, "\n  "+c.name+" ") {
				t.Errorf("%v does not list %q", args, c.name)
			}
		}
		for _, g := range []string{"-url", "-token-file", "-demo-dir", "-json", "-timeout"} {
			if !strings.Contains(r.stdout, g) {
				t.Errorf("%v does not list the global flag %s", args, g)
			}
		}
		if strings.Contains(r.stdout, "mfa_secret_from_the_environment") {
			t.Errorf("%v shows MFAGATE_TOKEN", args)
		}
	}
	r := ctlRaw(t, nil, nil, "help", "user", "add-phone")
	if r.code != 0 || !strings.Contains(r.stdout, "-slot") || !strings.Contains(r.stdout, "-channel") {
		t.Errorf("help user add-phone: exit %d\n%s", r.code, r.stdout)
	}
	r = ctlRaw(t, nil, nil, "challenge", "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "-verify") {
		t.Errorf("challenge -h: exit %d\n%s", r.code, r.stdout)
	}

	// A group's help lists its subcommands with their summaries.
	for _, g := range []string{"user", "mfa", "fraud", "kiosk", "completion"} {
		for _, args := range [][]string{{"help", g}, {g, "-h"}} {
			r := ctlRaw(t, nil, nil, args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
			}
			for _, sub := range subcommands(g) {
				c := find(g + " " + sub)
				if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(strings.TrimSpace(sub+" "+c.args)) + ` +` + regexp.QuoteMeta(c.summary) + `$`).MatchString(r.stdout) {
					t.Errorf("%v does not list %q with its summary:\n%s", args, sub, r.stdout)
				}
			}
		}
	}

	// Each flag states its default once: a usage that explains a computed
	// default must not be followed by the flag package's zero value.
	r = ctlRaw(t, nil, nil, "help", "wait")
	if r.code != 0 || strings.Contains(r.stdout, "(default 0s)") || !strings.Contains(r.stdout, "default 25s, or less to fit -timeout)\n") {
		t.Errorf("help wait: exit %d\n%s", r.code, r.stdout)
	}
	twice := regexp.MustCompile(`(?m)default .*\(default [^)]*\)$`)
	for _, c := range commands {
		r := ctlRaw(t, nil, nil, append([]string{"help"}, strings.Fields(c.name)...)...)
		if l := twice.FindString(r.stdout); l != "" {
			t.Errorf("help %s states a default twice: %q", c.name, l)
		}
	}
}

func TestLongPoll(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{30 * time.Second, 25 * time.Second},
		{time.Minute, 25 * time.Second},
		{10 * time.Second, 5 * time.Second},
		{8500 * time.Millisecond, 3 * time.Second},
		{2 * time.Second, time.Second},
	} {
		if got := longPoll(tc.timeout); got != tc.want {
			t.Errorf("longPoll(%s) = %s, want %s", tc.timeout, got, tc.want)
		}
	}
}

// TestTCP reaches the daemon with an http:// URL through a byte-level
// relay from a loopback TCP port to its unix socket.
func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("unix", daemonSock)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	r := ctlRaw(t, nil, nil, "-url", "http://"+ln.Addr().String(), "-demo-dir", daemonState, "user", "show", "2000000006")
	if r.code != 0 || field(t, r.stdout, "user") != "2000000006" {
		t.Errorf("over TCP: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// radius test refuses what it cannot send before sending anything: no
// secret, a server that is no HOST:PORT, an empty secret file.
func TestRadiusTestUsage(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.secret")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"-url", "unix:" + daemonSock, "-token", "x", "radius", "test", "2000000009", "-code", "123456"}, "no shared secret: pass -secret-file FILE"},
		{"bad server", []string{"-demo-dir", daemonState, "radius", "test", "2000000009", "-server", "localhost", "-code", "123456"}, `-server "localhost": want HOST:PORT`},
		{"empty secret", []string{"radius", "test", "2000000009", "-secret-file", empty, "-code", "123456"}, "must hold the shared secret alone on one line"},
		{"json", []string{"-json", "-demo-dir", daemonState, "radius", "test", "2000000009"}, "-json is not offered"},
	} {
		r := ctlRaw(t, nil, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, r.code, r.stderr, c.want)
		}
	}
}
