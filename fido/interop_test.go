//go:build cgo

package fido

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	libfido2 "github.com/keys-pub/go-libfido2"

	"mfagate/device/softkey"
)

// These tests enroll and sign in with the software FIDO2 key driven by the
// system libfido2 through go-libfido2, the kiosk's real code path, and feed
// what libfido2 returns to the verifiers.

func startSoftkey(t *testing.T, opts softkey.Options) (*softkey.Key, *libfido2.Device) {
	t.Helper()
	k, err := softkey.Start(t.Context(), opts)
	if err != nil {
		t.Skipf("cannot run the software key for libfido2 (needs /dev/ptmx): %v", err)
	}
	t.Cleanup(func() { k.Close() })
	dev, err := libfido2.NewDevice(k.Path())
	if err != nil {
		t.Skipf("libfido2 cannot open the software key at %s: %v", k.Path(), err)
	}
	return k, dev
}

// kioskEnroll is the kiosk's enrollment: a synthesized clientDataJSON, a
// resident ES256 credential with the PIN, and the attestationObject rebuilt
// by hand from go-libfido2's fields (fido.md §4.4).
func kioskEnroll(t *testing.T, dev *libfido2.Device, p Policy, pin string, opts *libfido2.MakeCredentialOpts) (challenge, cdj, attObj []byte, att *libfido2.Attestation) {
	t.Helper()
	challenge = NewChallenge()
	cdj, cdh := ClientData(TypeCreate, challenge, p.Origin)
	att, err := dev.MakeCredential(cdh[:],
		libfido2.RelyingParty{ID: p.RPID, Name: p.RPName},
		libfido2.User{ID: []byte("user-0001"), Name: "alice@example.ac.jp", DisplayName: "Alice"},
		libfido2.ES256, pin, opts)
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	var raw []byte
	if err := dec.Unmarshal(att.AuthData, &raw); err != nil {
		t.Fatalf("go-libfido2 authData is not a CBOR byte string: %v", err)
	}
	stmt := map[string]any{}
	switch att.Format {
	case "packed":
		stmt["alg"], stmt["sig"] = -7, att.Sig
		if len(att.Cert) > 0 {
			stmt["x5c"] = [][]byte{att.Cert}
		}
	case "fido-u2f":
		stmt["sig"], stmt["x5c"] = att.Sig, [][]byte{att.Cert}
	}
	attObj = mustCBOR(t, map[string]any{"fmt": att.Format, "attStmt": stmt, "authData": raw})
	rebuilt, err := AttestationObjectFromCTAP(att.Format, att.AuthData, att.Sig, att.Cert)
	if err != nil || !bytes.Equal(rebuilt, attObj) {
		t.Errorf("AttestationObjectFromCTAP differs from the hand-built object (%v)", err)
	}
	return challenge, cdj, attObj, att
}

func kioskAssert(t *testing.T, dev *libfido2.Device, p Policy, cred Credential, pin string) (challenge, cdj []byte, as *libfido2.Assertion) {
	t.Helper()
	challenge = NewChallenge()
	cdj, cdh := ClientData(TypeGet, challenge, p.Origin)
	as, err := dev.Assertion(p.RPID, cdh[:], [][]byte{cred.ID}, pin, nil)
	if err != nil {
		t.Fatalf("Assertion: %v", err)
	}
	return challenge, cdj, as
}

