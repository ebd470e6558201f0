package mfa_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// door is a front door's view of the gateway: a service on a real SQLite
// file, a stand-in modem that hands over what would be sent, and a user
// with a confirmed authenticator app (the default) and a confirmed mobile.
type door struct {
	t      *testing.T
	svc    *mfa.Service
	clock  *mfatest.Clock
	modem  *mfatest.Sender
	secret string // the app's seed, as the user's app holds it
	app    string
	phone  string
}

var (
	idp       = mfa.Actor{Name: "pi:127.0.0.1"}
	smsCodeRE = regexp.MustCompile(`\b[0-9]{6}\b`)
)

const (
	alice = "0000000001"
	bob   = "0000000002"
)

func newDoor(t *testing.T) *door {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
	d := &door{t: t, clock: mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))}
	d.svc, err = mfa.New(mfa.Options{Store: db, Keys: keys, Now: d.clock.Now, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 3,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: texts{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.modem = mfatest.NewSender("modem-a")
	d.modem.Service = d.svc
	d.svc.SetSender(d.modem)

	ctx := t.Context()
	res, err := d.svc.AddMethod(ctx, idp, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP})
	if err != nil {
		t.Fatal(err)
	}
	d.secret, d.app = res.TOTP.Secret, res.Method.ID
	if _, err := d.svc.ConfirmMethod(ctx, idp, alice, d.app, mfa.ConfirmRequest{Code: rfc6238(d.secret, d.clock.Now())}); err != nil {
		t.Fatal(err)
	}
	d.phone = d.addPhone(alice)
	d.clock.Advance(30 * time.Second) // the app shows a code not used yet
	return d
}

// addPhone registers and confirms a mobile for user with the SMS code.
func (d *door) addPhone(user string) string {
	d.t.Helper()
	res, err := d.svc.AddMethod(d.t.Context(), idp, user, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotMobile,
		Phone: "090-1234-5678", Channel: mfa.ChannelSMS})
	if err != nil {
		d.t.Fatal(err)
	}
	_, code := d.sent(res.Challenge.ID)
	if _, err := d.svc.ConfirmMethod(d.t.Context(), idp, user, res.Method.ID, mfa.ConfirmRequest{Code: code}); err != nil {
		d.t.Fatal(err)
	}
	return res.Method.ID
}

// sent takes the next outbox job as a modem would and returns it with the
// code its SMS carries.
func (d *door) sent(challenge string) (mfa.Outgoing, string) {
	d.t.Helper()
	o, ok, err := d.modem.Take(d.t.Context())
	if err != nil || !ok || o.Challenge != challenge {
		d.t.Fatalf("outbox: %+v %v %v, want the job of challenge %s", o, ok, err, challenge)
	}
	return o, smsCodeRE.FindString(o.Text)
}

// smsChallenge starts a sign-in by SMS for user and returns it with its code.
func (d *door) smsChallenge(user, phone string) (mfa.Challenge, string) {
	d.t.Helper()
	c, err := d.svc.CreateChallenge(d.t.Context(), idp, user, mfa.ChallengeRequest{Method: phone, Channel: mfa.ChannelSMS})
	if err != nil {
		d.t.Fatal(err)
	}
	_, code := d.sent(c.ID)
	if code == "" {
		d.t.Fatal("the SMS carries no code")
	}
	return c, code
}

// voiceChallenge starts a call for user with purpose p; answer says whether
// the callee confirms it on the keypad.
func (d *door) voiceChallenge(user, phone string, p mfa.Purpose, answer bool) mfa.Challenge {
	d.t.Helper()
	c, err := d.svc.CreateChallenge(d.t.Context(), idp, user, mfa.ChallengeRequest{Method: phone, Channel: mfa.ChannelVoice, Purpose: p})
	if err != nil {
		d.t.Fatal(err)
	}
	if !answer {
		return c
	}
	o, _ := d.sent(c.ID)
	if err := d.svc.Report(d.t.Context(), o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		d.t.Fatal(err)
	}
	return d.challenge(c.ID)
}

