package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mfagate/config"
	"mfagate/oidc"
)

// The demo's stand-in for Microsoft Entra ID, so that the External MFA
// provider can be tried without a tenant: under /demo/entra/ it publishes
// a discovery document and a key set of its own, signs an id_token_hint
// for the user typed into its start page and form-POSTs the request to
// /oidc/authorize as Entra does (the reference, "Microsoft Entra ID call
// to the external identity provider"); its callback checks the id_token
// that comes back against mfagate's published keys and shows its claims.
// It exists only in -demo.

const (
	demoEntraPath   = "/demo/entra"
	demoEntraClient = "demo-entra"
	demoEntraTenant = "6a7d3c2e-0000-4000-8000-00000000de40"
)

// demoOIDC turns on the provider for the demo on its listen address:
// issuer http://localhost:<port>, one client trusting the stand-in (or,
// with -demo-hint-issuer, an outside issuer such as a test's), and the
// WebAuthn origin the browser reports for that address.
func demoOIDC(cfg *config.Config, hintIssuer, redirectURI string) error {
	if _, unix := cfg.Server.IsUnix(); unix {
		return nil // a browser cannot reach a unix socket
	}
	_, port, err := net.SplitHostPort(cfg.Server.Listen)
	if err != nil || port == "" || port == "0" {
		return nil
	}
	base := "http://localhost:" + port
	cfg.OIDC.Issuer = base
	cfg.FIDO.Origin = base
	c := config.OIDCClient{ClientID: demoEntraClient, RedirectURIs: []string{base + demoEntraPath + "/callback"},
		HintIssuer: base + demoEntraPath + "/" + demoEntraTenant + "/v2.0"}
	if hintIssuer != "" {
		c.HintIssuer = hintIssuer
	}
	if redirectURI != "" {
		c.RedirectURIs = append(c.RedirectURIs, redirectURI)
	}
	cfg.OIDC.Clients = []config.OIDCClient{c}
	return cfg.Validate()
}

// entraStandIn is the stand-in's handler.
type entraStandIn struct {
	base   string // http://localhost:<port>
	issuer string
	key    *rsa.PrivateKey
	kid    string
	client *http.Client

	mu     sync.Mutex
	nonces map[string]time.Time // nonce → when the request was sent (single use)
}

func newEntraStandIn(base string) (*entraStandIn, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	kid := make([]byte, 9)
	rand.Read(kid)
	return &entraStandIn{base: base, issuer: base + demoEntraPath + "/" + demoEntraTenant + "/v2.0", key: k,
		kid: base64.RawURLEncoding.EncodeToString(kid), client: &http.Client{Timeout: 5 * time.Second},
		nonces: map[string]time.Time{}}, nil
}

