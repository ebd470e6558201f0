package api_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
)

// The setup guide end to end with an authenticator app: register, confirm
// with the app's first code, try signing in, apply for MFA, and become
// active after the activation delay.
func TestTOTPSetupGuideFlow(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp","label":"Authenticator app"}`)
	h.want(r, 201, "")
	totp := r.body["totp"].(map[string]any)
	secret := totp["secret"].(string)
	if r.body["method"].(map[string]any)["confirmed"] != false {
		t.Fatalf("new method is confirmed before its first code: %s", r.raw)
	}
	u, err := url.Parse(totp["uri"].(string))
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q is not an otpauth totp URI", totp["uri"])
	}
	q := u.Query()
	if q.Get("secret") != secret || q.Get("issuer") != "mfagate-test" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Fatalf("uri parameters wrong: %v", q)
	}
	if !strings.HasSuffix(u.Path, ":"+user) {
		t.Fatalf("uri label %q does not name the user", u.Path)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(totp["qr_png"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(pngBytes)); err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("qr_png is not a usable PNG: %v", err)
	}

	// Applying needs a confirmed method first.
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 409, "no_confirmed_method")

	id := r.body["method"].(map[string]any)["id"].(string)
	h.want(h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"code":"000000"}`), 422, "invalid_code")
	r = h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
	h.want(r, 200, "")

	r = h.do("GET", "/v1/users/"+user, tokIDP, "")
	h.want(r, 200, "")
	if r.body["default_method"] != id {
		t.Fatalf("first confirmed method did not become default: %s", r.raw)
	}
	if w := r.body["warnings"].([]any); len(w) != 1 || w[0] != "single_method" {
		t.Fatalf("warnings = %v, want [single_method]", w)
	}

	// No test sign-in yet.
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 409, "no_test_signin")
	h.signin("test", secret)

	r = h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`)
	h.want(r, 200, "")
	m := r.body["mfa"].(map[string]any)
	if m["state"] != "pending" {
		t.Fatalf("state after apply = %v, want pending", m["state"])
	}
	at, _ := time.Parse(time.RFC3339, m["activates_at"].(string))
	if want := h.clock.Now().Add(40 * time.Minute); !at.Equal(want) {
		t.Fatalf("activates_at = %v, want %v", at, want)
	}

	h.clock.Advance(40 * time.Minute)
	if err := h.svc.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/v1/users/"+user, tokIDP, "")
	if st := r.body["mfa"].(map[string]any)["state"]; st != "active" {
		t.Fatalf("state after the activation delay = %v, want active", st)
	}

	// The audit trail tells the story in order.
	r = h.do("GET", "/v1/audit?user="+user, tokAdmin, "")
	h.want(r, 200, "")
	var types []string
	for _, e := range jsonArray(t, r.raw) {
		types = append([]string{e["type"].(string)}, types...)
	}
	// Refused steps are part of it: applying too early, the wrong first
	// code, applying before a test sign-in.
	want := "method_added request_refused verification_failed method_confirmed request_refused challenge_approved test_signin mfa_applied mfa_activated"
	if got := strings.Join(types, " "); !strings.Contains(got, want) {
		t.Fatalf("audit = %q, want it to contain %q", got, want)
	}
}

