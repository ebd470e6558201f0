package kiosk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/device"
	"mfagate/device/softkey"
	"mfagate/fido"
	"mfagate/kiosk"
	"mfagate/mfa"
	"mfagate/store/sqlite"
)

const user = "0123456789"

type messages struct{}

func (messages) SMS(string, map[string]string) string         { return "x {code}" }
func (messages) Voice(string, bool, map[string]string) string { return "x" }
func (messages) DefaultLanguage() string                      { return "en" }

type rig struct {
	t     *testing.T
	svc   *mfa.Service
	k     *kiosk.Kiosk
	key   *softkey.Key
	db    *sqlite.DB
	count map[string]int
}

type counter map[string]int

func (c counter) Enrollment(r string) { c[r]++ }

// newRig runs the real chain: kiosk → device (go-libfido2 → libfido2) →
// the software key on its pty, with the domain on a real SQLite file.
func newRig(t *testing.T, keyOpts softkey.Options, tweak ...func(*kiosk.Policy)) *rig {
	t.Helper()
	if keyOpts.PresenceTimeout == 0 {
		keyOpts.PresenceTimeout = 5 * time.Second
	}
	key, err := softkey.Start(t.Context(), keyOpts)
	if err != nil {
		t.Skipf("software key unavailable: %v", err)
	}
	t.Cleanup(func() { key.Close() })
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
	svc, err := mfa.New(mfa.Options{Store: db, Keys: keys, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100, PhoneChallengesPerUser: 5,
		PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute, UserID: regexp.MustCompile(`^[0-9]{10}$`),
		DefaultRegion: "JP", TOTP: mfa.TOTPParams{Issuer: "t", Digits: 6, Period: 30 * time.Second, Skew: 1}, Messages: messages{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := device.NewWatcher([]string{key.Path()}, 100*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.Run(ctx)
	p := kiosk.Policy{
		WebAuthn:     fido.Policy{RPID: "login.example.ac.jp", RPName: "Example", Origin: "https://login.example.ac.jp", UserVerification: "required"},
		MinPINLength: 6, SessionTTL: time.Minute, TouchTimeout: 5 * time.Second,
	}
	for _, f := range tweak {
		f(&p)
	}
	c := counter{}
	k := kiosk.New(kiosk.Options{Service: svc, Keys: w, Policy: p, Observer: c,
		Open: func(path string) (device.Authenticator, error) {
			return device.Open(path, device.WithTimeout(p.TouchTimeout))
		}})
	go k.Run(ctx)
	svc.SetWebAuthn(k.Verifier())
	r := &rig{t: t, svc: svc, k: k, key: key, db: db, count: c}
	deadline := time.Now().Add(10 * time.Second)
	for len(k.Devices()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the kiosk never saw the software key")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *rig) session() kiosk.Session {
	r.t.Helper()
	s, err := r.k.Open(r.t.Context(), mfa.Actor{Name: "kiosk"}, user, "")
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// run starts an enrollment and waits for the operation to settle.
func (r *rig) enroll(s kiosk.Session, req kiosk.EnrollRequest) kiosk.Session {
	r.t.Helper()
	if req.Device == "" {
		req.Device = r.key.Path()
	}
	if _, err := r.k.Enroll(mfa.Actor{Name: "kiosk"}, s.ID, req); err != nil {
		r.t.Fatal(err)
	}
	return r.settle(s.ID)
}

func (r *rig) settle(id string) kiosk.Session {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s, err := r.k.Get(id)
		if err != nil {
			r.t.Fatal(err)
		}
		switch s.State {
		case kiosk.StateDone, kiosk.StateFailed, kiosk.StateNeedPIN:
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatal("the kiosk operation did not settle")
	return kiosk.Session{}
}

func TestEnrollNewKeySetsPIN(t *testing.T) {
	r := newRig(t, softkey.Options{})
	s := r.session()
	got := r.enroll(s, kiosk.EnrollRequest{NewPIN: "1234", Label: "Blue key"})
	if got.State != kiosk.StateNeedPIN || !strings.Contains(got.Message, "at least 6") {
		t.Fatalf("short PIN: %s %q", got.State, got.Message)
	}
	got = r.enroll(s, kiosk.EnrollRequest{NewPIN: "246810", Label: "Blue key"})
	if got.State != kiosk.StateDone || got.Method == nil {
		t.Fatalf("enroll: %s %q", got.State, got.Message)
	}
	if r.count["done"] != 1 || r.count["failed"] != 1 {
		t.Fatalf("enrollment metrics %v", r.count)
	}
	v, err := r.svc.GetUser(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	m := v.Methods[0]
	if m.Kind != mfa.KindFIDO || !m.Confirmed || m.Label != "Blue key" || v.User.DefaultMethod != "" {
		t.Fatalf("stored method %+v, default %q", m, v.User.DefaultMethod)
	}
	aaguid := r.key.AAGUID()
	if !bytes.Equal(m.FIDO.AAGUID, aaguid[:]) || m.FIDO.AttestationFormat != "packed" {
		t.Fatalf("credential %+v", m.FIDO)
	}
	if strings.Join(v.Warnings, ",") != "single_method,no_default_method" {
		t.Fatalf("warnings %v: a key alone must warn that another method is needed", v.Warnings)
	}
	// The key list shows the PIN the kiosk just set.
	if ds := r.k.Devices(); len(ds) != 1 || !ds[0].PINSet || ds[0].PINRetries != 8 {
		t.Fatalf("devices after enrollment: %+v", ds)
	}
	// Not a resident key unless the policy asks for one.
	if creds, _ := r.key.Credentials(); len(creds) != 0 {
		t.Fatalf("%d resident credentials on the key, want none", len(creds))
	}
	// The stored clientDataJSON is what the key signed over.
	var cd struct{ Type, Origin string }
	json.Unmarshal(m.FIDO.ClientDataJSON, &cd)
	if cd.Type != "webauthn.create" || cd.Origin != "https://login.example.ac.jp" {
		t.Fatalf("client data %s", m.FIDO.ClientDataJSON)
	}
}

func TestEnrollWrongPINThenRight(t *testing.T) {
	r := newRig(t, softkey.Options{})
	s := r.session()
	if got := r.enroll(s, kiosk.EnrollRequest{NewPIN: "135790"}); got.State != kiosk.StateDone {
		t.Fatalf("first enrollment: %s %q", got.State, got.Message)
	}
	// A second key registration on the same key for the same user: wrong PIN first.
	s = r.session()
	got := r.enroll(s, kiosk.EnrollRequest{PIN: "000000"})
	if got.State != kiosk.StateNeedPIN || got.PINRetries != 7 || !strings.Contains(got.Message, "7 tries left") {
		t.Fatalf("wrong PIN: %s retries=%d %q", got.State, got.PINRetries, got.Message)
	}
	got = r.enroll(s, kiosk.EnrollRequest{PIN: "135790", Label: "second"})
	if got.State != kiosk.StateDone || got.Method.Label != "second" {
		t.Fatalf("right PIN: %s %q", got.State, got.Message)
	}
}

func TestEnrollPINBlocked(t *testing.T) {
	r := newRig(t, softkey.Options{})
	if got := r.enroll(r.session(), kiosk.EnrollRequest{NewPIN: "135790"}); got.State != kiosk.StateDone {
		t.Fatal(got.Message)
	}
	r.key.BlockPIN()
	got := r.enroll(r.session(), kiosk.EnrollRequest{PIN: "135790"})
	if got.State != kiosk.StateFailed || !strings.Contains(got.Message, "blocked") {
		t.Fatalf("blocked PIN: %s %q", got.State, got.Message)
	}
}

func TestEnrollNoTouch(t *testing.T) {
	r := newRig(t, softkey.Options{Presence: softkey.PresenceNever, PresenceTimeout: time.Second})
	got := r.enroll(r.session(), kiosk.EnrollRequest{NewPIN: "135790"})
	if got.State != kiosk.StateFailed || !strings.Contains(got.Message, "not touched") {
		t.Fatalf("no touch: %s %q", got.State, got.Message)
	}
	if v, _ := r.svc.GetUser(t.Context(), user); len(v.Methods) != 0 {
		t.Fatal("an unfinished enrollment stored a method")
	}
}

func TestEnrollKeyRemoved(t *testing.T) {
	r := newRig(t, softkey.Options{})
	if err := r.key.InjectFault(softkey.FaultRemoveOnPresence); err != nil {
		t.Fatal(err)
	}
	got := r.enroll(r.session(), kiosk.EnrollRequest{NewPIN: "135790"})
	if got.State != kiosk.StateFailed || !strings.Contains(got.Message, "removed") {
		t.Fatalf("removed key: %s %q", got.State, got.Message)
	}
}

func TestEnrollAAGUIDNotAllowed(t *testing.T) {
	r := newRig(t, softkey.Options{}, func(p *kiosk.Policy) { p.WebAuthn.AAGUIDAllow = [][16]byte{{1, 2, 3}} })
	got := r.enroll(r.session(), kiosk.EnrollRequest{NewPIN: "135790"})
	if got.State != kiosk.StateFailed || !strings.Contains(got.Message, "AAGUID") {
		t.Fatalf("AAGUID not allowed: %s %q", got.State, got.Message)
	}
}

// A sign-in at the kiosk with the enrolled key, then a cloned key (its
// counter behind) is refused and audited.
func TestKioskAssertionAndCounterRegression(t *testing.T) {
	r := newRig(t, softkey.Options{})
	got := r.enroll(r.session(), kiosk.EnrollRequest{NewPIN: "135790"})
	if got.State != kiosk.StateDone {
		t.Fatal(got.Message)
	}
	m := got.Method
	sign := func() kiosk.Session {
		c, err := r.svc.CreateChallenge(t.Context(), mfa.Actor{Name: "idp"}, user, mfa.ChallengeRequest{Method: m.ID, Purpose: mfa.PurposeTest})
		if err != nil {
			t.Fatal(err)
		}
		s := r.session()
		if _, err := r.k.Assert(mfa.Actor{Name: "kiosk"}, s.ID, kiosk.AssertRequest{Device: r.key.Path(), PIN: "135790", Challenge: c.ID}); err != nil {
			t.Fatal(err)
		}
		return r.settle(s.ID)
	}
	got = sign()
	if got.State != kiosk.StateDone || got.Challenge.Status != mfa.StatusApproved {
		t.Fatalf("kiosk sign-in: %s %q", got.State, got.Message)
	}
	v, _ := r.svc.GetUser(t.Context(), user)
	if v.User.LastTestSigninAt.IsZero() || v.Methods[0].FIDO.SignCount == 0 {
		t.Fatalf("after sign-in: %+v", v.Methods[0].FIDO)
	}
	r.key.SetSignCount(0)
	got = sign()
	if got.State != kiosk.StateFailed || got.Challenge == nil || got.Challenge.Reason != "sign_counter_regressed" {
		t.Fatalf("counter regression: %s %q", got.State, got.Message)
	}
	es, _ := r.svc.Events(t.Context(), mfa.EventFilter{User: user})
	found := false
	for _, e := range es {
		found = found || e.Type == mfa.EventCounterRegressed
	}
	if !found {
		t.Fatal("no audit event for the counter regression")
	}
}

func TestSessionRules(t *testing.T) {
	r := newRig(t, softkey.Options{}, func(p *kiosk.Policy) { p.SessionTTL = time.Second })
	if _, err := r.k.Open(t.Context(), mfa.Actor{}, "bob", ""); mfa.CodeOf(err) != mfa.CodeInvalidUserID {
		t.Fatalf("bad user: %v", err)
	}
	s := r.session()
	if _, err := r.k.Enroll(mfa.Actor{}, s.ID, kiosk.EnrollRequest{Device: r.key.Path()}); !errors.Is(err, kiosk.ErrBadRequest) {
		t.Fatalf("no PIN: %v", err)
	}
	if _, err := r.k.Enroll(mfa.Actor{}, "e_nope", kiosk.EnrollRequest{Device: "x", PIN: "123456"}); !errors.Is(err, kiosk.ErrUnknownSession) {
		t.Fatalf("unknown session: %v", err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := r.k.Get(s.ID); !errors.Is(err, kiosk.ErrExpired) && !errors.Is(err, kiosk.ErrUnknownSession) {
		t.Fatalf("expired session: %v", err)
	}
}
