package selfservice

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OpenID Connect sign-in to the page (OpenID Connect Core 1.0 §3.1,
// the authorization code flow, with PKCE S256 of RFC 7636): the gateway
// is a confidential client of the identity provider users already sign in
// to. go-oidc does discovery, the JWKS (refetched when a token names a
// key it does not hold, so the provider's key rotation needs nothing
// here) and the ID token's signature, iss, aud and exp checks (Core
// §3.1.3.7); x/oauth2 does the code exchange (RFC 6749 §4.1.3) with the
// client's authentication and the code_verifier.

// RPOptions configure the relying party.
type RPOptions struct {
	Issuer       string // exactly as the provider's discovery document names it
	ClientID     string
	ClientSecret string
	RedirectURI  string // this gateway's /me/callback, as registered
	UserClaim    string // the ID token claim naming the user
	// User yields the user ID from the claim: its first capture group.
	// Finish needs it; FinishClaims does not read it.
	User *regexp.Regexp
	// Purpose keeps the sign-ins of one relying party apart from another's
	// in the shared store: a state begun for the console is no state of
	// the Security info page. "" is the Security info page's.
	Purpose    string
	HTTPClient *http.Client     // default: one with a 10 s timeout
	Now        func() time.Time // default time.Now
}

// RP is the page's OpenID Connect relying party.
type RP struct {
	o     RPOptions
	store Store
	ctx   context.Context // carries the HTTP client, for go-oidc and x/oauth2

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, so that the gateway starts while the provider is down
}

// NewRP returns a relying party keeping its sign-ins in store.
func NewRP(o RPOptions, store Store) *RP {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &RP{o: o, store: store, ctx: oidc.ClientContext(context.Background(), o.HTTPClient)}
}

// LoginError is why a sign-in failed: Code is the page's and the
// metric's name for it, Msg what the user and help desk are told.
type LoginError struct {
	Code string // login_state, login_used, login_expired, login_provider, login_failed, login_user, login_staff, login_unavailable
	Msg  string
	Err  error
}

func (e *LoginError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Msg
}

func (e *LoginError) Unwrap() error { return e.Err }

func loginErr(code, msg string, err error) error { return &LoginError{Code: code, Msg: msg, Err: err} }

// discover returns the provider, fetching its discovery document the
// first time (and again after a failure). go-oidc checks that the
// document's issuer is Issuer (Discovery 1.0 §4.3).
func (rp *RP) discover() (*oidc.Provider, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider != nil {
		return rp.provider, nil
	}
	ctx, cancel := context.WithTimeout(rp.ctx, 15*time.Second)
	defer cancel()
	// The provider's key set keeps only the HTTP client of ctx, not its
	// deadline, so it lives on.
	p, err := oidc.NewProvider(ctx, rp.o.Issuer)
	if err != nil {
		return nil, loginErr("login_unavailable", "the identity provider's discovery document cannot be read; try again later", err)
	}
	rp.provider = p
	return rp.provider, nil
}

func (rp *RP) config(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	// client_secret_basic is the default of OpenID Connect Core §9; a
	// provider that lists only client_secret_post gets that.
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if p.Claims(&meta) == nil && len(meta.Methods) > 0 && !slices.Contains(meta.Methods, "client_secret_basic") && slices.Contains(meta.Methods, "client_secret_post") {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	scopes := []string{oidc.ScopeOpenID}
	switch rp.o.UserClaim {
	case "email", "email_verified":
		scopes = append(scopes, "email")
	case "sub":
	default: // preferred_username, name, upn and the like come with profile
		scopes = append(scopes, "profile")
	}
	return &oauth2.Config{ClientID: rp.o.ClientID, ClientSecret: rp.o.ClientSecret, Endpoint: ep, RedirectURL: rp.o.RedirectURI, Scopes: scopes}
}

// verifier is the PKCE code_verifier of the sign-in whose login cookie
// holds secret: 43 base64url characters (RFC 7636 §4.1 asks for 43 to
// 128 unreserved characters with 256 bits of entropy), derived so that
// nothing of it is stored.
func verifier(secret string) string {
	sum := sha256.Sum256([]byte("mfagate selfservice pkce\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Begin starts a sign-in: it returns the provider's authorization URL
// to send the browser to and the secret for the login cookie.
func (rp *RP) Begin(ctx context.Context) (string, string, error) {
	p, err := rp.discover()
	if err != nil {
		return "", "", err
	}
	secret, state, nonce, now := token(), token(), token(), rp.o.Now()
	l := Login{StateHash: rp.hash(state), BindingHash: rp.hash(secret), Nonce: nonce, Created: now, Expires: now.Add(LoginTTL)}
	if err := rp.store.CreateLogin(ctx, l); err != nil {
		return "", "", err
	}
	u := rp.config(p).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier(secret)), oidc.Nonce(nonce))
	return u, secret, nil
}

// hash is the SHA-256 the store keeps of a sign-in's state or cookie
// secret, in this relying party's own domain.
func (rp *RP) hash(v string) []byte {
	if rp.o.Purpose == "" {
		return Hash(v)
	}
	return Hash(rp.o.Purpose + "\x00" + v)
}

// Callback is what the provider's redirect to /me/callback carries.
type Callback struct {
	Code, State      string
	Error, ErrorDesc string // an error response (RFC 6749 §4.1.2.1)
}

// Finish completes the sign-in of the browser whose login cookie holds
// secret and returns the user ID that user_pattern yields from the ID
// token's user claim. Every failure is a *LoginError and opens nothing.
func (rp *RP) Finish(ctx context.Context, cb Callback, secret string) (string, error) {
	claims, err := rp.FinishClaims(ctx, cb, secret)
	if err != nil {
		return "", err
	}
	v, _ := claims[rp.o.UserClaim].(string)
	if v == "" {
		return "", loginErr("login_user", "the ID token has no "+rp.o.UserClaim+" claim naming the user", nil)
	}
	m := rp.o.User.FindStringSubmatch(v)
	if m == nil || m[1] == "" {
		return "", loginErr("login_user", "the account "+clean(v)+" is not one this gateway serves (its "+rp.o.UserClaim+" does not match user_pattern)", nil)
	}
	return m[1], nil
}

// FinishClaims completes the sign-in of the browser whose login cookie
// holds secret and returns the claims of its verified ID token, for a
// caller that maps them itself (the console's staff sign-in). Every
// failure is a *LoginError; the sign-in is used up by any callback of
// its own browser, so a replayed callback fails.
func (rp *RP) FinishClaims(ctx context.Context, cb Callback, secret string) (map[string]any, error) {
	if cb.State == "" || !wellFormed(cb.State) {
		return nil, loginErr("login_state", "the answer of the identity provider carries no state this gateway issued; start the sign-in again", nil)
	}
	if !wellFormed(secret) {
		return nil, loginErr("login_state", "this browser did not start the sign-in (no login cookie); start the sign-in again", nil)
	}
	l, err := rp.store.UseLogin(ctx, rp.hash(cb.State), rp.hash(secret), rp.o.Now())
	switch {
	case errors.Is(err, ErrLoginNotFound):
		return nil, loginErr("login_state", "the answer of the identity provider does not match a sign-in this gateway started; start the sign-in again", nil)
	case errors.Is(err, ErrLoginBinding):
		return nil, loginErr("login_state", "the sign-in was started in another browser; start the sign-in again in this one", nil)
	case errors.Is(err, ErrLoginUsed):
		return nil, loginErr("login_used", "this sign-in has already been completed; start the sign-in again", nil)
	case errors.Is(err, ErrLoginExpired):
		return nil, loginErr("login_expired", fmt.Sprintf("the sign-in took longer than %s; start it again", LoginTTL), nil)
	case err != nil:
		return nil, err
	}
	if cb.Error != "" {
		return nil, loginErr("login_provider", "the identity provider answered "+clean(cb.Error)+": "+clean(cb.ErrorDesc), nil)
	}
	if cb.Code == "" {
		return nil, loginErr("login_failed", "the answer of the identity provider has no authorization code", nil)
	}
	p, err := rp.discover()
	if err != nil {
		return nil, err
	}
	cctx := oidc.ClientContext(ctx, rp.o.HTTPClient)
	tok, err := rp.config(p).Exchange(cctx, cb.Code, oauth2.VerifierOption(verifier(secret)))
	if err != nil {
		return nil, loginErr("login_failed", "the identity provider did not exchange the authorization code", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, loginErr("login_failed", "the identity provider's token response has no id_token", nil)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: rp.o.ClientID, Now: rp.o.Now}).Verify(cctx, raw)
	if err != nil {
		return nil, loginErr("login_failed", "the ID token is not valid for this gateway (signature, issuer, audience or expiry)", err)
	}
	// Core §3.1.3.7 step 11: the nonce must be the one the request sent.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 {
		return nil, loginErr("login_failed", "the ID token's nonce is not this sign-in's", nil)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, loginErr("login_failed", "the ID token's claims cannot be read", err)
	}
	return claims, nil
}

// clean shortens outside text for a message: printable ASCII, at most 80
// characters.
func clean(s string) string {
	b := []byte{}
	for _, r := range s {
		if len(b) >= 80 {
			return string(b) + "…"
		}
		if r >= 0x20 && r < 0x7f {
			b = append(b, byte(r))
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}