func (e *entraStandIn) routes(mux *http.ServeMux) {
	p := demoEntraPath + "/" + demoEntraTenant + "/v2.0"
	mux.HandleFunc("GET "+p+"/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeDemoJSON(w, map[string]any{"issuer": e.issuer, "jwks_uri": e.base + p + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET "+p+"/keys", func(w http.ResponseWriter, _ *http.Request) {
		writeDemoJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &e.key.PublicKey, KeyID: e.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET "+demoEntraPath+"/{$}", e.start)
	mux.HandleFunc("POST "+demoEntraPath+"/signin", e.signin)
	mux.HandleFunc("POST "+demoEntraPath+"/callback", e.callback)
}

func writeDemoJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

var demoEntraPage = template.Must(template.New("entra").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo Entra ID</title>
<link rel="stylesheet" href="/oidc/assets/kiosk.css"></head>
<body><main id="main">
<h1>Demo Entra ID (a stand-in for Microsoft Entra ID)</h1>
{{if .Start}}
<p>Entra has checked the password; External MFA is next. Type the user ID (10 digits) of a user with confirmed methods.</p>
<form method="post" action="{{.Action}}"><label>User ID <input name="user" required pattern="[0-9]{10}" inputmode="numeric"></label>
<button type="submit">Sign in</button></form>
{{else if .Error}}
<h2>mfagate answered with an error</h2><dl><dt>error</dt><dd id="error">{{.Error}}</dd><dt>error_description</dt><dd>{{.Description}}</dd></dl>
{{else}}
<h2>Signed in: mfagate's id_token verified</h2><dl>{{range .Claims}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{end}}
<p><a href="{{.Again}}">Sign in again</a></p>
</main></body></html>`))

type demoClaim struct{ Name, Value string }

func (e *entraStandIn) page(w http.ResponseWriter, status int, data map[string]any) {
	data["Again"] = demoEntraPath + "/"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	demoEntraPage.Execute(w, data)
}

func (e *entraStandIn) start(w http.ResponseWriter, _ *http.Request) {
	e.page(w, http.StatusOK, map[string]any{"Start": true, "Action": demoEntraPath + "/signin"})
}

var demoUserID = regexp.MustCompile(`^[0-9]{10}$`)

// signin plays Entra's redirect to the provider: a form POST carrying the
// parameters of the reference's table, with a freshly signed hint.
func (e *entraStandIn) signin(w http.ResponseWriter, r *http.Request) {
	user := r.PostFormValue("user")
	if !demoUserID.MatchString(user) {
		http.Error(w, "the user ID is 10 digits, like 0123456789", http.StatusBadRequest)
		return
	}
	now := time.Now()
	sub := "demo-sub-" + user
	hint, err := e.sign(map[string]any{"iss": e.issuer, "aud": demoEntraClient, "sub": sub, "oid": "demo-oid-" + user,
		"tid": demoEntraTenant, "preferred_username": user + "@example.ac.jp", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "ver": "2.0"})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	nonce, state := randomDemoToken(), randomDemoToken()
	e.mu.Lock()
	for n, t := range e.nonces {
		if now.Sub(t) > oidc.FlowTTL {
			delete(e.nonces, n)
		}
	}
	e.nonces[nonce] = now
	e.mu.Unlock()
	claims := `{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}`
	fields := []oidc.Field{{Name: "scope", Value: "openid"}, {Name: "response_type", Value: "id_token"},
		{Name: "response_mode", Value: "form_post"}, {Name: "client_id", Value: demoEntraClient},
		{Name: "redirect_uri", Value: e.base + demoEntraPath + "/callback"}, {Name: "claims", Value: claims},
		{Name: "nonce", Value: nonce}, {Name: "state", Value: state}, {Name: "id_token_hint", Value: hint},
		{Name: "client-request-id", Value: "00000000-0000-4000-8000-000000000000"}}
	oidc.WriteFormPost(w, e.base+oidc.AuthorizePath, fields)
}

func (e *entraStandIn) sign(claims map[string]any) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: e.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", e.kid))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := sig.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// callback receives the answer and checks it as Entra would: signature
// against the provider's published keys, iss, aud, nonce, exp.
func (e *entraStandIn) callback(w http.ResponseWriter, r *http.Request) {
	if errCode := r.PostFormValue("error"); errCode != "" {
		e.page(w, http.StatusOK, map[string]any{"Error": errCode, "Description": r.PostFormValue("error_description")})
		return
	}
	claims, err := e.check(r.Context(), r.PostFormValue("id_token"))
	if err != nil {
		e.page(w, http.StatusBadRequest, map[string]any{"Error": "id_token rejected", "Description": err.Error()})
		return
	}
	var list []demoClaim
	for _, k := range []string{"iss", "aud", "sub", "oid", "tid", "acr", "amr", "nonce", "iat", "exp"} {
		list = append(list, demoClaim{k, fmt.Sprint(claims[k])})
	}
	e.page(w, http.StatusOK, map[string]any{"Claims": list})
}

func (e *entraStandIn) check(ctx context.Context, raw string) (map[string]any, error) {
	tok, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("not a JWS: %w", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+oidc.JWKSPath, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the provider's keys: %w", err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("the provider's keys: %w", err)
	}
	keys := set.Key(tok.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		return nil, fmt.Errorf("kid %q is not published", tok.Signatures[0].Header.KeyID)
	}
	payload, err := tok.Verify(keys[0].Key)
	if err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, err
	}
	nonce, _ := c["nonce"].(string)
	e.mu.Lock()
	_, known := e.nonces[nonce]
	delete(e.nonces, nonce)
	e.mu.Unlock()
	exp, _ := c["exp"].(float64)
	switch {
	case c["iss"] != e.base:
		return nil, fmt.Errorf("iss %v is not %s", c["iss"], e.base)
	case c["aud"] != demoEntraClient:
		return nil, fmt.Errorf("aud %v is not %s", c["aud"], demoEntraClient)
	case !known:
		return nil, fmt.Errorf("nonce was not sent by this stand-in, or was used before")
	case time.Now().Unix() > int64(exp):
		return nil, fmt.Errorf("expired")
	}
	return c, nil
}

func randomDemoToken() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
