package mfa_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// desk is the help desk's client, which issues passes.
var desk = mfa.Actor{Name: "helpdesk"}

// passRE is what a pass looks like as shown: three groups of four, from an
// alphabet without 0/O, 1/I/L, 2/Z, 5/S, 8/B.
var passRE = regexp.MustCompile(`^[34679ACDEFGHJKMNPQRTUVWXY]{4}-[34679ACDEFGHJKMNPQRTUVWXY]{4}-[34679ACDEFGHJKMNPQRTUVWXY]{4}$`)

// tapGate is a service on a real SQLite file whose path the test knows,
// with alice holding a confirmed authenticator app (her default) and MFA
// active.
type tapGate struct {
	t      *testing.T
	svc    *mfa.Service
	clock  *mfatest.Clock
	dir    string
	secret string
	app    string
}

func tapPolicy(signin bool) mfa.Policy {
	return mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 3,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: texts{},
		TAP:      mfa.TAPPolicy{MaxLifetime: 8 * time.Hour, AllowedFor: []string{"enroll", "admin"}, Signin: signin},
	}
}

func newTAPGate(t *testing.T, signin bool) *tapGate {
	t.Helper()
	g := &tapGate{t: t, dir: t.TempDir(), clock: mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 10, 0, time.UTC))}
	db, err := sqlite.Open(t.Context(), filepath.Join(g.dir, "mfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
	g.svc, err = mfa.New(mfa.Options{Store: db, Keys: keys, Now: g.clock.Now, Policy: tapPolicy(signin)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	res, err := g.svc.AddMethod(ctx, idp, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP})
	if err != nil {
		t.Fatal(err)
	}
	g.secret, g.app = res.TOTP.Secret, res.Method.ID
	if _, err := g.svc.ConfirmMethod(ctx, idp, alice, g.app, mfa.ConfirmRequest{Code: rfc6238(g.secret, g.clock.Now())}); err != nil {
		t.Fatal(err)
	}
	g.clock.Advance(30 * time.Second)
	c, err := g.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Purpose: mfa.PurposeTest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.svc.Verify(ctx, idp, c.ID, rfc6238(g.secret, g.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if v, err := g.svc.ApplyMFA(ctx, idp, alice); err != nil || v.State != mfa.StateActive {
		t.Fatalf("apply: %+v %v", v, err)
	}
	return g
}

func (g *tapGate) issue(user string, life time.Duration, oneTime bool) mfa.TAPResult {
	g.t.Helper()
	r, err := g.svc.IssueTAP(g.t.Context(), desk, user, mfa.TAPRequest{Lifetime: life, OneTime: oneTime})
	if err != nil {
		g.t.Fatal(err)
	}
	return r
}

// prove verifies user's pass in a proof challenge, as the kiosk or the
// Security info page would, and returns the challenge and the refusal.
func (g *tapGate) prove(user, method, pass string) (mfa.Challenge, error) {
	g.t.Helper()
	c, err := g.svc.CreateChallenge(g.t.Context(), idp, user, mfa.ChallengeRequest{Method: method, Purpose: mfa.PurposeProof})
	if err != nil {
		return c, err
	}
	return g.svc.Verify(g.t.Context(), idp, c.ID, pass)
}

func (g *tapGate) view(user string) mfa.UserView {
	g.t.Helper()
	v, err := g.svc.GetUser(g.t.Context(), user)
	if err != nil {
		g.t.Fatal(err)
	}
	return v
}

func taps(v mfa.UserView) []mfa.Method {
	var out []mfa.Method
	for _, m := range v.Methods {
		if m.Kind == mfa.KindTAP {
			out = append(out, m)
		}
	}
	return out
}

func (g *tapGate) events(user, typ string) []mfa.Event {
	g.t.Helper()
	evs, err := g.svc.Events(g.t.Context(), mfa.EventFilter{User: user, Limit: 500})
	if err != nil {
		g.t.Fatal(err)
	}
	var out []mfa.Event
	for _, e := range evs {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// storedBytes is everything the database files hold, read past the store.
func (g *tapGate) storedBytes() []byte {
	g.t.Helper()
	var all []byte
	ms, _ := filepath.Glob(filepath.Join(g.dir, "mfa.db*"))
	for _, p := range ms {
		b, err := os.ReadFile(p)
		if err != nil {
			g.t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		g.t.Fatal("no database files")
	}
	return all
}

func TestTAPIssue(t *testing.T) {
	g := newTAPGate(t, false)
	now := g.clock.Now()
	r := g.issue(alice, 0, true)
	if !passRE.MatchString(r.Pass) {
		t.Fatalf("pass %q is not three groups of four characters without look-alikes", r.Pass)
	}
	m := r.Method
	if m.Kind != mfa.KindTAP || !m.Confirmed || !m.OneTime || !m.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("method = %+v, want a confirmed one-time tap expiring in the default hour", m)
	}
	v := g.view(alice)
	if got := taps(v); len(got) != 1 || got[0].ID != m.ID {
		t.Fatalf("user's passes = %+v", got)
	}
	if v.User.DefaultMethod != g.app {
		t.Fatalf("default changed to %s", v.User.DefaultMethod)
	}
	for _, w := range v.Warnings {
		if w == mfa.WarningSingleMethod {
			continue
		}
		t.Fatalf("unexpected warning %s", w)
	}
	if !strings.Contains(strings.Join(v.Warnings, ","), mfa.WarningSingleMethod) {
		t.Fatalf("one app and a pass: warnings %v, want single_method (a pass does not count)", v.Warnings)
	}

	// Stored only as a keyed hash: the pass is in no database file, with
	// or without its hyphens, nor in the audit log.
	raw := g.storedBytes()
	for _, form := range []string{r.Pass, strings.ReplaceAll(r.Pass, "-", "")} {
		if bytes.Contains(raw, []byte(form)) {
			t.Fatalf("the database holds the pass %q", form)
		}
		for _, e := range g.events(alice, "") {
			if strings.Contains(e.Detail, form) {
				t.Fatalf("audit event %s shows the pass: %q", e.Type, e.Detail)
			}
		}
	}
	issued := g.events(alice, mfa.EventTAPIssued)
	if len(issued) != 1 || issued[0].Actor != desk.Name || issued[0].Method != m.ID ||
		issued[0].Detail != "lifetime=1h one_time=true expires=2026-04-01T10:00:40Z" {
		t.Fatalf("tap_issued events = %+v", issued)
	}

	// Each pass is new.
	r2 := g.issue(alice, 30*time.Minute, false)
	if r2.Pass == r.Pass {
		t.Fatal("the same pass twice")
	}
}

func TestTAPLifetimeOutOfRangeChangesNothing(t *testing.T) {
	g := newTAPGate(t, false)
	for _, tc := range []struct {
		life time.Duration
		want string
	}{
		{9 * time.Minute, "lifetime 9m is too short: a Temporary Access Pass lives from 10m to 8h"},
		{8*time.Hour + time.Minute, "lifetime 8h1m is too long: a Temporary Access Pass lives from 10m to 8h"},
		{-time.Hour, "too short"},
	} {
		_, err := g.svc.IssueTAP(t.Context(), desk, alice, mfa.TAPRequest{Lifetime: tc.life, OneTime: true})
		if mfa.CodeOf(err) != mfa.CodeInvalidRequest || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lifetime %s: %v, want invalid_request saying %q", tc.life, err, tc.want)
		}
	}
	if got := taps(g.view(alice)); len(got) != 0 {
		t.Fatalf("a refused request left passes %+v", got)
	}
	if n := len(g.events(alice, mfa.EventTAPIssued)); n != 0 {
		t.Fatalf("%d tap_issued events", n)
	}
	if refused := g.events(alice, mfa.EventRequestRefused); len(refused) != 3 || refused[0].Detail != "issue_tap: invalid_request" || refused[0].Actor != desk.Name {
		t.Fatalf("refusals audited: %+v", refused)
	}
	// The bounds themselves are allowed.
	g.issue(alice, 10*time.Minute, true)
	g.issue(alice, 8*time.Hour, true)
}

// The lost-phone recovery: once MFA is on, a new method needs a proof; the
// help desk's one-time pass gives exactly one.
func TestTAPProofAddsMethodOnceMFAIsActive(t *testing.T) {
	g := newTAPGate(t, false)
	ctx := t.Context()
	if _, err := g.svc.AddMethod(ctx, idp, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "new phone"}); mfa.CodeOf(err) != mfa.CodeProofRequired {
		t.Fatalf("without proof: %v", err)
	}
	before := g.view(alice).User
	r := g.issue(alice, time.Hour, true)
	// Typed as a person would: lower case, spaces for hyphens.
	typed := strings.ToLower(strings.ReplaceAll(r.Pass, "-", " "))
	c, err := g.prove(alice, r.Method.ID, typed)
	if err != nil || c.Status != mfa.StatusApproved || c.Kind != mfa.KindTAP {
		t.Fatalf("proof with the pass: %+v %v", c, err)
	}
	res, err := g.svc.AddMethod(ctx, idp, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "new phone", Proof: c.ID})
	if err != nil {
		t.Fatalf("add with the pass's proof: %v", err)
	}
	if _, err := g.svc.ConfirmMethod(ctx, idp, alice, res.Method.ID, mfa.ConfirmRequest{Code: rfc6238(res.TOTP.Secret, g.clock.Now())}); err != nil {
		t.Fatal(err)
	}

	// Used up: gone from the user's methods, and refused as used.
	v := g.view(alice)
	if got := taps(v); len(got) != 0 {
		t.Fatalf("a used one-time pass is still listed: %+v", got)
	}
	if _, err := g.prove(alice, r.Method.ID, r.Pass); mfa.CodeOf(err) != mfa.CodeTAPUsed {
		t.Fatalf("second use: %v, want tap_used", err)
	}
	if !v.User.LastTestSigninAt.Equal(before.LastTestSigninAt) {
		t.Fatalf("the pass counted as a test sign-in (%s → %s)", before.LastTestSigninAt, v.User.LastTestSigninAt)
	}
	used := g.events(alice, mfa.EventTAPUsed)
	if len(used) != 1 || used[0].Detail != "purpose=proof one_time=true" || used[0].Actor != idp.Name || used[0].Challenge != c.ID {
		t.Fatalf("tap_used events = %+v", used)
	}
}

func TestTAPReusableUntilExpiry(t *testing.T) {
	g := newTAPGate(t, false)
	r := g.issue(alice, 10*time.Minute, false)
	for i := range 2 {
		if c, err := g.prove(alice, r.Method.ID, r.Pass); err != nil || c.Status != mfa.StatusApproved {
			t.Fatalf("use %d of a reusable pass: %+v %v", i+1, c, err)
		}
	}
	g.clock.Advance(8 * time.Minute)
	open, err := g.svc.CreateChallenge(t.Context(), idp, alice, mfa.ChallengeRequest{Method: r.Method.ID, Purpose: mfa.PurposeProof})
	if err != nil {
		t.Fatal(err)
	}
	g.clock.Advance(2 * time.Minute) // the pass ends before the challenge would
	if got := taps(g.view(alice)); len(got) != 0 {
		t.Fatalf("an expired pass is still listed: %+v", got)
	}
	if _, err := g.prove(alice, r.Method.ID, r.Pass); mfa.CodeOf(err) != mfa.CodeTAPExpired {
		t.Fatalf("new challenge after expiry: %v, want tap_expired", err)
	}
	if _, err := g.svc.Verify(t.Context(), idp, open.ID, r.Pass); mfa.CodeOf(err) != mfa.CodeTAPExpired {
		t.Fatalf("challenge begun before expiry, answered after: %v, want tap_expired", err)
	}

	// The sweeper removes it, audited as expired by the gateway itself.
	if err := g.svc.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.svc.Method(t.Context(), alice, r.Method.ID); mfa.CodeOf(err) != mfa.CodeUnknownMethod {
		t.Fatalf("swept pass: %v, want unknown_method", err)
	}
	exp := g.events(alice, mfa.EventTAPExpired)
	if len(exp) != 1 || exp[0].Actor != "mfagate" || exp[0].Method != r.Method.ID || exp[0].Detail != "used (reusable)" {
		t.Fatalf("tap_expired events = %+v", exp)
	}
	if _, err := g.svc.Verify(t.Context(), idp, open.ID, r.Pass); mfa.CodeOf(err) != mfa.CodeTAPExpired && mfa.CodeOf(err) != mfa.CodeChallengeExpired {
		t.Fatalf("after the sweep: %v", err)
	}
	if err := g.svc.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(g.events(alice, mfa.EventTAPExpired)); n != 1 {
		t.Fatalf("swept twice: %d tap_expired events", n)
	}
}

func TestTAPReplacement(t *testing.T) {
	g := newTAPGate(t, false)
	old := g.issue(alice, time.Hour, true)
	g.clock.Advance(time.Minute)
	r := g.issue(alice, 2*time.Hour, true)
	got := taps(g.view(alice))
	if len(got) != 1 || got[0].ID != r.Method.ID {
		t.Fatalf("passes after a second issue: %+v, want only the new one", got)
	}
	if _, err := g.prove(alice, old.Method.ID, old.Pass); mfa.CodeOf(err) != mfa.CodeUnknownMethod {
		t.Fatalf("the replaced pass's method: %v", err)
	}
	// The old pass does not answer the new one's challenge.
	if _, err := g.prove(alice, r.Method.ID, old.Pass); mfa.CodeOf(err) != mfa.CodeInvalidCode {
		t.Fatalf("old pass on the new one: %v, want invalid_code", err)
	}
	rev := g.events(alice, mfa.EventTAPRevoked)
	if len(rev) != 1 || rev[0].Method != old.Method.ID || rev[0].Detail != "replaced by "+r.Method.ID || rev[0].Actor != desk.Name {
		t.Fatalf("tap_revoked events = %+v", rev)
	}
	if iss := g.events(alice, mfa.EventTAPIssued); !strings.HasSuffix(iss[0].Detail, " replaces="+old.Method.ID) {
		t.Fatalf("second tap_issued = %+v", iss[0])
	}

	if err := g.svc.RevokeTAP(t.Context(), desk, alice); err != nil {
		t.Fatal(err)
	}
	if got := taps(g.view(alice)); len(got) != 0 {
		t.Fatalf("revoked pass still listed: %+v", got)
	}
	if err := g.svc.RevokeTAP(t.Context(), desk, alice); mfa.CodeOf(err) != mfa.CodeNoTAP {
		t.Fatalf("revoke without a pass: %v", err)
	}
}

func TestTAPSigninOffAndOn(t *testing.T) {
	g := newTAPGate(t, false)
	ctx := t.Context()
	r := g.issue(alice, time.Hour, false)

	// Off (the default): a proof only.
	if _, err := g.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: r.Method.ID}); mfa.CodeOf(err) != mfa.CodeTAPSigninOff {
		t.Fatalf("sign-in challenge with tap_signin off: %v", err)
	}
	if _, err := g.svc.SignInWithCode(ctx, idp, alice, r.Pass); mfa.CodeOf(err) != mfa.CodeTAPSigninOff || !strings.Contains(err.Error(), "tap_signin = false") {
		t.Fatalf("pass typed as a code with tap_signin off: %v", err)
	}
	if _, ms, err := g.svc.SigninMethods(ctx, alice); err != nil || len(ms) != 1 || ms[0].ID != g.app {
		t.Fatalf("sign-in methods with tap_signin off: %+v %v", ms, err)
	}
	if f := g.view(alice).User.ConsecutiveFailures; f != 0 {
		t.Fatalf("refusals counted as failures: %d", f)
	}

	// On.
	if err := g.svc.SetPolicy(tapPolicy(true)); err != nil {
		t.Fatal(err)
	}
	_, ms, err := g.svc.SigninMethods(ctx, alice)
	if err != nil || len(ms) != 2 || ms[0].ID != g.app || ms[1].ID != r.Method.ID {
		t.Fatalf("sign-in methods with tap_signin on: %+v %v, want the app (default) then the pass", ms, err)
	}
	c, err := g.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: r.Method.ID})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = g.svc.Verify(ctx, idp, c.ID, r.Pass); err != nil || c.Status != mfa.StatusApproved || c.Purpose != mfa.PurposeSignin {
		t.Fatalf("sign-in with the pass: %+v %v", c, err)
	}
	// The one-call door (privacyIDEA's /validate/check, RADIUS).
	c, err = g.svc.SignInWithCode(ctx, idp, alice, strings.ToLower(r.Pass))
	if err != nil || c.Kind != mfa.KindTAP || c.Method != r.Method.ID || c.Status != mfa.StatusApproved {
		t.Fatalf("pass through SignInWithCode: %+v %v", c, err)
	}
	wrong := "AAAA-AAAA-AAAA"
	if _, err := g.svc.SignInWithCode(ctx, idp, alice, wrong); mfa.CodeOf(err) != mfa.CodeInvalidCode {
		t.Fatalf("wrong pass through SignInWithCode: %v", err)
	}
	if f := g.view(alice).User.ConsecutiveFailures; f != 1 {
		t.Fatalf("a wrong pass counted %d failures, want 1", f)
	}
	// An authenticator code still works beside it.
	g.clock.Advance(30 * time.Second)
	if c, err := g.svc.SignInWithCode(ctx, idp, alice, rfc6238(g.secret, g.clock.Now())); err != nil || c.Method != g.app {
		t.Fatalf("app code with a pass present: %+v %v", c, err)
	}
	// Never a test sign-in.
	if _, err := g.svc.CreateChallenge(ctx, idp, alice, mfa.ChallengeRequest{Method: r.Method.ID, Purpose: mfa.PurposeTest}); mfa.CodeOf(err) != mfa.CodeWrongVerification {
		t.Fatalf("test sign-in with a pass: %v", err)
	}
}

