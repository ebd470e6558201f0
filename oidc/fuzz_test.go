package oidc_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"mfagate/oidc"
	"mfagate/oidc/oidctest"
)

// stubJWKS answers every request with a discovery document or key set for
// key, without a network.
type stubJWKS struct {
	issuer string
	key    *rsa.PublicKey
}

func (s stubJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	var body any = map[string]string{"issuer": s.issuer, "jwks_uri": "https://stub.example/keys"}
	if r.URL.Path == "/keys" {
		body = map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(s.key.N.Bytes()), "e": "AQAB"}}}
	}
	b, _ := json.Marshal(body)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(string(b))), Header: http.Header{}}, nil
}

// Whatever the hint, Verify does not panic and refuses with a *HintError.
func FuzzVerifyHint(f *testing.F) {
	key := testRSAKey(&testing.T{})
	const iss = "https://stub.example/t/v2.0"
	c := &oidc.Client{ID: "app", HintIssuer: iss, UserClaim: "preferred_username", UserPattern: testClients()["app"].UserPattern}
	claims := jwt.MapClaims{"iss": iss, "aud": "app", "sub": "s", "iat": t0.Unix(), "exp": t0.Unix() - 1, "preferred_username": "0123456789@x"}
	tk := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tk.Header["kid"] = "k1"
	good, _ := tk.SignedString(key)
	f.Add(good)
	parts := strings.Split(good, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + parts[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k1","crit":["x"]}`)) + "." + parts[1] + "." + parts[2])
	f.Add(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":1,"aud":[1,2],"iat":"x"}`)) + "." + parts[2])
	f.Add("..")
	f.Add("")
	v := oidc.NewHintVerifier(oidc.HintOptions{HTTP: &http.Client{Transport: stubJWKS{iss, &key.PublicKey}}, Now: oidctest.NewClock(t0).Now})
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := v.Verify(ctx, c, raw)
		var he *oidc.HintError
		switch {
		case err == nil && (h.User == "" || h.Subject == ""):
			t.Fatalf("accepted a hint without user or subject: %+v", h)
		case err != nil && !errors.As(err, &he):
			t.Fatalf("untyped error %T: %v", err, err)
		}
	})
}

// Whatever the parameters, ParseAuthValues does not panic, refuses with an
// *AuthError, and never offers to redirect to an unregistered URI.
func FuzzParseAuthValues(f *testing.F) {
	f.Add(entraForm().Encode())
	for _, edit := range []func(url.Values){
		func(v url.Values) { v.Set("redirect_uri", "https://evil.example/") },
		func(v url.Values) { v.Del("nonce") },
		func(v url.Values) { v.Set("claims", `{"id_token":{"acr":null,"amr":{"value":"otp"}}}`) },
		func(v url.Values) { v.Set("claims", `{"id_token":{"acr":{"values":[1]}}}`) },
		func(v url.Values) { v.Add("state", "again") },
	} {
		v := entraForm()
		edit(v)
		f.Add(v.Encode())
	}
	f.Add("client_id=app&redirect_uri=%zz")
	clients := testClients()
	f.Fuzz(func(t *testing.T, query string) {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := oidc.ParseAuthValues(vals, clients)
		if err == nil {
			if !slices.Contains(clients[req.Client.ID].RedirectURIs, req.RedirectURI) || req.Nonce == "" || req.IDTokenHint == "" {
				t.Fatalf("accepted %+v", req)
			}
			return
		}
		var ae *oidc.AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if ae.Redirectable() && (clients[ae.ClientID] == nil || !slices.Contains(clients[ae.ClientID].RedirectURIs, ae.RedirectURI)) {
			t.Fatalf("would redirect to unregistered %q", ae.RedirectURI)
		}
	})
}
