package api_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/api"
	"mfagate/device"
	"mfagate/kiosk"
	"mfagate/mfa"
)

const otherUser = "9876543210"

// testKeys lists one key, at testKeyPath, that is never touched: an
// operation on it waits until it is cancelled.
type testKeys struct{}

const testKeyPath = "/dev/test-key"

func (testKeys) Devices() []device.Info {
	return []device.Info{{Path: testKeyPath, Product: "Test key", Versions: []string{"FIDO_2_0"}, MinPINLength: 4, PINRetries: -1}}
}

func (testKeys) Key(path string) (kiosk.Key, bool) {
	if path != testKeyPath {
		return nil, false
	}
	return untouchedKey{}, true
}

type untouchedKey struct{}

func (untouchedKey) Info(context.Context) (device.Info, error) { return testKeys{}.Devices()[0], nil }
func (untouchedKey) SetPIN(context.Context, string) error      { return nil }
func (untouchedKey) ChangePIN(context.Context, string, string) error {
	return nil
}
func (untouchedKey) MakeCredential(ctx context.Context, _ device.MakeCredentialRequest) (device.Registration, error) {
	<-ctx.Done()
	return device.Registration{}, fmt.Errorf("%w (%w)", device.ErrCancelled, ctx.Err())
}
func (untouchedKey) GetAssertion(ctx context.Context, _ device.AssertionRequest) (device.Assertion, error) {
	<-ctx.Done()
	return device.Assertion{}, fmt.Errorf("%w (%w)", device.ErrCancelled, ctx.Err())
}
func (untouchedKey) Close() error { return nil }

// kioskHarness is the harness with a real kiosk (one untouched key plugged
// in) and one session opened by the enroll client "kiosk" for user.
type kioskHarness struct {
	*harness
	sess string
}

func newKioskHarness(t *testing.T, tweak ...func(*mfa.Policy)) *kioskHarness {
	t.Helper()
	h := newHarness(t, tweak...)
	k := kiosk.New(kiosk.Options{Service: h.svc, Keys: testKeys{}, Now: h.clock.Now,
		Policy: kiosk.Policy{SessionTTL: 15 * time.Minute, MinPINLength: 6}})
	client := func(name, tok string, roles ...api.Role) api.Client {
		return api.Client{Name: name, TokenHash: sha256.Sum256([]byte(tok)), Roles: roles}
	}
	s := api.New(api.Options{Service: h.svc, Kiosk: k, Clients: []api.Client{
		client("idp", tokIDP, api.RoleIDP), client("kiosk", tokEnroll, api.RoleEnroll), client("ops", tokAdmin, api.RoleAdmin),
	}})
	h.srv.Close()
	h.srv = httptest.NewServer(s.Handler())
	r := h.do("POST", "/v1/kiosk/sessions", tokEnroll, `{"user":"`+user+`"}`)
	h.want(r, 201, "")
	if !strings.HasPrefix(r.str("url"), "/kiosk/e_") {
		t.Fatalf("session url %q", r.str("url"))
	}
	return &kioskHarness{harness: h, sess: r.str("url")}
}

// page calls a session-scoped route without any bearer token.
func (k *kioskHarness) page(method, path, body string) resp {
	k.t.Helper()
	return k.do(method, k.sess+"/api"+path, "", body)
}

