package mfa_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mfagate/fido"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
)

const (
	testRPID   = "login.example.ac.jp"
	testOrigin = "https://login.example.ac.jp"
)

// withKeys attaches package fido's verifier to the door's service.
func (d *door) withKeys() *door {
	d.svc.SetWebAuthn(mfatest.WebAuthn(fido.Policy{RPID: testRPID, RPName: "Example", Origin: testOrigin, UserVerification: "required"}))
	return d
}

// addKey registers a software key for user, its user handle the user ID's
// bytes as the browser registration and the kiosk make it.
func (d *door) addKey(user, label string) (*mfatest.SoftKey, string) {
	d.t.Helper()
	k := mfatest.NewSoftKey(testRPID, testOrigin, []byte(user))
	m, err := d.svc.RegisterFIDO(d.t.Context(), idp, user, mfa.FIDORegistration{Label: label, Credential: k.Credential()})
	if err != nil {
		d.t.Fatal(err)
	}
	return k, m.ID
}

// options reads a security-key challenge's request options as a browser
// would: the challenge bytes and the allowed credential IDs.
func (d *door) options(c mfa.Challenge) (challenge []byte, allow []string) {
	d.t.Helper()
	raw, err := d.svc.AssertionOptions(d.t.Context(), c)
	if err != nil {
		d.t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			Challenge        string
			AllowCredentials *[]struct{ ID string }
		}
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.PublicKey.AllowCredentials == nil {
		d.t.Fatalf("request options %s: %v (allowCredentials must be present)", raw, err)
	}
	challenge, err = base64.RawURLEncoding.DecodeString(o.PublicKey.Challenge)
	if err != nil || len(challenge) != 32 {
		d.t.Fatalf("options challenge %q: %v", o.PublicKey.Challenge, err)
	}
	allow = []string{}
	for _, a := range *o.PublicKey.AllowCredentials {
		allow = append(allow, a.ID)
	}
	return challenge, allow
}

func (d *door) method(user, id string) mfa.Method {
	d.t.Helper()
	m, err := d.svc.Method(d.t.Context(), user, id)
	if err != nil {
		d.t.Fatal(err)
	}
	return m
}

func (d *door) discoverable(user string) mfa.Challenge {
	d.t.Helper()
	c, err := d.svc.CreateChallenge(d.t.Context(), idp, user, mfa.ChallengeRequest{Kind: mfa.KindFIDO})
	if err != nil {
		d.t.Fatal(err)
	}
	if c.Method != "" || c.Kind != mfa.KindFIDO || c.Status != mfa.StatusCreated {
		d.t.Fatalf("discoverable challenge %+v: want kind fido, no method, created", c)
	}
	return c
}

// A discoverable challenge is answered by whichever of the user's keys the
// browser offers; it then names that key, whose last use and counter move
// on while the other key's stay.
func TestDiscoverableChallengeAnsweredByEitherKey(t *testing.T) {
	d := newDoor(t).withKeys()
	k1, m1 := d.addKey(alice, "Key one")
	k2, m2 := d.addKey(alice, "Key two")
	type key struct {
		k  *mfatest.SoftKey
		id string
	}
	for round, use := range []key{{k1, m1}, {k2, m2}, {k1, m1}} {
		d.clock.Advance(time.Minute)
		other := m2
		if use.id == m2 {
			other = m1
		}
		before := d.method(alice, other)
		c := d.discoverable(alice)
		challenge, allow := d.options(c)
		if len(allow) != 0 {
			t.Fatalf("discoverable options allow %v; want an empty list", allow)
		}
		got, err := d.svc.VerifyFIDO(t.Context(), idp, c.ID, mfa.FIDOAssertion{ResponseJSON: use.k.Assert(challenge)})
		if err != nil || got.Status != mfa.StatusApproved || got.Method != use.id {
			t.Fatalf("round %d: %+v %v; want approved by %s", round, got, err, use.id)
		}
		if stored := d.challenge(c.ID); stored.Method != use.id || stored.Status != mfa.StatusApproved {
			t.Fatalf("round %d: stored challenge %+v; want method %s", round, stored, use.id)
		}
		m := d.method(alice, use.id)
		if !m.LastUsedAt.Equal(d.clock.Now()) || m.FIDO.SignCount == 0 {
			t.Fatalf("round %d: key %s last used %v (count %d); want now, counter moved", round, use.id, m.LastUsedAt, m.FIDO.SignCount)
		}
		if after := d.method(alice, other); !after.LastUsedAt.Equal(before.LastUsedAt) || after.FIDO.SignCount != before.FIDO.SignCount {
			t.Fatalf("round %d: the key that did not answer changed: %+v → %+v", round, before, after)
		}
		if evs := d.events(alice, mfa.EventChallengeApproved); len(evs) == 0 || evs[0].Challenge != c.ID || evs[0].Method != use.id {
			t.Fatalf("round %d: approval event %+v; want the challenge with method %s", round, evs, use.id)
		}
	}
	// A challenge for one key still names only that key.
	c, err := d.svc.CreateChallenge(t.Context(), idp, alice, mfa.ChallengeRequest{Method: m2})
	if err != nil {
		t.Fatal(err)
	}
	if _, allow := d.options(c); len(allow) != 1 || allow[0] != base64.RawURLEncoding.EncodeToString(k2.CredentialID) {
		t.Fatalf("one key's options allow %v", allow)
	}
}

