//go:build cgo

package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	libfido2 "github.com/keys-pub/go-libfido2"
)

// These tests drive the key through go-libfido2 and the system libfido2,
// the same code path the gateway's kiosk uses with USB keys.

func libfidoDevice(t *testing.T, k *Key) *libfido2.Device {
	t.Helper()
	dev, err := libfido2.NewDevice(k.Path())
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

func option(info *libfido2.DeviceInfo, name string) libfido2.OptionValue {
	for _, o := range info.Options {
		if o.Name == name {
			return o.Value
		}
	}
	return libfido2.Default
}

func TestLibfido2Info(t *testing.T) {
	k := startKey(t, Options{})
	dev := libfidoDevice(t, k)
	typ, err := dev.Type()
	if err != nil || typ != libfido2.FIDO2 {
		t.Fatalf("Type = %q, %v", typ, err)
	}
	info, err := dev.Info()
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	aaguid := k.AAGUID()
	if !bytes.Equal(info.AAGUID, aaguid[:]) {
		t.Errorf("AAGUID %x", info.AAGUID)
	}
	if !bytes.Equal(info.Protocols, []byte{2, 1}) {
		t.Errorf("protocols %v", info.Protocols)
	}
	if option(info, "clientPin") != libfido2.False || option(info, "rk") != libfido2.True {
		t.Errorf("options %+v", info.Options)
	}
	if err := dev.SetPIN("1234", ""); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	info, err = dev.Info()
	if err != nil || option(info, "clientPin") != libfido2.True {
		t.Fatalf("clientPin after SetPIN: %+v %v", info, err)
	}
	if err := dev.SetPIN("12", "1234"); !errors.Is(err, libfido2.ErrPinPolicyViolation) {
		t.Fatalf("too short new PIN: %v", err)
	}
}

// TestLibfido2EnrollAndAssert is the kiosk flow: set a PIN, make a
// resident ES256 credential with UV, verify its packed attestation against
// the CA independently, then verify assertions with its public key.
func TestLibfido2EnrollAndAssert(t *testing.T) {
	for _, tc := range []struct {
		name      string
		protocols []int
	}{
		{"pin protocol 2", nil},
		{"pin protocol 1", []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := startKey(t, Options{PINProtocols: tc.protocols, TouchDelay: 30 * time.Millisecond})
			dev := libfidoDevice(t, k)
			if err := dev.SetPIN("1234", ""); err != nil {
				t.Fatalf("SetPIN: %v", err)
			}
			const rpID = "idp.example.ac.jp"
			cdh := cdhOf("enroll")
			att, err := dev.MakeCredential(cdh,
				libfido2.RelyingParty{ID: rpID, Name: "Example IdP"},
				libfido2.User{ID: []byte("user-0001"), Name: "alice@example.ac.jp", DisplayName: "Alice"},
				libfido2.ES256, "1234", &libfido2.MakeCredentialOpts{RK: libfido2.True})
			if err != nil {
				t.Fatalf("MakeCredential: %v", err)
			}
			if att.Format != "packed" || len(att.Cert) == 0 {
				t.Fatalf("format %q, cert %d bytes", att.Format, len(att.Cert))
			}
			raw := unwrapAuthData(t, att.AuthData)
			ad := parseAuthData(t, raw)
			if ad.flags&(flagUP|flagUV|flagAT) != flagUP|flagUV|flagAT {
				t.Fatalf("flags %#x", ad.flags)
			}
			if !bytes.Equal(ad.credID, att.CredentialID) {
				t.Fatal("credential ID differs between authData and libfido2")
			}
			if pk, _ := ad.pub.Bytes(); !bytes.Equal(pk[1:], att.PubKey) {
				t.Fatal("public key differs between authData and libfido2")
			}
			cert := checkPackedCert(t, att.Cert, k.AttestationCA(), ad.aaguid)
			verifySig(t, cert.PublicKey.(*ecdsa.PublicKey), raw, cdh, att.Sig)

			// Assertion with the PIN: UV set, signature verifies, counter moves.
			cdh2 := cdhOf("sign in")
			as, err := dev.Assertion(rpID, cdh2, [][]byte{att.CredentialID}, "1234", nil)
			if err != nil {
				t.Fatalf("Assertion: %v", err)
			}
			araw := unwrapAuthData(t, as.AuthDataCBOR)
			got := parseAuthData(t, araw)
			verifySig(t, ad.pub, araw, cdh2, as.Sig)
			if got.flags != flagUP|flagUV || got.count <= ad.count {
				t.Fatalf("assertion flags %#x count %d (enrolled at %d)", got.flags, got.count, ad.count)
			}
			// Discoverable: no allow list, the key finds the credential.
			as, err = dev.Assertion(rpID, cdh2, nil, "1234", nil)
			if err != nil {
				t.Fatalf("discoverable Assertion: %v", err)
			}
			if !bytes.Equal(as.CredentialID, att.CredentialID) || !bytes.Equal(as.User.ID, []byte("user-0001")) {
				t.Fatalf("discoverable assertion credential %x user %x", as.CredentialID, as.User.ID)
			}
			verifySig(t, ad.pub, unwrapAuthData(t, as.AuthDataCBOR), cdh2, as.Sig)
			// Without the PIN: presence only.
			as, err = dev.Assertion(rpID, cdh2, [][]byte{att.CredentialID}, "", nil)
			if err != nil {
				t.Fatalf("Assertion without PIN: %v", err)
			}
			if f := parseAuthData(t, unwrapAuthData(t, as.AuthDataCBOR)).flags; f != flagUP {
				t.Fatalf("flags without PIN %#x", f)
			}
			if _, err := dev.Assertion("other.example", cdh2, [][]byte{att.CredentialID}, "1234", nil); !errors.Is(err, libfido2.ErrNoCredentials) {
				t.Fatalf("credential used for another RP: %v", err)
			}

			// Credential management through libfido2.
			ci, err := dev.CredentialsInfo("1234")
			if err != nil || ci.RKExisting != 1 {
				t.Fatalf("CredentialsInfo %+v, %v", ci, err)
			}
			rps, err := dev.RelyingParties("1234")
			if err != nil || len(rps) != 1 || rps[0].ID != rpID || rps[0].Name != "Example IdP" {
				t.Fatalf("RelyingParties %+v, %v", rps, err)
			}
			creds, err := dev.Credentials(rpID, "1234")
			if err != nil || len(creds) != 1 || creds[0].User.Name != "alice@example.ac.jp" {
				t.Fatalf("Credentials %+v, %v", creds, err)
			}
			if err := dev.DeleteCredential(att.CredentialID, "1234"); err != nil {
				t.Fatalf("DeleteCredential: %v", err)
			}
			if stored, _ := k.Credentials(); len(stored) != 0 {
				t.Fatalf("%d credentials left after delete", len(stored))
			}
		})
	}
}

