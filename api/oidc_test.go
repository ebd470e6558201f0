package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"mfagate/api"
	"mfagate/mfa"
	"mfagate/oidc"
)

// The External MFA door played from Entra's side as Microsoft's "External
// MFA method provider reference" describes it: Entra's own signing key and
// discovery on loopback, an id_token_hint signed with golang-jwt (not the
// provider's library), the form POST to /oidc/authorize, and the id_token
// checked against the published JWKS by an independent verifier.

const (
	entraClient   = "8d9e3c1a-entra-app"
	entraCallback = "https://login.microsoftonline.com/common/federation/externalauthprovider"
	oidcIssuer    = "https://mfa.example.ac.jp"
	entraTenant   = "0b6a1d9e-1111-4222-8333-444455556666"
)

// oidcParts is the Entra stand-in; the provider keeps its keys and flows
// in the harness's SQLite file.
type oidcParts struct {
	entra *entraSide
}

func (p *oidcParts) provider(h *harness) *api.OIDC {
	km := oidc.NewKeyManager(h.db, h.keys, oidc.KeyOptions{Rotation: 90 * 24 * time.Hour, PublishAhead: 48 * time.Hour,
		TokenTTL: 5 * time.Minute, Now: h.clock.Now})
	if err := km.Refresh(h.t.Context()); err != nil {
		h.t.Fatal(err)
	}
	clients := oidc.Clients{entraClient: {ID: entraClient, RedirectURIs: []string{entraCallback}, HintIssuer: p.entra.issuer,
		UserClaim: "preferred_username", UserPattern: regexp.MustCompile(`^([0-9]{10})@`)}}
	return &api.OIDC{Issuer: oidcIssuer, Clients: clients, Hints: oidc.NewHintVerifier(oidc.HintOptions{Now: h.clock.Now}),
		Keys: km, Flows: h.db, Minter: &oidc.Minter{Issuer: oidcIssuer, Keys: km, TokenTTL: 5 * time.Minute}, Now: h.clock.Now}
}

// entraSide is Entra's part: a signing key, its discovery document and JWKS.
type entraSide struct {
	key    *rsa.PrivateKey
	other  *rsa.PrivateKey // a key Entra does not publish
	issuer string
	srv    *httptest.Server
}

func newEntra(t testing.TB) *entraSide {
	e := &entraSide{}
	var err error
	if e.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if e.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL + "/" + entraTenant + "/v2.0"
	mux.HandleFunc("GET /"+entraTenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": e.issuer, "jwks_uri": e.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "use": "sig", "kid": "entra-1",
			"n": b64(e.key.N.Bytes()), "e": b64(big.NewInt(int64(e.key.E)).Bytes())}}})
	})
	return e
}

// hintClaims are the claims of a hint for the test user at now, as Entra
// sends them.
func (e *entraSide) hintClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": e.issuer, "aud": entraClient, "sub": "pairwise-sub-42", "oid": "3f2b7c1d-oid",
		"tid": entraTenant, "preferred_username": user + "@example.ac.jp", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "ver": "2.0"}
}

func (e *entraSide) sign(t testing.TB, c jwt.MapClaims, key *rsa.PrivateKey, kid string) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newOIDCHarness(t testing.TB) *harness {
	p := testPolicy()
	h := &harness{t: t, path: t.TempDir() + "/mfagate.db", oidc: &oidcParts{entra: newEntra(t)}}
	h.clock = newHarness(t).clock // the same start time as every harness
	h.keys, _ = mfa.NewKeys(make32(7))
	h.open(p)
	return h
}

func make32(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return k
}

// browser is a user's browser: a cookie jar that follows redirects.
type browser struct {
	h *harness
	c *http.Client
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) send(req *http.Request) page {
	b.h.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, url: res.Request.URL, body: string(raw), header: res.Header}
}

