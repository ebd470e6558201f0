package kiosk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mfagate/device"
	"mfagate/kiosk"
	"mfagate/mfa"
	"mfagate/store"
)

// stuckPath is a key that never answers: operations on it wait until
// their context ends.
const stuckPath = "/dev/stuck-key"

// fakeKey is a key whose touch never comes: MakeCredential and
// GetAssertion wait for their context, and report how it ended.
type fakeKey struct {
	answers bool // Info answers; false: it waits like the touch does
	started chan string
	ended   chan error // the context error each waiting call returned with

	mu     sync.Mutex
	info   device.Info
	closed bool
}

var _ kiosk.Key = (*fakeKey)(nil)

func newFakeKey(path string, answers bool) *fakeKey {
	return &fakeKey{answers: answers, started: make(chan string, 16), ended: make(chan error, 16),
		info: device.Info{Path: path, Product: "Fake key", Versions: []string{"FIDO_2_0"}, MinPINLength: 4, PINRetries: -1}}
}

func (f *fakeKey) wait(ctx context.Context, op string) error {
	f.started <- op
	<-ctx.Done()
	f.ended <- ctx.Err()
	return fmt.Errorf("%s: %w (%w)", op, device.ErrCancelled, ctx.Err())
}

func (f *fakeKey) Info(ctx context.Context) (device.Info, error) {
	if !f.answers {
		return device.Info{}, f.wait(ctx, "info")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info, nil
}

func (f *fakeKey) SetPIN(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.info.PINSet, f.info.PINRetries = true, 8
	return nil
}

func (f *fakeKey) ChangePIN(context.Context, string, string) error { return nil }

func (f *fakeKey) MakeCredential(ctx context.Context, _ device.MakeCredentialRequest) (device.Registration, error) {
	return device.Registration{}, f.wait(ctx, "make credential")
}

func (f *fakeKey) GetAssertion(ctx context.Context, _ device.AssertionRequest) (device.Assertion, error) {
	return device.Assertion{}, f.wait(ctx, "get assertion")
}

func (f *fakeKey) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// fakeKeys lists fake keys.
type fakeKeys map[string]*fakeKey

func newFakeKeys(keys ...*fakeKey) fakeKeys {
	m := fakeKeys{}
	for _, k := range keys {
		m[k.info.Path] = k
	}
	return m
}

func (m fakeKeys) Devices() []device.Info {
	var out []device.Info
	for _, k := range m {
		k.mu.Lock()
		out = append(out, k.info)
		k.mu.Unlock()
	}
	return out
}

func (m fakeKeys) Key(path string) (kiosk.Key, bool) {
	k, ok := m[path]
	if !ok {
		return nil, false
	}
	return k, true
}

// started waits until a call on f waits for its context.
func (f *fakeKey) waiting(t *testing.T) string {
	t.Helper()
	select {
	case op := <-f.started:
		return op
	case <-time.After(20 * time.Second):
		t.Fatal("the kiosk never called the key")
		return ""
	}
}

// endedWith returns the context error the waiting call ended with.
func (f *fakeKey) endedWith(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.ended:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the key's pending call was never cancelled")
		return nil
	}
}

// enrollFailures returns the audited failed enrollments of user.
func enrollFailures(t *testing.T, svc *mfa.Service) []mfa.Event {
	t.Helper()
	es, err := svc.Events(t.Context(), mfa.EventFilter{User: user})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(es, func(e mfa.Event) bool { return e.Type != mfa.EventEnrollmentFailed })
}

var staff = mfa.Actor{Name: "kiosk:helpdesk"}

