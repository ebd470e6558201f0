package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mfagate/selfservice"
)

// testOP is an OpenID provider of the test's own, written from OpenID
// Connect Core 1.0 (§3.1.2 authorization endpoint, §3.1.3 token endpoint,
// §2 ID token), Discovery 1.0 and RFC 7636: it checks the client's
// authentication (client_secret_basic, RFC 6749 §2.3.1), the exact
// redirect_uri, and that code_challenge = BASE64URL(SHA256(code_verifier)).
type testOP struct {
	t           testing.TB
	srv         *httptest.Server
	now         func() time.Time
	clientID    string
	secret      string
	redirectURI string

	mu        sync.Mutex
	keys      map[string]*rsa.PrivateKey // published, by kid
	signKID   string                     // the key that signs
	signKey   *rsa.PrivateKey            // when set, signs instead (unpublished)
	username  string                     // preferred_username of the next sign-in
	groups    []string                   // the groups claim of the next sign-in (nil: none)
	tweak     func(claims map[string]any)
	deny      bool // the next authorization answers access_denied
	codes     map[string]opGrant
	exchanges int // token requests that passed every check
	refused   []string
}

type opGrant struct {
	challenge, redirectURI, nonce string
	used                          bool
}

func newTestOP(t testing.TB, now func() time.Time) *testOP {
	op := &testOP{t: t, now: now, clientID: "mfagate-me", secret: "client-secret-0123456789", keys: map[string]*rsa.PrivateKey{},
		username: user + "@example.ac.jp", codes: map[string]opGrant{}}
	op.rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

// rotate publishes a new key and signs with it from now on.
func (op *testOP) rotate() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		op.t.Fatal(err)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	kid := fmt.Sprintf("k%d", len(op.keys)+1)
	op.keys[kid], op.signKID = k, kid
}

func (op *testOP) discovery(w http.ResponseWriter, _ *http.Request) {
	base := op.srv.URL
	json.NewEncoder(w).Encode(map[string]any{"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
		"jwks_uri": base + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"code_challenge_methods_supported": []string{"S256"}})
}

func (op *testOP) jwks(w http.ResponseWriter, _ *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	var set jose.JSONWebKeySet
	for kid, k := range op.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	json.NewEncoder(w).Encode(set)
}

// authorize is §3.1.2: an error about the client or redirect_uri is shown
// to the user, never redirected (RFC 6749 §4.1.2.1).
func (op *testOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != op.clientID || q.Get("redirect_uri") != op.redirectURI {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		v.Set("state", q.Get("state"))
		http.Redirect(w, r, op.redirectURI+"?"+v.Encode(), http.StatusFound)
	}
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code" || !slices.Contains(scopes, "openid") || !slices.Contains(scopes, "profile"):
		back(url.Values{"error": {"invalid_request"}})
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "":
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE S256, nonce and state are required"}})
		return
	}
	op.mu.Lock()
	deny := op.deny
	op.deny = false
	code := base64.RawURLEncoding.EncodeToString(randomBytes(16))
	op.codes[code] = opGrant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce")}
	op.mu.Unlock()
	if deny {
		back(url.Values{"error": {"access_denied"}, "error_description": {"the user declined"}})
		return
	}
	back(url.Values{"code": {code}})
}

func (op *testOP) refuse(w http.ResponseWriter, status int, code, why string) {
	op.refused = append(op.refused, why)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": why})
}