func (d *door) challenge(id string) mfa.Challenge {
	d.t.Helper()
	c, err := d.svc.Challenge(d.t.Context(), id)
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

func (d *door) failures(user string) int {
	d.t.Helper()
	v, err := d.svc.GetUser(d.t.Context(), user)
	if err != nil {
		d.t.Fatal(err)
	}
	return v.User.ConsecutiveFailures
}

// events lists user's audit events of type typ, newest first.
func (d *door) events(user, typ string) []mfa.Event {
	d.t.Helper()
	evs, err := d.svc.Events(d.t.Context(), mfa.EventFilter{User: user, Limit: 200})
	if err != nil {
		d.t.Fatal(err)
	}
	var out []mfa.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wrongCode is a code that is neither the SMS code nor the app's code.
func (d *door) wrongCode(sms string) string {
	for _, c := range []string{"000000", "111111", "222222"} {
		if c != sms && c != rfc6238(d.secret, d.clock.Now()) && c != rfc6238(d.secret, d.clock.Now().Add(-30*time.Second)) &&
			c != rfc6238(d.secret, d.clock.Now().Add(30*time.Second)) {
			return c
		}
	}
	panic("no wrong code")
}

func TestVerifyCodeAnswersTheOfferedMethodItMatches(t *testing.T) {
	ctx := t.Context()

	t.Run("sms code", func(t *testing.T) {
		d := newDoor(t)
		sms, code := d.smsChallenge(alice, d.phone)
		c, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, code)
		if err != nil || c.ID != sms.ID || c.Status != mfa.StatusApproved {
			t.Fatalf("the SMS code: %+v %v; want challenge %s approved", c, err, sms.ID)
		}
		if got := d.challenge(sms.ID); got.Status != mfa.StatusApproved {
			t.Fatalf("stored SMS challenge is %s", got.Status)
		}
		if evs := d.events(alice, mfa.EventChallengeApproved); len(evs) == 0 || evs[0].Challenge != sms.ID {
			t.Fatalf("approval not audited on the SMS challenge: %+v", evs)
		}
	})

	t.Run("app code", func(t *testing.T) {
		d := newDoor(t)
		sms, _ := d.smsChallenge(alice, d.phone)
		c, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, rfc6238(d.secret, d.clock.Now()))
		if err != nil || c.Kind != mfa.KindTOTP || c.Method != d.app || c.Status != mfa.StatusApproved || c.Purpose != mfa.PurposeSignin {
			t.Fatalf("the app's code: %+v %v; want a new approved sign-in of the app", c, err)
		}
		if got := d.challenge(sms.ID); got.Status.Final() || got.AttemptsLeft != sms.AttemptsLeft {
			t.Fatalf("the SMS challenge changed: %+v", got)
		}
		// The same code again: its time step was accepted.
		_, err = d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, rfc6238(d.secret, d.clock.Now()))
		if mfa.CodeOf(err) != mfa.CodeReplayedCode {
			t.Fatalf("replayed app code: %v", err)
		}
		if got := d.challenge(sms.ID); got.AttemptsLeft != sms.AttemptsLeft || d.failures(alice) != 0 {
			t.Fatalf("a replay counted as a wrong code: SMS attempts %d, user failures %d", got.AttemptsLeft, d.failures(alice))
		}
		// And through the two-call path too.
		two, err := d.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.svc.Verify(ctx, idp, two.ID, rfc6238(d.secret, d.clock.Now())); mfa.CodeOf(err) != mfa.CodeReplayedCode {
			t.Fatalf("replay through Verify: %v", err)
		}
	})

	t.Run("app code on the offered app challenge", func(t *testing.T) {
		d := newDoor(t)
		sms, _ := d.smsChallenge(alice, d.phone)
		app, err := d.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: d.app})
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID, app.ID}, rfc6238(d.secret, d.clock.Now()))
		if err != nil || c.ID != app.ID || c.Status != mfa.StatusApproved {
			t.Fatalf("the app's code with its challenge offered: %+v %v; want %s approved", c, err, app.ID)
		}
	})

	t.Run("another app", func(t *testing.T) {
		d := newDoor(t)
		res, err := d.svc.AddMethod(ctx, idp, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "tablet"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.svc.ConfirmMethod(ctx, idp, alice, res.Method.ID, mfa.ConfirmRequest{Code: rfc6238(res.TOTP.Secret, d.clock.Now())}); err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(30 * time.Second)
		c, err := d.svc.VerifyCode(ctx, idp, alice, nil, rfc6238(res.TOTP.Secret, d.clock.Now()))
		if err != nil || c.Method != res.Method.ID || c.Status != mfa.StatusApproved {
			t.Fatalf("the second app's code: %+v %v", c, err)
		}
	})
}

