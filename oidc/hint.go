package oidc

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mfagate/config"
)

// Client is one relying party (config [[oidc.client]]).
type Client struct {
	ID           string
	RedirectURIs []string
	HintIssuer   string
	HintJWKSURL  string // "" means: from HintIssuer's discovery document
	UserClaim    string
	UserPattern  *regexp.Regexp // one capture group: the mfagate user ID
}

// Clients are the relying parties by client ID.
type Clients map[string]*Client

// NewClients returns the clients of a validated configuration.
func NewClients(cfg config.OIDC) Clients {
	cs := Clients{}
	for _, c := range cfg.Clients {
		cs[c.ClientID] = &Client{ID: c.ClientID, RedirectURIs: c.RedirectURIs, HintIssuer: c.HintIssuer,
			HintJWKSURL: c.HintJWKSURL, UserClaim: c.UserClaim, UserPattern: c.User}
	}
	return cs
}

// Hint is what a verified id_token_hint says.
type Hint struct {
	Issuer    string
	Subject   string // sub: pairwise per application; echoed in the id_token
	ObjectID  string // oid
	TenantID  string // tid
	UserClaim string // the value of the client's user_claim
	User      string // the mfagate user ID user_pattern captured from it
	KeyID     string
	IssuedAt  time.Time
	Expiry    time.Time
}

// Acceptance window of a hint. The reference ("Default id_token_hint
// claims") says the hint "is issued as expired", and its example has exp
// one second before iat, so exp cannot be checked the usual way. Instead
// the hint must have been issued recently: iat no older than HintMaxAge
// (Entra abandons a sign-in about 10 minutes after redirecting, "Microsoft
// Entra ID processing of the provider response"), exp no older than that
// either, and neither iat nor nbf in the future, each with clock skew.
// A captured hint is thus replayable for at most HintMaxAge + HintSkew,
// and only to start a flow that still needs the user's own factor.
const (
	HintMaxAge = 10 * time.Minute
	HintSkew   = 5 * time.Minute
)

// HintOptions configure a HintVerifier.
type HintOptions struct {
	HTTP *http.Client // fetches discovery documents and key sets; default a client with a 10 s timeout
	// KeysTTL is how long a fetched key set is used before it is fetched
	// again; default 24 hours.
	KeysTTL time.Duration
	// RefetchEvery is the shortest time between two fetches of one key set
	// for an unknown kid, so that a flood of made-up kids cannot hammer
	// the hint issuer; default 1 minute.
	RefetchEvery time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// HintVerifier verifies id_token_hints against their issuers' published
// keys, which it caches per key set URL.
type HintVerifier struct {
	opt HintOptions

	mu   sync.Mutex
	sets map[string]*keySet // by HintIssuer + " " + HintJWKSURL
}

type keySet struct {
	mu      sync.Mutex // held while fetching, so concurrent misses fetch once
	keys    map[string]*jose.JSONWebKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
	lastErr error
}

// NewHintVerifier returns a verifier.
func NewHintVerifier(opt HintOptions) *HintVerifier {
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.KeysTTL <= 0 {
		opt.KeysTTL = 24 * time.Hour
	}
	if opt.RefetchEvery <= 0 {
		opt.RefetchEvery = time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &HintVerifier{opt: opt, sets: map[string]*keySet{}}
}

// maxHintLen bounds the token: Entra's hints are about 1.5 kB.
const maxHintLen = 16 << 10

type hintHeader struct {
	Alg  string   `json:"alg"`
	KID  string   `json:"kid"`
	Crit []string `json:"crit"`
}

// hintClaims are the claims read from a hint; aud may be a string or an
// array (RFC 7519 §4.1.3).
type hintClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *json.Number    `json:"exp"`
	Iat *json.Number    `json:"iat"`
	Nbf *json.Number    `json:"nbf"`
	OID string          `json:"oid"`
	TID string          `json:"tid"`
}

// ParseHintHeader decodes a compact JWS's header without verifying
// anything: the alg must be RS256 (refusing "none" and HS256, with which a
// public key would be used as an HMAC secret) and a kid must name the key.
func ParseHintHeader(raw string) (kid string, err error) {
	if len(raw) > maxHintLen {
		return "", hintErr(HintMalformed, fmt.Sprintf("longer than %d bytes", maxHintLen), nil)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", hintErr(HintMalformed, "not a compact JWS of three parts", nil)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", hintErr(HintMalformed, "header is not base64url", nil)
	}
	var h hintHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", hintErr(HintMalformed, "header is not a JSON object", nil)
	}
	if h.Alg != string(jose.RS256) {
		return "", hintErr(HintBadAlgorithm, fmt.Sprintf("alg %q; only RS256 is accepted", truncate(h.Alg)), nil)
	}
	if len(h.Crit) > 0 {
		return "", hintErr(HintMalformed, "critical header extensions are not understood", nil)
	}
	if h.KID == "" {
		return "", hintErr(HintUnknownKID, "the header has no kid", nil)
	}
	return h.KID, nil
}

