package radius

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
)

// A Temporary Access Pass as User-Password: refused with its own message
// while [policy] tap_signin is off; accepted once it is on; a one-time
// pass answers one sign-in.
func TestTAPAsPassword(t *testing.T) {
	r := newRig(t)
	r.enroll()
	tap, err := r.svc.IssueTAP(t.Context(), mfa.Actor{Name: "helpdesk"}, alice, mfa.TAPRequest{Lifetime: time.Hour, OneTime: true})
	if err != nil {
		t.Fatal(err)
	}
	a := r.send(ask{user: alice, password: tap.Pass})
	r.want(a, codeAccessReject, "cannot sign in here")
	if strings.Contains(a.message(), tap.Pass) {
		t.Fatal("the reply repeats the pass")
	}
	// The rig's policy, with passes allowed to sign in.
	if err := r.svc.SetPolicy(mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 3, MaxConsecutiveFailures: 10,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		ActivationDelay: time.Minute, VoiceNumberMatch: true,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: texts{},
		TAP:      mfa.TAPPolicy{Signin: true},
	}); err != nil {
		t.Fatal(err)
	}
	r.want(r.send(ask{user: alice, password: "AAAA-AAAA-AAAA"}), codeAccessReject, "not correct")
	r.want(r.send(ask{user: alice, password: strings.ReplaceAll(tap.Pass, "-", "")}), codeAccessAccept, "")
	r.want(r.send(ask{user: alice, password: tap.Pass}), codeAccessReject, "expired or was already used")
}
