package softkey

import (
	"errors"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// TestWebAuthnVerifierAcceptsAttestations hands the key's MakeCredential
// output to go-webauthn, the relying-party library the gateway verifies
// with: it enforces the packed attestation certificate rules of WebAuthn
// §8.2.1 and checks every signature itself.
func TestWebAuthnVerifierAcceptsAttestations(t *testing.T) {
	const rpID = "idp.example.ac.jp"
	params := []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}
	for _, tc := range []struct {
		format   AttestationFormat
		wantType string
	}{
		{AttestationPacked, "basic_full"},
		{AttestationSelf, "basic_surrogate"}, // WebAuthn's name for self attestation
		{AttestationNone, "none"},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			k := startKey(t, Options{Attestation: tc.format})
			h := openHost(t, k)
			p := mcParams(rpID, []byte("alice"), true)
			cdh := p[1].([]byte)
			r, _ := makeCredential(t, h, p)

			obj := attestationObject(t, r)
			if err := obj.Verify(rpID, cdh, false, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
				t.Fatalf("go-webauthn rejects the %s attestation: %v", tc.format, webauthnDetails(err))
			}
			if obj.Type != tc.wantType {
				t.Errorf("attestation type %q, want %q", obj.Type, tc.wantType)
			}
			if err := attestationObject(t, r).Verify("evil.example", cdh, false, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err == nil {
				t.Error("go-webauthn accepted the attestation for another RP ID")
			}
			if tc.format != AttestationNone {
				if err := attestationObject(t, r).Verify(rpID, cdhOf("other challenge"), false, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err == nil {
					t.Error("go-webauthn accepted the attestation for another clientDataHash")
				}
			}

			// An assertion verifies with the COSE key from authData.
			acdh := cdhOf("webauthn sign in")
			st, body, _ := h.cbor(cmdGetAssertion, map[int]any{1: rpID, 2: acdh})
			if st != StatusOK {
				t.Fatalf("GetAssertion: %#x", byte(st))
			}
			ga := decodeInto[gaReply](t, body)
			var ad protocol.AuthenticatorData
			if err := ad.Unmarshal(ga.AuthData); err != nil {
				t.Fatalf("go-webauthn cannot parse assertion authData: %v", err)
			}
			if err := ad.Verify(obj.AuthData.RPIDHash, nil, false, true); err != nil {
				t.Fatalf("assertion authData: %v", err)
			}
			key, err := webauthncose.ParsePublicKey(obj.AuthData.AttData.CredentialPublicKey)
			if err != nil {
				t.Fatalf("ParsePublicKey: %v", err)
			}
			ok, err := webauthncose.VerifySignature(key, slices.Concat(ga.AuthData, acdh), ga.Signature)
			if err != nil || !ok {
				t.Fatalf("assertion signature: %v %v", ok, err)
			}
			if ad.Counter <= obj.AuthData.Counter {
				t.Fatalf("counter %d after %d", ad.Counter, obj.AuthData.Counter)
			}
		})
	}
}

// attestationObject builds go-webauthn's view of a MakeCredential reply.
func attestationObject(t *testing.T, r mcReply) *protocol.AttestationObject {
	t.Helper()
	obj := &protocol.AttestationObject{RawAuthData: r.AuthData, Format: r.Fmt, AttStatement: map[string]any{}}
	if err := obj.AuthData.Unmarshal(r.AuthData); err != nil {
		t.Fatalf("go-webauthn cannot parse authData: %v", err)
	}
	for k, v := range r.AttStmt {
		var x any
		if err := cbor.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		obj.AttStatement[k] = x
	}
	return obj
}

// webauthnDetails spells out a go-webauthn error, whose Error() is terse.
func webauthnDetails(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Type + ": " + pe.Details + " (" + pe.DevInfo + ")"
	}
	return err.Error()
}