func (k *kioskHarness) get(path string) (*http.Response, string) {
	k.t.Helper()
	res, err := k.srv.Client().Get(k.srv.URL + path)
	if err != nil {
		k.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// otherTOTP gives the other user a confirmed authenticator app and an open
// challenge, made directly through the service.
func (k *kioskHarness) otherTOTP() (method, challenge string) {
	k.t.Helper()
	ctx := context.Background()
	res, err := k.svc.AddMethod(ctx, mfa.Actor{Name: "test"}, otherUser, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "other"})
	if err != nil {
		k.t.Fatal(err)
	}
	if _, err := k.svc.ConfirmMethod(ctx, mfa.Actor{Name: "test"}, otherUser, res.Method.ID, mfa.ConfirmRequest{Code: totpCode(res.TOTP.Secret, k.clock.Now())}); err != nil {
		k.t.Fatal(err)
	}
	c, err := k.svc.CreateChallenge(ctx, mfa.Actor{Name: "test"}, otherUser, mfa.ChallengeRequest{Purpose: mfa.PurposeTest})
	if err != nil {
		k.t.Fatal(err)
	}
	return res.Method.ID, c.ID
}

// The session is the credential: an unknown or expired one is refused, and
// a valid one reaches only its own user's methods and challenges.
func TestKioskPageCapability(t *testing.T) {
	k := newKioskHarness(t)
	unknown := "/kiosk/e_" + strings.Repeat("a", 26) + "/api"
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/state", ""},
		{"POST", "/methods", `{"kind":"totp"}`},
		{"POST", "/challenges", `{}`},
		{"GET", "/devices", ""},
		{"GET", "/events", ""},
		{"PUT", "/mfa", `{"enabled":true}`},
	} {
		k.want(k.do(c.method, unknown+c.path, "", c.body), 404, "unknown_session")
	}

	r := k.page("GET", "/state", "")
	k.want(r, 200, "")
	if u := r.body["user"].(map[string]any); u["user"] != user || r.body["session"].(map[string]any)["min_pin_length"] != float64(6) {
		t.Fatalf("state: %s", r.raw)
	}

	m, c := k.otherTOTP()
	k.want(k.page("POST", "/methods/"+m+"/confirm", `{"code":"123456"}`), 404, "unknown_method")
	k.want(k.page("PUT", "/default-method", `{"method":"`+m+`"}`), 404, "unknown_method")
	k.want(k.page("DELETE", "/methods/"+m, ""), 404, "unknown_method")
	k.want(k.page("GET", "/challenges/"+c+"?wait=0s", ""), 404, "unknown_challenge")
	k.want(k.page("POST", "/challenges/"+c+"/verify", `{"code":"123456"}`), 404, "unknown_challenge")
	k.want(k.page("POST", "/assert", `{"device":"/dev/x","pin":"1234","challenge":"`+c+`"}`), 404, "unknown_challenge")
	// The other user's challenge is untouched: still open with every attempt.
	if got, _ := k.svc.Challenge(context.Background(), c); got.Status.Final() || got.AttemptsLeft != 5 {
		t.Fatalf("other user's challenge changed: %+v", got)
	}

	// What the kiosk does is recorded as the kiosk acting for the staff client.
	k.want(k.page("POST", "/methods", `{"kind":"totp","label":"app"}`), 201, "")
	k.want(k.page("POST", "/challenges", `{"method":"`+m+`"}`), 404, "unknown_method")
	es, err := k.svc.Events(context.Background(), mfa.EventFilter{User: user})
	if err != nil || len(es) == 0 || es[0].Actor != "kiosk:kiosk" {
		t.Fatalf("audit: %+v %v", es, err)
	}

	// After the session's lifetime everything is refused, the page included.
	k.clock.Advance(16 * time.Minute)
	k.want(k.page("GET", "/state", ""), 410, "session_expired")
	k.want(k.page("POST", "/methods", `{"kind":"totp"}`), 410, "session_expired")
	res, body := k.get(k.sess)
	if res.StatusCode != 410 || !strings.Contains(body, "kiosk.js") {
		t.Fatalf("expired page: %d", res.StatusCode)
	}
}