func TestTAPNeverDefaultNorLasting(t *testing.T) {
	g := newTAPGate(t, false)
	ctx := t.Context()
	r := g.issue(alice, time.Hour, false)
	if _, err := g.svc.SetDefault(ctx, idp, alice, r.Method.ID); mfa.CodeOf(err) != mfa.CodeTAPCannotBeDefault {
		t.Fatalf("pass as default: %v", err)
	}
	// The app is alice's last lasting method: the pass does not stand in.
	c, err := g.prove(alice, r.Method.ID, r.Pass)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.svc.RemoveMethod(ctx, idp, alice, g.app, c.ID); mfa.CodeOf(err) != mfa.CodeLastMethod {
		t.Fatalf("removing the last app beside a pass: %v, want last_method", err)
	}

	// A user with nothing but a pass: no default, cannot apply for MFA.
	r = g.issue(bob, time.Hour, false)
	v := g.view(bob)
	if v.User.DefaultMethod != "" || len(v.Warnings) != 0 {
		t.Fatalf("bob with only a pass: default %q warnings %v", v.User.DefaultMethod, v.Warnings)
	}
	if _, err := g.svc.ApplyMFA(ctx, idp, bob); mfa.CodeOf(err) != mfa.CodeNoConfirmedMethod {
		t.Fatalf("apply with only a pass: %v", err)
	}
	if _, err := g.svc.CreateChallenge(ctx, idp, bob, mfa.ChallengeRequest{}); mfa.CodeOf(err) == "" {
		t.Fatal("a challenge of the default method started with the pass")
	}
	if _, err := g.svc.AddMethod(ctx, idp, bob, mfa.AddMethodRequest{Kind: mfa.KindTAP}); mfa.CodeOf(err) != mfa.CodeUnsupportedKind {
		t.Fatalf("registering a tap as a method: %v", err)
	}

	// Removing alice's pass through the method route is no method change:
	// her test sign-in still stands for applying again.
	before := g.view(alice).User.LastMethodChangeAt
	r = g.issue(alice, time.Hour, false)
	c, err = g.prove(alice, r.Method.ID, r.Pass)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.svc.RemoveMethod(ctx, idp, alice, r.Method.ID, c.ID); err != nil {
		t.Fatalf("removing a pass: %v", err)
	}
	if after := g.view(alice).User.LastMethodChangeAt; !after.Equal(before) {
		t.Fatalf("removing a pass moved the last method change %s → %s", before, after)
	}
}