func TestVerifyCodeWrongCodeCostsOneAttempt(t *testing.T) {
	ctx := t.Context()
	d := newDoor(t)
	sms, code := d.smsChallenge(alice, d.phone)
	before := len(d.events(alice, mfa.EventVerifyFailed))
	wrong := d.wrongCode(code)

	_, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, wrong)
	var e *mfa.Error
	if mfa.CodeOf(err) != mfa.CodeInvalidCode || !errors.As(err, &e) || e.Challenge == nil || e.Challenge.ID != sms.ID {
		t.Fatalf("wrong code: %v; want invalid_code on the SMS challenge", err)
	}
	if got := d.challenge(sms.ID); got.AttemptsLeft != sms.AttemptsLeft-1 || got.Status.Final() {
		t.Fatalf("SMS challenge after one wrong code: %d attempts left (was %d), %s", got.AttemptsLeft, sms.AttemptsLeft, got.Status)
	}
	if n := d.failures(alice); n != 1 {
		t.Fatalf("user failures after one wrong code = %d, want 1", n)
	}
	if evs := d.events(alice, mfa.EventVerifyFailed); len(evs) != before+1 || evs[0].Challenge != sms.ID {
		t.Fatalf("failed attempts recorded: %d new (want 1), newest on %q", len(evs)-before, evs[0].Challenge)
	}
	// The app's challenge record was not touched: its current code still works.
	if c, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, rfc6238(d.secret, d.clock.Now())); err != nil || c.Method != d.app {
		t.Fatalf("the app's code after a wrong code: %+v %v", c, err)
	}
	if n := d.failures(alice); n != 0 {
		t.Fatalf("an approval leaves %d failures", n)
	}

	// Without a code challenge offered, the attempt goes to the default app.
	d.clock.Advance(30 * time.Second)
	_, err = d.svc.VerifyCode(ctx, idp, alice, nil, wrong)
	if mfa.CodeOf(err) != mfa.CodeInvalidCode || !errors.As(err, &e) || e.Challenge == nil || e.Challenge.Method != d.app {
		t.Fatalf("wrong code with nothing offered: %v; want invalid_code on a challenge of the app", err)
	}
	if got := d.challenge(sms.ID); got.AttemptsLeft != sms.AttemptsLeft-1 || d.failures(alice) != 1 {
		t.Fatalf("after a wrong code with nothing offered: SMS attempts %d, user failures %d", got.AttemptsLeft, d.failures(alice))
	}

	// A malformed code costs nothing.
	if _, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, "12a456"); mfa.CodeOf(err) != mfa.CodeInvalidCodeFormat {
		t.Fatalf("malformed code: %v", err)
	}
	if got := d.challenge(sms.ID); got.AttemptsLeft != sms.AttemptsLeft-1 || d.failures(alice) != 1 {
		t.Fatalf("a malformed code counted: SMS attempts %d, user failures %d", got.AttemptsLeft, d.failures(alice))
	}
}