func (b *browser) postForm(path string, form url.Values) page {
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

// json calls a page route; csrf is sent as X-CSRF-Token when not empty.
func (b *browser) json(method, path, csrf, body string) resp {
	b.h.t.Helper()
	req, _ := http.NewRequest(method, b.h.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	p := b.send(req)
	r := resp{status: p.status, header: p.header, raw: []byte(p.body)}
	if strings.HasPrefix(p.body, "{") {
		if err := json.Unmarshal(r.raw, &r.body); err != nil {
			b.h.t.Fatal(err)
		}
	}
	return r
}

// authRequest is Entra's request for hint (the reference's parameter table).
func authRequest(hint string) url.Values {
	return url.Values{"scope": {"openid"}, "response_type": {"id_token"}, "response_mode": {"form_post"},
		"client_id": {entraClient}, "redirect_uri": {entraCallback}, "nonce": {"nonce-abc-123"}, "state": {"entra-state-9"},
		"id_token_hint": {hint}, "client-request-id": {"5e1d9b3a-0000-4000-8000-000000000001"},
		"claims": {`{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}`}}
}

// flowStart is the sign-in page a browser lands on, with its state.
type flowStart struct {
	b     *browser
	base  string // /oidc/flows/{id}/
	csrf  string
	state resp
}

func (b *browser) start(hint string) flowStart {
	b.h.t.Helper()
	p := b.postForm(oidc.AuthorizePath, authRequest(hint))
	if p.status != 200 || !strings.HasPrefix(p.url.Path, "/oidc/flows/") {
		b.h.t.Fatalf("authorize did not lead to the sign-in page: %d %s\n%s", p.status, p.url, p.body)
	}
	f := flowStart{b: b, base: p.url.Path}
	f.state = b.json("GET", f.base+"api/state", "", "")
	if f.state.status != 200 {
		b.h.t.Fatalf("state: %d %s", f.state.status, f.state.raw)
	}
	f.csrf = f.state.body["flow"].(map[string]any)["csrf"].(string)
	return f
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)"`)

// answer is what the auto-submitting page would POST to Entra.
func answer(t testing.TB, p page) (action string, fields map[string]string) {
	t.Helper()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("not a form_post answer (%d):\n%s", p.status, p.body)
	}
	fields = map[string]string{}
	for _, f := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		fields[f[1]] = html.UnescapeString(f[2])
	}
	return html.UnescapeString(m[1]), fields
}

func (f flowStart) finish(action string) page {
	return f.b.postForm(f.base+"finish", url.Values{"csrf": {f.csrf}, "action": {action}})
}

// verifyIDToken checks tok as Entra does, with golang-jwt and the key set
// fetched from /oidc/jwks (n and e decoded by hand).
func verifyIDToken(t testing.TB, h *harness, tok string) jwt.MapClaims {
	t.Helper()
	r := h.do("GET", oidc.JWKSPath, "", "")
	var set struct {
		Keys []struct{ Kid, N, E string }
	}
	if err := json.Unmarshal(r.raw, &set); err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		return keys[tk.Header["kid"].(string)], nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(oidcIssuer), jwt.WithAudience(entraClient),
		jwt.WithTimeFunc(h.clock.Now), jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("id_token does not verify: %v", err)
	}
	return claims
}

// readyUser gives the test user a confirmed authenticator app, a test
// sign-in and MFA applied; it returns the app's secret.
func (h *harness) readyUser() (string, string) {
	id, secret := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	return id, secret
}

