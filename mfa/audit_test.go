package mfa_test

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mfagate/mfa"
)

// auditHas fails unless the user's audit log holds an event of typ by
// actor whose detail is detail ("" matches any).
func auditHas(t *testing.T, svc *mfa.Service, user, typ, actor, detail string) {
	t.Helper()
	evs, err := svc.Events(t.Context(), mfa.EventFilter{User: user})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == typ && e.Actor == actor && (detail == "" || e.Detail == detail) {
			return
		}
	}
	t.Errorf("no %s event by %q (detail %q) in the audit log:", typ, actor, detail)
	for _, e := range evs {
		t.Logf("  %s actor=%q detail=%q", e.Type, e.Actor, e.Detail)
	}
}

const user = "0000000001"

func TestAuditTOTPWrongAndReplayedCodes(t *testing.T) {
	c := newCluster(t)
	idp := mfa.Actor{Name: "idp"}
	res, err := c.a.AddMethod(t.Context(), idp, user, mfa.AddMethodRequest{Kind: mfa.KindTOTP})
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		s, err := totp.GenerateCode(res.TOTP.Secret, c.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	wrong := "000000"
	if code() == wrong {
		wrong = "111111"
	}
	if _, err := c.a.ConfirmMethod(t.Context(), idp, user, res.Method.ID, mfa.ConfirmRequest{Code: wrong}); mfa.CodeOf(err) != mfa.CodeInvalidCode {
		t.Fatalf("wrong first code: %v", err)
	}
	auditHas(t, c.a, user, mfa.EventVerifyFailed, "idp", "confirm: wrong code")

	used := code()
	if _, err := c.a.ConfirmMethod(t.Context(), idp, user, res.Method.ID, mfa.ConfirmRequest{Code: used}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.a.CreateChallenge(t.Context(), idp, user, mfa.ChallengeRequest{Purpose: mfa.PurposeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.a.Verify(t.Context(), mfa.Actor{Name: "idp2"}, ch.ID, used); mfa.CodeOf(err) != mfa.CodeReplayedCode {
		t.Fatalf("replayed code: %v", err)
	}
	auditHas(t, c.a, user, mfa.EventVerifyFailed, "idp2", "replayed code")

	// A verification refused before any code is checked is audited too.
	c.clock.Advance(10 * time.Minute)
	if _, err := c.a.Verify(t.Context(), idp, ch.ID, code()); mfa.CodeOf(err) != mfa.CodeChallengeExpired {
		t.Fatalf("expired: %v", err)
	}
	auditHas(t, c.a, user, mfa.EventChallengeExpired, "mfagate", "ttl")
	if _, err := c.a.Verify(t.Context(), idp, ch.ID, code()); mfa.CodeOf(err) != mfa.CodeChallengeExpired {
		t.Fatalf("expired again: %v", err)
	}
	auditHas(t, c.a, user, mfa.EventRequestRefused, "idp", "verify: challenge_expired")
}

func TestAuditFraudReportHasActor(t *testing.T) {
	c := newCluster(t)
	_, err := c.a.AddMethod(t.Context(), mfa.Actor{Name: "idp"}, user, mfa.AddMethodRequest{
		Kind: mfa.KindPhone, Slot: mfa.SlotMobile, Phone: "090-1234-5678", Channel: mfa.ChannelVoice})
	if err != nil {
		t.Fatal(err)
	}
	o, ok, err := c.ma.Take(t.Context())
	if err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	if err := c.a.Report(t.Context(), o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: "0"}); err != nil {
		t.Fatal(err)
	}
	auditHas(t, c.a, user, mfa.EventFraudReported, "phone", "")
	auditHas(t, c.a, user, mfa.EventChallengeDenied, "phone", "fraud_reported")
}

func TestAuditRefusedChanges(t *testing.T) {
	c := newCluster(t)
	idp := mfa.Actor{Name: "idp"}
	if _, err := c.a.AddMethod(t.Context(), idp, user, mfa.AddMethodRequest{
		Kind: mfa.KindPhone, Slot: mfa.SlotMobile, Phone: "0570-123-456", Channel: mfa.ChannelVoice}); mfa.CodeOf(err) != mfa.CodeInvalidPhone {
		t.Fatalf("0570: %v", err)
	}
	auditHas(t, c.a, user, mfa.EventRequestRefused, "idp", "add_method: invalid_phone")
	if _, err := c.a.TerminateMFA(t.Context(), mfa.Actor{Name: "kiosk"}, user); mfa.CodeOf(err) != mfa.CodeInvalidRequest {
		t.Fatalf("terminate by non-admin: %v", err)
	}
	auditHas(t, c.a, user, mfa.EventRequestRefused, "kiosk", "terminate_mfa: invalid_request")
}

func TestAuditEnrollmentFailed(t *testing.T) {
	c := newCluster(t)
	if err := c.a.AuditEnrollmentFailed(t.Context(), mfa.Actor{Name: "kiosk-lib"}, user, "wrong PIN\n(2 retries left)"); err != nil {
		t.Fatal(err)
	}
	auditHas(t, c.a, user, mfa.EventEnrollmentFailed, "kiosk-lib", "wrong PIN (2 retries left)")
}
