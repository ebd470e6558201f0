package pi

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// The tests here play a privacyIDEA plugin over real HTTP against the door
// on a real SQLite file; the modem is the test, taking what the outbox
// would send. cmd/mfagated's tests drive the same routes through the
// demo daemon, its simulated modems and handsets.

type texts struct{}

func (texts) SMS(lang string, v map[string]string) string { return "code " + v["code"] }
func (texts) Voice(lang string, nm bool, v map[string]string) string {
	return "press " + v["number"] + " #"
}
func (texts) DefaultLanguage() string { return "en" }

type rig struct {
	t       testing.TB
	svc     *mfa.Service
	clock   *mfatest.Clock
	modem   *mfatest.Sender
	srv     *httptest.Server
	door    *Server
	metrics *metrics.Metrics
	public  *rsa.PublicKey
	secret  string // alice's app seed
	app     string // alice's app method
	mobile  string // alice's mobile method
}

const (
	alice    = "0000000001"
	bob      = "0000000002"
	password = "service-account-password-0123"
)

var admin = mfa.Actor{Name: "test-admin", Admin: true}

func newRig(t testing.TB, tweak ...func(*config.PrivacyIDEA)) *rig {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{9}, 32))
	r := &rig{t: t, clock: mfatest.NewClock(time.Date(2026, 12, 1, 9, 0, 10, 0, time.UTC)), metrics: metrics.New()}
	r.svc, err = mfa.New(mfa.Options{Store: db, Keys: keys, Now: r.clock.Now, Observer: r.metrics, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 3, MaxConsecutiveFailures: 10,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		ActivationDelay: time.Minute, VoiceNumberMatch: true,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: texts{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.modem = mfatest.NewSender("modem-a")
	r.modem.Service = r.svc
	r.svc.SetSender(r.modem)
	cfg := config.PrivacyIDEA{ServiceAccount: "idp-service", PasswordHash: sha256.Sum256([]byte(password)),
		Trigger: "push", MFAOff: config.MFAOffReject,
		Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, f := range tweak {
		f(&cfg)
	}
	signer, _, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "response.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(signer.PublicKeyPEM())
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	r.public = pub.(*rsa.PublicKey)
	r.door, err = New(Options{Service: r.svc, Keys: keys, Signer: signer, Config: cfg, Metrics: r.metrics, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(r.door.Handler())
	t.Cleanup(r.srv.Close)
	return r
}

// enroll gives alice a confirmed app and a confirmed mobile (the app is
// the default) and applies MFA, which becomes active after a minute.
func (r *rig) enroll() {
	r.t.Helper()
	ctx := r.t.Context()
	res, err := r.svc.AddMethod(ctx, admin, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "Phone app"})
	if err != nil {
		r.t.Fatal(err)
	}
	r.secret, r.app = res.TOTP.Secret, res.Method.ID
	if _, err := r.svc.ConfirmMethod(ctx, admin, alice, r.app, mfa.ConfirmRequest{Code: totp(r.secret, r.clock.Now())}); err != nil {
		r.t.Fatal(err)
	}
	r.mobile = r.addPhone(alice, "090-1234-5678", mfa.ChannelSMS)
	r.apply(alice)
}

func (r *rig) apply(user string) {
	r.t.Helper()
	r.clock.Advance(30 * time.Second) // the confirmation used the app's current code
	c, err := r.svc.CreateChallenge(r.t.Context(), admin, user, mfa.ChallengeRequest{Method: r.app, Purpose: mfa.PurposeTest})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.Verify(r.t.Context(), admin, c.ID, totp(r.secret, r.clock.Now())); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.ApplyMFA(r.t.Context(), admin, user); err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(61 * time.Second) // active, and the app shows a new code
}

func (r *rig) addPhone(user, number string, ch mfa.Channel) string {
	r.t.Helper()
	res, err := r.svc.AddMethod(r.t.Context(), admin, user, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotMobile,
		Phone: number, Channel: ch})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.ConfirmMethod(r.t.Context(), admin, user, res.Method.ID, mfa.ConfirmRequest{Code: r.smsCode(res.Challenge.ID)}); err != nil {
		r.t.Fatal(err)
	}
	return res.Method.ID
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// smsCode takes the next outbox job as a modem would and returns its code.
func (r *rig) smsCode(challenge string) string {
	r.t.Helper()
	o, ok, err := r.modem.Take(r.t.Context())
	if err != nil || !ok || o.Challenge != challenge {
		r.t.Fatalf("outbox: %+v %v %v, want the job of challenge %s", o, ok, err, challenge)
	}
	return codeRE.FindString(o.Text)
}

// totp is the code an authenticator app shows, independent of mfa.
func totp(secret string, t time.Time) string { return mfatest.TOTP(secret, t) }

// reply is a decoded response with its raw body.
type reply struct {
	status int
	raw    string
	Result struct {
		Status         bool            `json:"status"`
		Value          json.RawMessage `json:"value"`
		Authentication string          `json:"authentication"`
		Error          struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"result"`
	Detail map[string]any `json:"detail"`
	ID     int            `json:"id"`
	Nonce  string         `json:"nonce"`
}

func (p reply) value() string { return string(p.Result.Value) }

func (p reply) str(key string) string { s, _ := p.Detail[key].(string); return s }

// do sends a form POST (or GET with the form as query) as privacyidea-pam
// does, and checks the signature of whatever comes back.
func (r *rig) do(method, path string, form url.Values, hdr ...string) reply {
	r.t.Helper()
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, r.srv.URL+path+"?"+form.Encode(), nil)
	} else {
		req, _ = http.NewRequest(method, r.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "PAM/1.1.0")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return r.send(req)
}

func (r *rig) send(req *http.Request) reply {
	r.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var p reply
	if err := json.Unmarshal(raw, &p); err != nil {
		r.t.Fatalf("%s %s: not JSON (%v): %s", req.Method, req.URL.Path, err, raw)
	}
	p.status, p.raw = res.StatusCode, string(raw)
	r.verify(p.raw)
	return p
}

var sigRE = regexp.MustCompile(`, "signature": "rsa_sha256_pss:([0-9a-f]+)"`)

// verify checks a response's signature. The body is privacyIDEA's sorted
// serialisation with the signature among the other keys, so cutting the
// signature member out gives exactly the text that was signed.
func (r *rig) verify(body string) {
	r.t.Helper()
	m := sigRE.FindStringSubmatch(body)
	if m == nil {
		r.t.Fatalf("response is not signed: %s", body)
	}
	signed := strings.Replace(body, m[0], "", 1)
	sig, _ := hex.DecodeString(m[1])
	sum := sha256.Sum256([]byte(signed))
	if err := rsa.VerifyPSS(r.public, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256}); err != nil {
		r.t.Fatalf("signature does not verify: %v\n%s", err, body)
	}
	if got := (r.public.Size() - 32 - 2); len(sig) != r.public.Size() || got <= 0 {
		r.t.Fatalf("signature of %d bytes for a %d-byte key", len(sig), r.public.Size())
	}
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func (r *rig) want(p reply, status int, auth, value string) {
	r.t.Helper()
	if p.status != status || p.Result.Authentication != auth || (value != "" && p.value() != value) {
		r.t.Fatalf("got %d %s value=%s, want %d %s value=%s\n%s", p.status, p.Result.Authentication, p.value(), status, auth, value, p.raw)
	}
}

func (r *rig) wantError(p reply, status, code int, msg string) {
	r.t.Helper()
	if p.status != status || p.Result.Status || p.Result.Error.Code != code || !strings.Contains(p.Result.Error.Message, msg) || p.Result.Value != nil {
		r.t.Fatalf("got %d status=%v code %d %q, want %d code %d containing %q\n%s", p.status, p.Result.Status,
			p.Result.Error.Code, p.Result.Error.Message, status, code, msg, p.raw)
	}
}

func TestTOTPInOneRequest(t *testing.T) {
	r := newRig(t)
	r.enroll()
	code := totp(r.secret, r.clock.Now())
	p := r.do("POST", "/validate/check", form("user", alice, "pass", code))
	r.want(p, 200, accept, "true")
	if p.ID != 2 || p.str("serial") != r.app || p.str("type") != "totp" || p.str("message") != "matching 1 tokens" {
		t.Fatalf("ACCEPT detail: %s", p.raw)
	}
	p = r.do("POST", "/validate/check", form("user", alice, "pass", code))
	r.want(p, 200, reject, "false")
	if p.str("reason") != "replayed_code" {
		t.Fatalf("replayed code: %s", p.raw)
	}
	p = r.do("GET", "/validate/check", form("user", alice+"@anyrealm", "pass", "000000"))
	r.want(p, 200, reject, "false")
	if !strings.Contains(p.str("message"), "wrong otp value") {
		t.Fatalf("wrong code: %s", p.raw)
	}
	v, _ := r.svc.GetUser(t.Context(), alice)
	if v.User.ConsecutiveFailures != 1 {
		t.Fatalf("a wrong code counts one failure, got %d", v.User.ConsecutiveFailures)
	}
}

func TestSMSChallengeAndMultiChallenge(t *testing.T) {
	r := newRig(t)
	r.enroll()
	if _, err := r.svc.SetDefault(t.Context(), admin, alice, r.mobile); err != nil {
		t.Fatal(err)
	}
	p := r.do("POST", "/validate/check", form("user", alice, "pass", ""))
	r.want(p, 200, challenge, "false")
	tid := p.str("transaction_id")
	mc, _ := p.Detail["multi_challenge"].([]any)
	if tid == "" || len(mc) != 2 || p.str("preferred_client_mode") != "interactive" {
		t.Fatalf("CHALLENGE detail: %s", p.raw)
	}
	first, second := mc[0].(map[string]any), mc[1].(map[string]any)
	if first["type"] != "sms" || first["client_mode"] != "interactive" || first["serial"] != r.mobile || first["transaction_id"] != tid ||
		!strings.Contains(first["message"].(string), "+81 90-****-5678") {
		t.Fatalf("SMS entry: %v", first)
	}
	if second["type"] != "totp" || second["serial"] != r.app || second["transaction_id"] != tid {
		t.Fatalf("app entry: %v", second)
	}
	if strings.Contains(p.raw, "1234-5678") || strings.Contains(p.raw, "12345678") {
		t.Fatalf("the full number is in the answer: %s", p.raw)
	}
	ids := strings.Split(tid, ".")
	code := r.smsCode(ids[0])

	p = r.do("POST", "/validate/check", form("user", bob, "pass", code, "transaction_id", tid))
	r.want(p, 200, reject, "false")
	p = r.do("POST", "/validate/check", form("user", alice, "pass", "111111", "transaction_id", tid))
	r.want(p, 200, reject, "false")
	if !strings.Contains(p.str("message"), "2 attempts left") {
		t.Fatalf("wrong SMS code: %s", p.raw)
	}
	p = r.do("POST", "/validate/check", form("user", alice, "pass", code, "transaction_id", tid))
	r.want(p, 200, accept, "true")
	if p.str("message") != "Found matching challenge" || p.str("serial") != r.mobile {
		t.Fatalf("SMS ACCEPT: %s", p.raw)
	}
	p = r.do("POST", "/validate/check", form("user", alice, "pass", code, "transaction_id", tid))
	r.want(p, 200, reject, "false")

	// An app code answers an SMS transaction too.
	p = r.do("POST", "/validate/check", form("user", alice, "pass", "push"))
	r.want(p, 200, challenge, "false")
	tid2 := p.str("transaction_id")
	r.smsCode(strings.Split(tid2, ".")[0])
	p = r.do("POST", "/validate/check", form("user", alice, "state", tid2, "pass", totp(r.secret, r.clock.Now())))
	r.want(p, 200, accept, "true")
	if p.str("serial") != r.app {
		t.Fatalf("app code for an SMS transaction: %s", p.raw)
	}
}

func TestVoicePollAndFinalise(t *testing.T) {
	r := newRig(t)
	r.enroll()
	voice := r.addPhoneSlot(alice, mfa.SlotAlternate, "080-2222-3333")
	if _, err := r.svc.SetDefault(t.Context(), admin, alice, voice); err != nil {
		t.Fatal(err)
	}
	p := r.do("POST", "/validate/check", form("user", alice, "pass", ""))
	r.want(p, 200, challenge, "false")
	tid := p.str("transaction_id")
	entry := p.Detail["multi_challenge"].([]any)[0].(map[string]any)
	if entry["type"] != "push" || entry["client_mode"] != "poll" || p.str("preferred_client_mode") != "poll" {
		t.Fatalf("voice entry: %v", entry)
	}
	poll := func() reply { return r.do("GET", "/validate/polltransaction", form("transaction_id", tid)) }
	q := poll()
	r.want(q, 200, reject, "false")
	if q.str("challenge_status") != "pending" {
		t.Fatalf("poll before the call: %s", q.raw)
	}
	r.want(r.do("POST", "/validate/check", form("user", alice, "pass", "", "transaction_id", tid)), 200, reject, "false")

	o, ok, err := r.modem.Take(t.Context())
	if err != nil || !ok {
		t.Fatalf("no call queued: %v", err)
	}
	if !strings.Contains(entry["message"].(string), o.Expect[:2]) {
		t.Fatalf("the message %q does not show the digits the call expects", entry["message"])
	}
	if err := r.svc.Report(t.Context(), o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		t.Fatal(err)
	}
	q = poll()
	r.want(q, 200, accept, "true")
	if q.str("challenge_status") != "accept" {
		t.Fatalf("poll after the call: %s", q.raw)
	}
	r.want(r.do("POST", "/validate/check", form("user", bob, "pass", "", "transaction_id", tid)), 200, reject, "false")
	r.want(r.do("POST", "/validate/check", form("user", alice, "pass", "", "transaction_id", tid)), 200, accept, "true")
	r.want(r.do("POST", "/validate/check", form("user", alice, "pass", "", "transaction_id", tid)), 200, reject, "false")
	r.want(poll(), 200, reject, "false")
}

// addPhoneSlot registers a voice phone in slot, confirmed by its call.
func (r *rig) addPhoneSlot(user string, slot mfa.Slot, number string) string {
	r.t.Helper()
	res, err := r.svc.AddMethod(r.t.Context(), admin, user, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: slot,
		Phone: number, Channel: mfa.ChannelVoice})
	if err != nil {
		r.t.Fatal(err)
	}
	o, ok, err := r.modem.Take(r.t.Context())
	if err != nil || !ok {
		r.t.Fatalf("no confirmation call: %v", err)
	}
	if err := r.svc.Report(r.t.Context(), o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		r.t.Fatal(err)
	}
	return res.Method.ID
}

func TestServiceAccountAndTrigger(t *testing.T) {
	r := newRig(t)
	r.enroll()
	p := r.do("POST", "/validate/triggerchallenge", form("user", alice))
	r.wantError(p, 401, errAuthHeader, "Missing Authorization header")
	p = r.do("POST", "/auth", form("username", "idp-service", "password", "wrong"))
	r.wantError(p, 401, errWrongCredential, "Wrong credentials")
	p = r.do("POST", "/auth", form("username", "idp-service", "password", password))
	if p.status != 200 || !p.Result.Status {
		t.Fatalf("/auth: %s", p.raw)
	}
	var v struct {
		Token string `json:"token"`
		Role  string `json:"role"`
	}
	json.Unmarshal(p.Result.Value, &v)
	parts := strings.Split(v.Token, ".")
	if len(parts) != 3 || v.Role != "admin" {
		t.Fatalf("token: %s", p.raw)
	}
	// The Java client reads exp with the standard base64 decoder.
	if strings.ContainsAny(parts[1], "-_") {
		t.Fatalf("claims %q hold base64url-only characters", parts[1])
	}
	p = r.do("POST", "/validate/triggerchallenge", form("user", alice), "Authorization", v.Token)
	r.want(p, 200, challenge, "1")
	if p.str("type") != "totp" || p.str("client_mode") != "interactive" {
		t.Fatalf("the default (the app) is not what was offered: %s", p.raw)
	}
	p = r.do("POST", "/validate/triggerchallenge", form("user", alice, "type", "sms"), "PI-Authorization", v.Token)
	r.want(p, 200, challenge, "2") // the SMS and the app beside it
	if mc := p.Detail["multi_challenge"].([]any); len(mc) != 2 || mc[0].(map[string]any)["type"] != "sms" {
		t.Fatalf("type=sms started %s", p.raw)
	}
	r.smsCode(strings.Split(p.str("transaction_id"), ".")[0])
	p = r.do("POST", "/validate/triggerchallenge", form("user", alice), "Authorization", v.Token[:len(v.Token)-2]+"AA")
	r.wantError(p, 401, errTokenDecoding, "Signature verification failed")
	r.clock.Advance(time.Hour)
	p = r.do("POST", "/validate/triggerchallenge", form("user", alice), "Authorization", v.Token)
	r.wantError(p, 401, errTokenExpired, "expired")

	for range loginFailures {
		r.do("POST", "/auth", form("username", "idp-service", "password", "wrong"))
	}
	p = r.do("POST", "/auth", form("username", "idp-service", "password", password))
	r.wantError(p, 401, errWrongCredential, "Too many wrong passwords")
}

func TestNotEnrolledAndBadInput(t *testing.T) {
	r := newRig(t)
	p := r.do("POST", "/validate/check", form("user", bob, "pass", "123456"))
	r.want(p, 200, reject, "false")
	if p.str("message") != msgNoTokens {
		t.Fatalf("user without MFA: %s", p.raw)
	}
	r.wantError(r.do("POST", "/validate/check", form("pass", "1")), 400, errParameter, "Missing parameter: 'user'")
	r.wantError(r.do("POST", "/validate/check", form("user", "alice", "pass", "1")), 400, errUser, "does not exist")
	r.wantError(r.do("POST", "/validate/check?user="+bob, form("user", bob, "pass", "1")), 400, errParameter, "more than once")
	r.wantError(r.do("POST", "/validate/check", form("user", bob, "transaction_id", "a", "state", "b")), 400, errParameter, "different transactions")
	r.wantError(r.do("GET", "/validate/polltransaction", nil), 400, errParameter, "transaction_id")
	q := r.do("GET", "/validate/polltransaction", form("transaction_id", "c_aaaaaaaaaaaaaaaaaaaaaaaaaa"))
	r.want(q, 200, reject, "false")
	r.want(r.do("POST", "/validate/check", form("user", bob, "pass", "1", "transaction_id", "not-ours")), 200, reject, "false")

	// mfa_off = accept passes users without MFA, as passthru does.
	open := newRig(t, func(c *config.PrivacyIDEA) { c.MFAOff = config.MFAOffAccept })
	open.want(open.do("POST", "/validate/check", form("user", bob, "pass", "")), 200, accept, "true")
	ev, err := open.svc.Events(t.Context(), mfa.EventFilter{User: bob})
	if err != nil || len(ev) != 1 || ev[0].Type != mfa.EventExternalSignin || ev[0].Actor != "pi:127.0.0.1" ||
		!strings.Contains(ev[0].Detail, "reason=mfa_off") {
		t.Fatalf("passthru audit: %+v %v", ev, err)
	}
	// A realm other than the configured one names nobody here.
	realm := newRig(t, func(c *config.PrivacyIDEA) { c.Realm = "uni" })
	realm.wantError(realm.do("POST", "/validate/check", form("user", bob, "realm", "other", "pass", "")), 400, errUser, "realm")
	realm.want(realm.do("POST", "/validate/check", form("user", bob+"@uni", "pass", "")), 200, reject, "false")
	// Clients outside allow get privacyIDEA's policy error.
	closed := newRig(t, func(c *config.PrivacyIDEA) { c.Networks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	closed.wantError(closed.do("POST", "/validate/check", form("user", bob, "pass", "")), 403, errPolicy, "not in [privacyidea] allow")
}

// The PHP client posts multipart forms, others JSON; the Java client
// encodes values twice; a nonce is echoed under the signature.
func TestRequestEncodings(t *testing.T) {
	r := newRig(t)
	r.enroll()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("user", alice)
	mw.WriteField("pass", totp(r.secret, r.clock.Now()))
	mw.WriteField("nonce", "n-4711")
	mw.Close()
	req, _ := http.NewRequest("POST", r.srv.URL+"/validate/check", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("User-Agent", "simpleSAMLphp")
	p := r.send(req)
	r.want(p, 200, accept, "true")
	if p.Nonce != "n-4711" {
		t.Fatalf("nonce not echoed: %s", p.raw)
	}
	r.clock.Advance(30 * time.Second)
	req, _ = http.NewRequest("POST", r.srv.URL+"/validate/check",
		strings.NewReader(`{"user":"`+alice+`","pass":"`+totp(r.secret, r.clock.Now())+`","realm":null}`))
	req.Header.Set("Content-Type", "application/json")
	r.want(r.send(req), 200, accept, "true")
	// privacyIDEA-Keycloak sends "0000000001%40uni" for user@uni encoded
	// once more; the door decodes it as privacyIDEA does.
	r.clock.Advance(30 * time.Second)
	req, _ = http.NewRequest("POST", r.srv.URL+"/validate/check",
		strings.NewReader("user="+url.QueryEscape(url.QueryEscape(alice+"@uni"))+"&pass="+totp(r.secret, r.clock.Now())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "privacyIDEA-Keycloak/1.5.0 Keycloak/26.0")
	r.want(r.send(req), 200, accept, "true")
	req, _ = http.NewRequest("POST", r.srv.URL+"/validate/check", strings.NewReader(`{"user":{"id":1}}`))
	req.Header.Set("Content-Type", "application/json")
	r.wantError(r.send(req), 400, errParameter, "must be a string")
}

// counted reads mfagate_privacyidea_requests_total{route,result}.
func (r *rig) counted(route, result string) float64 {
	r.t.Helper()
	mfs, err := r.metrics.Registry.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mfagate_privacyidea_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// The published key is the one answers verify with, and every answer is
// counted by route and result.
func TestResponseKeyAndMetrics(t *testing.T) {
	r := newRig(t)
	r.enroll()
	res, err := http.Get(r.srv.URL + RouteKey[len("GET "):])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	b, _ := pem.Decode(body)
	if res.StatusCode != 200 || b == nil || b.Type != "PUBLIC KEY" {
		t.Fatalf("response key: %d %q", res.StatusCode, body)
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil || !pub.(*rsa.PublicKey).Equal(r.public) {
		t.Fatalf("the published key is not the signing key: %v", err)
	}
	r.do("POST", "/validate/check", form("user", alice, "pass", totp(r.secret, r.clock.Now())))
	r.do("POST", "/validate/check", form("user", alice, "pass", "000000"))
	r.do("POST", "/validate/check", form("user", alice, "pass", ""))
	r.do("POST", "/validate/check", form("pass", ""))
	r.do("POST", "/auth", form("username", "idp-service", "password", password))
	for _, c := range []struct {
		route, result string
		want          float64
	}{{"check", "accept", 1}, {"check", "reject", 1}, {"check", "challenge", 1}, {"check", "error", 1}, {"auth", "accept", 1}} {
		if got := r.counted(c.route, c.result); got != c.want {
			t.Errorf("mfagate_privacyidea_requests_total{route=%q,result=%q} = %v, want %v", c.route, c.result, got, c.want)
		}
	}
}

// With response_signature = "none" answers go out unsigned, as
// privacyIDEA's PI_NO_RESPONSE_SIGN has them, and no key is published.
func TestUnsignedResponses(t *testing.T) {
	r := newRig(t)
	door, err := New(Options{Service: r.svc, Keys: r.door.keys, Config: r.door.cfg, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(door.Handler())
	defer srv.Close()
	res, err := http.PostForm(srv.URL+"/validate/check", form("user", bob, "pass", ""))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.Contains(string(body), "signature") || !strings.Contains(string(body), `"authentication": "REJECT"`) {
		t.Fatalf("unsigned answer: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(srv.URL + "/privacyidea/response-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("response key without signing: %d", res.StatusCode)
	}
}

// BenchmarkValidateCheckTOTP is one authenticator-app sign-in through
// /validate/check, a request and a durable commit, signed answer included.
func BenchmarkValidateCheckTOTP(b *testing.B) {
	for _, signed := range []bool{true, false} {
		b.Run(map[bool]string{true: "signed", false: "unsigned"}[signed], func(b *testing.B) {
			r := newRig(b)
			r.enroll()
			if !signed {
				r.door.signer = nil
			}
			for b.Loop() {
				r.clock.Advance(30 * time.Second) // a fresh TOTP step: replay protection
				res, err := http.PostForm(r.srv.URL+"/validate/check", form("user", alice, "pass", totp(r.secret, r.clock.Now())))
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if !bytes.Contains(body, []byte(`"authentication": "ACCEPT"`)) {
					b.Fatalf("not accepted: %s", body)
				}
			}
		})
	}
}