// Answers that do not come from one of the user's own keys are refused
// with a reason that says so, cost an attempt and a consecutive failure,
// and leave the challenge open without a method.
func TestDiscoverableChallengeRefusesOtherKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(d *door) *mfatest.SoftKey
		want   string
	}{
		{"user handle of another user", func(d *door) *mfatest.SoftKey {
			k, _ := d.addKey(alice, "mine")
			k.UserHandle = []byte(bob)
			return k
		}, "answered for another account"},
		{"another user's credential", func(d *door) *mfatest.SoftKey {
			d.addKey(alice, "mine")
			k, _ := d.addKey(bob, "bob's")
			k.UserHandle = nil // the authenticator returns none
			return k
		}, "is not one of user " + alice + "'s registered security keys"},
		{"another user's credential with its user handle", func(d *door) *mfatest.SoftKey {
			d.addKey(alice, "mine")
			k, _ := d.addKey(bob, "bob's")
			return k
		}, "answered for another account"},
		{"unknown credential", func(d *door) *mfatest.SoftKey {
			d.addKey(alice, "mine")
			return mfatest.NewSoftKey(testRPID, testOrigin, []byte(alice))
		}, "is not one of user " + alice + "'s registered security keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDoor(t).withKeys()
			k := tc.answer(d)
			c := d.discoverable(alice)
			challenge, _ := d.options(c)
			got, err := d.svc.VerifyFIDO(t.Context(), idp, c.ID, mfa.FIDOAssertion{ResponseJSON: k.Assert(challenge)})
			if mfa.CodeOf(err) != mfa.CodeInvalidAssertion || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v; want invalid_assertion saying %q", err, tc.want)
			}
			if got.Status != mfa.StatusCreated || got.Method != "" || got.AttemptsLeft != 4 {
				t.Fatalf("challenge after the refusal %+v; want open, no method, 4 attempts left", got)
			}
			if stored := d.challenge(c.ID); stored.Method != "" || stored.AttemptsLeft != 4 {
				t.Fatalf("stored challenge %+v", stored)
			}
			if n := d.failures(alice); n != 1 {
				t.Fatalf("consecutive failures %d, want 1", n)
			}
			if evs := d.events(alice, mfa.EventVerifyFailed); len(evs) != 1 || !strings.Contains(evs[0].Detail, tc.want) {
				t.Fatalf("verification_failed events %+v", evs)
			}
			v, _ := d.svc.GetUser(t.Context(), alice)
			for _, m := range v.Methods {
				if !m.LastUsedAt.IsZero() {
					t.Fatalf("method %s got a last use from a refused answer", m.ID)
				}
			}
		})
	}
}

