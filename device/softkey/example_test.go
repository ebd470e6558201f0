package softkey_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"mfagate/device/softkey"
)

// A test or the demo starts a key and hands its path to libfido2 (for
// example go-libfido2's NewDevice) as if it were a USB key's hidraw node.
func ExampleStart() {
	ctx := context.Background()
	key, err := softkey.Start(ctx, softkey.Options{
		Presence:   softkey.PresenceAuto,
		TouchDelay: 200 * time.Millisecond, // keepalives flow meanwhile
	})
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	fmt.Println(key.AttestationCA().Subject.CommonName)
	// Output: mfagate softkey test attestation CA
}

// With manual presence a test decides when the user touches the key.
func ExampleKey_Touch() {
	ctx := context.Background()
	key, err := softkey.Start(ctx, softkey.Options{Presence: softkey.PresenceManual})
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	go func() {
		// ... a libfido2 MakeCredential on key.Path() runs here ...
	}()
	waitCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := key.WaitForTouchRequest(waitCtx); err == nil {
		key.Touch()
	}
}