func TestExternalMFATOTPSignIn(t *testing.T) {
	h := newOIDCHarness(t)
	mid, secret := h.readyUser()
	e := h.oidc.entra
	f := h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
	ms := f.state.body["methods"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["id"] != mid || f.state.body["user"] != user || f.state.body["refusal"] != nil {
		t.Fatalf("the page offers %s", f.state.raw)
	}
	// A wrong code costs a try and says how many are left.
	h.clock.Advance(30 * time.Second)
	r := f.b.json("POST", f.base+"api/challenges", f.csrf, `{"method":"`+mid+`"}`)
	h.want(r, 201, "")
	cid := r.str("id")
	r = f.b.json("POST", f.base+"api/challenges/"+cid+"/verify", f.csrf, `{"code":"000000"}`)
	if r.status != 422 || r.code() != "invalid_code" || r.body["attempts_left"] != float64(4) {
		t.Fatalf("wrong code: %d %s", r.status, r.raw)
	}
	// Finishing before the challenge is approved answers nothing.
	if p := f.finish("complete"); p.status != 409 || strings.Contains(p.body, "id_token") {
		t.Fatalf("finish before approval: %d\n%s", p.status, p.body)
	}
	r = f.b.json("POST", f.base+"api/challenges/"+cid+"/verify", f.csrf, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
	h.want(r, 200, "")
	p := f.finish("complete")
	action, fields := answer(t, p)
	if action != entraCallback || fields["state"] != "entra-state-9" {
		t.Fatalf("answer goes to %s with %v", action, fields)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Fatalf("form_post page CSP = %q", csp)
	}
	c := verifyIDToken(t, h, fields["id_token"])
	amr, _ := c["amr"].([]any)
	iat, _ := c.GetIssuedAt()
	exp, _ := c.GetExpirationTime()
	if c["sub"] != "pairwise-sub-42" || c["oid"] != "3f2b7c1d-oid" || c["tid"] != entraTenant || c["nonce"] != "nonce-abc-123" ||
		c["acr"] != "possessionorinherence" || len(amr) != 1 || amr[0] != "otp" || exp.Sub(iat.Time) > 10*time.Minute {
		t.Fatalf("id_token claims: %v", c)
	}
	// The same flow answers once.
	if p := f.finish("complete"); p.status != 409 || strings.Contains(p.body, "id_token") {
		t.Fatalf("second finish: %d\n%s", p.status, p.body)
	}
	ev := h.do("GET", "/v1/audit?user="+user, tokAdmin, "")
	if !strings.Contains(ev.string(), `"actor":"oidc:`+entraClient+`"`) || !strings.Contains(ev.string(), "result=success amr=otp") {
		t.Fatalf("audit log lacks the External MFA sign-in: %s", ev.raw)
	}
	m := h.do("GET", "/metrics", "", "")
	if !strings.Contains(m.string(), `mfagate_oidc_signins_total{amr="otp",client="`+entraClient+`",result="success"} 1`) {
		t.Fatalf("metrics lack the sign-in")
	}
}

func TestExternalMFASMS(t *testing.T) {
	h := newOIDCHarness(t)
	_, secret := h.addTOTP()
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678","channel":"sms","language":"en"}`)
	h.want(r, 201, "")
	pid := r.body["method"].(map[string]any)["id"].(string)
	o := h.take()
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{17}})
	h.want(h.do("POST", "/v1/users/"+user+"/methods/"+pid+"/confirm", tokEnroll, `{"code":"`+smsCode(t, o.Text)+`"}`), 200, "")
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	e := h.oidc.entra
	f := h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
	var phone map[string]any
	for _, m := range f.state.body["methods"].([]any) {
		if m.(map[string]any)["id"] == pid {
			phone = m.(map[string]any)
		}
	}
	if phone == nil || strings.Contains(string(f.state.raw), "1234-5678") || len(phone["channels"].([]any)) != 2 {
		t.Fatalf("the page's phone: %s", f.state.raw)
	}
	r = f.b.json("POST", f.base+"api/challenges", f.csrf, `{"method":"`+pid+`","channel":"sms"}`)
	h.want(r, 201, "")
	o = h.take()
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{17}})
	h.want(f.b.json("POST", f.base+"api/challenges/"+r.str("id")+"/verify", f.csrf, `{"code":"`+smsCode(t, o.Text)+`"}`), 200, "")
	_, fields := answer(t, f.finish("complete"))
	if amr := verifyIDToken(t, h, fields["id_token"])["amr"].([]any); len(amr) != 1 || amr[0] != "sms" {
		t.Fatalf("amr = %v, want [sms]", amr)
	}
}

