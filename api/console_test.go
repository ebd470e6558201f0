package api_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mfagate/api"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/selfservice"
)

// newConsoleHarness is a gateway whose console signs staff in through
// the test's OpenID provider (the Security info page tests' testOP, with a
// client registration of the console's own): the group "helpdesk" makes
// a staff member help desk (enroll), "mfa-admins" admin.
func newConsoleHarness(t testing.TB) (*harness, *testOP) {
	t.Helper()
	var op *testOP
	h := &harness{t: t, path: t.TempDir() + "/mfagate.db"}
	h.clock = mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))
	h.keys, _ = mfa.NewKeys(bytes.Repeat([]byte{7}, 32))
	h.console = func(h *harness, base string) *api.Console {
		if op == nil {
			op = newTestOP(t, h.clock.Now)
			op.clientID, op.secret = "mfagate-console", "console-secret-0123456789"
		}
		op.redirectURI = base + "/console/callback"
		return &api.Console{
			Login: selfservice.NewRP(selfservice.RPOptions{Issuer: op.srv.URL, ClientID: op.clientID, ClientSecret: op.secret,
				RedirectURI: op.redirectURI, UserClaim: "preferred_username", Purpose: "console", Now: h.clock.Now}, h.db),
			Sessions: selfservice.NewStaffSessions(h.db, 30*time.Minute, h.clock.Now),
			Staff: selfservice.StaffPolicy{NameClaim: "preferred_username", GroupsClaim: "groups",
				AdminGroup: "mfa-admins", HelpdeskGroup: "helpdesk"},
		}
	}
	p := testPolicy()
	p.TAP = mfa.TAPPolicy{MaxLifetime: 8 * time.Hour, AllowedFor: []string{"enroll", "admin"}}
	h.open(p)
	return h, op
}

// staffLogin walks one staff member's browser through /console/login and
// the provider back to /console/callback; it returns the callback's
// answer and body.
func (b *selfBrowser) staffLogin(op *testOP, name string, groups ...string) (*http.Response, string) {
	b.h.t.Helper()
	op.username, op.groups = name, groups
	res, _ := b.get("/console/login")
	c := b.h.cookie(res, "mfagate_staff_login")
	switch {
	case res.StatusCode != http.StatusFound:
		b.h.t.Fatalf("/console/login: %d, want 302 to the provider", res.StatusCode)
	case c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/console/" || c.MaxAge != 600:
		b.h.t.Fatalf("login cookie %+v: want HttpOnly, SameSite=Lax, Path /console/, Max-Age 600", c)
	}
	u, _ := url.Parse(res.Header.Get("Location"))
	if q := u.Query(); q.Get("client_id") != "mfagate-console" || q.Get("code_challenge_method") != "S256" || !strings.HasSuffix(q.Get("redirect_uri"), "/console/callback") {
		b.h.t.Fatalf("authorization request %s", u)
	}
	res, body := b.get(u.String())
	if res.StatusCode != http.StatusFound {
		b.h.t.Fatalf("the provider's authorization endpoint: %d %s", res.StatusCode, body)
	}
	return b.get(res.Header.Get("Location"))
}

// staffSignIn signs a staff member in and reads the session: it checks
// the session cookie's attributes and the role.
func (b *selfBrowser) staffSignIn(op *testOP, name, role string, groups ...string) {
	b.h.t.Helper()
	res, body := b.staffLogin(op, name, groups...)
	c := b.h.cookie(res, "mfagate_staff")
	switch {
	case res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console":
		b.h.t.Fatalf("callback: %d to %q, want 303 to /console\n%s", res.StatusCode, res.Header.Get("Location"), body)
	case c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" || c.MaxAge != 1800:
		b.h.t.Fatalf("staff cookie %+v: want HttpOnly, SameSite=Strict, Path /console, Max-Age 1800", c)
	}
	r := b.call("GET", "/console/api/session", "", false)
	b.h.want(r, 200, "")
	if r.str("name") != name || r.str("actor") != "staff:"+name || r.str("role") != role || r.str("csrf") == "" {
		b.h.t.Fatalf("session of %s: %s, want role %s", name, r.raw, role)
	}
	b.csrf = r.str("csrf")
}

// staffEvent is the newest audit event of typ for the user.
func staffEvent(t *testing.T, h *harness, typ string) map[string]any {
	t.Helper()
	for _, e := range jsonArray(t, h.do("GET", "/v1/audit?user="+user, tokAdmin, "").raw) {
		if e["type"] == typ {
			return e
		}
	}
	t.Fatalf("no %s event", typ)
	return nil
}