// Verify checks a hint for client c: RS256 signature by a key the client's
// hint issuer publishes, iss, aud, the acceptance window, and maps the user
// claim through user_pattern. Every refusal is a *HintError.
func (v *HintVerifier) Verify(ctx context.Context, c *Client, raw string) (*Hint, error) {
	kid, err := ParseHintHeader(raw)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, hintErr(HintMalformed, "not a JWS", nil)
	}
	key, err := v.key(ctx, c, kid)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, hintErr(HintBadSignature, "kid "+truncate(kid), nil)
	}
	var cl hintClaims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil {
		return nil, hintErr(HintMalformed, "claims are not a JSON object", nil)
	}
	if err := dec.Decode(&cl); err != nil {
		return nil, hintErr(HintMalformed, "claims have the wrong types", nil)
	}
	if cl.Iss != c.HintIssuer {
		return nil, hintErr(HintWrongIssuer, fmt.Sprintf("iss %q, want %q", truncate(cl.Iss), c.HintIssuer), nil)
	}
	if !audienceHas(cl.Aud, c.ID) {
		return nil, hintErr(HintWrongAudience, fmt.Sprintf("aud does not name client %q", c.ID), nil)
	}
	if cl.Sub == "" {
		return nil, hintErr(HintMissingClaim, "sub", nil)
	}
	iat, ok1 := numericDate(cl.Iat)
	exp, ok2 := numericDate(cl.Exp)
	if !ok1 || !ok2 {
		return nil, hintErr(HintMissingClaim, "iat and exp must be numeric dates", nil)
	}
	now := v.opt.Now()
	oldest := now.Add(-HintMaxAge - HintSkew)
	switch {
	case iat.Before(oldest):
		return nil, hintErr(HintStale, fmt.Sprintf("issued %s ago; at most %s is accepted", now.Sub(iat).Round(time.Second), HintMaxAge), nil)
	case exp.Before(oldest):
		return nil, hintErr(HintStale, fmt.Sprintf("expired %s ago", now.Sub(exp).Round(time.Second)), nil)
	case iat.After(now.Add(HintSkew)):
		return nil, hintErr(HintNotYetValid, "iat is in the future", nil)
	}
	if cl.Nbf != nil {
		nbf, ok := numericDate(cl.Nbf)
		if !ok || nbf.After(now.Add(HintSkew)) {
			return nil, hintErr(HintNotYetValid, "nbf is in the future", nil)
		}
	}
	var uc string
	if rawUC, ok := all[c.UserClaim]; !ok || json.Unmarshal(rawUC, &uc) != nil || uc == "" {
		return nil, hintErr(HintMissingClaim, "user claim "+c.UserClaim+" is absent or not a string", nil)
	}
	m := c.UserPattern.FindStringSubmatch(uc)
	if len(m) != 2 || m[1] == "" {
		// The value names a person (an e-mail-like UPN): it is not shown.
		return nil, hintErr(HintUserClaimMismatch, c.UserClaim+" does not match user_pattern", nil)
	}
	return &Hint{Issuer: cl.Iss, Subject: cl.Sub, ObjectID: cl.OID, TenantID: cl.TID, UserClaim: uc, User: m[1],
		KeyID: kid, IssuedAt: iat, Expiry: exp}, nil
}