// A refused request changes nothing: no flow, no challenge; each answer
// names its reason and goes back only to a verified redirect URI.
func TestExternalMFABadRequests(t *testing.T) {
	h := newOIDCHarness(t)
	h.readyUser()
	e := h.oidc.entra
	now := h.clock.Now()
	good := e.hintClaims(now)
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for a, b := range good {
			c[a] = b
		}
		c[k] = v
		return c
	}
	cases := []struct {
		name  string
		form  url.Values
		error string // "" = a plain page, nothing posted back
	}{
		{"bad signature", authRequest(e.sign(t, good, e.other, "entra-1")), "invalid_request"},
		{"unpublished kid", authRequest(e.sign(t, good, e.other, "rogue")), "invalid_request"},
		{"wrong issuer", authRequest(e.sign(t, with("iss", "https://login.microsoftonline.com/other/v2.0"), e.key, "entra-1")), "invalid_request"},
		{"wrong audience", authRequest(e.sign(t, with("aud", "another-app"), e.key, "entra-1")), "invalid_request"},
		{"stale", authRequest(e.sign(t, with("iat", now.Add(-time.Hour).Unix()), e.key, "entra-1")), "invalid_request"},
		{"expired", authRequest(e.sign(t, with("exp", now.Add(-time.Hour).Unix()), e.key, "entra-1")), "invalid_request"},
		{"user claim mismatch", authRequest(e.sign(t, with("preferred_username", "alice@example.ac.jp"), e.key, "entra-1")), "access_denied"},
		{"alg none", authRequest(jwtNone(good)), "invalid_request"},
	}
	missingNonce := authRequest(e.sign(t, good, e.key, "entra-1"))
	missingNonce.Del("nonce")
	cases = append(cases, struct {
		name  string
		form  url.Values
		error string
	}{"missing nonce", missingNonce, "invalid_request"})
	unknownClient := authRequest(e.sign(t, good, e.key, "entra-1"))
	unknownClient.Set("client_id", "someone-else")
	badRedirect := authRequest(e.sign(t, good, e.key, "entra-1"))
	badRedirect.Set("redirect_uri", "https://evil.example/steal")
	cases = append(cases, struct {
		name  string
		form  url.Values
		error string
	}{"unknown client", unknownClient, ""}, struct {
		name  string
		form  url.Values
		error string
	}{"foreign redirect_uri", badRedirect, ""})
	before := h.state()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := h.browser().postForm(oidc.AuthorizePath, tc.form)
			if strings.HasPrefix(p.url.Path, "/oidc/flows/") {
				t.Fatalf("a refused request started a flow")
			}
			if tc.error == "" {
				if p.status != 400 || strings.Contains(p.body, "<form") || strings.Contains(p.body, "evil.example") {
					t.Fatalf("want a plain error page that posts nowhere, got %d\n%s", p.status, p.body)
				}
				return
			}
			action, fields := answer(t, p)
			if action != entraCallback || fields["error"] != tc.error || fields["error_description"] == "" || fields["state"] != "entra-state-9" || fields["id_token"] != "" {
				t.Fatalf("answer to %s: %v", action, fields)
			}
		})
	}
	if h.state() != before {
		t.Fatal("a refused request changed the user")
	}
	ev := h.do("GET", "/v1/audit", tokAdmin, "")
	if strings.Contains(ev.string(), "someone-else") {
		t.Error("the audit log records an unconfigured client_id as sent")
	}
	for _, reason := range []string{"reason=hint_bad_signature", "reason=hint_unknown_kid", "reason=hint_wrong_issuer", "reason=missing_nonce", "client=unknown result=error_page"} {
		if !strings.Contains(ev.string(), reason) {
			t.Errorf("audit log lacks %s", reason)
		}
	}
}