func TestConsoleStaffSignIn(t *testing.T) {
	h, op := newConsoleHarness(t)
	_, secret := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	methods := func() int { return len(h.do("GET", "/v1/users/"+user, tokIDP, "").body["methods"].([]any)) }

	// A help desk member (in other groups too) is enroll.
	desk := h.selfBrowser()
	desk.staffSignIn(op, "hana@example.ac.jp", "enroll", "students", "helpdesk")
	r := desk.call("GET", "/console/v1/users/"+user, "", false)
	h.want(r, 200, "")
	if r.body["user"] != user {
		t.Fatalf("the user through the staff session: %s", r.raw)
	}
	// The help desk issues a pass: audited as staff:<name> from its address.
	r = desk.call("POST", "/console/v1/users/"+user+"/tap", `{"lifetime":"1h"}`, true)
	h.want(r, 201, "")
	if len(r.str("pass")) < 10 {
		t.Fatalf("pass %s", r.raw)
	}
	e := staffEvent(t, h, "tap_issued")
	if e["actor"] != "staff:hana@example.ac.jp" || !strings.Contains(e["detail"].(string), "from: 127.0.0.1") {
		t.Fatalf("tap_issued event %v: want actor staff:hana@example.ac.jp from 127.0.0.1", e)
	}

	// Without the CSRF header: refused, nothing changed.
	before := h.state()
	h.want(desk.call("DELETE", "/console/v1/users/"+user+"/tap", "", false), 403, "csrf")
	desk.csrf = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	h.want(desk.call("DELETE", "/console/v1/users/"+user+"/tap", "", true), 403, "csrf")
	if after := h.state(); after != before {
		t.Fatalf("a request without the CSRF token changed the user:\n%s\n%s", before, after)
	}
	desk.csrf = desk.call("GET", "/console/api/session", "", false).str("csrf")

	// The help desk may not terminate MFA, unlock or read the audit log:
	// 403, nothing changed.
	h.want(desk.call("DELETE", "/console/v1/users/"+user+"/mfa?reason=lost+everything", "", true), 403, "forbidden")
	h.want(desk.call("POST", "/console/v1/users/"+user+"/unlock", `{"reason":"asked"}`, true), 403, "forbidden")
	h.want(desk.call("GET", "/console/v1/audit?user="+user, "", false), 403, "forbidden")
	if after := h.state(); after != before {
		t.Fatalf("refused staff actions changed the user:\n%s\n%s", before, after)
	}
	// A staff session acts from the console: a removal needs a reason.
	h.want(desk.call("DELETE", "/console/v1/users/"+user+"/tap", "", true), 204, "")
	id := h.do("GET", "/v1/users/"+user, tokIDP, "").body["methods"].([]any)[0].(map[string]any)["id"].(string)
	h.want(desk.call("DELETE", "/console/v1/users/"+user+"/methods/"+id, "", true), 400, "reason_required")
	if methods() != 1 {
		t.Fatal("a removal without a reason removed the method")
	}
	// A bearer token is no staff session.
	h.want(h.do("GET", "/console/v1/users/"+user, tokAdmin, ""), 401, "no_session")

	// An admin terminates MFA with a reason: audited as staff:<name> with
	// the reason and the client address.
	admin := h.selfBrowser()
	admin.staffSignIn(op, "aki", "admin", "mfa-admins", "helpdesk")
	h.want(admin.call("GET", "/console/v1/audit?user="+user, "", false), 200, "")
	r = admin.call("DELETE", "/console/v1/users/"+user+"/mfa?reason="+url.QueryEscape("lost every method; identity checked"), "", true)
	h.want(r, 200, "")
	if r.body["mfa"].(map[string]any)["state"] != "off" {
		t.Fatalf("after termination: %s", r.raw)
	}
	e = staffEvent(t, h, "mfa_terminated")
	if e["actor"] != "staff:aki" || e["detail"] != "reason: lost every method; identity checked; from: 127.0.0.1" {
		t.Fatalf("mfa_terminated event %v", e)
	}

	// Someone in neither group is refused with a page that says so, and
	// gets no session.
	guest := h.selfBrowser()
	res, body := guest.staffLogin(op, "sora", "students")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "login_staff") || !strings.Contains(body, "neither staff group") ||
		!strings.Contains(body, "not registered as help desk staff") || h.cookie(res, "mfagate_staff") != nil {
		t.Fatalf("a non-staff sign-in: %d, cookie %v\n%s", res.StatusCode, h.cookie(res, "mfagate_staff"), body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("the refusal page's policy %q", csp)
	}
	h.want(guest.call("GET", "/console/api/session", "", false), 401, "no_session")
	// No groups claim at all: the same.
	res, _ = guest.staffLogin(op, "sora")
	if res.StatusCode != http.StatusForbidden || h.cookie(res, "mfagate_staff") != nil {
		t.Fatalf("a sign-in without groups: %d", res.StatusCode)
	}

	m := string(h.do("GET", "/metrics", "", "").raw)
	for _, want := range []string{
		`mfagate_staff_actions_total{action="tap_issue",result="ok",role="enroll"} 1`,
		`mfagate_staff_actions_total{action="terminate",result="forbidden",role="enroll"} 1`,
		`mfagate_staff_actions_total{action="unlock",result="forbidden",role="enroll"} 1`,
		`mfagate_staff_actions_total{action="remove_method",result="refused",role="enroll"} 1`,
		`mfagate_staff_actions_total{action="terminate",result="ok",role="admin"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestConsoleStaffSessionRefusals(t *testing.T) {
	h, op := newConsoleHarness(t)
	h.addTOTP()
	before := h.state()

	// A forged cookie: no session.
	forged := h.selfBrowser()
	base, _ := url.Parse(h.srv.URL + "/console")
	forged.c.Jar.SetCookies(base, []*http.Cookie{{Name: "mfagate_staff", Value: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), Path: "/console"}})
	h.want(forged.call("GET", "/console/api/session", "", false), 401, "no_session")
	forged.csrf = "x"
	h.want(forged.call("POST", "/console/v1/users/"+user+"/tap", `{}`, true), 401, "no_session")

	// A Security info page session's secret is no staff session, nor the
	// other way round: the two live in one table, apart.
	sessions := selfservice.New(selfservice.Options{Store: h.db, Now: h.clock.Now})
	_, selfSecret, err := sessions.Open(t.Context(), user, selfservice.ViaLink)
	if err != nil {
		t.Fatal(err)
	}
	crossed := h.selfBrowser()
	crossed.c.Jar.SetCookies(base, []*http.Cookie{{Name: "mfagate_staff", Value: selfSecret, Path: "/console"}})
	h.want(crossed.call("GET", "/console/api/session", "", false), 401, "no_session")
	staff := selfservice.NewStaffSessions(h.db, time.Hour, h.clock.Now)
	_, staffSecret, err := staff.Open(t.Context(), selfservice.Staff{Name: user, Role: selfservice.StaffAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Session(t.Context(), staffSecret); err != selfservice.ErrNoSession {
		t.Fatalf("a staff secret as a page session: %v", err)
	}

	// A session that has ended: 401 saying so, nothing changes.
	b := h.selfBrowser()
	b.staffSignIn(op, "hana", "enroll", "helpdesk")
	h.clock.Advance(30*time.Minute + time.Second)
	r := b.call("POST", "/console/v1/users/"+user+"/tap", `{}`, true)
	h.want(r, 401, "no_session")
	if !strings.Contains(r.str("detail"), "has ended (it lasts 30 minutes)") {
		t.Fatalf("expired session: %s", r.raw)
	}
	// Signing out ends the session at once.
	b = h.selfBrowser()
	b.staffSignIn(op, "hana", "enroll", "helpdesk")
	h.want(b.call("POST", "/console/api/logout", "", false), 403, "csrf")
	h.want(b.call("POST", "/console/api/logout", "", true), 204, "")
	h.want(b.call("GET", "/console/v1/users/"+user, "", false), 401, "no_session")
	if after := h.state(); after != before {
		t.Fatalf("refused staff requests changed the user:\n%s\n%s", before, after)
	}

	// A replayed callback: used; the name claim of an unusable shape: refused.
	b = h.selfBrowser()
	op.username, op.groups = "hana", []string{"helpdesk"}
	res, _ := b.get("/console/login")
	res, _ = b.get(res.Header.Get("Location"))
	cb := res.Header.Get("Location")
	login, _ := url.Parse(h.srv.URL + "/console/callback")
	saved := b.c.Jar.Cookies(login)
	if res, _ := b.get(cb); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback %d", res.StatusCode)
	}
	replay := h.selfBrowser()
	replay.c.Jar.SetCookies(login, saved)
	if res, body := replay.get(cb); res.StatusCode != http.StatusConflict || !strings.Contains(body, "login_used") {
		t.Fatalf("a replayed callback: %d\n%s", res.StatusCode, body)
	}
	if res, body := h.selfBrowser().staffLogin(op, "hana <script>", "helpdesk"); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "login_user") || strings.Contains(body, "<script>") {
		t.Fatalf("an unusable staff name: %d\n%s", res.StatusCode, body)
	}
}

// Without [console] there is no staff sign-in: the routes do not exist.
func TestConsoleWithoutStaffSignIn(t *testing.T) {
	h := newHarness(t)
	h.want(h.do("GET", "/console/api/session", "", ""), 404, "not_found")
	h.want(h.do("GET", "/console/v1/users/"+user, tokAdmin, ""), 404, "not_found")
}

// BenchmarkStaffSessionGetUser is the cost of the staff session: a user
// read (GET /v1/users/{user}) with a bearer token, and the same read
// through /console/v1 with a staff session cookie (one more indexed
// read of the session table), over real HTTP on loopback.
func BenchmarkStaffSessionGetUser(b *testing.B) {
	h, op := newConsoleHarness(b)
	h.addTOTP()
	desk := h.selfBrowser()
	desk.staffSignIn(op, "hana", "enroll", "helpdesk")
	for _, bc := range []struct {
		name, path string
		c          *http.Client
		token      string
	}{
		{"token", "/v1/users/" + user, h.srv.Client(), tokEnroll},
		{"staff_session", "/console/v1/users/" + user, desk.c, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("GET", h.srv.URL+bc.path, nil)
				if bc.token != "" {
					req.Header.Set("Authorization", "Bearer "+bc.token)
				}
				res, err := bc.c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("%s: %d", bc.path, res.StatusCode)
				}
			}
		})
	}
}
