package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"mfagate/api"
	"mfagate/fido"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/selfservice"
)

const (
	selfOrigin = "https://mfa.example.ac.jp"
	selfRPID   = "mfa.example.ac.jp"
)

func browserPolicy() fido.Policy {
	return fido.Policy{RPID: selfRPID, RPName: "Example University", Origin: selfOrigin, UserVerification: fido.UVRequired}
}

// newSelfHarness is a gateway with the Security info page on: links,
// passkeys under the browser policy, and login when rp is given.
func newSelfHarness(t *testing.T, rp func(h *harness, base string) *selfservice.RP) *harness {
	t.Helper()
	h := &harness{t: t, path: t.TempDir() + "/mfagate.db"}
	h.clock = mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))
	h.keys, _ = mfa.NewKeys(bytes.Repeat([]byte{7}, 32))
	h.self = func(h *harness, base string) *api.SelfService {
		s := &api.SelfService{Sessions: selfservice.New(selfservice.Options{Store: h.db, Now: h.clock.Now}), Links: true,
			Passkeys: api.NewPasskeys(browserPolicy())}
		if rp != nil {
			s.Login = rp(h, base)
		}
		return s
	}
	h.open(testPolicy())
	return h
}

// selfBrowser is one person's browser: a cookie jar, redirects not followed,
// and the CSRF token once the page has read its state.
type selfBrowser struct {
	h    *harness
	c    *http.Client
	csrf string
}

