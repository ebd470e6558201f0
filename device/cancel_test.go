//go:build !race

package device

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"mfagate/device/softkey"
)

// These tests cancel requests through go-libfido2's Device.Cancel. They are
// left out of -race runs: go-libfido2 v1.5.3 sets its device handle in
// open() without the lock Cancel() takes, which the race detector reports.

// TestCancelMidTouch: the kiosk gives up while the key waits for a touch;
// the key stays usable.
func TestCancelMidTouch(t *testing.T) {
	sk := startKey(t, softkey.Options{Presence: softkey.PresenceManual})
	k := openKey(t, sk)
	if err := k.SetPIN(ctxTimeout(t), "1234"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxTimeout(t))
	errc := make(chan error, 1)
	go func() {
		_, err := k.MakeCredential(ctx, registration("1234"))
		errc <- err
	}()
	if err := sk.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled MakeCredential: %v, want ErrCancelled", err)
		}
	case <-time.After(testTimeout):
		sk.Remove()
		t.Fatal("MakeCredential did not return after cancel")
	}
	if creds, _ := sk.Credentials(); len(creds) != 0 {
		t.Fatalf("cancelled MakeCredential stored %d credentials", len(creds))
	}

	// The key answers the next request, and the PIN was not spent.
	if err := sk.SetPresence(softkey.PresenceAuto, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.MakeCredential(ctxTimeout(t), registration("1234")); err != nil {
		t.Fatalf("MakeCredential after a cancel: %v", err)
	}
	if n, err := k.PINRetries(ctxTimeout(t)); err != nil || n != 8 {
		t.Fatalf("PIN retries after a cancel: %d, %v", n, err)
	}
}

// TestTouchTimeout: the key would wait longer than the kiosk's touch
// timeout; the request is cancelled and reported as not touched.
func TestTouchTimeout(t *testing.T) {
	sk := startKey(t, softkey.Options{Presence: softkey.PresenceNever})
	k := openKey(t, sk, WithTimeout(200*time.Millisecond))
	_, err := k.MakeCredential(ctxTimeout(t), registration(""))
	if !errors.Is(err, ErrNoTouch) || errors.Is(err, ErrCancelled) {
		t.Fatalf("MakeCredential past the touch timeout: %v, want ErrNoTouch", err)
	}
	if _, err := k.Info(ctxTimeout(t)); err != nil {
		t.Fatalf("Info after a touch timeout: %v", err)
	}
}

// TestCancelWhileQueued: a request waiting behind another one for the
// same key gives up when its context ends.
func TestCancelWhileQueued(t *testing.T) {
	sk, link := startLinkedKey(t, softkey.Options{Presence: softkey.PresenceManual})
	first, second := openKey(t, sk), openPath(t, link)
	errc := make(chan error, 1)
	go func() {
		_, err := first.MakeCredential(ctxTimeout(t), registration(""))
		errc <- err
	}()
	if err := sk.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxTimeout(t))
	cancel()
	if _, err := second.Info(ctx); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Info with an ended context: %v, want ErrCancelled", err)
	}
	short, cancelShort := context.WithTimeout(ctxTimeout(t), 50*time.Millisecond)
	defer cancelShort()
	if _, err := second.Info(short); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "waiting for the key") {
		t.Fatalf("Info queued behind a touch wait: %v, want ErrCancelled while waiting for the key", err)
	}
	sk.Touch()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("first MakeCredential: %v", err)
		}
	case <-time.After(testTimeout):
		sk.Remove()
		t.Fatal("first MakeCredential did not finish")
	}
}

// TestSlowKeyNoResponse: a key that does not answer within the timeout is
// reported as such, and answers again once it is responsive. The delay
// hits the GetInfo libfido2 sends while opening the device, where
// go-libfido2 cannot cancel yet, so the call lingers for the delay.
func TestSlowKeyNoResponse(t *testing.T) {
	sk := startKey(t, softkey.Options{})
	k := openKey(t, sk, WithTimeout(100*time.Millisecond))
	k.grace = 200 * time.Millisecond
	if err := sk.SetResponseDelay(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := k.PINRetries(ctxTimeout(t)); !errors.Is(err, ErrNoResponse) {
		t.Fatalf("PINRetries on a key slower than the timeout: %v, want ErrNoResponse", err)
	}
	if err := sk.SetResponseDelay(0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Info(ctxTimeout(t)); err != nil {
		t.Fatalf("Info once the key is responsive: %v", err)
	}
}

// TestSilentDevice: a character device that never answers (here a pty
// with nothing behind it) does not hang the caller; the stuck libfido2
// call keeps the path busy until the device goes away, and Close waits
// for it.
func TestSilentDevice(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	path := slave.Name()
	slave.Close()
	closeMaster := sync.OnceFunc(func() { master.Close() })
	t.Cleanup(closeMaster)

	k := openPath(t, path, WithTimeout(200*time.Millisecond))
	k.grace = 300 * time.Millisecond
	if _, err := k.Info(ctxTimeout(t)); !errors.Is(err, ErrNoResponse) {
		t.Fatalf("Info on a silent device: %v, want ErrNoResponse", err)
	}
	if k.idle() {
		t.Fatal("libfido2 call reported finished on a device that never answered")
	}
	other := openPath(t, path)
	ctx, cancel := context.WithTimeout(ctxTimeout(t), 100*time.Millisecond)
	defer cancel()
	if _, err := other.Info(ctx); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Info while the path is stuck: %v, want ErrCancelled", err)
	}

	closeMaster()
	closed := make(chan struct{})
	go func() {
		k.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return after the device went away")
	}
}

// TestWatcherCloseWaitsForLentKey: the watcher owns the keys it lends out.
// When Run ends it cancels a call in flight on one (here a credential
// waiting for a touch that never comes) and returns only once libfido2 has
// returned; the key then refuses new calls.
func TestWatcherCloseWaitsForLentKey(t *testing.T) {
	sk := startKey(t, softkey.Options{Presence: softkey.PresenceManual})
	w := NewWatcher([]string{sk.Path()}, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		w.Run(ctx)
	}()
	waitDevices(t, w, sk.Path())
	k, ok := w.Key(sk.Path())
	if !ok {
		t.Fatal("the watcher lists the key but does not lend it")
	}
	errc := make(chan error, 1)
	go func() {
		_, err := k.MakeCredential(context.Background(), registration(""))
		errc <- err
	}()
	if err := sk.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-ran:
	case <-time.After(testTimeout):
		sk.Remove()
		t.Fatal("Run did not return after its context ended")
	}
	if !k.idle() {
		t.Fatal("Run returned while a libfido2 call on a key it lent out was still running")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("call in flight when the watcher stopped: %v, want ErrRemoved", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the call in flight did not return")
	}
	if _, err := k.Info(ctxTimeout(t)); !errors.Is(err, ErrRemoved) {
		t.Fatalf("Info on a key the watcher closed: %v, want ErrRemoved", err)
	}
	if _, ok := w.Key(sk.Path()); ok {
		t.Fatal("the watcher lends a key after Run ended")
	}
}
