package mfa_test

import (
	"testing"
	"time"

	"mfagate/mfa"
)

// The user's "last test sign-in" is the last time they tried a method on
// purpose (a challenge with purpose test). A real sign-in through a front
// door, or a proof, does not move it, so it cannot stand in for the test
// that applying for MFA needs after a method change.
func TestOnlyTestChallengesSetLastTestSignin(t *testing.T) {
	svc, _, clock := newSQLiteService(t)
	ctx, idp := t.Context(), mfa.Actor{Name: "idp"}
	const user = "0000000002"
	res, err := svc.AddMethod(ctx, idp, user, mfa.AddMethodRequest{Kind: mfa.KindTOTP})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmMethod(ctx, idp, user, res.Method.ID, mfa.ConfirmRequest{Code: rfc6238(res.TOTP.Secret, clock.Now())}); err != nil {
		t.Fatal(err)
	}

	// A sign-in challenge, approved: the method is used, but no test.
	clock.Advance(30 * time.Second)
	c, err := svc.CreateChallenge(ctx, idp, user, mfa.ChallengeRequest{Purpose: mfa.PurposeSignin})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Verify(ctx, idp, c.ID, rfc6238(res.TOTP.Secret, clock.Now())); err != nil || c.Status != mfa.StatusApproved {
		t.Fatalf("sign-in: %+v %v", c, err)
	}
	v, err := svc.GetUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if !v.User.LastTestSigninAt.IsZero() {
		t.Fatalf("an approved sign-in set the last test sign-in to %v", v.User.LastTestSigninAt)
	}
	if v.Methods[0].LastUsedAt.IsZero() {
		t.Fatal("the sign-in did not mark the method used")
	}
	if _, err := svc.ApplyMFA(ctx, idp, user); mfa.CodeOf(err) != mfa.CodeNoTestSignin {
		t.Fatalf("applying after a sign-in but no test: %v", err)
	}

	// A test challenge, approved: now it is set, and MFA can be applied.
	clock.Advance(30 * time.Second)
	tested := clock.Now()
	c, err = svc.CreateChallenge(ctx, idp, user, mfa.ChallengeRequest{Purpose: mfa.PurposeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(ctx, idp, c.ID, rfc6238(res.TOTP.Secret, clock.Now())); err != nil {
		t.Fatal(err)
	}
	if v, _ = svc.GetUser(ctx, user); !v.User.LastTestSigninAt.Equal(tested) {
		t.Fatalf("last test sign-in %v, want %v", v.User.LastTestSigninAt, tested)
	}
	if _, err := svc.ApplyMFA(ctx, idp, user); err != nil {
		t.Fatalf("applying after a test: %v", err)
	}

	// Later sign-ins leave the date of the test alone.
	clock.Advance(30 * time.Second)
	if _, err := svc.SignInWithCode(ctx, idp, user, rfc6238(res.TOTP.Secret, clock.Now())); err != nil {
		t.Fatal(err)
	}
	if v, _ = svc.GetUser(ctx, user); !v.User.LastTestSigninAt.Equal(tested) {
		t.Fatalf("a sign-in moved the last test sign-in to %v", v.User.LastTestSigninAt)
	}
}