func (h *harness) selfBrowser() *selfBrowser {
	jar, _ := cookiejar.New(nil)
	return &selfBrowser{h: h, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches a page (or any URL) as a navigation.
func (b *selfBrowser) get(rawURL string) (*http.Response, string) {
	b.h.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = b.h.srv.URL + rawURL
	}
	res, err := b.c.Get(rawURL)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// call is one of the page's fetches under /me/api; csrf adds the header.
func (b *selfBrowser) call(method, path, body string, csrf bool) resp {
	b.h.t.Helper()
	req, _ := http.NewRequest(method, b.h.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		json.Unmarshal(raw, &r.body)
	}
	if r.status >= 400 && (res.Header.Get("Content-Type") != "application/problem+json" || r.code() == "" || r.str("detail") == "") {
		b.h.t.Fatalf("%s %s: error %d is not a problem with code and detail: %s", method, path, r.status, raw)
	}
	return r
}

// link asks for a one-time link as an identity provider would.
func (h *harness) link(u string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/users/"+u+"/selfservice-links", tokEnroll, `{}`)
	h.want(r, 201, "")
	return r.str("url")
}

// signIn opens a fresh link in b and reads the page's state.
func (b *selfBrowser) signIn() {
	b.h.t.Helper()
	res, _ := b.get(b.h.link(user))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" {
		b.h.t.Fatalf("opening the link: %d to %q, want 303 to /me", res.StatusCode, res.Header.Get("Location"))
	}
	r := b.call("GET", "/me/api/state", "", false)
	b.h.want(r, 200, "")
	b.csrf = r.str("csrf")
}

func (h *harness) cookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSelfServiceLink(t *testing.T) {
	h := newSelfHarness(t, nil)
	r := h.do("POST", "/v1/users/"+user+"/selfservice-links", tokEnroll, `{}`)
	h.want(r, 201, "")
	u := r.str("url")
	exp, err := time.Parse(time.RFC3339, r.str("expires_at"))
	if !strings.HasPrefix(u, "/me/link/") || err != nil || !exp.Equal(h.clock.Now().Add(time.Minute).Truncate(time.Second)) && exp.Sub(h.clock.Now()) != time.Minute {
		t.Fatalf("link answer %s: want url /me/link/… valid one minute", r.raw)
	}
	if tok := strings.TrimPrefix(u, "/me/link/"); len(tok) < 22 {
		t.Fatalf("link token %q is shorter than 128 bits", tok)
	}
	h.want(h.do("POST", "/v1/users/"+user+"/selfservice-links", tokIDP, `{}`), 403, "forbidden")
	h.want(h.do("POST", "/v1/users/12345/selfservice-links", tokEnroll, `{}`), 400, "invalid_user_id")
	h.want(h.do("POST", "/v1/users/"+user+"/selfservice-links", tokEnroll, `{"user":"9876543210"}`), 400, "unknown_field")

	b := h.selfBrowser()
	// The page itself does not depend on the cookie.
	res, body := b.get("/me")
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("GET /me without a session: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	_ = body
	res, _ = b.get(u)
	c := h.cookie(res, "mfagate_self")
	switch {
	case res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me":
		t.Fatalf("opening the link: %d to %q", res.StatusCode, res.Header.Get("Location"))
	case c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/me" || c.MaxAge != 900 || c.Secure || len(c.Value) < 43:
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path /me, Max-Age 900, not Secure over http", c)
	case res.Header.Get("Referrer-Policy") != "no-referrer":
		t.Fatal("the link's answer lets the Referer carry the token")
	}
	r = b.call("GET", "/me/api/state", "", false)
	h.want(r, 200, "")
	if got := r.body["user"].(map[string]any)["user"]; got != user || r.str("csrf") == "" || r.body["code_length"] != float64(6) ||
		r.body["signin"].(map[string]any)["links"] != true || r.body["signin"].(map[string]any)["oidc"] != false {
		t.Fatalf("state %s", r.raw)
	}
	// The sign-in is audited with the page's actor.
	ev := jsonArray(t, h.do("GET", "/v1/audit?user="+user, tokAdmin, "").raw)
	if len(ev) == 0 || ev[0]["type"] != "external_signin" || ev[0]["actor"] != "self:"+user || !strings.Contains(ev[0]["detail"].(string), "via=link") {
		t.Fatalf("newest audit event %v, want external_signin by self:%s via=link", ev[0], user)
	}

	// Used twice: a page saying so, and no session for the second browser.
	other := h.selfBrowser()
	res, body = other.get(u)
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "link_used") || !strings.Contains(body, "already been used") || h.cookie(res, "mfagate_self") != nil {
		t.Fatalf("a used link: %d, cookie %v\n%s", res.StatusCode, h.cookie(res, "mfagate_self"), body)
	}
	h.want(other.call("GET", "/me/api/state", "", false), 401, "no_session")
	res, body = other.get("/me/link/" + strings.Repeat("A", 43))
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "unknown_link") {
		t.Fatalf("an unknown link: %d\n%s", res.StatusCode, body)
	}
	res, _ = other.get("/me/link/%3Cscript%3E")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("a malformed link: %d", res.StatusCode)
	}
	// Expired: a minute passes.
	late := h.link(user)
	h.clock.Advance(61 * time.Second)
	res, body = other.get(late)
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "link_expired") || h.cookie(res, "mfagate_self") != nil {
		t.Fatalf("an expired link: %d\n%s", res.StatusCode, body)
	}
	m := h.do("GET", "/metrics", "", "")
	for _, want := range []string{`mfagate_selfservice_requests_total{action="link",result="link_used"} 1`, `mfagate_selfservice_requests_total{action="link",result="ok"} 1`,
		`mfagate_selfservice_requests_total{action="link",result="link_expired"} 1`, `mfagate_selfservice_requests_total{action="state",result="no_session"} 1`} {
		if !strings.Contains(string(m.raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestSelfServiceSession(t *testing.T) {
	h := newSelfHarness(t, nil)
	anon := h.selfBrowser()
	r := anon.call("GET", "/me/api/state", "", false)
	h.want(r, 401, "no_session")
	if s, _ := r.body["signin"].(map[string]any); s == nil || s["links"] != true || !strings.Contains(r.str("detail"), "new link") {
		t.Fatalf("no_session answer %s: want a signin member and how to get back in", r.raw)
	}
	// A forged cookie of the right shape.
	forged := h.selfBrowser()
	u, _ := url.Parse(h.srv.URL + "/me")
	forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: "mfagate_self", Value: base64.RawURLEncoding.EncodeToString(make([]byte, 32)), Path: "/me"}})
	h.want(forged.call("GET", "/me/api/state", "", false), 401, "no_session")

	b := h.selfBrowser()
	b.signIn()
	before := h.state()
	// Signed out: the cookie is cleared and the session gone on the server.
	r = b.call("POST", "/me/api/logout", "", true)
	h.want(r, 204, "")
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "mfagate_self=;") || !strings.Contains(c, "Max-Age=0") {
		t.Fatalf("logout Set-Cookie %q does not clear the cookie", c)
	}
	h.want(b.call("GET", "/me/api/state", "", false), 401, "no_session")

	// An old copy of the cookie, replayed after signing out, opens nothing.
	c := h.selfBrowser()
	c.signIn()
	jarCookies := c.c.Jar.Cookies(u)
	h.want(c.call("POST", "/me/api/logout", "", true), 204, "")
	replay := h.selfBrowser()
	replay.c.Jar.SetCookies(u, jarCookies)
	replay.csrf = c.csrf
	h.want(replay.call("POST", "/me/api/methods", `{"kind":"totp"}`, true), 401, "no_session")

	// Expired: 15 minutes later.
	d := h.selfBrowser()
	d.signIn()
	h.clock.Advance(15*time.Minute + time.Second)
	r = d.call("PUT", "/me/api/mfa", `{"enabled":true}`, true)
	h.want(r, 401, "no_session")
	if !strings.Contains(r.str("detail"), "has ended") {
		t.Fatalf("an expired session's detail %q does not say it ended", r.str("detail"))
	}
	if after := h.state(); after != before {
		t.Fatalf("refused requests changed the user:\n%s\n%s", before, after)
	}
}