func TestTAPWrongPassesLock(t *testing.T) {
	g := newTAPGate(t, false) // max 3 consecutive failures
	r := g.issue(alice, time.Hour, true)
	wrongs := []string{"AAAA-AAAA-AAAA", "CCCC-CCCC-CCCC", "DDDD-DDDD-DDDD"}
	for i, w := range wrongs {
		c, err := g.prove(alice, r.Method.ID, w)
		if mfa.CodeOf(err) != mfa.CodeInvalidCode || !strings.Contains(err.Error(), "the pass is wrong") {
			t.Fatalf("wrong pass %d: %v", i+1, err)
		}
		if c.ID == "" {
			t.Fatal("no challenge")
		}
	}
	if f := g.view(alice).User.ConsecutiveFailures; f != 3 {
		t.Fatalf("failures = %d, want 3", f)
	}
	if _, err := g.prove(alice, r.Method.ID, r.Pass); mfa.CodeOf(err) != mfa.CodeUserLocked {
		t.Fatalf("the right pass on a locked user: %v, want user_locked", err)
	}
	// A malformed pass is not a guess: it is refused and not counted.
	if _, err := g.svc.Unlock(t.Context(), mfa.Actor{Name: "admin", Admin: true}, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := g.prove(alice, r.Method.ID, "123456"); mfa.CodeOf(err) != mfa.CodeInvalidCodeFormat {
		t.Fatalf("digits for a pass: %v", err)
	}
	if f := g.view(alice).User.ConsecutiveFailures; f != 0 {
		t.Fatalf("a malformed pass counted: %d", f)
	}
	if len(g.events(alice, mfa.EventVerifyFailed)) != 3 {
		t.Fatal("wrong passes are not audited as failed verifications")
	}
}

func TestParseTAP(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"7KQ4-MX9P-R3TD", "7KQ4MX9PR3TD", true},
		{"7kq4mx9pr3td", "7KQ4MX9PR3TD", true},
		{" 7KQ4 MX9P R3TD ", "7KQ4MX9PR3TD", true},
		{"7KQ4-MX9P-R3T", "", false},   // 11
		{"7KQ4-MX9P-R3TDD", "", false}, // 13
		{"0KQ4-MX9P-R3TD", "", false},  // 0
		{"OKQ4-MX9P-R3TD", "", false},  // O
		{"lKQ4-MX9P-R3TD", "", false},  // l
		{"IKQ4-MX9P-R3TD", "", false},  // I
		{"7KQ4-MX9P-R3TÄ", "", false},  // not ASCII
		{"123456", "", false},          // a code
		{strings.Repeat("-", 100), "", false},
	} {
		got, err := mfa.ParseTAP(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseTAP(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && mfa.CodeOf(err) != mfa.CodeInvalidCodeFormat {
			t.Errorf("ParseTAP(%q): %v, want invalid_code_format", tc.in, err)
		}
	}
}

// FuzzParseTAP: whatever is typed, a pass that parses is canonical (12
// characters of the alphabet, parsing to itself), and nothing panics.
func FuzzParseTAP(f *testing.F) {
	for _, s := range []string{"7KQ4-MX9P-R3TD", "7kq4 mx9p r3td", "", "-", "0000-0000-0000", "ÄÄÄÄ"} {
		f.Add(s)
	}
	canon := regexp.MustCompile(`^[34679ACDEFGHJKMNPQRTUVWXY]{12}$`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := mfa.ParseTAP(s)
		if err != nil {
			if got != "" || mfa.CodeOf(err) != mfa.CodeInvalidCodeFormat {
				t.Fatalf("ParseTAP(%q) = %q, %v", s, got, err)
			}
			return
		}
		if !canon.MatchString(got) {
			t.Fatalf("ParseTAP(%q) = %q, not canonical", s, got)
		}
		if again, err := mfa.ParseTAP(got); err != nil || again != got {
			t.Fatalf("canonical %q parses to %q, %v", got, again, err)
		}
	})
}

// Two answers of a one-time pass at once: exactly one is approved.
func TestTAPOneTimeConcurrently(t *testing.T) {
	g := newTAPGate(t, false)
	r := g.issue(alice, time.Hour, true)
	var ids []string
	for range 4 {
		c, err := g.svc.CreateChallenge(t.Context(), idp, alice, mfa.ChallengeRequest{Method: r.Method.ID, Purpose: mfa.PurposeProof})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			_, err := g.svc.Verify(t.Context(), idp, id, r.Pass)
			errs <- err
		}()
	}
	approved := 0
	for range ids {
		switch err := <-errs; mfa.CodeOf(err) {
		case "":
			if err != nil {
				t.Fatal(err)
			}
			approved++
		case mfa.CodeTAPUsed:
		default:
			t.Fatalf("concurrent answer: %v", err)
		}
	}
	if approved != 1 {
		t.Fatalf("%d answers of a one-time pass approved, want 1", approved)
	}
	if n := len(g.events(alice, mfa.EventTAPUsed)); n != 1 {
		t.Fatalf("%d tap_used events", n)
	}
}