func TestSoftkeyPackedEnrollAndSignIn(t *testing.T) {
	k, dev := startSoftkey(t, softkey.Options{})
	if err := dev.SetPIN("4821", ""); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	p := testPolicy(nil)
	p.TrustedRoots = []*x509.Certificate{k.AttestationCA()}
	aaguid := k.AAGUID()
	p.AAGUIDAllow = [][16]byte{aaguid}

	challenge, cdj, attObj, att := kioskEnroll(t, dev, p, "4821", &libfido2.MakeCredentialOpts{RK: libfido2.True})
	cred, err := VerifyRegistration(p, challenge, cdj, attObj)
	if err != nil {
		t.Fatalf("VerifyRegistration of the key's packed attestation: %v", err)
	}
	if !bytes.Equal(cred.ID, att.CredentialID) || cred.AAGUID != aaguid || cred.AttestationType != "basic" || !cred.AttestationTrusted || !cred.UserVerified {
		t.Fatalf("credential %+v", cred)
	}
	// The stored COSE key is the key libfido2 reports (raw X‖Y).
	var cose map[int]any
	if err := dec.Unmarshal(cred.PublicKey, &cose); err != nil {
		t.Fatal(err)
	}
	if xy := append(bytes.Clone(cose[-2].([]byte)), cose[-3].([]byte)...); !bytes.Equal(xy, att.PubKey) {
		t.Fatal("stored COSE key differs from libfido2's public key")
	}

	// Another key's CA does not vouch for this key.
	other, _ := startSoftkey(t, softkey.Options{})
	q := p
	q.TrustedRoots = []*x509.Certificate{other.AttestationCA()}
	if _, err := VerifyRegistration(q, challenge, cdj, attObj); !errors.Is(err, ErrAttestationNotTrusted) {
		t.Errorf("attestation checked against another key's CA: %v", err)
	}
	// The registration is bound to its challenge.
	if _, err := VerifyRegistration(p, NewChallenge(), cdj, attObj); !errors.Is(err, ErrChallengeMismatch) {
		t.Errorf("registration for another challenge: %v", err)
	}

	// Sign in at the kiosk with the PIN: UV set, counter moves on.
	ch, cdj2, as := kioskAssert(t, dev, p, cred, "4821")
	n, err := VerifyRawAssertion(p, cred, ch, cdj2, as.AuthDataCBOR, as.Sig)
	if err != nil {
		t.Fatalf("VerifyRawAssertion of the key's assertion: %v", err)
	}
	if n <= cred.SignCount {
		t.Fatalf("sign count %d after %d", n, cred.SignCount)
	}
	raw, err := UnwrapAuthData(as.AuthDataCBOR)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := VerifyRawAssertion(p, cred, ch, cdj2, raw, as.Sig); err != nil || m != n {
		t.Fatalf("unwrapped authData: %d, %v", m, err)
	}
	if _, err := VerifyRawAssertion(p, cred, NewChallenge(), cdj2, raw, as.Sig); !errors.Is(err, ErrChallengeMismatch) {
		t.Errorf("assertion for another challenge: %v", err)
	}
	cred.SignCount = n

	// Without the PIN the key asserts presence only: refused when UV is
	// required, accepted when preferred.
	ch, cdj2, as = kioskAssert(t, dev, p, cred, "")
	if _, err := VerifyRawAssertion(p, cred, ch, cdj2, as.AuthDataCBOR, as.Sig); !errors.Is(err, ErrUserNotVerified) {
		t.Errorf("assertion without PIN under UV required: %v", err)
	}
	q = p
	q.UserVerification = "preferred"
	if n, err = VerifyRawAssertion(q, cred, ch, cdj2, as.AuthDataCBOR, as.Sig); err != nil {
		t.Fatalf("assertion without PIN under UV preferred: %v", err)
	}
	cred.SignCount = n

	// A clone: the counter goes back.
	if err := k.SetSignCount(1); err != nil {
		t.Fatal(err)
	}
	ch, cdj2, as = kioskAssert(t, dev, p, cred, "4821")
	got, err := VerifyRawAssertion(p, cred, ch, cdj2, as.AuthDataCBOR, as.Sig)
	if !errors.Is(err, ErrCounterRegressed) || got >= cred.SignCount {
		t.Fatalf("counter went back to %d after %d: %v", got, cred.SignCount, err)
	}
}

func TestSoftkeySelfAndNoneAttestation(t *testing.T) {
	for _, tc := range []struct {
		format   softkey.AttestationFormat
		wantFmt  string
		wantType string
	}{
		{softkey.AttestationSelf, "packed", "self"},
		{softkey.AttestationNone, "none", "none"},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			_, dev := startSoftkey(t, softkey.Options{Attestation: tc.format})
			p := testPolicy(nil)
			p.UserVerification = "discouraged"
			challenge, cdj, attObj, _ := kioskEnroll(t, dev, p, "", nil)
			if _, err := VerifyRegistration(p, challenge, cdj, attObj); !errors.Is(err, ErrAttestationNotAllowed) {
				t.Fatalf("%s attestation with attestation required: %v", tc.format, err)
			}
			p.AttestationRequired = false
			cred, err := VerifyRegistration(p, challenge, cdj, attObj)
			if err != nil {
				t.Fatalf("VerifyRegistration: %v", err)
			}
			if cred.AttestationFormat != tc.wantFmt || cred.AttestationType != tc.wantType || cred.UserVerified {
				t.Fatalf("credential %+v", cred)
			}
			ch, cdj2, as := kioskAssert(t, dev, p, cred, "")
			if _, err := VerifyRawAssertion(p, cred, ch, cdj2, as.AuthDataCBOR, as.Sig); err != nil {
				t.Fatalf("VerifyRawAssertion: %v", err)
			}
		})
	}
}

func TestSoftkeyU2FOnly(t *testing.T) {
	k, dev := startSoftkey(t, softkey.Options{U2F: softkey.U2FOnly, TouchDelay: 50 * time.Millisecond})
	p := testPolicy(nil)
	p.UserVerification = "discouraged"
	p.TrustedRoots = []*x509.Certificate{k.AttestationCA()}
	challenge, cdj, attObj, att := kioskEnroll(t, dev, p, "", nil)
	if att.Format != "fido-u2f" {
		t.Fatalf("format %q, want fido-u2f", att.Format)
	}
	cred, err := VerifyRegistration(p, challenge, cdj, attObj)
	if err != nil {
		t.Fatalf("VerifyRegistration of the key's fido-u2f attestation: %v", err)
	}
	if cred.AttestationFormat != "fido-u2f" || !cred.AttestationTrusted || cred.AAGUID != [16]byte{} {
		t.Fatalf("credential %+v", cred)
	}
	p.AAGUIDAllow = [][16]byte{k.AAGUID()}
	if _, err := VerifyRegistration(p, challenge, cdj, attObj); !errors.Is(err, ErrAAGUIDNotAllowed) {
		t.Errorf("U2F key (zero AAGUID) against an allow list: %v", err)
	}
	p.AAGUIDAllow = nil
	ch, cdj2, as := kioskAssert(t, dev, p, cred, "")
	if _, err := VerifyRawAssertion(p, cred, ch, cdj2, as.AuthDataCBOR, as.Sig); err != nil {
		t.Fatalf("VerifyRawAssertion: %v", err)
	}
}