// Every state-changing route refuses a missing or wrong CSRF token with
// 403 csrf and changes nothing, and no route of the page answers without
// a session.
func TestSelfServiceCSRF(t *testing.T) {
	h := newSelfHarness(t, nil)
	b := h.selfBrowser()
	b.signIn()
	appID, _ := h.addTOTP()
	before := h.state()
	routes := []struct{ method, path, body string }{
		{"POST", "/me/api/logout", ""},
		{"POST", "/me/api/methods", `{"kind":"totp","label":"second"}`},
		{"POST", "/me/api/methods/" + appID + "/confirm", `{"code":"123456"}`},
		{"PATCH", "/me/api/methods/" + appID, `{"label":"renamed"}`},
		{"DELETE", "/me/api/methods/" + appID, ""},
		{"PUT", "/me/api/default-method", `{"method":"` + appID + `"}`},
		{"PUT", "/me/api/mfa", `{"enabled":true}`},
		{"POST", "/me/api/challenges", `{"purpose":"test"}`},
		{"POST", "/me/api/challenges/c_x/verify", `{"code":"123456"}`},
		{"POST", "/me/api/passkeys/options", `{}`},
		{"POST", "/me/api/passkeys", `{"ceremony":"r_x","credential":{}}`},
	}
	good := b.csrf
	for _, rt := range routes {
		for _, tok := range []string{"", "forged-" + good[7:], good + "x"} {
			b.csrf = tok
			r := b.call(rt.method, rt.path, rt.body, tok != "")
			if r.status != 403 || r.code() != "csrf" {
				t.Errorf("%s %s with CSRF token %q: %d %s, want 403 csrf", rt.method, rt.path, tok, r.status, r.raw)
			}
		}
		b.csrf = good
		// Without a session the answer is no_session, token or not.
		anon := h.selfBrowser()
		anon.csrf = good
		if r := anon.call(rt.method, rt.path, rt.body, true); r.status != 401 || r.code() != "no_session" {
			t.Errorf("%s %s without a session: %d %s, want 401 no_session", rt.method, rt.path, r.status, r.raw)
		}
	}
	if after := h.state(); after != before {
		t.Fatalf("refused requests changed the user:\n%s\n%s", before, after)
	}
	h.want(b.call("GET", "/me/api/state", "", false), 200, "") // still signed in: logout was refused too
}