func TestVerifyCodeLocksTheUser(t *testing.T) {
	ctx := t.Context()
	d := newDoor(t)
	sms, code := d.smsChallenge(alice, d.phone)
	wrong := d.wrongCode(code)
	for i := 1; i <= 3; i++ {
		if _, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, wrong); mfa.CodeOf(err) != mfa.CodeInvalidCode {
			t.Fatalf("wrong code %d: %v", i, err)
		}
		if n := d.failures(alice); n != i {
			t.Fatalf("after %d wrong codes the user has %d failures", i, n)
		}
	}
	for name, c := range map[string]string{"sms": code, "app": rfc6238(d.secret, d.clock.Now())} {
		if _, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, c); mfa.CodeOf(err) != mfa.CodeUserLocked {
			t.Fatalf("the right %s code for a locked user: %v", name, err)
		}
	}
	if got := d.challenge(sms.ID); got.Status.Final() || got.AttemptsLeft != sms.AttemptsLeft-3 {
		t.Fatalf("SMS challenge of the locked user: %+v", got)
	}
}

func TestVerifyCodeRefusesAnotherUsersChallenge(t *testing.T) {
	ctx := t.Context()
	d := newDoor(t)
	bobPhone := d.addPhone(bob)
	theirs, theirCode := d.smsChallenge(bob, bobPhone)
	mine, _ := d.smsChallenge(alice, d.phone)
	for name, code := range map[string]string{"their code": theirCode, "a wrong code": d.wrongCode(theirCode),
		"the app's code": rfc6238(d.secret, d.clock.Now())} {
		_, err := d.svc.VerifyCode(ctx, idp, alice, []string{mine.ID, theirs.ID}, code)
		if mfa.CodeOf(err) != mfa.CodeUnknownChallenge {
			t.Fatalf("%s with another user's challenge offered: %v", name, err)
		}
		if _, err := d.svc.VerifyCode(ctx, idp, alice, []string{"c_nonexistent"}, code); mfa.CodeOf(err) != mfa.CodeUnknownChallenge {
			t.Fatalf("%s with an unknown challenge offered: %v", name, err)
		}
	}
	for _, c := range []mfa.Challenge{theirs, mine} {
		if got := d.challenge(c.ID); got.Status != c.Status && got.Status != mfa.StatusSending || got.AttemptsLeft != c.AttemptsLeft {
			t.Fatalf("challenge %s changed: %+v", c.ID, got)
		}
	}
	if d.failures(alice) != 0 || d.failures(bob) != 0 {
		t.Fatalf("failures counted: alice %d, bob %d", d.failures(alice), d.failures(bob))
	}
	if n := len(d.events(alice, mfa.EventChallengeApproved)) + len(d.events(bob, mfa.EventChallengeApproved)); n != 2 {
		t.Fatalf("%d approvals on record, want the 2 phone confirmations only", n)
	}
	// The app's code is still unused.
	if c, err := d.svc.VerifyCode(ctx, idp, alice, []string{mine.ID}, rfc6238(d.secret, d.clock.Now())); err != nil || c.Method != d.app {
		t.Fatalf("the app's code afterwards: %+v %v", c, err)
	}
}

