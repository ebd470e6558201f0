package device

import (
	"errors"
	"testing"
	"time"

	"mfagate/device/softkey"
)

func registration(pin string) MakeCredentialRequest {
	return MakeCredentialRequest{ClientDataHash: cdhOf("x"), RPID: "example.org",
		UserID: []byte("u"), UserName: "u", PIN: pin}
}

// TestNoTouch: the user never touches the key, which gives up by itself.
func TestNoTouch(t *testing.T) {
	sk := startKey(t, softkey.Options{Presence: softkey.PresenceNever, PresenceTimeout: 150 * time.Millisecond})
	k := openKey(t, sk)
	ctx := ctxTimeout(t)
	if _, err := k.MakeCredential(ctx, registration("")); !errors.Is(err, ErrNoTouch) {
		t.Fatalf("MakeCredential without touch: %v, want ErrNoTouch", err)
	}
	reg, err := func() (Registration, error) {
		if err := sk.SetPresence(softkey.PresenceAuto, 0); err != nil {
			t.Fatal(err)
		}
		return k.MakeCredential(ctx, registration(""))
	}()
	if err != nil {
		t.Fatalf("MakeCredential with touch after a timeout: %v", err)
	}
	if err := sk.SetPresence(softkey.PresenceNever, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdhOf("y"), RPID: "example.org",
		AllowList: [][]byte{reg.CredentialID}}); !errors.Is(err, ErrNoTouch) {
		t.Fatalf("GetAssertion without touch: %v, want ErrNoTouch", err)
	}
}

// TestRemovedMidOperation: the key is pulled while it waits for a touch.
func TestRemovedMidOperation(t *testing.T) {
	sk, link := startLinkedKey(t, softkey.Options{})
	k := openPath(t, link)
	ctx := ctxTimeout(t)
	if err := sk.InjectFault(softkey.FaultRemoveOnPresence); err != nil {
		t.Fatal(err)
	}
	if _, err := k.MakeCredential(ctx, registration("")); !errors.Is(err, ErrRemoved) {
		t.Fatalf("MakeCredential on a key pulled mid-operation: %v, want ErrRemoved", err)
	}
	if _, err := k.Info(ctx); !errors.Is(err, ErrRemoved) {
		t.Fatalf("Info after removal: %v, want ErrRemoved", err)
	}
}

// TestRemovedBeforeOperation: a key removed between two operations.
func TestRemovedBeforeOperation(t *testing.T) {
	sk, link := startLinkedKey(t, softkey.Options{})
	k := openPath(t, link)
	ctx := ctxTimeout(t)
	if _, err := k.Info(ctx); err != nil {
		t.Fatal(err)
	}
	sk.Remove()
	if err := k.SetPIN(ctx, "1234"); !errors.Is(err, ErrRemoved) {
		t.Fatalf("SetPIN on a removed key: %v, want ErrRemoved", err)
	}
}

// TestGarbageReplyRecovers: Info retries a transient transport error, as
// a freshly inserted key may give one.
func TestGarbageReplyRecovers(t *testing.T) {
	sk := startKey(t, softkey.Options{})
	k := openKey(t, sk)
	if err := sk.InjectFault(softkey.FaultGarbageReply); err != nil {
		t.Fatal(err)
	}
	info, err := k.Info(ctxTimeout(t))
	if err != nil {
		t.Fatalf("Info after a garbage reply: %v", err)
	}
	if info.AAGUID != sk.AAGUID() {
		t.Fatalf("AAGUID %x", info.AAGUID)
	}
}

// TestSerializedPerPath: a second Authenticator on the same key, here
// reached through its stable link, waits for the first one's operation
// and then succeeds, instead of colliding with it on the device.
func TestSerializedPerPath(t *testing.T) {
	sk, link := startLinkedKey(t, softkey.Options{Presence: softkey.PresenceManual})
	first, second := openKey(t, sk), openPath(t, link)
	ctx := ctxTimeout(t)

	regc := make(chan error, 1)
	go func() {
		_, err := first.MakeCredential(ctx, registration(""))
		regc <- err
	}()
	if err := sk.WaitForTouchRequest(ctx); err != nil {
		t.Fatal(err)
	}
	infoc := make(chan error, 1)
	go func() {
		_, err := second.Info(ctx)
		infoc <- err
	}()
	select {
	case err := <-infoc:
		t.Fatalf("Info ran while MakeCredential held the key: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	sk.Touch()
	for name, c := range map[string]chan error{"MakeCredential": regc, "Info": infoc} {
		select {
		case err := <-c:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(testTimeout):
			sk.Remove()
			t.Fatalf("%s did not finish", name)
		}
	}
}

func TestPathLockFollowsLinks(t *testing.T) {
	sk, link := startLinkedKey(t, softkey.Options{})
	if pathLock(link) != pathLock(sk.Path()) {
		t.Fatal("a key's link and its node have different locks")
	}
	other := startKey(t, softkey.Options{})
	if pathLock(link) == pathLock(other.Path()) {
		t.Fatal("two keys share a lock")
	}
}