func audienceHas(raw json.RawMessage, id string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == id
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == id {
				return true
			}
		}
	}
	return false
}

func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func truncate(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// key returns the hint issuer's key kid, fetching the key set when it is
// not cached, too old, or (rate-limited) lacks kid.
func (v *HintVerifier) key(ctx context.Context, c *Client, kid string) (*jose.JSONWebKey, error) {
	id := c.HintIssuer + " " + c.HintJWKSURL
	v.mu.Lock()
	ks := v.sets[id]
	if ks == nil {
		ks = &keySet{}
		v.sets[id] = ks
	}
	v.mu.Unlock()

	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := v.opt.Now()
	k := ks.keys[kid]
	stale := ks.fetched.IsZero() || now.Sub(ks.fetched) >= v.opt.KeysTTL
	mayRetry := ks.tried.IsZero() || now.Sub(ks.tried) >= v.opt.RefetchEvery
	if (stale || k == nil) && mayRetry {
		ks.tried = now
		keys, err := v.fetch(ctx, c)
		if err != nil {
			ks.lastErr = err
			v.opt.Log.Warn("hint issuer keys not fetched", "issuer", c.HintIssuer, "err", err)
		} else {
			ks.keys, ks.fetched, ks.lastErr = keys, now, nil
			k = keys[kid]
		}
	}
	switch {
	case k != nil:
		return k, nil
	case ks.keys == nil:
		return nil, hintErr(HintKeysUnavailable, c.HintIssuer, ks.lastErr)
	}
	return nil, hintErr(HintUnknownKID, fmt.Sprintf("%s does not publish kid %q", c.HintIssuer, truncate(kid)), nil)
}

const maxDocLen = 1 << 20

// fetch reads the key set: from HintJWKSURL, or from the jwks_uri of the
// hint issuer's discovery document, whose issuer must be HintIssuer.
func (v *HintVerifier) fetch(ctx context.Context, c *Client) (map[string]*jose.JSONWebKey, error) {
	jwksURL := c.HintJWKSURL
	if jwksURL == "" {
		var d struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, strings.TrimSuffix(c.HintIssuer, "/")+DiscoveryPath, &d); err != nil {
			return nil, err
		}
		if d.Issuer != c.HintIssuer {
			return nil, fmt.Errorf("discovery document names issuer %q, not %q", truncate(d.Issuer), c.HintIssuer)
		}
		if !fetchableURL(d.JWKSURI) {
			return nil, fmt.Errorf("discovery document's jwks_uri %q is not https", truncate(d.JWKSURI))
		}
		jwksURL = d.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, jwksURL, &set); err != nil {
		return nil, err
	}
	keys := map[string]*jose.JSONWebKey{}
	for _, raw := range set.Keys {
		// One key this package cannot read (another type, a bad x5c) must
		// not hide the others.
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || k.KeyID == "" || !k.Valid() || !k.IsPublic() {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if _, isRSA := k.Key.(*rsa.PublicKey); !isRSA {
			continue
		}
		keys[k.KeyID] = &k
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set has no usable RSA signing key")
	}
	return keys, nil
}

func (v *HintVerifier) getJSON(ctx context.Context, u string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.opt.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocLen+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocLen {
		return fmt.Errorf("GET %s: longer than %d bytes", u, maxDocLen)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// fetchableURL reports whether u is https, or http to a loopback host (as
// config allows for tests).
func fetchableURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	if p.Scheme == "https" {
		return true
	}
	ip := net.ParseIP(p.Hostname())
	return p.Scheme == "http" && (strings.EqualFold(p.Hostname(), "localhost") || ip != nil && ip.IsLoopback())
}
