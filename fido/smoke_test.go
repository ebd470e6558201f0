package fido

import (
	"bytes"
	"testing"
)

// TestRegisterThenSignIn is the happy path end to end: a packed
// registration chaining to the trusted root, then a browser and a kiosk
// assertion with the stored credential.
func TestRegisterThenSignIn(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	k := newTestKey(t, ca)
	p := testPolicy(ca)
	r := k.register(t, "packed", flagUP|flagUV|flagAT)
	cred, err := VerifyRegistration(p, r.challenge, r.clientDataJSON, r.attestationObject)
	if err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	if !bytes.Equal(cred.ID, k.credID) || !bytes.Equal(cred.PublicKey, k.coseKey(t)) || cred.AAGUID != testAAGUID {
		t.Fatalf("credential %+v does not carry the key's ID, COSE key and AAGUID", cred)
	}
	if cred.AttestationFormat != "packed" || cred.AttestationType != "basic" || !cred.AttestationTrusted || !cred.UserVerified {
		t.Fatalf("credential %+v: want packed basic trusted attestation with UV", cred)
	}
	a := k.assert(t, flagUP|flagUV, 7)
	if n, err := VerifyAssertion(p, cred, a.challenge, a.json(t)); err != nil || n != 7 {
		t.Fatalf("VerifyAssertion = %d, %v; want 7", n, err)
	}
	if n, err := VerifyRawAssertion(p, cred, a.challenge, a.clientDataJSON, a.authData, a.sig); err != nil || n != 7 {
		t.Fatalf("VerifyRawAssertion = %d, %v; want 7", n, err)
	}
}
