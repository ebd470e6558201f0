package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/api"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// Tokens of the three test clients.
const (
	tokIDP    = "idp-token-0123456789"
	tokEnroll = "enroll-token-0123456789"
	tokAdmin  = "admin-token-0123456789"
	user      = "0123456789"
)

// harness is a gateway on a real SQLite file behind a real HTTP listener.
type harness struct {
	t      testing.TB
	srv    *httptest.Server
	svc    *mfa.Service
	db     *sqlite.DB
	clock  *mfatest.Clock
	sender *mfatest.Sender
	keys   *mfa.Keys
	path   string
	oidc   *oidcParts // non-nil: the External MFA provider is on
	// self, when set, builds the Security info page for the server at base.
	self func(h *harness, base string) *api.SelfService
	// console, when set, builds the console's staff sign-in likewise.
	console func(h *harness, base string) *api.Console
	models  func([16]byte) string
	api     *api.Server
}

type messages struct{}

func (messages) SMS(lang string, v map[string]string) string {
	return fmt.Sprintf("%s code %s valid %s min (%s)", v["issuer"], v["code"], v["minutes"], lang)
}
func (messages) Voice(lang string, nm bool, v map[string]string) string {
	return fmt.Sprintf("voice prompt match=%v (%s)", nm, lang)
}
func (messages) DefaultLanguage() string { return "ja" }

func testPolicy() mfa.Policy {
	return mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100,
		PhoneChallengesPerUser: 5, PhoneChallengeWindow: 15 * time.Minute, ActivationDelay: 40 * time.Minute,
		ProofMaxAge: 10 * time.Minute, UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP",
		AllowedRegions: []string{"JP"}, VoiceNumberMatch: true,
		TOTP:     mfa.TOTPParams{Issuer: "mfagate-test", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: messages{},
	}
}

func newHarness(t testing.TB, tweak ...func(*mfa.Policy)) *harness {
	t.Helper()
	p := testPolicy()
	for _, f := range tweak {
		f(&p)
	}
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "mfagate.db")}
	h.clock = mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))
	h.keys, _ = mfa.NewKeys(bytes.Repeat([]byte{7}, 32))
	h.open(p)
	return h
}

// open (re)starts the service on the harness's database file.
func (h *harness) open(p mfa.Policy) {
	t := h.t
	t.Helper()
	db, err := sqlite.Open(context.Background(), h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	m := metrics.New()
	svc, err := mfa.New(mfa.Options{Store: db, Keys: h.keys, Policy: p, Now: h.clock.Now, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	h.sender = mfatest.NewSender("sim0")
	h.sender.Service = svc
	svc.SetSender(h.sender)
	client := func(name, tok string, roles ...api.Role) api.Client {
		return api.Client{Name: name, TokenHash: sha256.Sum256([]byte(tok)), Roles: roles}
	}
	opts := api.Options{Service: svc, Metrics: m, Clients: []api.Client{
		client("idp", tokIDP, api.RoleIDP), client("kiosk", tokEnroll, api.RoleEnroll), client("ops", tokAdmin, api.RoleAdmin),
	}}
	if h.oidc != nil {
		opts.OIDC = h.oidc.provider(h)
	}
	opts.Models = h.models
	srv := httptest.NewUnstartedServer(nil) // listening already: its URL is known before the handler is built
	if h.self != nil {
		opts.SelfService = h.self(h, "http://"+srv.Listener.Addr().String())
	}
	if h.console != nil {
		opts.Console = h.console(h, "http://"+srv.Listener.Addr().String())
	}
	s := api.New(opts)
	h.api = s
	srv.Config.Handler = s.Handler()
	srv.Start()
	h.srv = srv
	t.Cleanup(h.close)
}

func (h *harness) close() {
	if h.srv != nil {
		h.srv.Close()
		h.db.Close()
		h.srv = nil
	}
}

// restart closes the server and store and opens them again on the same file,
// as a daemon restart would.
func (h *harness) restart() {
	h.close()
	h.open(testPolicy())
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string {
	v, _ := r.body[key].(string)
	return v
}

func (r resp) code() string { return r.str("code") }

func (h *harness) do(method, path, token, body string, hdr ...string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			h.t.Fatalf("%s %s: response is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	if r.status >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			h.t.Fatalf("%s %s: error %d with Content-Type %q, want application/problem+json", method, path, r.status, ct)
		}
		if r.code() == "" || r.str("detail") == "" || r.body["status"] != float64(r.status) {
			h.t.Fatalf("%s %s: problem lacks code/detail/status: %s", method, path, raw)
		}
	}
	return r
}

func (h *harness) want(r resp, status int, code string) {
	h.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		h.t.Fatalf("got %d %q, want %d %q\n%s", r.status, r.code(), status, code, r.raw)
	}
}

// totpCode computes RFC 6238 (SHA-1, 6 digits, 30 s) from scratch: an
// implementation independent of the one the server uses.
func totpCode(secretB32 string, at time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secretB32))
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1000000)
}

// state returns the user as the API shows it, for before/after comparisons.
func (h *harness) state() string {
	h.t.Helper()
	r := h.do("GET", "/v1/users/"+user, tokAdmin, "")
	h.want(r, 200, "")
	return string(r.raw)
}

// addTOTP registers and confirms an authenticator app; it returns the
// method ID and the secret.
func (h *harness) addTOTP() (string, string) {
	h.t.Helper()
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp","label":"phone app"}`)
	h.want(r, 201, "")
	m := r.body["method"].(map[string]any)
	secret := r.body["totp"].(map[string]any)["secret"].(string)
	id := m["id"].(string)
	r = h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
	h.want(r, 200, "")
	return id, secret
}

// signin runs a TOTP challenge of the given purpose through to approval,
// stepping the clock so the code is fresh.
func (h *harness) signin(purpose, secret string) string {
	h.t.Helper()
	h.clock.Advance(30 * time.Second)
	r := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{"purpose":"`+purpose+`"}`)
	h.want(r, 201, "")
	id := r.str("id")
	r = h.do("POST", "/v1/challenges/"+id+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
	h.want(r, 200, "")
	if r.str("status") != "approved" {
		h.t.Fatalf("challenge not approved: %s", r.raw)
	}
	return id
}

func jsonArray(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, raw)
	}
	return out
}

func (r resp) string() string { return string(r.raw) }
