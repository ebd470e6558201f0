package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"mfagate/api"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/postgres"
	"mfagate/store/postgres/pgtest"
	"mfagate/store/sqlite"
)

// appCode is the code an authenticator app shows at t, computed by
// pquerna/otp rather than by the server's own TOTP code.
func appCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signinGate is a gateway on a given store behind a real HTTP listener,
// for the one-request sign-in on both backends.
type signinGate struct {
	t     *testing.T
	url   string
	clock *mfatest.Clock
}

func newSigninGate(t *testing.T, store mfa.Store) *signinGate {
	p := testPolicy()
	p.MaxConsecutiveFailures = 3
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{7}, 32))
	clock := mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))
	m := metrics.New()
	svc, err := mfa.New(mfa.Options{Store: store, Keys: keys, Policy: p, Now: clock.Now, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	sender := mfatest.NewSender("sim0")
	sender.Service = svc
	svc.SetSender(sender)
	client := func(name, tok string, roles ...api.Role) api.Client {
		return api.Client{Name: name, TokenHash: sha256.Sum256([]byte(tok)), Roles: roles}
	}
	s := api.New(api.Options{Service: svc, Metrics: m, Clients: []api.Client{
		client("idp", tokIDP, api.RoleIDP), client("kiosk", tokEnroll, api.RoleEnroll), client("ops", tokAdmin, api.RoleAdmin)}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &signinGate{t: t, url: srv.URL, clock: clock}
}

// do sends one request; a refusal must be problem+json with its code.
func (g *signinGate) do(method, path, token, body string) resp {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url+path, strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			g.t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	}
	if r.status >= 400 && (res.Header.Get("Content-Type") != "application/problem+json" || r.code() == "" || r.str("detail") == "") {
		g.t.Fatalf("%s %s: refusal %d is not a problem with a code: %s", method, path, r.status, raw)
	}
	return r
}

func (g *signinGate) want(r resp, status int, code string) {
	g.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		g.t.Fatalf("got %d %q, want %d %q\n%s", r.status, r.code(), status, code, r.raw)
	}
}

// user is the user as an admin sees it, for before/after comparisons.
func (g *signinGate) user(id string) resp {
	g.t.Helper()
	r := g.do("GET", "/v1/users/"+id, tokAdmin, "")
	g.want(r, 200, "")
	return r
}

func (g *signinGate) failures(id string) int {
	g.t.Helper()
	return int(g.user(id).body["mfa"].(map[string]any)["consecutive_failures"].(float64))
}

// metric is the sum of the series of a counter whose label set contains
// every one of labels.
func (g *signinGate) metric(name string, labels ...string) float64 {
	g.t.Helper()
	r := g.do("GET", "/metrics", tokAdmin, "")
	var sum float64
	for _, l := range strings.Split(string(r.raw), "\n") {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		ok := true
		for _, want := range labels {
			ok = ok && strings.Contains(l, want)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
		if err != nil {
			g.t.Fatalf("metric line %q: %v", l, err)
		}
		sum += v
	}
	return sum
}

// events counts the user's audit events of a type.
func (g *signinGate) events(id, typ string) int {
	g.t.Helper()
	r := g.do("GET", "/v1/audit?user="+id+"&limit=500", tokAdmin, "")
	g.want(r, 200, "")
	n := 0
	for _, e := range jsonArray(g.t, r.raw) {
		if e["type"] == typ {
			n++
		}
	}
	return n
}

// addApp registers and confirms an authenticator app for id.
func (g *signinGate) addApp(id string) (method, secret string) {
	g.t.Helper()
	r := g.do("POST", "/v1/users/"+id+"/methods", tokEnroll, `{"kind":"totp","label":"app"}`)
	g.want(r, 201, "")
	method = r.body["method"].(map[string]any)["id"].(string)
	secret = r.body["totp"].(map[string]any)["secret"].(string)
	g.want(g.do("POST", "/v1/users/"+id+"/methods/"+method+"/confirm", tokEnroll, `{"code":"`+appCode(g.t, secret, g.clock.Now())+`"}`), 200, "")
	g.clock.Advance(30 * time.Second) // the confirmation used this step
	return method, secret
}

func TestOneRequestSignInSQLite(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testOneRequestSignIn(t, db)
}

func TestOneRequestSignInPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	if errors.Is(err, pgtest.ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	name, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, srv.DSN(name), srv.PasswordFile())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testOneRequestSignIn(t, db)
}

func testOneRequestSignIn(t *testing.T, store mfa.Store) {
	g := newSigninGate(t, store)
	const alice, bob, nobody = "0000000001", "0000000002", "0000000009"
	path := "/v1/users/" + alice + "/verify"
	app, secret := g.addApp(alice)
	_, bobSecret := g.addApp(bob)

	// Bad bodies and bad requests: specific codes, nothing changed.
	before := string(g.user(alice).raw)
	for _, c := range []struct {
		token, body string
		status      int
		code        string
	}{
		{"", `{"code":"123456"}`, 401, "unauthorized"},
		{tokIDP, ``, 400, "malformed_json"},
		{tokIDP, `{"code":"123456"`, 400, "malformed_json"},
		{tokIDP, `{"code":123456}`, 400, "invalid_type"},
		{tokIDP, `{"code":"123456","pin":"1"}`, 400, "unknown_field"},
		{tokIDP, `{}`, 400, "invalid_request"},
		{tokIDP, `{"code":"123456","purpose":"proof"}`, 400, "invalid_request"},
		{tokIDP, `{"code":"12a456"}`, 422, "invalid_code_format"},
		{tokIDP, `{"code":"1234567"}`, 422, "invalid_code_format"},
		{tokIDP, `{"code":"123456","method":"m_nothere"}`, 404, "unknown_method"},
	} {
		r := g.do("POST", path, c.token, c.body)
		if r.status != c.status || r.code() != c.code {
			t.Fatalf("%s: got %d %q, want %d %q: %s", c.body, r.status, r.code(), c.status, c.code, r.raw)
		}
	}
	if after := string(g.user(alice).raw); after != before {
		t.Fatalf("a refused request changed the user:\n%s\n%s", before, after)
	}
	if n := g.events(alice, "verification_failed"); n != 0 {
		t.Fatalf("a refused request counted as a failed verification: %d", n)
	}
	if g.do("POST", "/v1/users/not-a-user/verify", tokIDP, `{"code":"123456"}`).code() != "invalid_user_id" {
		t.Fatal("a malformed user ID was not refused as such")
	}

	// A user without an app (no record at all), and a method of another kind.
	g.want(g.do("POST", "/v1/users/"+nobody+"/verify", tokIDP, `{"code":"123456"}`), 409, "no_confirmed_method")
	r := g.do("POST", "/v1/users/"+alice+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`)
	g.want(r, 201, "")
	phone := r.body["method"].(map[string]any)["id"].(string)
	g.want(g.do("POST", path, tokIDP, `{"code":"123456","method":"`+phone+`"}`), 422, "wrong_verification_kind")
	r = g.do("POST", "/v1/users/"+alice+"/methods", tokEnroll, `{"kind":"totp","label":"new app"}`)
	g.want(r, 201, "")
	unconfirmed := r.body["method"].(map[string]any)["id"].(string)
	g.want(g.do("POST", path, tokIDP, `{"code":"123456","method":"`+unconfirmed+`"}`), 409, "method_not_confirmed")
	// Bob's method through Alice's name: unknown, and Bob's code does not sign Alice in.
	bobApp := g.user(bob).body["methods"].([]any)[0].(map[string]any)["id"].(string)
	g.want(g.do("POST", path, tokIDP, `{"code":"123456","method":"`+bobApp+`"}`), 404, "unknown_method")

	// Accepted: an approved challenge, as GET /v1/challenges/{id} shows it.
	created := g.metric("mfagate_challenges_created_total", `kind="totp"`)
	approved := g.metric("mfagate_challenges_finished_total", `kind="totp"`, `result="approved"`)
	code := appCode(t, secret, g.clock.Now())
	if code == appCode(t, bobSecret, g.clock.Now()) {
		t.Skip("the two apps show the same code at this instant")
	}
	r = g.do("POST", path, tokIDP, `{"code":"`+code+`"}`)
	g.want(r, 200, "")
	if r.str("status") != "approved" || r.str("purpose") != "signin" || r.str("method") != app || r.str("kind") != "totp" || r.str("user") != alice {
		t.Fatalf("sign-in answer: %s", r.raw)
	}
	id := r.str("id")
	if r.header.Get("Location") != "/v1/challenges/"+id {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	got := g.do("GET", "/v1/challenges/"+id, tokIDP, "")
	g.want(got, 200, "")
	if !bytes.Equal(bytes.TrimSpace(got.raw), bytes.TrimSpace(r.raw)) {
		t.Fatalf("the answer differs from the stored challenge:\n%s\n%s", r.raw, got.raw)
	}
	if g.metric("mfagate_challenges_created_total", `kind="totp"`) != created+1 ||
		g.metric("mfagate_challenges_finished_total", `kind="totp"`, `result="approved"`) != approved+1 {
		t.Fatal("the sign-in was not counted as a created and approved challenge")
	}
	if g.events(alice, "challenge_approved") != 1 {
		t.Fatal("the approval is not in the audit log")
	}
	if g.user(alice).body["methods"].([]any)[0].(map[string]any)["last_used_at"] == nil {
		t.Fatal("the app's last use was not recorded")
	}

	// The same code again, through either path: refused as a replay.
	g.want(g.do("POST", path, tokIDP, `{"code":"`+code+`"}`), 422, "replayed_code")
	r = g.do("POST", "/v1/users/"+alice+"/challenges", tokIDP, `{"method":"`+app+`"}`)
	g.want(r, 201, "")
	g.want(g.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"code":"`+code+`"}`), 422, "replayed_code")
	if g.failures(alice) != 0 {
		t.Fatal("a replay counted as a consecutive failure")
	}

	// A test sign-in with the next code, naming the app.
	g.clock.Advance(30 * time.Second)
	r = g.do("POST", path, tokEnroll, `{"code":"`+appCode(t, secret, g.clock.Now())+`","method":"`+app+`","purpose":"test"}`)
	g.want(r, 200, "")
	if r.str("purpose") != "test" || r.str("status") != "approved" {
		t.Fatalf("test sign-in: %s", r.raw)
	}
	if g.events(alice, "test_signin") != 1 || g.user(alice).body["mfa"].(map[string]any)["last_test_signin_at"] == nil {
		t.Fatal("the test sign-in was not recorded")
	}

	// Wrong codes: each one attempt, on a challenge left on record as
	// failed, until the consecutive-failure lock (3 in this policy).
	g.clock.Advance(30 * time.Second)
	failed := g.metric("mfagate_verification_failures_total", `kind="totp"`)
	wrong := "000000"
	if wrong == appCode(t, secret, g.clock.Now()) {
		wrong = "111111"
	}
	for i := 1; i <= 3; i++ {
		r := g.do("POST", path, tokIDP, `{"code":"`+wrong+`"}`)
		g.want(r, 422, "invalid_code")
		ch, _ := r.body["challenge"].(map[string]any)
		if r.body["attempts_left"] != float64(4) || ch == nil || ch["method"] != app {
			t.Fatalf("wrong code %d: %s", i, r.raw)
		}
		stored := g.do("GET", "/v1/challenges/"+ch["id"].(string), tokIDP, "")
		if stored.body["attempts_left"] != float64(4) {
			t.Fatalf("the failed attempt is not on record: %s", stored.raw)
		}
		if g.failures(alice) != i {
			t.Fatalf("after %d wrong codes the user has %d failures", i, g.failures(alice))
		}
	}
	if g.metric("mfagate_verification_failures_total", `kind="totp"`) != failed+3 || g.events(alice, "verification_failed") < 3+2 {
		t.Fatal("wrong codes not counted in the metrics and audit")
	}
	g.want(g.do("POST", path, tokIDP, `{"code":"`+appCode(t, secret, g.clock.Now())+`"}`), 423, "user_locked")
	// The lock holds for the two-request path too, until an admin unlocks.
	g.want(g.do("POST", "/v1/users/"+alice+"/challenges", tokIDP, `{}`), 423, "user_locked")
	g.want(g.do("POST", "/v1/users/"+alice+"/unlock", tokAdmin, `{"reason":"test"}`), 200, "")
	g.want(g.do("POST", path, tokIDP, `{"code":"`+appCode(t, secret, g.clock.Now())+`"}`), 200, "")

	// Bob was never touched by Alice's failures.
	if g.failures(bob) != 0 {
		t.Fatal("another user's failures changed")
	}
}