func TestDiscoverableChallengeRequests(t *testing.T) {
	d := newDoor(t).withKeys()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		req  mfa.ChallengeRequest
		code mfa.Code
		want string
	}{
		{"no key yet", mfa.ChallengeRequest{Kind: mfa.KindFIDO}, mfa.CodeNoConfirmedMethod, "no confirmed security key"},
		{"kind with method", mfa.ChallengeRequest{Kind: mfa.KindFIDO, Method: d.app}, mfa.CodeInvalidRequest, "method or kind, not both"},
		{"kind totp", mfa.ChallengeRequest{Kind: mfa.KindTOTP}, mfa.CodeInvalidRequest, `kind "totp" is not possible: only "fido"`},
		{"kind with channel", mfa.ChallengeRequest{Kind: mfa.KindFIDO, Channel: mfa.ChannelSMS}, mfa.CodeChannelNotPossible, "phone methods only"},
	} {
		if _, err := d.svc.CreateChallenge(ctx, idp, alice, tc.req); mfa.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %s saying %q", tc.name, err, tc.code, tc.want)
		}
	}
	if evs := d.events(alice, mfa.EventRequestRefused); len(evs) != 4 {
		t.Errorf("%d refusals audited, want 4", len(evs))
	}

	// The kiosk's raw assertion cannot answer a discoverable challenge
	// (it names no credential) but still answers a key's own challenge.
	k, m := d.addKey(alice, "key")
	c := d.discoverable(alice)
	challenge, _ := d.options(c)
	cdj, ad, sig := k.AssertRaw(challenge)
	if _, err := d.svc.VerifyFIDO(ctx, idp, c.ID, mfa.FIDOAssertion{ClientDataJSON: cdj, AuthData: ad, Signature: sig}); mfa.CodeOf(err) != mfa.CodeWrongVerification {
		t.Fatalf("raw assertion on a discoverable challenge: %v", err)
	}
	if n := d.failures(alice); n != 0 {
		t.Fatalf("a refused kind of answer counted %d failures", n)
	}
	own, err := d.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: m, Purpose: mfa.PurposeTest})
	if err != nil {
		t.Fatal(err)
	}
	challenge, _ = d.options(own)
	cdj, ad, sig = k.AssertRaw(challenge)
	if got, err := d.svc.VerifyFIDO(ctx, idp, own.ID, mfa.FIDOAssertion{ClientDataJSON: cdj, AuthData: ad, Signature: sig}); err != nil ||
		got.Status != mfa.StatusApproved || got.Method != m {
		t.Fatalf("raw assertion on the key's own challenge: %+v %v", got, err)
	}
	if !d.method(alice, m).LastUsedAt.Equal(d.clock.Now()) {
		t.Fatal("the kiosk assertion did not record the key's last use")
	}
}

// A method's last use moves on when it answers a sign-in, a test or a
// proof, by every way of answering; not when it is confirmed, nor by a
// wrong code.
func TestMethodLastUse(t *testing.T) {
	d := newDoor(t)
	ctx := t.Context()
	if a, p := d.method(alice, d.app), d.method(alice, d.phone); !a.LastUsedAt.IsZero() || !p.LastUsedAt.IsZero() {
		t.Fatalf("confirmed methods have a last use: app %v, phone %v", a.LastUsedAt, p.LastUsedAt)
	}
	expect := func(step, id string, want time.Time) {
		t.Helper()
		if got := d.method(alice, id).LastUsedAt; !got.Equal(want) {
			t.Fatalf("%s: %s last used %v, want %v", step, id, got, want)
		}
	}

	// A wrong code on a sign-in challenge: no use.
	c, err := d.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: d.app})
	if err != nil {
		t.Fatal(err)
	}
	d.svc.Verify(ctx, idp, c.ID, d.wrongCode(""))
	expect("wrong code", d.app, time.Time{})
	if _, err := d.svc.Verify(ctx, idp, c.ID, rfc6238(d.secret, d.clock.Now())); err != nil {
		t.Fatal(err)
	}
	expect("Verify", d.app, d.clock.Now())
	signedIn := d.clock.Now()

	d.clock.Advance(time.Minute)
	if _, err := d.svc.SignInWithCode(ctx, idp, alice, rfc6238(d.secret, d.clock.Now())); err != nil {
		t.Fatal(err)
	}
	expect("SignInWithCode", d.app, d.clock.Now())
	expect("SignInWithCode, phone", d.phone, time.Time{})

	d.clock.Advance(time.Minute)
	sms, code := d.smsChallenge(alice, d.phone)
	if got, err := d.svc.VerifyCode(ctx, idp, alice, []string{sms.ID}, code); err != nil || got.Method != d.phone {
		t.Fatalf("VerifyCode: %+v %v", got, err)
	}
	expect("VerifyCode by SMS", d.phone, d.clock.Now())
	if d.method(alice, d.app).LastUsedAt.Equal(signedIn) {
		t.Fatal("the app's last use went back")
	}

	d.clock.Advance(time.Minute)
	d.voiceChallenge(alice, d.phone, mfa.PurposeProof, true)
	expect("answered call", d.phone, d.clock.Now())

	// Confirming a new phone is no use of it.
	d.clock.Advance(time.Minute)
	res, err := d.svc.AddMethod(ctx, idp, alice, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotOffice, Phone: "03-1234-5678", Channel: mfa.ChannelVoice})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := d.sent(res.Challenge.ID)
	if err := d.svc.Report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		t.Fatal(err)
	}
	if m := d.method(alice, res.Method.ID); !m.Confirmed || !m.LastUsedAt.IsZero() {
		t.Fatalf("office phone confirmed by its call: %+v; want confirmed, never used", m)
	}
}

