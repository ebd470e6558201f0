package pi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The service account's token. privacyIDEA answers /auth with an HS256
// JWT its plugins send back, unaltered and without "Bearer", in the
// Authorization header (privacyidea/api/lib/utils.py
// get_auth_token_from_request reads PI-Authorization first). The Java
// client also reads the token's exp claim to renew it a minute early, and
// decodes the claims with Java's standard base64 decoder, which refuses
// '-' and '_'; so the claims are re-drawn (a new nonce) until their
// base64url form has neither. The MAC is the server key's, so every node
// of a cluster accepts every node's tokens.
const (
	tokenLifetime = time.Hour // privacyIDEA's default jwt validity
	tokenPurpose  = "privacyidea auth token v1"
	tokenHeader   = `{"alg":"HS256","typ":"JWT"}`
	// roleAdmin is the role /validate/triggerchallenge needs; it is
	// the only thing the service account may do here.
	roleAdmin = "admin"
)

// Wrong service-account passwords from one address: after loginFailures
// within loginWindow, /auth refuses that address until the window passes.
const (
	loginFailures = 5
	loginWindow   = 15 * time.Minute
)

type claims struct {
	Username string `json:"username"`
	Realm    string `json:"realm"`
	Role     string `json:"role"`
	AuthType string `json:"authtype"`
	Nonce    string `json:"nonce"`
	Exp      int64  `json:"exp"`
}

var b64 = base64.RawURLEncoding

func (s *Server) issueToken(user, realm string, now time.Time) string {
	head := b64.EncodeToString([]byte(tokenHeader))
	for {
		n := make([]byte, 16)
		rand.Read(n)
		c, _ := json.Marshal(claims{Username: user, Realm: realm, Role: roleAdmin, AuthType: "password",
			Nonce: hex.EncodeToString(n), Exp: now.Add(tokenLifetime).Unix()})
		body := b64.EncodeToString(c)
		if strings.ContainsAny(body, "-_") {
			continue // about one draw in two; see above
		}
		signed := head + "." + body
		return signed + "." + b64.EncodeToString(s.keys.MAC(tokenPurpose, []byte(signed)))
	}
}

// checkToken verifies the token a protected route was called with.
func (s *Server) checkToken(r *http.Request) error {
	tok := r.Header.Get("PI-Authorization")
	if tok == "" {
		tok = r.Header.Get("Authorization")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return authError(errAuthHeader, "Authentication failure. Missing Authorization header.")
	}
	// Tolerate "Bearer <token>" from clients that add it; privacyIDEA's
	// own plugins do not.
	if scheme, rest, ok := strings.Cut(tok, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(rest)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return authError(errTokenDecoding, "Authentication failure. Error decoding the Authorization token: not a token from POST /auth")
	}
	mac, err := b64.DecodeString(parts[2])
	if err != nil || !s.keys.MACMatches(tokenPurpose, []byte(parts[0]+"."+parts[1]), mac) {
		return authError(errTokenDecoding, "Authentication failure. Error decoding the Authorization token: Signature verification failed")
	}
	raw, err := b64.DecodeString(parts[1])
	var c claims
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		return authError(errTokenDecoding, "Authentication failure. Error decoding the Authorization token: the claims cannot be read")
	}
	if !s.now().Before(time.Unix(c.Exp, 0)) {
		return authError(errTokenExpired, "Authentication failure. Your token has expired: Signature has expired")
	}
	if c.Role != roleAdmin || c.Username != s.cfg.ServiceAccount {
		return authError(errTokenDecoding, "Authentication failure. The token is not the service account's; get a new one from POST /auth")
	}
	return nil
}

// auth is POST /auth for the service account (privacyidea/api/auth.py
// get_auth_token). Only [privacyidea] service_account exists here: there
// are no user logins and no web UI.
func (s *Server) auth(r *http.Request, p params) (answer, error) {
	user, pass := p["username"], p["password"]
	realm := p["realm"]
	if name, rlm, ok := strings.Cut(user, "@"); ok && realm == "" {
		user, realm = name, rlm
	}
	if user == "" {
		return answer{}, authError(4032, "Authentication failure. Missing Username")
	}
	addr := clientAddr(r)
	now := s.now()
	if wait := s.logins.blocked(addr, now); wait > 0 {
		return answer{}, authError(errWrongCredential, "Authentication failure. Too many wrong passwords from %s; try again in %s", addr, retryIn(wait))
	}
	sum := sha256.Sum256([]byte(pass))
	okUser := s.cfg.ServiceAccount != "" && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.ServiceAccount)) == 1
	okPass := subtle.ConstantTimeCompare(sum[:], s.cfg.PasswordHash[:]) == 1
	if !okUser || !okPass || (realm != "" && s.cfg.Realm != "" && realm != s.cfg.Realm) {
		s.logins.fail(addr, now)
		s.log.Warn("privacyIDEA service-account login refused", "client", addr)
		return answer{}, authError(errWrongCredential, "Authentication failure. Wrong credentials")
	}
	s.logins.reset(addr)
	return answer{value: map[string]any{
		"token": s.issueToken(user, realm, now), "role": roleAdmin, "username": user, "realm": realm,
		"rights": []string{"triggerchallenge"}, "auth": true, "log_level": 20, "menus": []string{},
	}, auth: accept, detail: map[string]any{}}, nil
}

// failureLimiter counts failures per key in a fixed window.
type failureLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	seen   map[string]failures
}

type failures struct {
	n     int
	since time.Time
}

// maxTracked bounds the addresses remembered; beyond it the oldest
// windows are dropped first.
const maxTracked = 4096

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, seen: map[string]failures{}}
}

// blocked returns how long key must still wait, or 0.
func (l *failureLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.seen[key]
	if !ok || now.Sub(f.since) >= l.window {
		return 0
	}
	if f.n < l.max {
		return 0
	}
	return f.since.Add(l.window).Sub(now)
}

func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.seen[key]
	if !ok || now.Sub(f.since) >= l.window {
		f = failures{since: now}
	}
	f.n++
	l.seen[key] = f
	if len(l.seen) > maxTracked {
		for k, v := range l.seen {
			if now.Sub(v.since) >= l.window || len(l.seen) > maxTracked {
				delete(l.seen, k)
			}
		}
	}
}

func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, key)
}