// token is §3.1.3 with RFC 7636 §4.6.
func (op *testOP) token(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != op.clientID || secret != op.secret {
		op.refuse(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	r.ParseForm()
	g, known := op.codes[r.PostForm.Get("code")]
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code" || !known || g.used:
		op.refuse(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		op.refuse(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		op.refuse(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
		return
	}
	g.used = true
	op.codes[r.PostForm.Get("code")] = g
	now := op.now()
	claims := map[string]any{"iss": op.srv.URL, "sub": "sub-" + op.username, "aud": op.clientID, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "nonce": g.nonce, "preferred_username": op.username}
	if op.groups != nil {
		claims["groups"] = op.groups
	}
	if op.tweak != nil {
		op.tweak(claims)
	}
	key, kid := op.keys[op.signKID], op.signKID
	if op.signKey != nil {
		key, kid = op.signKey, "unpublished"
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		op.t.Error(err)
		return
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		op.t.Error(err)
		return
	}
	tok, _ := obj.CompactSerialize()
	op.exchanges++
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + kid, "token_type": "Bearer", "expires_in": 300, "id_token": tok})
}

func newLoginHarness(t *testing.T) (*harness, *testOP) {
	var op *testOP
	h := newSelfHarness(t, func(h *harness, base string) *selfservice.RP {
		if op == nil {
			op = newTestOP(t, h.clock.Now)
		}
		op.redirectURI = base + "/me/callback"
		return selfservice.NewRP(selfservice.RPOptions{Issuer: op.srv.URL, ClientID: op.clientID, ClientSecret: op.secret, RedirectURI: op.redirectURI,
			UserClaim: "preferred_username", User: regexp.MustCompile(`^([0-9]{10})@`), Now: h.clock.Now}, h.db)
	})
	return h, op
}

// startLogin follows /me/login to the provider and returns the callback
// URL the provider redirects back to.
func (b *selfBrowser) startLogin() string {
	b.h.t.Helper()
	res, _ := b.get("/me/login")
	c := b.h.cookie(res, "mfagate_self_login")
	switch {
	case res.StatusCode != http.StatusFound:
		b.h.t.Fatalf("/me/login: %d, want 302 to the provider", res.StatusCode)
	case c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/me/" || c.MaxAge != 600:
		b.h.t.Fatalf("login cookie %+v: want HttpOnly, SameSite=Lax, Path /me/, Max-Age 600", c)
	}
	res, body := b.get(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound {
		b.h.t.Fatalf("the provider's authorization endpoint: %d %s", res.StatusCode, body)
	}
	return res.Header.Get("Location")
}

// failedLogin checks a callback's page: the status, the code, a detail
// containing msg, and no session.
func (b *selfBrowser) failedLogin(callback string, status int, code, msg string) {
	b.h.t.Helper()
	res, body := b.get(callback)
	if res.StatusCode != status || !strings.Contains(body, code) || !strings.Contains(body, msg) || b.h.cookie(res, "mfagate_self") != nil ||
		!strings.Contains(res.Header.Get("Content-Type"), "text/html") {
		b.h.t.Fatalf("callback: %d, session cookie %v, want %d %s with %q\n%s", res.StatusCode, b.h.cookie(res, "mfagate_self"), status, code, msg, body)
	}
	b.h.want(b.call("GET", "/me/api/state", "", false), 401, "no_session")
}

func (b *selfBrowser) login(callback string) {
	b.h.t.Helper()
	res, body := b.get(callback)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/me" || b.h.cookie(res, "mfagate_self") == nil {
		b.h.t.Fatalf("callback: %d to %q, want 303 to /me with a session\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	r := b.call("GET", "/me/api/state", "", false)
	b.h.want(r, 200, "")
	if r.body["user"].(map[string]any)["user"] != user || r.body["signin"].(map[string]any)["oidc"] != true {
		b.h.t.Fatalf("state after the login: %s", r.raw)
	}
}

func TestSelfServiceOIDCLogin(t *testing.T) {
	h, op := newLoginHarness(t)
	b := h.selfBrowser()
	cb := b.startLogin()
	u, _ := url.Parse(cb)
	if u.Query().Get("code") == "" || u.Query().Get("state") == "" {
		t.Fatalf("the provider's redirect %s", cb)
	}
	b.login(cb)
	if op.exchanges != 1 || len(op.refused) != 0 {
		t.Fatalf("the provider exchanged %d codes, refused %v", op.exchanges, op.refused)
	}
	ev := jsonArray(t, h.do("GET", "/v1/audit?user="+user+"&limit=1", tokAdmin, "").raw)
	if ev[0]["type"] != "external_signin" || ev[0]["actor"] != "self:"+user || !strings.Contains(ev[0]["detail"].(string), "via=oidc") {
		t.Fatalf("newest audit event %v", ev[0])
	}

	// The same callback again, with the login cookie put back: used.
	replay := h.selfBrowser()
	login, _ := url.Parse(h.srv.URL + "/me/")
	b2 := h.selfBrowser()
	cb2 := b2.startLogin()
	saved := b2.c.Jar.Cookies(login)
	b2.login(cb2)
	replay.c.Jar.SetCookies(login, saved)
	replay.failedLogin(cb2, http.StatusConflict, "login_used", "already been completed")
	// Without the login cookie at all: not this browser's sign-in.
	h.selfBrowser().failedLogin(cb2, http.StatusBadRequest, "login_state", "no login cookie")

	// Key rotation at the provider: a token signed with a new key verifies
	// once the key set is fetched again.
	op.rotate()
	b3 := h.selfBrowser()
	b3.login(b3.startLogin())
	// A key the provider does not publish: refused.
	op.signKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	b4 := h.selfBrowser()
	b4.failedLogin(b4.startLogin(), http.StatusBadGateway, "login_failed", "not valid for this gateway")
	op.signKey = nil
	if n := op.exchanges; n != 4 {
		t.Fatalf("the provider exchanged %d codes, want 4", n)
	}
}

func TestSelfServiceOIDCRefusals(t *testing.T) {
	h, op := newLoginHarness(t)
	before := h.state()

	// A state the gateway did not issue.
	b := h.selfBrowser()
	cb := b.startLogin()
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", base64.RawURLEncoding.EncodeToString(randomBytes(32)))
	u.RawQuery = q.Encode()
	b.failedLogin(u.String(), http.StatusBadRequest, "login_state", "does not match a sign-in")
	// The sign-in is untouched: the right callback still works.
	b.login(cb)

	// Another browser's callback (login CSRF): refused, and the sign-in
	// stays for its own browser.
	victim, attacker := h.selfBrowser(), h.selfBrowser()
	attacker.startLogin() // the attacker has a login cookie of its own
	cb = victim.startLogin()
	attacker.failedLogin(cb, http.StatusBadRequest, "login_state", "another browser")
	victim.login(cb)

	for _, tc := range []struct {
		name   string
		tweak  func(map[string]any)
		status int
		code   string
		msg    string
	}{
		{"nonce mismatch", func(c map[string]any) { c["nonce"] = "another-nonce" }, http.StatusBadGateway, "login_failed", "nonce"},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://idp.example.org" }, http.StatusBadGateway, "login_failed", "not valid for this gateway"},
		{"wrong audience", func(c map[string]any) { c["aud"] = "another-client" }, http.StatusBadGateway, "login_failed", "not valid for this gateway"},
		{"expired", func(c map[string]any) { c["exp"] = h.clock.Now().Add(-time.Minute).Unix() }, http.StatusBadGateway, "login_failed", "not valid for this gateway"},
		{"user outside user_pattern", func(c map[string]any) { c["preferred_username"] = "guest@example.org" }, http.StatusForbidden, "login_user", "guest@example.org"},
		{"no user claim", func(c map[string]any) { delete(c, "preferred_username") }, http.StatusForbidden, "login_user", "no preferred_username claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op.tweak = tc.tweak
			defer func() { op.tweak = nil }()
			b := h.selfBrowser()
			b.failedLogin(b.startLogin(), tc.status, tc.code, tc.msg)
		})
	}

	// The provider refuses (the user declined).
	op.deny = true
	b = h.selfBrowser()
	b.failedLogin(b.startLogin(), http.StatusForbidden, "login_provider", "access_denied")

	// Too slow: the sign-in lapses after 10 minutes.
	b = h.selfBrowser()
	cb = b.startLogin()
	h.clock.Advance(10*time.Minute + time.Second)
	b.failedLogin(cb, http.StatusGone, "login_expired", "took longer than 10m0s")

	// A gateway with the wrong client secret: the provider refuses the
	// exchange, the gateway opens nothing.
	op.secret = "rotated-at-the-provider"
	b = h.selfBrowser()
	b.failedLogin(b.startLogin(), http.StatusBadGateway, "login_failed", "did not exchange")
	if !slices.Contains(op.refused, "client authentication failed") {
		t.Fatalf("the provider's refusals %v", op.refused)
	}
	if after := h.state(); after != before {
		t.Fatalf("refused sign-ins changed the user:\n%s\n%s", before, after)
	}
	m := string(h.do("GET", "/metrics", "", "").raw)
	for _, want := range []string{`action="callback",result="login_state"} 2`, `action="callback",result="login_failed"} 5`, `action="callback",result="ok"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack mfagate_selfservice_requests_total{%s", want)
		}
	}
}