func TestRenameMethod(t *testing.T) {
	d := newDoor(t)
	ctx := t.Context()
	user := mfa.Actor{Name: "self:" + alice}

	// Once MFA is on, a rename still needs no proof.
	c, _ := d.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: d.app, Purpose: mfa.PurposeTest})
	if _, err := d.svc.Verify(ctx, idp, c.ID, rfc6238(d.secret, d.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.ApplyMFA(ctx, idp, alice); err != nil {
		t.Fatal(err)
	}
	m, err := d.svc.RenameMethod(ctx, user, alice, d.app, "  仕事用のスマホ  ")
	if err != nil || m.Label != "仕事用のスマホ" || m.ID != d.app {
		t.Fatalf("rename: %+v %v", m, err)
	}
	if got := d.method(alice, d.app); got.Label != "仕事用のスマホ" || !got.Confirmed || got.Secret == nil {
		t.Fatalf("stored after rename: %+v", got)
	}
	if evs := d.events(alice, mfa.EventMethodRenamed); len(evs) != 1 || evs[0].Actor != user.Name || evs[0].Method != d.app || strings.Contains(evs[0].Detail, "スマホ") {
		t.Fatalf("rename events %+v; want one by %s without the label", evs, user.Name)
	}
	if _, err := d.svc.RenameMethod(ctx, user, alice, d.app, strings.Repeat("あ", 64)); err != nil {
		t.Fatalf("64 characters: %v", err)
	}
	for _, tc := range []struct {
		name, label, want string
	}{
		{"empty", "", "label is required"},
		{"only spaces", " \t ", "label is required"},
		{"65 characters", strings.Repeat("あ", 65), "at most 64 characters"},
		{"control character", "a\u0007b", "control characters"},
		{"invalid UTF-8", "a\xffb", "valid UTF-8"},
	} {
		if _, err := d.svc.RenameMethod(ctx, user, alice, d.app, tc.label); mfa.CodeOf(err) != mfa.CodeInvalidRequest || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want invalid_request saying %q", tc.name, err, tc.want)
		}
	}
	if got := d.method(alice, d.app); got.Label != strings.Repeat("あ", 64) {
		t.Fatalf("a refused rename changed the label to %q", got.Label)
	}

	// Another user's method is unknown to this one.
	res, err := d.svc.AddMethod(ctx, idp, bob, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "bob's app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.RenameMethod(ctx, user, alice, res.Method.ID, "mine now"); mfa.CodeOf(err) != mfa.CodeUnknownMethod {
		t.Fatalf("another user's method: %v", err)
	}
	if got := d.method(bob, res.Method.ID); got.Label != "bob's app" {
		t.Fatalf("bob's method renamed to %q", got.Label)
	}
	if evs := d.events(alice, mfa.EventMethodRenamed); len(evs) != 2 {
		t.Fatalf("%d rename events, want 2 (refusals are request_refused)", len(evs))
	}
	if n := len(d.events(alice, mfa.EventRequestRefused)); n != 6 {
		t.Fatalf("%d refusals audited, want 6", n)
	}
}