func TestLibfido2WrongPINs(t *testing.T) {
	k := startKey(t, Options{})
	dev := libfidoDevice(t, k)
	if err := dev.SetPIN("1234", ""); err != nil {
		t.Fatal(err)
	}
	if n, err := dev.RetryCount(); err != nil || n != 8 {
		t.Fatalf("RetryCount %d, %v", n, err)
	}
	cdh := cdhOf("x")
	rp := libfido2.RelyingParty{ID: "example.org"}
	user := libfido2.User{ID: []byte("u"), Name: "u"}
	for i, want := range []error{libfido2.ErrPinInvalid, libfido2.ErrPinInvalid, libfido2.ErrPinAuthBlocked} {
		_, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "9999", nil)
		if !errors.Is(err, want) {
			t.Fatalf("wrong PIN %d: %v, want %v", i+1, err, want)
		}
		if n, _ := dev.RetryCount(); n != 8-(i+1) {
			t.Fatalf("retries after %d wrong PINs: %d", i+1, n)
		}
	}
	if _, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "1234", nil); !errors.Is(err, libfido2.ErrPinAuthBlocked) {
		t.Fatalf("right PIN before power cycle: %v", err)
	}
	if _, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "", nil); !errors.Is(err, libfido2.ErrPinRequired) {
		t.Fatalf("no PIN on a PIN-protected key: %v", err)
	}
	if err := k.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "1234", nil); err != nil {
		t.Fatalf("right PIN after power cycle: %v", err)
	}
	if n, _ := dev.RetryCount(); n != 8 {
		t.Fatalf("retries after a good PIN: %d", n)
	}
	if err := k.BlockPIN(); err != nil {
		t.Fatal(err)
	}
	_, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "1234", nil)
	var fe libfido2.Error
	if !errors.As(err, &fe) || fe.Code != int(StatusPINBlocked) {
		t.Fatalf("blocked PIN: %v, want libfido2 error 0x32 (PIN_BLOCKED)", err)
	}
	if n, _ := dev.RetryCount(); n != 0 {
		t.Fatalf("retries when blocked: %d", n)
	}
	// Only a reset recovers the key.
	if err := dev.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if err := dev.SetPIN("5678", ""); err != nil {
		t.Fatalf("SetPIN after reset: %v", err)
	}
}

