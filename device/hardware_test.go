//go:build hardware

package device

import (
	"os"
	"slices"
	"testing"
	"time"
)

// TestHardwareKey checks a real USB key: go test -tags hardware ./device/
// with MFAGATE_FIDO_DEVICE=/dev/hidrawN. It reads Info and, when
// MFAGATE_FIDO_TOUCH=1, makes a non-resident credential (touch the key)
// and signs with it; it never sets, changes or needs a PIN, and never resets.
func TestHardwareKey(t *testing.T) {
	path := os.Getenv("MFAGATE_FIDO_DEVICE")
	if path == "" {
		t.Skip("MFAGATE_FIDO_DEVICE is not set")
	}
	ctx := ctxTimeout(t)
	k := openPath(t, path)
	info, err := k.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	t.Logf("%s: %s, AAGUID %x, versions %v, PIN set %v (retries %d), min PIN %d",
		path, info.Product, info.AAGUID, info.Versions, info.PINSet, info.PINRetries, info.MinPINLength)
	if !slices.Contains(info.Versions, "FIDO_2_0") && !slices.Contains(info.Versions, "FIDO_2_1") {
		t.Errorf("versions %v lack FIDO_2_0/FIDO_2_1", info.Versions)
	}

	w := NewWatcher(nil, 100*time.Millisecond, WithLogger(testLogger()))
	runWatcher(t, w)
	waitDevices(t, w, path)

	if os.Getenv("MFAGATE_FIDO_TOUCH") != "1" || info.PINSet {
		return
	}
	cdh := cdhOf("hardware")
	t.Log("touch the key to register")
	reg, err := k.MakeCredential(ctx, MakeCredentialRequest{ClientDataHash: cdh, RPID: "hardware-test.mfagate.invalid",
		UserID: []byte("hardware-test"), UserName: "hardware-test"})
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	ad := parseAuthData(t, reg.AuthData)
	t.Log("touch the key to sign in")
	as, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdh, RPID: "hardware-test.mfagate.invalid",
		AllowList: [][]byte{reg.CredentialID}})
	if err != nil {
		t.Fatalf("GetAssertion: %v", err)
	}
	verifySig(t, ad.pub, as.AuthData, cdh, as.Signature)
}