// Bad input gets a specific problem, and a refused request changes nothing.
func TestKioskPageBadInput(t *testing.T) {
	k := newKioskHarness(t)
	before := k.state()
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/methods", `{"kind":"email"}`, 422, "method_not_allowed_for_signin"},
		{"POST", "/methods", `{"kind":"app_password"}`, 422, "method_not_allowed_for_signin"},
		{"POST", "/methods", `{"kind":"phone","slot":"mobile","phone":"12","channel":"sms"}`, 422, "invalid_phone"},
		{"POST", "/methods", `{"kind":"phone","slot":"office","phone":"03-1234-5678","channel":"sms"}`, 422, "not_a_mobile_number"},
		{"POST", "/methods", `{"kind":"phone","slot":"desk","phone":"090-1234-5678"}`, 400, "invalid_request"},
		{"POST", "/methods", `{"kind":"totp","user":"9876543210"}`, 400, "unknown_field"},
		{"POST", "/methods", `{"kind":"fido"}`, 422, "unsupported_method_kind"},
		{"POST", "/methods", `not json`, 400, "malformed_json"},
		{"POST", "/challenges", `{"purpose":"signin"}`, 400, "invalid_request"},
		{"POST", "/challenges", `{"kind":"fido"}`, 400, "invalid_request"},
		{"POST", "/challenges", `{}`, 409, "no_confirmed_method"},
		{"POST", "/challenges/c_nope/verify", `{}`, 400, "invalid_request"},
		{"GET", "/challenges/c_nope?wait=1h", "", 400, "invalid_request"},
		{"GET", "/challenges/c_nope?user=" + user, "", 400, "unknown_field"},
		{"PUT", "/default-method", `{}`, 400, "invalid_request"},
		{"PUT", "/mfa", `{"enabled":false}`, 400, "invalid_request"},
		{"PUT", "/mfa", `{"enabled":true}`, 409, "no_confirmed_method"},
		{"POST", "/enroll", `{"pin":"123456"}`, 400, "invalid_request"},
		{"POST", "/enroll", `{"device":"/dev/x"}`, 400, "invalid_request"},
		{"POST", "/assert", `{"device":"/dev/x"}`, 400, "invalid_request"},
	} {
		r := k.page(c.method, c.path, c.body)
		if r.status != c.status || r.code() != c.code {
			t.Errorf("%s %s %s: got %d %q, want %d %q: %s", c.method, c.path, c.body, r.status, r.code(), c.status, c.code, r.str("detail"))
		}
	}
	if after := k.state(); after != before {
		t.Fatalf("refused requests changed the user:\n%s\n%s", before, after)
	}
}

// The setup guide's steps through the page's routes: an app registered
// (its secret shown only at registration), the single-method warning, a
// wrong and a right code in the test sign-in, then applying for MFA.
func TestKioskPageSteps(t *testing.T) {
	k := newKioskHarness(t)
	r := k.page("POST", "/methods", `{"kind":"totp","label":"Authenticator app","language":"en"}`)
	k.want(r, 201, "")
	totp := r.body["totp"].(map[string]any)
	secret := totp["secret"].(string)
	if secret == "" || totp["qr_png"] == "" {
		t.Fatalf("registration lacks the QR code or key: %s", r.raw)
	}
	id := r.body["method"].(map[string]any)["id"].(string)
	k.want(k.page("POST", "/methods/"+id+"/confirm", `{"code":"12345"}`), 422, "invalid_code_format")
	k.want(k.page("POST", "/methods/"+id+"/confirm", `{"code":"`+totpCode(secret, k.clock.Now())+`"}`), 200, "")

	r = k.page("GET", "/state", "")
	if strings.Contains(string(r.raw), secret) {
		t.Fatal("the state shows the TOTP secret after registration")
	}
	u := r.body["user"].(map[string]any)
	if u["default_method"] != id || !strings.Contains(string(r.raw), `"warnings":["single_method"]`) {
		t.Fatalf("after the first method: %s", r.raw)
	}

	k.want(k.page("PUT", "/mfa", `{"enabled":true}`), 409, "no_test_signin")
	k.clock.Advance(30 * time.Second)
	r = k.page("POST", "/challenges", `{}`)
	k.want(r, 201, "")
	if r.str("purpose") != "test" || r.str("method") != id {
		t.Fatalf("test sign-in challenge: %s", r.raw)
	}
	c := r.str("id")
	r = k.page("POST", "/challenges/"+c+"/verify", `{"code":"000000"}`)
	if totpCode(secret, k.clock.Now()) != "000000" {
		k.want(r, 422, "invalid_code")
		if r.body["attempts_left"] != float64(4) {
			t.Fatalf("attempts_left: %s", r.raw)
		}
	}
	r = k.page("POST", "/challenges/"+c+"/verify", `{"code":"`+totpCode(secret, k.clock.Now())+`"}`)
	k.want(r, 200, "")
	k.want(k.page("GET", "/challenges/"+c, ""), 200, "")
	r = k.page("PUT", "/mfa", `{"enabled":true}`)
	k.want(r, 200, "")
	if m := r.body["mfa"].(map[string]any); m["state"] != "pending" || m["activates_at"] == nil {
		t.Fatalf("apply: %s", r.raw)
	}
	// MFA is on: a new method needs a proof, here the approved test.
	k.want(k.page("POST", "/methods", `{"kind":"totp"}`), 403, "proof_required")
	k.want(k.page("POST", "/methods", `{"kind":"totp","proof":"`+c+`"}`), 201, "")
}

