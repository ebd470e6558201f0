package pi

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
)

// A Temporary Access Pass typed as the pass of /validate/check: refused
// while [policy] tap_signin is off, accepted once it is on, used up when
// one-time, and a wrong pass counts as a wrong code.
func TestTAPThroughValidateCheck(t *testing.T) {
	r := newRig(t)
	r.enroll()
	ctx := t.Context()
	tap, err := r.svc.IssueTAP(ctx, mfa.Actor{Name: "helpdesk"}, alice, mfa.TAPRequest{Lifetime: time.Hour, OneTime: true})
	if err != nil {
		t.Fatal(err)
	}
	p := r.do("POST", "/validate/check", form("user", alice, "pass", tap.Pass))
	r.want(p, 200, reject, "false")
	if p.str("reason") != string(mfa.CodeTAPSigninOff) {
		t.Fatalf("pass with tap_signin off: %s", p.raw)
	}
	if strings.Contains(p.raw, tap.Pass) {
		t.Fatal("the answer repeats the pass")
	}

	// The rig's policy, with passes allowed to sign in.
	pol := mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 3, MaxConsecutiveFailures: 10,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		ActivationDelay: time.Minute, VoiceNumberMatch: true,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: texts{},
		TAP:      mfa.TAPPolicy{Signin: true},
	}
	if err := r.svc.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	p = r.do("POST", "/validate/check", form("user", alice, "pass", "AAAA-AAAA-AAAA"))
	r.want(p, 200, reject, "false")
	if v, _ := r.svc.GetUser(ctx, alice); v.User.ConsecutiveFailures != 1 {
		t.Fatalf("a wrong pass counted %d failures, want 1", v.User.ConsecutiveFailures)
	}
	p = r.do("POST", "/validate/check", form("user", alice, "pass", strings.ToLower(tap.Pass)))
	r.want(p, 200, accept, "true")
	if p.str("serial") != tap.Method.ID {
		t.Fatalf("accepted by %s, want the pass %s: %s", p.str("serial"), tap.Method.ID, p.raw)
	}
	p = r.do("POST", "/validate/check", form("user", alice, "pass", tap.Pass))
	r.want(p, 200, reject, "false")
	if p.str("reason") != string(mfa.CodeTAPUsed) {
		t.Fatalf("second use of a one-time pass: %s", p.raw)
	}
	// A trigger with a pass on record starts the default method, not it.
	p = r.do("POST", "/validate/check", form("user", alice, "pass", ""))
	if strings.Contains(p.raw, tap.Method.ID) {
		t.Fatalf("the pass was offered as a challenge: %s", p.raw)
	}
}