func TestLibfido2PresenceAndCancel(t *testing.T) {
	cdh := cdhOf("x")
	rp := libfido2.RelyingParty{ID: "example.org"}
	user := libfido2.User{ID: []byte("u"), Name: "u"}

	t.Run("timeout", func(t *testing.T) {
		k := startKey(t, Options{Presence: PresenceNever, PresenceTimeout: 100 * time.Millisecond})
		_, err := libfidoDevice(t, k).MakeCredential(cdh, rp, user, libfido2.ES256, "", nil)
		var fe libfido2.Error
		if !errors.As(err, &fe) || fe.Code != int(StatusUserActionTimeout) {
			t.Fatalf("MakeCredential without touch: %v, want USER_ACTION_TIMEOUT", err)
		}
	})
	t.Run("manual touch", func(t *testing.T) {
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
		k.Touch()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("MakeCredential after touch: %v", err)
			}
		case <-time.After(testTimeout):
			k.Remove()
			t.Fatal("MakeCredential did not finish after touch")
		}
	})
	t.Run("removed mid-operation", func(t *testing.T) {
		k := startKey(t, Options{})
		if err := k.InjectFault(FaultRemoveOnPresence); err != nil {
			t.Fatal(err)
		}
		_, err := libfidoDevice(t, k).MakeCredential(cdh, rp, user, libfido2.ES256, "", nil)
		if !errors.Is(err, libfido2.ErrRX) {
			t.Fatalf("MakeCredential on a removed key: %v, want ErrRX", err)
		}
		if _, err := libfidoDevice(t, k).Info(); err == nil {
			t.Fatal("Info succeeded on a removed key")
		}
	})
	t.Run("garbage reply", func(t *testing.T) {
		k := startKey(t, Options{})
		dev := libfidoDevice(t, k)
		if _, err := dev.Info(); err != nil {
			t.Fatal(err)
		}
		if err := k.InjectFault(FaultGarbageReply); err != nil {
			t.Fatal(err)
		}
		// The garbage replaces the reply to the GetInfo that open sends.
		if _, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "", nil); err == nil {
			t.Fatal("MakeCredential succeeded despite a garbage reply")
		}
		if _, err := dev.MakeCredential(cdh, rp, user, libfido2.ES256, "", nil); err != nil {
			t.Fatalf("key did not recover after the garbage reply: %v", err)
		}
	})
}

// TestLibfido2HMACSecret checks the hmac-secret extension as libfido2
// computes it end to end: the secret is stable per credential and salt,
// and differs across salts and with user verification.
func TestLibfido2HMACSecret(t *testing.T) {
	for _, protocols := range [][]int{{2, 1}, {1}} {
		t.Run(fmt.Sprintf("protocols %v", protocols), func(t *testing.T) {
			testLibfido2HMACSecret(t, protocols)
		})
	}
}

func testLibfido2HMACSecret(t *testing.T, protocols []int) {
	k := startKey(t, Options{PINProtocols: protocols})
	dev := libfidoDevice(t, k)
	if err := dev.SetPIN("1234", ""); err != nil {
		t.Fatal(err)
	}
	const rpID = "example.org"
	att, err := dev.MakeCredential(cdhOf("hmac"), libfido2.RelyingParty{ID: rpID},
		libfido2.User{ID: []byte("u"), Name: "u"}, libfido2.ES256, "1234",
		&libfido2.MakeCredentialOpts{Extensions: []libfido2.Extension{libfido2.HMACSecretExtension}})
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	ad := parseAuthData(t, unwrapAuthData(t, att.AuthData))
	if v, ok := ad.ext["hmac-secret"]; !ok || !decodeInto[bool](t, v) {
		t.Fatalf("MakeCredential extensions %v", ad.ext)
	}
	secret := func(salt []byte, pin string) []byte {
		t.Helper()
		as, err := dev.Assertion(rpID, cdhOf("a"), [][]byte{att.CredentialID}, pin, &libfido2.AssertionOpts{
			Extensions: []libfido2.Extension{libfido2.HMACSecretExtension}, HMACSalt: salt,
		})
		if err != nil {
			t.Fatalf("Assertion: %v", err)
		}
		if len(as.HMACSecret) != 32 {
			t.Fatalf("hmac secret %d bytes", len(as.HMACSecret))
		}
		return as.HMACSecret
	}
	salt1, salt2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	a := secret(salt1, "1234")
	if !bytes.Equal(a, secret(salt1, "1234")) {
		t.Fatal("same salt gave different secrets")
	}
	if bytes.Equal(a, secret(salt2, "1234")) {
		t.Fatal("different salts gave the same secret")
	}
	if bytes.Equal(a, secret(salt1, "")) {
		t.Fatal("secret with user verification equals the one without")
	}
}