var externalURL = regexp.MustCompile(`(?i)https?:|//[a-z0-9-]+\.[a-z]{2,}/|@import|url\(`)

// The page and its assets are served with their content types and the
// page's security headers, and load nothing from outside.
func TestKioskPageAssets(t *testing.T) {
	k := newKioskHarness(t)
	for _, c := range []struct {
		path, ctype string
		status      int
	}{
		{k.sess, "text/html; charset=utf-8", 200},
		{"/kiosk/e_" + strings.Repeat("b", 26), "text/html; charset=utf-8", 404},
		{"/kiosk/status", "text/html; charset=utf-8", 200},
		{"/kiosk/assets/kiosk.js", "text/javascript; charset=utf-8", 200},
		{"/console", "text/html; charset=utf-8", 200},
		{"/console/assets/console.js", "text/javascript; charset=utf-8", 200},
		{"/console/assets/strings.js", "text/javascript; charset=utf-8", 200},
		{"/console/assets/console.html", "application/problem+json", 404},
		{"/kiosk/assets/status.js", "text/javascript; charset=utf-8", 200},
		{"/kiosk/assets/kiosk.css", "text/css; charset=utf-8", 200},
		{"/kiosk/assets/index.html", "application/problem+json", 404},
		{"/kiosk/assets/nope.js", "application/problem+json", 404},
	} {
		res, body := k.get(c.path)
		if res.StatusCode != c.status || res.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, res.StatusCode, res.Header.Get("Content-Type"), c.status, c.ctype)
			continue
		}
		if c.status != 200 && c.ctype != "text/html; charset=utf-8" {
			continue
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
		if res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: security headers %v", c.path, res.Header)
		}
		if m := externalURL.FindString(body); m != "" {
			t.Errorf("GET %s refers outside: %q", c.path, m)
		}
		if strings.HasSuffix(c.ctype, "html; charset=utf-8") {
			for _, ref := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(body, -1) {
				if !strings.HasPrefix(ref[1], "/kiosk/assets/") && !(c.path == "/console" && strings.HasPrefix(ref[1], "/console/assets/")) {
					t.Errorf("GET %s loads %q", c.path, ref[1])
				}
			}
		}
	}
}

// The staff status needs a staff or admin token and holds no user data.
func TestKioskStatus(t *testing.T) {
	k := newKioskHarness(t)
	k.want(k.do("GET", "/v1/kiosk/status", "", ""), 401, "unauthorized")
	k.want(k.do("GET", "/v1/kiosk/status", tokIDP, ""), 403, "forbidden")
	r := k.do("GET", "/v1/kiosk/status", tokEnroll, "")
	k.want(r, 200, "")
	if r.string() != `{"modems":[],"keys":[{"product":"Test key","pin_set":false}],"outbox":{"queued":0,"sending":0,"oldest_queued_age_seconds":0}}`+"\n" {
		t.Fatalf("status: %s", r.raw)
	}
}

// The page follows security-key progress as server-sent events of its own
// session, the current state first.
func TestKioskPageEvents(t *testing.T) {
	k := newKioskHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", k.srv.URL+k.sess+"/api/events", nil)
	res, err := k.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	buf := make([]byte, 4096)
	var got string
	for !strings.Contains(got, "\n\n") {
		n, err := res.Body.Read(buf)
		if err != nil {
			t.Fatalf("read events: %v (so far %q)", err, got)
		}
		got += string(buf[:n])
	}
	if !strings.HasPrefix(got, "event: state\n") || !strings.Contains(got, `"state":"ready"`) || !strings.Contains(got, `"user":"`+user+`"`) {
		t.Fatalf("first event: %q", got)
	}
}
