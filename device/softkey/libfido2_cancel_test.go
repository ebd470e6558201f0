//go:build cgo && !race

package softkey

import (
	"errors"
	"testing"
	"time"

	libfido2 "github.com/keys-pub/go-libfido2"
)

// TestLibfido2Cancel cancels a MakeCredential waiting for a touch through
// libfido2's fido_dev_cancel. It is left out of -race runs: go-libfido2
// v1.5.3 writes Device.dev in open() without the lock Cancel() takes, which
// the race detector reports although the pty exchange orders the two.
func TestLibfido2Cancel(t *testing.T) {
	cdh := cdhOf("x")
	rp := libfido2.RelyingParty{ID: "example.org"}
	user := libfido2.User{ID: []byte("u"), Name: "u"}
	k := startKey(t, Options{Presence: PresenceManual})
	dev := libfidoDevice(t, k)
	errc := make(chan error, 1)
	go func() {
		_, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "", nil)
		errc <- err
	}()
	if err := k.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if err := dev.Cancel(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, libfido2.ErrKeepaliveCancel) {
			t.Fatalf("cancelled MakeCredential: %v", err)
		}
	case <-time.After(testTimeout):
		k.Remove() // unblock libfido2 before failing
		t.Fatal("MakeCredential not cancelled")
	}
}