// The page's operations act for the session's user as self:<user>, with
// the proof rule once MFA is on.
func TestSelfServiceMethods(t *testing.T) {
	h := newSelfHarness(t, nil)
	b := h.selfBrowser()
	b.signIn()
	r := b.call("POST", "/me/api/methods", `{"kind":"totp","label":"my phone"}`, true)
	h.want(r, 201, "")
	id := r.body["method"].(map[string]any)["id"].(string)
	secret := r.body["totp"].(map[string]any)["secret"].(string)
	h.want(b.call("POST", "/me/api/methods/"+id+"/confirm", `{"code":"`+totpCode(secret, h.clock.Now())+`"}`, true), 200, "")
	h.want(b.call("PUT", "/me/api/default-method", `{"method":"`+id+`"}`, true), 200, "")
	h.clock.Advance(30 * time.Second)
	r = b.call("POST", "/me/api/challenges", `{"purpose":"test"}`, true)
	h.want(r, 201, "")
	cid := r.str("id")
	h.want(b.call("POST", "/me/api/challenges/"+cid+"/verify", `{"code":"`+totpCode(secret, h.clock.Now())+`"}`, true), 200, "")
	h.want(b.call("POST", "/me/api/challenges", `{"purpose":"signin"}`, true), 400, "invalid_request")
	r = b.call("PUT", "/me/api/mfa", `{"enabled":true}`, true)
	h.want(r, 200, "")
	if r.body["mfa"].(map[string]any)["state"] != "pending" {
		t.Fatalf("after applying: %s", r.raw)
	}
	// Now a change needs a proof.
	h.want(b.call("POST", "/me/api/methods", `{"kind":"totp","label":"second"}`, true), 403, "proof_required")
	h.clock.Advance(30 * time.Second)
	r = b.call("POST", "/me/api/challenges", `{"purpose":"proof","method":"`+id+`"}`, true)
	h.want(r, 201, "")
	proof := r.str("id")
	h.want(b.call("POST", "/me/api/challenges/"+proof+"/verify", `{"code":"`+totpCode(secret, h.clock.Now())+`"}`, true), 200, "")
	h.want(b.call("POST", "/me/api/methods", `{"kind":"totp","label":"second","proof":"`+proof+`"}`, true), 201, "")
	ev := jsonArray(t, h.do("GET", "/v1/audit?user="+user+"&limit=1", tokAdmin, "").raw)
	if ev[0]["type"] != "method_added" || ev[0]["actor"] != "self:"+user {
		t.Fatalf("newest audit event %v, want method_added by self:%s", ev[0], user)
	}
	// Another user's challenge is not this session's.
	other := h.do("POST", "/v1/users/9876543210/methods", tokEnroll, `{"kind":"totp"}`)
	h.want(other, 201, "")
	h.want(b.call("GET", "/me/api/challenges/"+cid, "", false), 200, "")
	h.addTOTPFor("9876543210")
	oc := h.do("POST", "/v1/users/9876543210/challenges", tokIDP, `{"purpose":"test"}`)
	h.want(oc, 201, "")
	h.want(b.call("GET", "/me/api/challenges/"+oc.str("id"), "", false), 404, "unknown_challenge")
	h.want(b.call("POST", "/me/api/challenges/"+oc.str("id")+"/verify", `{"code":"000000"}`, true), 404, "unknown_challenge")
}

// addTOTPFor registers and confirms an app for another user.
func (h *harness) addTOTPFor(u string) {
	h.t.Helper()
	r := h.do("POST", "/v1/users/"+u+"/methods", tokEnroll, `{"kind":"totp"}`)
	h.want(r, 201, "")
	id := r.body["method"].(map[string]any)["id"].(string)
	h.want(h.do("POST", "/v1/users/"+u+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+totpCode(r.body["totp"].(map[string]any)["secret"].(string), h.clock.Now())+`"}`), 200, "")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
