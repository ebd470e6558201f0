package mfa_test

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// rfc6238 is the code an authenticator app shows, computed independently
// of package mfa.
func rfc6238(secret string, t time.Time) string { return mfatest.TOTP(secret, t) }

// newSQLiteService is a service on a fresh SQLite file with a clock at
// 2026-04-01 09:00:10 UTC and the policy these tests assume: 6-digit codes
// for 5 minutes, 5 attempts, a lock after 3 consecutive failures.
func newSQLiteService(t *testing.T) (*mfa.Service, *sqlite.DB, *mfatest.Clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
	clock := mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))
	svc, err := mfa.New(mfa.Options{Store: db, Keys: keys, Now: clock.Now, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 3,
		PhoneChallengesPerUser: 5, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: configTexts{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, db, clock
}

func TestSignInWithCode(t *testing.T) {
	svc, db, clock := newSQLiteService(t)
	ctx, idp := t.Context(), mfa.Actor{Name: "pi:127.0.0.1"}
	const user = "0000000001"

	if _, err := svc.SignInWithCode(ctx, idp, user, "123456"); mfa.CodeOf(err) != mfa.CodeNoConfirmedMethod {
		t.Fatalf("user without methods: %v", err)
	}
	res, err := svc.AddMethod(ctx, idp, user, mfa.AddMethodRequest{Kind: mfa.KindTOTP})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignInWithCode(ctx, idp, user, rfc6238(res.TOTP.Secret, clock.Now())); mfa.CodeOf(err) != mfa.CodeNoConfirmedMethod {
		t.Fatalf("unconfirmed app: %v", err)
	}
	if _, err := svc.ConfirmMethod(ctx, idp, user, res.Method.ID, mfa.ConfirmRequest{Code: rfc6238(res.TOTP.Secret, clock.Now())}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)

	commits, frames := db.WriteStats()
	c, err := svc.SignInWithCode(ctx, idp, user, rfc6238(res.TOTP.Secret, clock.Now()))
	if err != nil || c.Status != mfa.StatusApproved || c.Purpose != mfa.PurposeSignin || c.Method != res.Method.ID {
		t.Fatalf("current code: %+v %v", c, err)
	}
	// One request, one durable commit, a handful of pages.
	if c2, f2 := db.WriteStats(); c2-commits != 1 || f2-frames > 12 {
		t.Fatalf("a sign-in committed %d times, %d WAL frames", c2-commits, f2-frames)
	} else {
		t.Logf("a sign-in: 1 commit, %d WAL frames", f2-frames)
	}
	if got, err := svc.Challenge(ctx, c.ID); err != nil || got.Status != mfa.StatusApproved {
		t.Fatalf("the approved challenge is not stored: %+v %v", got, err)
	}
	// The same code again, and through the two-call path: both refused.
	if _, err := svc.SignInWithCode(ctx, idp, user, rfc6238(res.TOTP.Secret, clock.Now())); mfa.CodeOf(err) != mfa.CodeReplayedCode {
		t.Fatalf("replay: %v", err)
	}
	two, err := svc.CreateChallenge(ctx, idp, user, mfa.ChallengeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(ctx, idp, two.ID, rfc6238(res.TOTP.Secret, clock.Now())); mfa.CodeOf(err) != mfa.CodeReplayedCode {
		t.Fatalf("replay through Verify after SignInWithCode: %v", err)
	}

	// A malformed code changes nothing; wrong codes count toward the lock.
	if _, err := svc.SignInWithCode(ctx, idp, user, "12a456"); mfa.CodeOf(err) != mfa.CodeInvalidCodeFormat {
		t.Fatalf("format: %v", err)
	}
	if v, _ := svc.GetUser(ctx, user); v.User.ConsecutiveFailures != 0 {
		t.Fatalf("a malformed code counted: %d", v.User.ConsecutiveFailures)
	}
	wrong := "000000"
	if wrong == rfc6238(res.TOTP.Secret, clock.Now()) {
		wrong = "111111"
	}
	for i := 1; i <= 3; i++ {
		commits, _ := db.WriteStats()
		_, err := svc.SignInWithCode(ctx, idp, user, wrong)
		if mfa.CodeOf(err) != mfa.CodeInvalidCode {
			t.Fatalf("wrong code %d: %v", i, err)
		}
		if c, _ := db.WriteStats(); c-commits != 1 {
			t.Fatalf("a wrong code committed %d times", c-commits)
		}
		if v, _ := svc.GetUser(ctx, user); v.User.ConsecutiveFailures != i {
			t.Fatalf("after %d wrong codes the user has %d failures", i, v.User.ConsecutiveFailures)
		}
	}
	clock.Advance(30 * time.Second)
	if _, err := svc.SignInWithCode(ctx, idp, user, rfc6238(res.TOTP.Secret, clock.Now())); mfa.CodeOf(err) != mfa.CodeUserLocked {
		t.Fatalf("locked user signed in: %v", err)
	}
	evs, err := svc.Events(ctx, mfa.EventFilter{User: user, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var failed, refused int
	for _, e := range evs {
		switch {
		case e.Type == mfa.EventVerifyFailed && e.Actor == idp.Name:
			failed++
		case e.Type == mfa.EventRequestRefused && strings.HasPrefix(e.Detail, "signin_with_code: "):
			refused++
		}
	}
	// 3 wrong codes + 1 replay (the Verify replay is recorded too).
	if failed != 5 || refused < 2 {
		t.Fatalf("audit: %d verification_failed, %d refusals recorded: %+v", failed, refused, evs)
	}
}