// jwtNone is a hint with alg "none" (no signature at all).
func jwtNone(c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, c)
	s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	return s
}

// The flow belongs to the browser that started it and to its page.
func TestExternalMFAFlowBinding(t *testing.T) {
	h := newOIDCHarness(t)
	mid, secret := h.readyUser()
	e := h.oidc.entra
	f := h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
	thief := h.browser()
	if r := thief.json("GET", f.base+"api/state", "", ""); r.status != 403 || r.code() != "flow_binding" {
		t.Fatalf("another browser read the flow: %d %s", r.status, r.raw)
	}
	if r := thief.json("POST", f.base+"api/challenges", f.csrf, `{"method":"`+mid+`"}`); r.status != 403 || r.code() != "flow_binding" {
		t.Fatalf("another browser started a challenge: %d %s", r.status, r.raw)
	}
	if r := f.b.json("POST", f.base+"api/challenges", "", `{"method":"`+mid+`"}`); r.status != 403 || r.code() != "csrf" {
		t.Fatalf("a POST without the CSRF token: %d %s", r.status, r.raw)
	}
	if p := f.b.postForm(f.base+"finish", url.Values{"action": {"complete"}}); p.status != 403 || strings.Contains(p.body, "<form") {
		t.Fatalf("finish without the CSRF token: %d\n%s", p.status, p.body)
	}
	// A challenge the identity provider approved over the API is not this
	// flow's, so it cannot answer it.
	other := h.signin("signin", secret)
	if r := f.b.json("GET", f.base+"api/challenges/"+other, "", ""); r.status != 404 {
		t.Fatalf("the page read another challenge: %d %s", r.status, r.raw)
	}
	if p := f.finish("complete"); p.status != 409 || strings.Contains(p.body, "id_token") {
		t.Fatalf("finish with no challenge of its own: %d\n%s", p.status, p.body)
	}
	// The flow ends after FlowTTL.
	h.clock.Advance(oidc.FlowTTL)
	if r := f.b.json("GET", f.base+"api/state", "", ""); r.status != 410 || r.code() != "flow_expired" {
		t.Fatalf("expired flow: %d %s", r.status, r.raw)
	}
	ev := h.do("GET", "/v1/audit?user="+user, tokAdmin, "")
	for _, reason := range []string{"reason=flow_binding", "reason=csrf", "reason=flow_expired"} {
		if !strings.Contains(ev.string(), reason) {
			t.Errorf("audit log lacks %s", reason)
		}
	}
}

// A user who cannot sign in gets a clear refusal, and Entra access_denied.
func TestExternalMFARefusedUser(t *testing.T) {
	h := newOIDCHarness(t)
	h.addTOTP() // confirmed, but MFA was never applied
	e := h.oidc.entra
	f := h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
	ref, _ := f.state.body["refusal"].(map[string]any)
	if ref["code"] != "mfa_off" || len(f.state.body["methods"].([]any)) != 0 {
		t.Fatalf("state of a user with MFA off: %s", f.state.raw)
	}
	action, fields := answer(t, f.finish("cancel"))
	if action != entraCallback || fields["error"] != "access_denied" || !strings.Contains(fields["error_description"], "mfa_off") || fields["state"] != "entra-state-9" {
		t.Fatalf("refusal answer: %s %v", action, fields)
	}
}