// Cancel abandons an enrollment stuck waiting for a touch: the key's call
// is cancelled through its context, the session is ready again, and the
// abandoned enrollment is audited.
func TestCancelEndsPendingKeyCall(t *testing.T) {
	fk := newFakeKey("/dev/fake", true)
	r := newDomainRig(t, newFakeKeys(fk), testPolicy())
	s := r.session()
	if _, err := r.k.Enroll(t.Context(), staff, s.ID, kiosk.EnrollRequest{Device: "/dev/fake", NewPIN: "246810"}); err != nil {
		t.Fatal(err)
	}
	if op := fk.waiting(t); op != "make credential" {
		t.Fatalf("the kiosk waits in %q", op)
	}
	got, err := r.k.Cancel(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := fk.endedWith(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("the key's call ended with %v, want context.Canceled", err)
	}
	if got.State != kiosk.StateReady || !strings.Contains(got.Message, "Cancelled") {
		t.Fatalf("after Cancel: %s %q, want %s", got.State, got.Message, kiosk.StateReady)
	}
	es := enrollFailures(t, r.svc)
	if len(es) != 1 || es[0].Actor != staff.Name || es[0].Detail != "cancelled" {
		t.Fatalf("audit after Cancel: %+v, want one enrollment_failed by %s: cancelled", es, staff.Name)
	}
	// The session takes another try at once.
	if _, err := r.k.Enroll(t.Context(), staff, s.ID, kiosk.EnrollRequest{Device: "/dev/fake", PIN: "246810"}); err != nil {
		t.Fatalf("enroll after Cancel: %v", err)
	}
	fk.waiting(t)
	// Cancel without an operation changes nothing.
	if _, err := r.k.Cancel(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	fk.endedWith(t)
	before, _ := r.k.Get(t.Context(), s.ID)
	again, err := r.k.Cancel(t.Context(), s.ID)
	if err != nil || again.Seq != before.Seq {
		t.Fatalf("Cancel with nothing running: seq %d → %d, %v", before.Seq, again.Seq, err)
	}
}

// Stopping the kiosk ends the operations in flight: Run returns once the
// key's pending call has been cancelled and returned.
func TestStoppingKioskEndsOperation(t *testing.T) {
	fk := newFakeKey("/dev/fake", true)
	r := newDomainRig(t, newFakeKeys(fk), testPolicy())
	s := r.session()
	if _, err := r.k.Enroll(t.Context(), staff, s.ID, kiosk.EnrollRequest{Device: "/dev/fake", NewPIN: "246810"}); err != nil {
		t.Fatal(err)
	}
	fk.waiting(t)
	r.stop()
	select {
	case <-r.ran:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	select {
	case err := <-fk.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the key's call ended with %v", err)
		}
	default:
		t.Fatal("Run returned before the operation's key call had ended")
	}
}

// An operation begun before the goroutine running Run has started (the
// daemon serves requests meanwhile) still ends when Run's context does.
func TestStoppingKioskEndsOperationBegunBeforeRun(t *testing.T) {
	fk := newFakeKey("/dev/fake", true)
	r := newKioskRig(t, newFakeKeys(fk), testPolicy(), false)
	s := r.session()
	if _, err := r.k.Enroll(t.Context(), staff, s.ID, kiosk.EnrollRequest{Device: "/dev/fake", NewPIN: "246810"}); err != nil {
		t.Fatal(err)
	}
	fk.waiting(t)
	r.run()
	r.stop()
	select {
	case <-r.ran:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	select {
	case err := <-fk.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the key's call ended with %v", err)
		}
	default:
		t.Fatal("Run returned before the operation's key call had ended")
	}
}

// A device that is not plugged in and PINs the key cannot take are refused
// before an operation starts; the session is unchanged and the refusals
// are audited, without the PIN.
func TestEnrollRefusedUpFront(t *testing.T) {
	fresh := newFakeKey("/dev/fresh", true)
	withPIN := newFakeKey("/dev/with-pin", true)
	withPIN.info.PINSet, withPIN.info.PINRetries = true, 8
	r := newDomainRig(t, newFakeKeys(fresh, withPIN), testPolicy())
	s := r.session()
	var tooShort *kiosk.PINTooShortError
	for _, c := range []struct {
		name    string
		req     kiosk.EnrollRequest
		reason  string
		min     int // 0: ErrUnknownDevice
		newPIN  bool
		pinText string
	}{
		{"unknown device", kiosk.EnrollRequest{Device: "/dev/hidraw9", PIN: "246810"}, "unknown_device", 0, false, "246810"},
		{"short PIN to set", kiosk.EnrollRequest{Device: "/dev/fresh", NewPIN: "1357"}, "pin_too_short", 6, true, "1357"},
		{"short PIN on a key without one", kiosk.EnrollRequest{Device: "/dev/fresh", PIN: "97531"}, "pin_too_short", 6, true, "97531"},
		{"short new PIN", kiosk.EnrollRequest{Device: "/dev/with-pin", PIN: "246810", NewPIN: "8642"}, "pin_too_short", 6, true, "8642"},
		{"current PIN shorter than the key allows", kiosk.EnrollRequest{Device: "/dev/with-pin", PIN: "864"}, "pin_too_short", 4, false, "864"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(enrollFailures(t, r.svc))
			_, err := r.k.Enroll(t.Context(), staff, s.ID, c.req)
			switch {
			case c.min == 0 && !errors.Is(err, kiosk.ErrUnknownDevice):
				t.Fatalf("Enroll: %v, want ErrUnknownDevice", err)
			case c.min > 0 && (!errors.As(err, &tooShort) || tooShort.MinLength != c.min || tooShort.New != c.newPIN):
				t.Fatalf("Enroll: %v, want a PINTooShortError with minimum %d (new %v)", err, c.min, c.newPIN)
			}
			g, err := r.k.Get(t.Context(), s.ID)
			if err != nil || g.State != kiosk.StateReady || g.Seq != s.Seq {
				t.Fatalf("session after a refusal: %s seq %d (was %d), %v", g.State, g.Seq, s.Seq, err)
			}
			es := enrollFailures(t, r.svc)
			if len(es) != before+1 || es[0].Detail != c.reason || es[0].Actor != staff.Name {
				t.Fatalf("audit: %+v, want a new enrollment_failed by %s: %s", es, staff.Name, c.reason)
			}
			if strings.Contains(es[0].Detail, c.pinText) {
				t.Fatalf("the audit record holds the PIN: %q", es[0].Detail)
			}
		})
	}
	if len(fresh.started)+len(withPIN.started) != 0 {
		t.Fatal("a refused enrollment talked to a key")
	}
	if r.count["failed"] != 5 {
		t.Fatalf("failed enrollments counted: %v", r.count)
	}
}

// End closes a session before its TTL, cancelling what runs in it: a
// shared kiosk does not leave the last person's session open.
func TestEndSession(t *testing.T) {
	fk := newFakeKey("/dev/fake", true)
	r := newDomainRig(t, newFakeKeys(fk), testPolicy())
	s := r.session()
	events, err := r.k.Subscribe(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.k.Enroll(t.Context(), staff, s.ID, kiosk.EnrollRequest{Device: "/dev/fake", NewPIN: "246810"}); err != nil {
		t.Fatal(err)
	}
	fk.waiting(t)
	if err := r.k.End(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if err := fk.endedWith(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("the key's call ended with %v", err)
	}
	var last kiosk.Session
	for s := range events {
		last = s
	}
	if last.State != kiosk.StateExpired {
		t.Fatalf("last event %s, want %s, then the stream closes", last.State, kiosk.StateExpired)
	}
	if _, err := r.k.Get(t.Context(), s.ID); !errors.Is(err, kiosk.ErrExpired) {
		t.Fatalf("Get after End: %v, want ErrExpired", err)
	}
	if _, err := r.k.Subscribe(t.Context(), s.ID); !errors.Is(err, kiosk.ErrExpired) {
		t.Fatalf("Subscribe after End: %v, want ErrExpired", err)
	}
	if _, err := r.k.Enroll(t.Context(), staff, s.ID, kiosk.EnrollRequest{Device: "/dev/fake", PIN: "246810"}); !errors.Is(err, kiosk.ErrExpired) {
		t.Fatalf("Enroll after End: %v, want ErrExpired", err)
	}
	if err := r.k.End(t.Context(), s.ID); !errors.Is(err, kiosk.ErrExpired) {
		t.Fatalf("End twice: %v, want ErrExpired", err)
	}
	if err := r.k.End(t.Context(), "e_nope"); !errors.Is(err, kiosk.ErrUnknownSession) {
		t.Fatalf("End of an unknown session: %v", err)
	}
}

// blockingStore answers reads only when their context ends.
type blockingStore struct{}

func (blockingStore) PutKioskSession(context.Context, store.KioskSession) (bool, error) {
	return true, nil
}
func (blockingStore) KioskSession(ctx context.Context, _ string) (store.KioskSession, error) {
	<-ctx.Done()
	return store.KioskSession{}, ctx.Err()
}
func (blockingStore) DeleteKioskSessionsBefore(context.Context, time.Time) (int, error) {
	return 0, nil
}

// Get reads the shared store with the caller's context: a request that
// ends stops waiting for a store that does not answer.
func TestGetHonoursContext(t *testing.T) {
	k := kiosk.New(kiosk.Options{Store: blockingStore{}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := k.Get(ctx, "e_elsewhere"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with an ended context: %v, want context.Canceled", err)
	}
	if _, err := k.Enroll(ctx, staff, "e_elsewhere", kiosk.EnrollRequest{Device: "/dev/fake", PIN: "246810"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Enroll with an ended context: %v, want context.Canceled", err)
	}
}