// TestLibfido2U2FOnly drives a U2F-only key the way libfido2 handles old
// keys: Info says it is not FIDO2, MakeCredential yields a "fido-u2f"
// attestation, assertions go through U2F AUTHENTICATE. libfido2 polls for
// the touch, which comes after a delay.
func TestLibfido2U2FOnly(t *testing.T) {
	k := startKey(t, Options{U2F: U2FOnly, TouchDelay: 150 * time.Millisecond})
	dev := libfidoDevice(t, k)
	if typ, err := dev.Type(); err != nil || typ != libfido2.U2F {
		t.Fatalf("Type = %q, %v", typ, err)
	}
	if _, err := dev.Info(); !errors.Is(err, libfido2.ErrNotFIDO2) {
		t.Fatalf("Info on a U2F-only key: %v", err)
	}
	const rpID = "legacy.example.ac.jp"
	cdh := cdhOf("u2f enroll")
	att, err := dev.MakeCredential(cdh, libfido2.RelyingParty{ID: rpID}, libfido2.User{ID: []byte("u"), Name: "u"}, libfido2.ES256, "", nil)
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	if att.Format != "fido-u2f" {
		t.Fatalf("format %q", att.Format)
	}
	raw := unwrapAuthData(t, att.AuthData)
	ad := parseAuthData(t, raw)
	if !bytes.Equal(ad.aaguid, make([]byte, 16)) {
		t.Fatalf("U2F AAGUID %x, want zeros", ad.aaguid)
	}
	// WebAuthn §8.6 fido-u2f verification, by hand ...
	cert := checkChain(t, att.Cert, k.AttestationCA())
	pub, _ := ad.pub.Bytes()
	verifySig(t, cert.PublicKey.(*ecdsa.PublicKey), slices.Concat([]byte{0}, ad.rpIDHash, cdh, ad.credID, pub), nil, att.Sig)
	// ... and by go-webauthn.
	obj := &protocol.AttestationObject{RawAuthData: raw, Format: att.Format,
		AttStatement: map[string]any{"sig": att.Sig, "x5c": []any{att.Cert}}}
	if err := obj.AuthData.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	params := []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}
	if err := obj.Verify(rpID, cdh, false, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		t.Fatalf("go-webauthn rejects the fido-u2f attestation: %v", webauthnDetails(err))
	}

	cdh2 := cdhOf("u2f sign in")
	as, err := dev.Assertion(rpID, cdh2, [][]byte{att.CredentialID}, "", nil)
	if err != nil {
		t.Fatalf("Assertion: %v", err)
	}
	araw := unwrapAuthData(t, as.AuthDataCBOR)
	verifySig(t, ad.pub, araw, cdh2, as.Sig)
	if got := parseAuthData(t, araw); got.flags != flagUP {
		t.Fatalf("assertion flags %#x", got.flags)
	}
	if _, err := dev.MakeCredential(cdh, libfido2.RelyingParty{ID: rpID}, libfido2.User{ID: []byte("u"), Name: "u"}, libfido2.ES256, "",
		&libfido2.MakeCredentialOpts{RK: libfido2.True}); !errors.Is(err, libfido2.ErrUnsupportedOption) {
		t.Fatalf("resident key on a U2F-only key: %v", err)
	}
}

// TestLibfido2PrefersCTAP2 checks that a key speaking both gives libfido2
// CTAP2 (packed attestation), not U2F.
func TestLibfido2PrefersCTAP2(t *testing.T) {
	k := startKey(t, Options{U2F: U2FAlso})
	dev := libfidoDevice(t, k)
	info, err := dev.Info()
	if err != nil || !slices.Contains(info.Versions, "U2F_V2") || !slices.Contains(info.Versions, "FIDO_2_1") {
		t.Fatalf("Info %+v, %v", info, err)
	}
	att, err := dev.MakeCredential(cdhOf("x"), libfido2.RelyingParty{ID: "example.org"}, libfido2.User{ID: []byte("u"), Name: "u"}, libfido2.ES256, "", nil)
	if err != nil || att.Format != "packed" {
		t.Fatalf("MakeCredential: %v, format %q", err, att.Format)
	}
}