// A TOTP code is accepted once per time step and method, even across
// challenges; a replay changes nothing.
func TestTOTPReplayRefused(t *testing.T) {
	h := newHarness(t)
	_, secret := h.addTOTP()
	h.clock.Advance(30 * time.Second)
	code := totpCode(secret, h.clock.Now())
	c1 := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	h.want(h.do("POST", "/v1/challenges/"+c1+"/verify", tokIDP, `{"code":"`+code+`"}`), 200, "")

	c2 := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	before := h.state()
	r := h.do("POST", "/v1/challenges/"+c2+"/verify", tokIDP, `{"code":"`+code+`"}`)
	h.want(r, 422, "replayed_code")
	if h.state() != before {
		t.Fatal("a replayed code changed the user")
	}
	if got := h.do("GET", "/v1/challenges/"+c2, tokIDP, ""); got.body["attempts_left"] != float64(5) || got.str("status") != "created" {
		t.Fatalf("a replayed code changed the challenge: %s", got.raw)
	}
	// The next step's code works.
	h.clock.Advance(30 * time.Second)
	h.want(h.do("POST", "/v1/challenges/"+c2+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`), 200, "")
	// A code from one step back is within the skew, but older than the last accepted step.
	c3 := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	h.want(h.do("POST", "/v1/challenges/"+c3+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now().Add(-30*time.Second))+`"}`), 422, "replayed_code")
}

// Codes within ±1 step are accepted; two steps away are not.
func TestTOTPSkew(t *testing.T) {
	for _, tc := range []struct {
		offset time.Duration
		ok     bool
	}{{-30 * time.Second, true}, {30 * time.Second, true}, {0, true}, {-60 * time.Second, false}, {60 * time.Second, false}} {
		h := newHarness(t)
		_, secret := h.addTOTP()
		h.clock.Advance(5 * time.Minute)
		c := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
		r := h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now().Add(tc.offset))+`"}`)
		if ok := r.status == 200; ok != tc.ok {
			t.Errorf("offset %v: status %d, want accepted=%v", tc.offset, r.status, tc.ok)
		}
	}
}

// Wrong codes use up attempts; the last one locks the challenge; a new
// challenge does not reset the user's consecutive-failure count, which
// locks the user at the cap.
func TestAttemptsLockAndFailureCap(t *testing.T) {
	h := newHarness(t, func(p *mfa.Policy) { p.MaxConsecutiveFailures = 7 })
	_, secret := h.addTOTP()
	c := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	for i := 4; i >= 0; i-- {
		r := h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"000001"}`)
		h.want(r, 422, "invalid_code")
		if r.body["attempts_left"] != float64(i) {
			t.Fatalf("attempts_left = %v, want %d", r.body["attempts_left"], i)
		}
	}
	if st := h.do("GET", "/v1/challenges/"+c, tokIDP, "").str("status"); st != "locked" {
		t.Fatalf("status after the last attempt = %q, want locked", st)
	}
	h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`), 409, "challenge_locked")

	c = h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"000001"}`), 422, "invalid_code")
	h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"000001"}`), 422, "invalid_code")
	// 7 consecutive failures: the user is locked, even with the right code.
	h.clock.Advance(30 * time.Second)
	h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`), 423, "user_locked")
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`), 423, "user_locked")
	// An admin unlocks; then the user signs in again.
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokEnroll, ``), 403, "forbidden")
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, ``), 200, "")
	h.signin("signin", secret)
}

func TestExpiredChallenge(t *testing.T) {
	h := newHarness(t)
	_, secret := h.addTOTP()
	c := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	h.clock.Advance(5*time.Minute + time.Second)
	r := h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
	h.want(r, 410, "challenge_expired")
	if st := h.do("GET", "/v1/challenges/"+c, tokIDP, "").str("status"); st != "expired" {
		t.Fatalf("status = %q, want expired", st)
	}
}

func TestCodeFormatChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.addTOTP()
	c := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	before := h.do("GET", "/v1/challenges/"+c, tokIDP, "").raw
	for _, code := range []string{"12345", "1234567", "12a456", "１２３４５６", " 123456"} {
		h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"`+code+`"}`), 422, "invalid_code_format")
	}
	if after := h.do("GET", "/v1/challenges/"+c, tokIDP, "").raw; !bytes.Equal(before, after) {
		t.Fatalf("malformed codes changed the challenge:\n%s\n%s", before, after)
	}
}

// oathtool (an independent implementation) produces codes the server takes.
func TestTOTPWithOathtool(t *testing.T) {
	bin, err := exec.LookPath("oathtool")
	if err != nil {
		t.Skip("oathtool not installed (make deps installs it)")
	}
	h := newHarness(t)
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp"}`)
	secret := r.body["totp"].(map[string]any)["secret"].(string)
	id := r.body["method"].(map[string]any)["id"].(string)
	out, err := exec.Command(bin, "--totp", "-b", "--now", h.clock.Now().Format("2006-01-02 15:04:05 UTC"), secret).Output()
	if err != nil {
		t.Fatal(err)
	}
	h.want(h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+strings.TrimSpace(string(out))+`"}`), 200, "")
}
