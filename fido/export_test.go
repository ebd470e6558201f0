package fido

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

func TestClientData(t *testing.T) {
	ch := []byte{0xfb, 0xff, 0x00, 0x3e}
	got, hash := ClientData(TypeCreate, ch, "https://login.example.ac.jp")
	want := `{"type":"webauthn.create","challenge":"-_8APg","origin":"https://login.example.ac.jp","crossOrigin":false}`
	if string(got) != want {
		t.Errorf("ClientData =\n%s\nwant\n%s", got, want)
	}
	if hash != sha256.Sum256([]byte(want)) {
		t.Error("hash is not SHA-256 of the JSON")
	}
	// Characters a browser leaves alone are not HTML-escaped.
	got, _ = ClientData(TypeGet, ch, "https://a&b.example")
	if !bytes.Contains(got, []byte(`"origin":"https://a&b.example"`)) {
		t.Errorf("origin escaped: %s", got)
	}
	// go-webauthn accepts it as a browser's client data.
	var ccd protocol.CollectedClientData
	if err := json.Unmarshal(got, &ccd); err != nil {
		t.Fatal(err)
	}
	if err := ccd.Verify(base64.RawURLEncoding.EncodeToString(ch), protocol.AssertCeremony, []string{"https://a&b.example"}, nil, nil, protocol.TopOriginDefaultVerificationMode, false); err != nil {
		t.Errorf("go-webauthn rejects the client data: %v", describe(err))
	}
}

func TestNewChallenge(t *testing.T) {
	a, b := NewChallenge(), NewChallenge()
	if len(a) != 32 || len(b) != 32 || bytes.Equal(a, b) {
		t.Fatalf("challenges %x %x", a, b)
	}
}

// TestRegistrationJSONRoundTrip exports a verified registration and has
// go-webauthn's own parser and verifier check it, as an outside verifier
// would.
func TestRegistrationJSONRoundTrip(t *testing.T) {
	for _, format := range []string{"packed", "self", "none"} {
		t.Run(format, func(t *testing.T) {
			ca := newTestCA(t, testAAGUID)
			k := newTestKey(t, ca)
			r := k.register(t, format, flagUP|flagUV|flagAT)
			p := testPolicy(ca)
			p.AttestationRequired = false
			cred, err := VerifyRegistration(p, r.challenge, r.clientDataJSON, r.attestationObject)
			if err != nil {
				t.Fatal(err)
			}
			cred.SignCount = 41 // the stored count moves on after sign-ins
			out := RegistrationJSON(cred, r.clientDataJSON, r.attestationObject)

			pcc, err := protocol.ParseCredentialCreationResponseBytes(out)
			if err != nil {
				t.Fatalf("go-webauthn cannot parse the export: %v\n%s", describe(err), out)
			}
			params := []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}
			if _, err := pcc.Verify(base64.RawURLEncoding.EncodeToString(r.challenge), testRPID, []string{testOrigin}, nil, nil,
				protocol.TopOriginDefaultVerificationMode, false, true, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
				t.Fatalf("go-webauthn rejects the export: %v", describe(err))
			}
			if !bytes.Equal(pcc.RawID, k.credID) {
				t.Errorf("rawId %x, want %x", pcc.RawID, k.credID)
			}
			// The same registration for another challenge fails there too,
			// so the check above is not vacuous.
			if _, err := pcc.Verify("AAAA", testRPID, []string{testOrigin}, nil, nil,
				protocol.TopOriginDefaultVerificationMode, false, true, true, nil, params, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err == nil {
				t.Error("go-webauthn accepted the export for another challenge")
			}

			var extra struct {
				Type      string `json:"type"`
				PublicKey string `json:"publicKey"`
				AAGUID    string `json:"aaguid"`
				SignCount uint32 `json:"sign_count"`
			}
			if err := json.Unmarshal(out, &extra); err != nil {
				t.Fatal(err)
			}
			pub, _ := base64.RawURLEncoding.DecodeString(extra.PublicKey)
			if extra.Type != "public-key" || !bytes.Equal(pub, k.coseKey(t)) || extra.AAGUID != "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73" || extra.SignCount != 41 {
				t.Errorf("export %s", out)
			}

			// And the exported parts verify here again.
			again, err := VerifyRegistration(p, r.challenge, pcc.Raw.AttestationResponse.ClientDataJSON, pcc.Raw.AttestationResponse.AttestationObject)
			if err != nil || !bytes.Equal(again.PublicKey, cred.PublicKey) {
				t.Fatalf("re-verifying the export: %v", err)
			}
		})
	}
}

// TestAttestationObjectFromCTAP: the attestationObject rebuilt from
// go-libfido2's fields is byte for byte what the test authenticator sends.
func TestAttestationObjectFromCTAP(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	for _, format := range []string{"packed", "self", "none", "fido-u2f"} {
		t.Run(format, func(t *testing.T) {
			k := newTestKey(t, ca)
			if format == "fido-u2f" {
				k.aaguid = [16]byte{}
			}
			r := k.register(t, format, flagUP|flagUV|flagAT)
			var m struct {
				Fmt     string         `cbor:"fmt"`
				AttStmt map[string]any `cbor:"attStmt"`
			}
			if err := dec.Unmarshal(r.attestationObject, &m); err != nil {
				t.Fatal(err)
			}
			sig, _ := m.AttStmt["sig"].([]byte)
			var cert []byte
			if x5c, ok := m.AttStmt["x5c"].([]any); ok {
				cert = x5c[0].([]byte)
			}
			// go-libfido2 hands authData out CBOR-wrapped.
			got, err := AttestationObjectFromCTAP(m.Fmt, mustCBOR(t, r.authData), sig, cert)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, r.attestationObject) {
				t.Errorf("rebuilt attestationObject\n%x\nwant\n%x", got, r.attestationObject)
			}
		})
	}
	if _, err := AttestationObjectFromCTAP("tpm", []byte{1}, nil, nil); !errors.Is(err, ErrAttestationNotAllowed) {
		t.Errorf("tpm: %v", err)
	}
	if _, err := AttestationObjectFromCTAP("packed", []byte{1}, nil, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("packed without signature: %v", err)
	}
}