// BenchmarkExternalMFATOTP measures a whole External MFA sign-in with an
// authenticator app over HTTP on loopback: Entra's hint POST, the page's
// state read, challenge, code and finish, until the id_token form is in
// hand (what Entra's user waits for, less typing the code).
func BenchmarkExternalMFATOTP(b *testing.B) {
	h := newOIDCHarness(b)
	mid, secret := h.readyUser()
	e := h.oidc.entra
	br := h.browser()
	for b.Loop() {
		h.clock.Advance(30 * time.Second) // a fresh TOTP step: replay protection
		hint := e.sign(b, e.hintClaims(h.clock.Now()), e.key, "entra-1")
		f := br.start(hint)
		r := f.b.json("POST", f.base+"api/challenges", f.csrf, `{"method":"`+mid+`"}`)
		r = f.b.json("POST", f.base+"api/challenges/"+r.str("id")+"/verify", f.csrf, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
		if r.status != 200 {
			b.Fatalf("verify: %d %s", r.status, r.raw)
		}
		if _, fields := answer(b, f.finish("complete")); fields["id_token"] == "" {
			b.Fatal("no id_token")
		}
	}
}

// jwksKIDs lists the kids /oidc/jwks publishes.
func jwksKIDs(t testing.TB, h *harness) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(h.do("GET", oidc.JWKSPath, "", "").raw, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

// tokenKID is the kid in a compact JWS header.
func tokenKID(t testing.TB, tok string) string {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Header["kid"].(string)
}

// Rotation as Entra sees it: mfagatectl oidc rotate-key publishes the next
// key at once and it signs only after key_publish_ahead; a token signed
// just before the switch still verifies against the published set after it.
func TestExternalMFAKeyRotation(t *testing.T) {
	h := newOIDCHarness(t)
	mid, secret := h.readyUser()
	e := h.oidc.entra
	signIn := func() string {
		t.Helper()
		h.clock.Advance(30 * time.Second)
		f := h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
		r := f.b.json("POST", f.base+"api/challenges", f.csrf, `{"method":"`+mid+`"}`)
		h.want(f.b.json("POST", f.base+"api/challenges/"+r.str("id")+"/verify", f.csrf, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`), 200, "")
		_, fields := answer(t, f.finish("complete"))
		return fields["id_token"]
	}
	first := tokenKID(t, signIn())
	if kids := jwksKIDs(t, h); len(kids) != 1 || kids[0] != first {
		t.Fatalf("before rotation the JWKS is %v, want only the signing key %s", kids, first)
	}
	h.want(h.do("POST", "/v1/oidc/keys", tokIDP, ""), 403, "forbidden")
	r := h.do("POST", "/v1/oidc/keys", tokAdmin, "")
	h.want(r, 201, "")
	next := r.str("kid")
	if r.str("state") != "next" || next == first {
		t.Fatalf("rotate-key answered %s", r.raw)
	}
	if kids := jwksKIDs(t, h); len(kids) != 2 {
		t.Fatalf("the next key is not published ahead: JWKS %v", kids)
	}
	// Until the next key activates, tokens are still signed by the first.
	h.clock.Advance(48*time.Hour - 2*time.Minute)
	old := signIn()
	if k := tokenKID(t, old); k != first {
		t.Fatalf("a token before the switch is signed by %s, want %s", k, first)
	}
	h.clock.Advance(2 * time.Minute)
	if k := tokenKID(t, signIn()); k != next {
		t.Fatalf("after key_publish_ahead tokens are signed by %s, want the new key %s", k, next)
	}
	// The previous key stays published while its tokens live.
	verifyIDToken(t, h, old)
	var states []string
	for _, k := range jsonArray(t, h.do("GET", "/v1/oidc/keys", tokAdmin, "").raw) {
		states = append(states, k["kid"].(string)+"="+k["state"].(string))
	}
	if !slices.Contains(states, first+"=previous") || !slices.Contains(states, next+"=current") {
		t.Fatalf("key states %v", states)
	}
	// Once its tokens have expired, it leaves the JWKS.
	h.clock.Advance(2 * time.Hour)
	if kids := jwksKIDs(t, h); slices.Contains(kids, first) {
		t.Fatalf("the previous key is still published hours after its last token expired: %v", kids)
	}
}
