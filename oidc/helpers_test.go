package oidc_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"mfagate/oidc"
	"mfagate/oidc/oidctest"
)

const testIssuer = "https://mfa.example.ac.jp"

var t0 = time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC)

func keyOptions(clk *oidctest.Clock) oidc.KeyOptions {
	return oidc.KeyOptions{Rotation: 90 * 24 * time.Hour, PublishAhead: 48 * time.Hour, TokenTTL: 5 * time.Minute, Now: clk.Now}
}

// jwk is a key of the published set as an independent client reads it.
type jwk struct {
	Kty, Use, Alg, Kid, N, E, X5t string
	X5c                           []string
}

// fetchJWKS GETs the key set from the handler and rebuilds each RSA key
// from n and e by hand, checking that its x5c certificate holds the same
// key and that x5t is the certificate's SHA-1.
func fetchJWKS(t *testing.T, m *oidc.KeyManager) map[string]*rsa.PublicKey {
	t.Helper()
	rec := httptest.NewRecorder()
	m.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidc.JWKSPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("JWKS answered %d: %s", rec.Code, rec.Body)
	}
	var set struct{ Keys []jwk }
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Use != "sig" || k.Alg != "RS256" || k.Kid == "" {
			t.Errorf("key %+v: want kty RSA, use sig, alg RS256 and a kid", k)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("key %s: n or e not base64url", k.Kid)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			t.Errorf("key %s has %d bits", k.Kid, pub.N.BitLen())
		}
		if len(k.X5c) != 1 {
			t.Fatalf("key %s has %d x5c certificates, want 1", k.Kid, len(k.X5c))
		}
		der, err := base64.StdEncoding.DecodeString(k.X5c[0]) // x5c is standard base64, not base64url
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if cp, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !cp.Equal(pub) {
			t.Errorf("key %s: the x5c certificate holds another key than n/e", k.Kid)
		}
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			t.Errorf("key %s: certificate is not self-signed: %v", k.Kid, err)
		}
		sum := sha1.Sum(der)
		if k.X5t != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Errorf("key %s: x5t is not the certificate's SHA-1", k.Kid)
		}
		out[k.Kid] = pub
	}
	return out
}

// verifyToken verifies an id_token with golang-jwt against the key set,
// as Entra would: RS256 only, kid looked up in the set.
func verifyToken(t *testing.T, tok string, keys map[string]*rsa.PublicKey, now time.Time) (jwt.MapClaims, *jwt.Token, error) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		if k := keys[kid]; k != nil {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(testIssuer), jwt.WithTimeFunc(func() time.Time { return now }))
	return claims, parsed, err
}

func mustJSON(t *testing.T, b *bytes.Buffer, v any) {
	t.Helper()
	if err := json.Unmarshal(b.Bytes(), v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

var ctx = context.Background()

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func mustString(v any) string { s, _ := jsonString(v); return s }
