package oidc_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"mfagate/oidc"
	"mfagate/oidc/oidctest"
)

// entra plays Entra ID's part: its own signing key, and discovery and
// JWKS on a loopback server.
type entra struct {
	srv       *httptest.Server
	issuer    string
	mu        sync.Mutex
	keys      map[string]*rsa.PrivateKey // published
	jwksGets  atomic.Int32
	discIssue string // issuer the discovery document names; default issuer
}

var (
	keyOnce  sync.Once
	rsaPool  []*rsa.PrivateKey
	poolNext atomic.Int32
)

// testRSAKey hands out pre-generated keys: RSA generation is slow on a
// shared machine.
func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaPool = append(rsaPool, k)
		}
	})
	return rsaPool[int(poolNext.Add(1))%len(rsaPool)]
}

func newEntra(t *testing.T) *entra {
	t.Helper()
	e := &entra{keys: map[string]*rsa.PrivateKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /9122040d/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := e.issuer
		if e.discIssue != "" {
			iss = e.discIssue
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": e.srv.URL + "/discovery/v2.0/keys"})
	})
	mux.HandleFunc("GET /discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		e.jwksGets.Add(1)
		e.mu.Lock()
		defer e.mu.Unlock()
		var keys []map[string]any
		// A key this verifier cannot use comes first: it must not hide the others.
		keys = append(keys, map[string]any{"kty": "EC", "kid": "ec", "crv": "P-256", "x": "bad", "y": "bad"})
		for kid, k := range e.keys {
			keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": "AQAB", "x5c": []string{selfSigned(t, k)}})
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL + "/9122040d/v2.0"
	e.publish("entra-key-1", testRSAKey(t))
	return e
}

func (e *entra) publish(kid string, k *rsa.PrivateKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys[kid] = k
}

func selfSigned(t *testing.T, k *rsa.PrivateKey) string {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "entra"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// hintClaims are the claims of the reference's example hint, at t0: exp
// one second before iat, "issued as expired".
func (e *entra) claims() jwt.MapClaims {
	return jwt.MapClaims{
		"ver": "2.0", "iss": e.issuer, "sub": "mBfcvuhSHkDWVgV72x2ruIYdSsPSvcj2R0qfc6mGEAA",
		"aud": "600b719b-3766-4dc5-95a6-3c4a8dc31885", "exp": t0.Unix() - 1, "iat": t0.Unix(), "nbf": t0.Unix(),
		"name": "Test User 2", "preferred_username": "0123456789@example.ac.jp",
		"oid": "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee", "tid": "14c2f153-90a7-4689-9db7-9543bf084dad",
	}
}

func (e *entra) sign(t *testing.T, kid string, key *rsa.PrivateKey, c jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tk.Header["kid"] = kid
	s, err := tk.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *entra) hint(t *testing.T, edit func(jwt.MapClaims)) string {
	c := e.claims()
	if edit != nil {
		edit(c)
	}
	e.mu.Lock()
	k := e.keys["entra-key-1"]
	e.mu.Unlock()
	return e.sign(t, "entra-key-1", k, c)
}

func (e *entra) client() *oidc.Client {
	return &oidc.Client{ID: "600b719b-3766-4dc5-95a6-3c4a8dc31885", HintIssuer: e.issuer, UserClaim: "preferred_username",
		UserPattern:  regexp.MustCompile(`^([0-9]{10})@`),
		RedirectURIs: []string{"https://login.microsoftonline.com/common/federation/externalauthprovider"}}
}

func newVerifier(e *entra, clk *oidctest.Clock) *oidc.HintVerifier {
	return oidc.NewHintVerifier(oidc.HintOptions{HTTP: e.srv.Client(), Now: clk.Now})
}

func TestHintVerify(t *testing.T) {
	e := newEntra(t)
	clk := oidctest.NewClock(t0.Add(30 * time.Second))
	v := newVerifier(e, clk)
	h, err := v.Verify(ctx, e.client(), e.hint(t, nil))
	if err != nil {
		t.Fatalf("the reference's example hint is refused: %v", err)
	}
	if h.User != "0123456789" || h.Subject != "mBfcvuhSHkDWVgV72x2ruIYdSsPSvcj2R0qfc6mGEAA" ||
		h.ObjectID != "951ddb04-b16d-45f3-bbf7-b0fa18fa7aee" || h.TenantID != "14c2f153-90a7-4689-9db7-9543bf084dad" {
		t.Errorf("hint = %+v", h)
	}
	// Cached: a second hint does not fetch the keys again.
	if _, err := v.Verify(ctx, e.client(), e.hint(t, nil)); err != nil || e.jwksGets.Load() != 1 {
		t.Errorf("second verify: %v, %d JWKS fetches; want 1", err, e.jwksGets.Load())
	}
}

func TestHintRefused(t *testing.T) {
	e := newEntra(t)
	other := testRSAKey(t)
	for other.Equal(e.keys["entra-key-1"]) {
		other = testRSAKey(t)
	}
	pubDER := x509.MarshalPKCS1PublicKey(&e.keys["entra-key-1"].PublicKey)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims())
	hs.Header["kid"] = "entra-key-1"
	hsTok, _ := hs.SignedString(pubDER) // key confusion: the public key as an HMAC secret
	none := jwt.NewWithClaims(jwt.SigningMethodNone, e.claims())
	none.Header["kid"] = "entra-key-1"
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	good := e.hint(t, nil)
	parts := strings.Split(good, ".")

	tests := []struct {
		name string
		tok  string
		now  time.Duration // after t0
		want error
	}{
		{"signed by another key", e.sign(t, "entra-key-1", other, e.claims()), 0, oidc.ErrHintBadSignature},
		{"payload altered", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`)) + "." + parts[2], 0, oidc.ErrHintBadSignature},
		{"alg none", noneTok, 0, oidc.ErrHintBadAlgorithm},
		{"alg HS256 with the public key", hsTok, 0, oidc.ErrHintBadAlgorithm},
		{"wrong issuer", e.hint(t, func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/other/v2.0" }), 0, oidc.ErrHintWrongIssuer},
		{"wrong audience", e.hint(t, func(c jwt.MapClaims) { c["aud"] = "another-app" }), 0, oidc.ErrHintWrongAudience},
		{"audience array without us", e.hint(t, func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), 0, oidc.ErrHintWrongAudience},
		{"issued 16 minutes ago", good, 16 * time.Minute, oidc.ErrHintStale},
		{"iat in the future", good, -6 * time.Minute, oidc.ErrHintNotYetValid},
		{"exp long past", e.hint(t, func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Hour).Unix() }), 0, oidc.ErrHintStale},
		{"nbf in the future", e.hint(t, func(c jwt.MapClaims) { c["nbf"] = t0.Add(time.Hour).Unix() }), 0, oidc.ErrHintNotYetValid},
		{"no iat", e.hint(t, func(c jwt.MapClaims) { delete(c, "iat") }), 0, oidc.ErrHintMissingClaim},
		{"no sub", e.hint(t, func(c jwt.MapClaims) { delete(c, "sub") }), 0, oidc.ErrHintMissingClaim},
		{"no user claim", e.hint(t, func(c jwt.MapClaims) { delete(c, "preferred_username") }), 0, oidc.ErrHintMissingClaim},
		{"user claim not a user", e.hint(t, func(c jwt.MapClaims) { c["preferred_username"] = "guest@example.com" }), 0, oidc.ErrHintUserClaimMismatch},
		{"user claim with prefix", e.hint(t, func(c jwt.MapClaims) { c["preferred_username"] = "x0123456789@example.ac.jp" }), 0, oidc.ErrHintUserClaimMismatch},
		{"not a JWT", "hello", 0, oidc.ErrHintMalformed},
		{"unknown kid", e.sign(t, "rolled-key", e.keys["entra-key-1"], e.claims()), 0, oidc.ErrHintUnknownKID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := oidctest.NewClock(t0.Add(tt.now))
			_, err := newVerifier(e, clk).Verify(ctx, e.client(), tt.tok)
			var he *oidc.HintError
			if !errors.Is(err, tt.want) || !errors.As(err, &he) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.tok) || strings.Contains(err.Error(), "0123456789") {
				t.Errorf("the error shows the token or the user: %v", err)
			}
		})
	}
}

// An unknown kid refetches the key set (Entra rolled its key), but at
// most once a minute, so a flood of made-up kids cannot hammer Entra.
func TestHintUnknownKIDRefetchRateLimited(t *testing.T) {
	e := newEntra(t)
	clk := oidctest.NewClock(t0)
	v := newVerifier(e, clk)
	if _, err := v.Verify(ctx, e.client(), e.hint(t, nil)); err != nil {
		t.Fatal(err)
	}
	rolled := testRSAKey(t)
	e.publish("entra-key-2", rolled)
	clk.Advance(2 * time.Minute)
	if _, err := v.Verify(ctx, e.client(), e.sign(t, "entra-key-2", rolled, jwt.MapClaims(e.claims()))); err != nil && !errors.Is(err, oidc.ErrHintStale) {
		t.Fatalf("a hint signed with Entra's new key: %v", err)
	}
	if n := e.jwksGets.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2 (a refetch for the new kid)", n)
	}
	for i := range 50 {
		_, err := v.Verify(ctx, e.client(), e.sign(t, "bogus-"+string(rune('a'+i%26)), rolled, e.claims()))
		if !errors.Is(err, oidc.ErrHintUnknownKID) {
			t.Fatalf("bogus kid: %v", err)
		}
	}
	if n := e.jwksGets.Load(); n != 2 {
		t.Errorf("a flood of unknown kids made %d more JWKS fetches within a minute, want 0", n-2)
	}
	clk.Advance(time.Minute)
	v.Verify(ctx, e.client(), e.sign(t, "bogus-z", rolled, e.claims()))
	if n := e.jwksGets.Load(); n != 3 {
		t.Errorf("after a minute, %d fetches; want one more", n)
	}
}

// hint_jwks_url skips discovery; a discovery document naming another
// issuer is not trusted.
func TestHintKeySources(t *testing.T) {
	e := newEntra(t)
	clk := oidctest.NewClock(t0)
	c := e.client()
	c.HintJWKSURL = e.srv.URL + "/discovery/v2.0/keys"
	e.discIssue = "https://evil.example/v2.0"
	if _, err := newVerifier(e, clk).Verify(ctx, c, e.hint(t, nil)); err != nil {
		t.Fatalf("with hint_jwks_url: %v", err)
	}
	_, err := newVerifier(e, clk).Verify(ctx, e.client(), e.hint(t, nil))
	if !errors.Is(err, oidc.ErrHintKeysUnavailable) || !strings.Contains(err.Error(), "evil.example") {
		t.Fatalf("discovery with a foreign issuer: %v, want keys_unavailable naming it", err)
	}
	e.srv.Close()
	_, err = newVerifier(e, clk).Verify(ctx, c, e.hint(t, nil))
	if !errors.Is(err, oidc.ErrHintKeysUnavailable) {
		t.Fatalf("issuer down: %v, want keys_unavailable", err)
	}
}