func TestRedeem(t *testing.T) {
	ctx := t.Context()
	d := newDoor(t)
	pi := mfa.Actor{Name: "pi:10.0.0.5"}

	call := d.voiceChallenge(alice, d.phone, mfa.PurposeSignin, false)
	if _, err := d.svc.Redeem(ctx, pi, alice, call.ID); mfa.CodeOf(err) != mfa.CodeChallengePending {
		t.Fatalf("redeem before the call is answered: %v", err)
	}
	o, _ := d.sent(call.ID)
	if err := d.svc.Report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		t.Fatal(err)
	}
	d.clock.Advance(10 * time.Second)

	// Another user's approval does not exist for alice's door, alike.
	_, other := d.svc.Redeem(ctx, pi, bob, call.ID)
	_, unknown := d.svc.Redeem(ctx, pi, bob, "c_nonexistent")
	if mfa.CodeOf(other) != mfa.CodeUnknownChallenge || mfa.CodeOf(unknown) != mfa.CodeUnknownChallenge ||
		strings.ReplaceAll(other.Error(), call.ID, "ID") != strings.ReplaceAll(unknown.Error(), "c_nonexistent", "ID") {
		t.Fatalf("another user's challenge: %v; unknown: %v", other, unknown)
	}

	c, err := d.svc.Redeem(ctx, pi, alice, call.ID)
	if err != nil || c.ID != call.ID || c.Status != mfa.StatusApproved || !c.RedeemedAt.Equal(d.clock.Now()) {
		t.Fatalf("redeem of an approved call: %+v %v", c, err)
	}
	if got := d.challenge(call.ID); !got.RedeemedAt.Equal(d.clock.Now()) {
		t.Fatalf("redemption not stored: %+v", got)
	}
	if _, err := d.svc.Redeem(ctx, pi, alice, call.ID); mfa.CodeOf(err) != mfa.CodeChallengeRedeemed {
		t.Fatalf("second redeem: %v", err)
	}
	evs := d.events(alice, mfa.EventChallengeRedeemed)
	if len(evs) != 1 || evs[0].Challenge != call.ID || evs[0].Actor != pi.Name || evs[0].Method != d.phone {
		t.Fatalf("redemption audit: %+v", evs)
	}

	// An SMS sign-in approved through VerifyCode redeems too, once.
	sms, code := d.smsChallenge(alice, d.phone)
	if _, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, code); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Redeem(ctx, pi, alice, sms.ID); err != nil {
		t.Fatalf("redeem of an approved SMS challenge: %v", err)
	}

	// An approval must be redeemed promptly.
	late := d.voiceChallenge(alice, d.phone, mfa.PurposeSignin, true)
	d.clock.Advance(5 * time.Minute)
	if _, err := d.svc.Redeem(ctx, pi, alice, late.ID); mfa.CodeOf(err) != mfa.CodeChallengeExpired {
		t.Fatalf("redeem of an approval older than the code lifetime: %v", err)
	}
	// A call never answered expires.
	unanswered := d.voiceChallenge(alice, d.phone, mfa.PurposeSignin, false)
	d.clock.Advance(5 * time.Minute)
	if _, err := d.svc.Redeem(ctx, pi, alice, unanswered.ID); mfa.CodeOf(err) != mfa.CodeChallengeExpired {
		t.Fatalf("redeem of an expired call: %v", err)
	}
	if got := d.challenge(unanswered.ID); got.Status != mfa.StatusExpired {
		t.Fatalf("expired call is stored as %s", got.Status)
	}
	// A denied call, and an approval that is not a sign-in, answer nothing.
	denied := d.voiceChallenge(alice, d.phone, mfa.PurposeSignin, false)
	o, _ = d.sent(denied.ID)
	if err := d.svc.Report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: "99"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Redeem(ctx, pi, alice, denied.ID); mfa.CodeOf(err) != mfa.CodeChallengeFinished {
		t.Fatalf("redeem of a denied call: %v", err)
	}
	test := d.voiceChallenge(alice, d.phone, mfa.PurposeTest, true)
	if test.Status != mfa.StatusApproved {
		t.Fatalf("test call: %s", test.Status)
	}
	if _, err := d.svc.Redeem(ctx, pi, alice, test.ID); mfa.CodeOf(err) != mfa.CodeWrongVerification {
		t.Fatalf("redeem of a test sign-in: %v", err)
	}
	if n := len(d.events(alice, mfa.EventChallengeRedeemed)); n != 2 {
		t.Fatalf("%d redemptions on record, want 2", n)
	}
}

// Of concurrent redemptions of one approval, exactly one succeeds.
func TestRedeemConcurrently(t *testing.T) {
	d := newDoor(t)
	call := d.voiceChallenge(alice, d.phone, mfa.PurposeSignin, true)
	if call.Status != mfa.StatusApproved {
		t.Fatalf("call: %s", call.Status)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = d.svc.Redeem(t.Context(), idp, alice, call.ID) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch mfa.CodeOf(err) {
		case "":
			if err != nil {
				t.Fatalf("redeem %d: %v", i, err)
			}
			won++
		case mfa.CodeChallengeRedeemed:
		default:
			t.Fatalf("redeem %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent redemptions succeeded, want 1", won, n)
	}
	if evs := d.events(alice, mfa.EventChallengeRedeemed); len(evs) != 1 {
		t.Fatalf("%d redemptions on record", len(evs))
	}
}
