package kiosk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
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
	ahead *atomic.Int64 // how far the kiosk's clock runs ahead, in nanoseconds
	stop  context.CancelFunc
	ran   chan struct{} // closed when the kiosk's Run has returned
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
	p := testPolicy(tweak...)
	w := device.NewWatcher([]string{key.Path()}, 100*time.Millisecond, device.WithTimeout(p.TouchTimeout))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.Run(ctx)
	r := newDomainRig(t, kiosk.WatcherKeys(w), p)
	r.key = key
	deadline := time.Now().Add(10 * time.Second)
	for len(r.k.Devices()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the kiosk never saw the software key")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func testPolicy(tweak ...func(*kiosk.Policy)) kiosk.Policy {
	p := kiosk.Policy{
		WebAuthn:     fido.Policy{RPID: "login.example.ac.jp", RPName: "Example", Origin: "https://login.example.ac.jp", UserVerification: "required"},
		MinPINLength: 6, SessionTTL: time.Minute, TouchTimeout: 5 * time.Second,
	}
	for _, f := range tweak {
		f(&p)
	}
	return p
}

// newDomainRig runs a kiosk with keys over the domain on a real SQLite
// file; the kiosk's clock is the wall clock plus r.ahead.
func newDomainRig(t *testing.T, keys kiosk.Keys, p kiosk.Policy) *rig {
	t.Helper()
	return newKioskRig(t, keys, p, true)
}

// newKioskRig is newDomainRig; without run, the kiosk's Run is not started
// until r.run.
func newKioskRig(t *testing.T, keys kiosk.Keys, p kiosk.Policy, run bool) *rig {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mk, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
	svc, err := mfa.New(mfa.Options{Store: db, Keys: mk, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100, PhoneChallengesPerUser: 5,
		PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute, UserID: regexp.MustCompile(`^[0-9]{10}$`),
		DefaultRegion: "JP", TOTP: mfa.TOTPParams{Issuer: "t", Digits: 6, Period: 30 * time.Second, Skew: 1}, Messages: messages{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := counter{}
	ahead := new(atomic.Int64)
	k := kiosk.New(kiosk.Options{Service: svc, Keys: keys, Policy: p, Observer: c,
		Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	svc.SetWebAuthn(k.Verifier())
	r := &rig{t: t, svc: svc, k: k, db: db, count: c, ahead: ahead}
	if run {
		r.run()
	}
	return r
}

// run starts the kiosk's Run; r.stop ends its context and r.ran is closed
// once it has returned.
func (r *rig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		r.k.Run(ctx)
	}()
	r.t.Cleanup(func() {
		cancel()
		<-ran
	})
	r.stop, r.ran = cancel, ran
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
	if _, err := r.k.Enroll(r.t.Context(), mfa.Actor{Name: "kiosk"}, s.ID, req); err != nil {
		r.t.Fatal(err)
	}
	return r.settle(s.ID)
}

// settle waits for the session's operation to end, following its events.
func (r *rig) settle(id string) kiosk.Session {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 30*time.Second)
	defer cancel()
	events, err := r.k.Subscribe(ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	for s := range events {
		switch s.State {
		case kiosk.StateDone, kiosk.StateFailed, kiosk.StateNeedPIN:
			return s
		}
	}
	r.t.Fatal("the kiosk operation did not settle")
	return kiosk.Session{}
}

func TestEnrollNewKeySetsPIN(t *testing.T) {
	r := newRig(t, softkey.Options{})
	s := r.session()
	// A PIN the policy refuses is refused before the key is asked.
	_, err := r.k.Enroll(t.Context(), mfa.Actor{Name: "kiosk"}, s.ID, kiosk.EnrollRequest{Device: r.key.Path(), NewPIN: "1234"})
	var short *kiosk.PINTooShortError
	if !errors.As(err, &short) || short.MinLength != 6 {
		t.Fatalf("short PIN: %v, want a PINTooShortError with minimum 6", err)
	}
	got := r.enroll(s, kiosk.EnrollRequest{NewPIN: "246810", Label: "Blue key"})
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
		if _, err := r.k.Assert(t.Context(), mfa.Actor{Name: "kiosk"}, s.ID, kiosk.AssertRequest{Device: r.key.Path(), PIN: "135790", Challenge: c.ID}); err != nil {
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
	if _, err := r.k.Enroll(t.Context(), mfa.Actor{}, s.ID, kiosk.EnrollRequest{Device: r.key.Path()}); !errors.Is(err, kiosk.ErrBadRequest) {
		t.Fatalf("no PIN: %v", err)
	}
	if _, err := r.k.Enroll(t.Context(), mfa.Actor{}, "e_nope", kiosk.EnrollRequest{Device: "x", PIN: "123456"}); !errors.Is(err, kiosk.ErrUnknownSession) {
		t.Fatalf("unknown session: %v", err)
	}
	// Past its TTL a session answers "expired", whether or not the
	// housekeeping tick has swept it yet.
	r.ahead.Store(int64(1100 * time.Millisecond))
	if _, err := r.k.Get(t.Context(), s.ID); !errors.Is(err, kiosk.ErrExpired) {
		t.Fatalf("expired session: %v, want ErrExpired", err)
	}
	if _, err := r.k.Enroll(t.Context(), mfa.Actor{}, s.ID, kiosk.EnrollRequest{Device: r.key.Path(), PIN: "123456"}); !errors.Is(err, kiosk.ErrExpired) {
		t.Fatalf("enroll in an expired session: %v, want ErrExpired", err)
	}
}
