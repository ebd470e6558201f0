package fido

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// TestVerifyRegistration feeds VerifyRegistration registrations made by the
// test authenticator, one defect at a time.
func TestVerifyRegistration(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	otherCA := newTestCA(t, testAAGUID)
	wrongAAGUIDCA := newTestCA(t, otherAAGUID) // its leaf names another model
	chainCA := makeTestCA(t, testAAGUID, true)

	type input struct {
		challenge, clientDataJSON, attestationObject []byte
	}
	const good = flagUP | flagUV | flagAT
	tests := []struct {
		name    string
		format  string // test authenticator attestation, default "packed"
		flags   byte   // default good
		rpID    string // in authData, default testRPID
		typ     string // clientData type, default webauthn.create
		origin  string // clientData origin, default testOrigin
		cdj     string // clientDataJSON verbatim, overrides typ and origin
		key     func(*testKey)
		policy  func(*Policy)
		tamper  func(*input)
		wantErr error
		wantMsg []string // substrings the error message must carry
		want    func(*testing.T, Credential)
	}{
		{name: "packed chaining to the trusted root", want: func(t *testing.T, c Credential) {
			if c.AttestationFormat != "packed" || c.AttestationType != "basic" || !c.AttestationTrusted {
				t.Errorf("format %q type %q trusted %v, want packed basic trusted", c.AttestationFormat, c.AttestationType, c.AttestationTrusted)
			}
		}},
		{name: "packed, attestation required, no roots configured", policy: func(p *Policy) { p.TrustedRoots = nil }, want: func(t *testing.T, c Credential) {
			if c.AttestationType != "basic" || c.AttestationTrusted {
				t.Errorf("type %q trusted %v, want basic untrusted", c.AttestationType, c.AttestationTrusted)
			}
		}},
		{name: "self attestation when not required", format: "self", policy: notRequired, want: func(t *testing.T, c Credential) {
			if c.AttestationFormat != "packed" || c.AttestationType != "self" || c.AttestationTrusted {
				t.Errorf("format %q type %q trusted %v, want packed self", c.AttestationFormat, c.AttestationType, c.AttestationTrusted)
			}
		}},
		{name: "none when not required", format: "none", policy: notRequired, want: func(t *testing.T, c Credential) {
			if c.AttestationFormat != "none" || c.AttestationType != "none" {
				t.Errorf("format %q type %q, want none none", c.AttestationFormat, c.AttestationType)
			}
		}},
		{name: "fido-u2f", format: "fido-u2f", key: func(k *testKey) { k.aaguid = [16]byte{} }, want: func(t *testing.T, c Credential) {
			if c.AttestationFormat != "fido-u2f" || c.AttestationType != "basic" || !c.AttestationTrusted || c.AAGUID != [16]byte{} {
				t.Errorf("format %q type %q trusted %v aaguid %x, want fido-u2f basic trusted zero", c.AttestationFormat, c.AttestationType, c.AttestationTrusted, c.AAGUID)
			}
		}},
		{name: "backup flags and counter recorded", flags: good | flagBE | flagBS, want: func(t *testing.T, c Credential) {
			if !c.BackupEligible || !c.BackupState {
				t.Errorf("BE %v BS %v, want both", c.BackupEligible, c.BackupState)
			}
		}},
		{name: "extension outputs after the credential key", flags: good | flagED}, // the stored key must stop at the COSE_Key
		{name: "UV preferred, key without UV", flags: flagUP | flagAT, policy: func(p *Policy) { p.UserVerification = "preferred" }, want: func(t *testing.T, c Credential) {
			if c.UserVerified {
				t.Error("UserVerified set without the UV flag")
			}
		}},
		{name: "x5c through an intermediate", key: func(k *testKey) { k.ca = chainCA },
			policy: func(p *Policy) { p.TrustedRoots = []*x509.Certificate{chainCA.cert} }, want: func(t *testing.T, c Credential) {
				if !c.AttestationTrusted {
					t.Error("chain through the intermediate not trusted")
				}
			}},
		{name: "x5c trusted only through the intermediate as root", key: func(k *testKey) { k.ca = chainCA },
			policy: func(p *Policy) { p.TrustedRoots = []*x509.Certificate{chainCA.inter} }, want: func(t *testing.T, c Credential) {
				if !c.AttestationTrusted {
					t.Error("intermediate configured as a trusted root not honoured")
				}
			}},
		{name: "AAGUID on the allow list", policy: func(p *Policy) { p.AAGUIDAllow = [][16]byte{otherAAGUID, testAAGUID} }},
		{name: "x5c not chaining, attestation optional", policy: func(p *Policy) {
			p.AttestationRequired = false
			p.TrustedRoots = []*x509.Certificate{otherCA.cert}
		}, want: func(t *testing.T, c Credential) {
			if c.AttestationTrusted || c.AttestationType != "basic" {
				t.Errorf("trusted %v type %q, want untrusted basic", c.AttestationTrusted, c.AttestationType)
			}
		}},

		{name: "wrong challenge", tamper: func(in *input) { in.challenge = bytes.Repeat([]byte{1}, 32) },
			wantErr: ErrChallengeMismatch, wantMsg: []string{"not the one issued"}},
		{name: "wrong origin", origin: "https://evil.example",
			wantErr: ErrOriginMismatch, wantMsg: []string{`origin "https://evil.example" does not match the configured origin "https://login.example.ac.jp"`}},
		{name: "origin differing only by a trailing slash", origin: testOrigin + "/", wantErr: ErrOriginMismatch},
		{name: "cross-origin iframe", cdj: `{"type":"webauthn.create","challenge":"%s","origin":"` + testOrigin + `","crossOrigin":true,"topOrigin":"https://evil.example"}`,
			wantErr: ErrOriginMismatch, wantMsg: []string{"crossOrigin", "https://evil.example"}},
		{name: "wrong type", typ: "webauthn.get",
			wantErr: ErrWrongType, wantMsg: []string{`"webauthn.get"`, `expected "webauthn.create"`}},
		{name: "wrong RP ID", rpID: "evil.example",
			wantErr: ErrRPIDMismatch, wantMsg: []string{`"login.example.ac.jp"`}},
		{name: "user not present", flags: flagUV | flagAT, wantErr: ErrUserNotPresent, wantMsg: []string{"UP"}},
		{name: "UV required but absent", flags: flagUP | flagAT, wantErr: ErrUserNotVerified, wantMsg: []string{"UV"}},
		{name: "backup state without eligibility", flags: good | flagBS, wantErr: ErrMalformed, wantMsg: []string{"BS"}},
		{name: "packed signature over another clientDataHash", format: "packed-badsig", wantErr: ErrAttestationInvalid, wantMsg: []string{"packed"}},
		{name: "packed signed by the credential key", format: "packed-wrongkey", wantErr: ErrAttestationInvalid},
		{name: "self attestation signature over another clientDataHash", format: "self-badsig", policy: notRequired, wantErr: ErrAttestationInvalid},
		{name: "fido-u2f signed over another credential ID", format: "fido-u2f", key: func(k *testKey) { k.aaguid = [16]byte{} },
			tamper: func(in *input) { in.attestationObject = replaceCredID(t, in.attestationObject) }, wantErr: ErrAttestationInvalid},
		{name: "certificate names another AAGUID", key: func(k *testKey) { k.ca = wrongAAGUIDCA },
			policy: func(p *Policy) { p.TrustedRoots = []*x509.Certificate{wrongAAGUIDCA.cert} }, wantErr: ErrAttestationInvalid},
		{name: "AAGUID not allowed", policy: func(p *Policy) { p.AAGUIDAllow = [][16]byte{otherAAGUID} },
			wantErr: ErrAAGUIDNotAllowed, wantMsg: []string{"6d44ba9b-f6ec-2e49-b930-0c8fe920cb73", "ee882879-721c-4913-9775-3dfcce97072a"}},
		{name: "attestation required, none given", format: "none", wantErr: ErrAttestationNotAllowed, wantMsg: []string{`"none"`}},
		{name: "attestation required, self given", format: "self", wantErr: ErrAttestationNotAllowed, wantMsg: []string{"self attestation"}},
		{name: "attestation required, self given, no roots", format: "self", policy: func(p *Policy) { p.TrustedRoots = nil }, wantErr: ErrAttestationNotAllowed},
		{name: "x5c not chaining to the trusted roots", policy: func(p *Policy) { p.TrustedRoots = []*x509.Certificate{otherCA.cert} },
			wantErr: ErrAttestationNotTrusted, wantMsg: []string{"Test Key Attestation"}},
		{name: "x5c intermediate from another root", key: func(k *testKey) { k.ca = chainCA }, wantErr: ErrAttestationNotTrusted},
		{name: "unsupported format", format: "tpm", wantErr: ErrAttestationNotAllowed, wantMsg: []string{`"tpm"`}},
		{name: "unsupported key algorithm", key: func(k *testKey) { k.alg = -35 }, wantErr: ErrUnsupportedAlgorithm, wantMsg: []string{"-35"}},

		{name: "clientDataJSON not JSON", cdj: `{"type":"webauthn.create",`, wantErr: ErrMalformed, wantMsg: []string{"clientDataJSON"}},
		{name: "clientDataJSON empty", tamper: func(in *input) { in.clientDataJSON = nil }, wantErr: ErrMalformed},
		{name: "challenge padded", cdj: `{"type":"webauthn.create","challenge":"%s==","origin":"` + testOrigin + `"}`, wantErr: ErrMalformed, wantMsg: []string{"base64url"}},
		{name: "attestationObject not CBOR", tamper: func(in *input) { in.attestationObject = []byte{0xa3, 0x63, 'f'} }, wantErr: ErrMalformed, wantMsg: []string{"attestationObject"}},
		{name: "attestationObject empty", tamper: func(in *input) { in.attestationObject = nil }, wantErr: ErrMalformed},
		{name: "authData without attested credential data", flags: flagUP | flagUV, format: "none", policy: notRequired, wantErr: ErrMalformed},
		{name: "no challenge issued", tamper: func(in *input) { in.challenge = nil }, wantErr: ErrChallengeMismatch},
		{name: "policy without RP ID", policy: func(p *Policy) { p.RPID = "" }, wantErr: ErrPolicy},
		{name: "policy with unknown UV requirement", policy: func(p *Policy) { p.UserVerification = "sometimes" }, wantErr: ErrPolicy, wantMsg: []string{`"sometimes"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newTestKey(t, ca)
			if tc.key != nil {
				tc.key(k)
			}
			format, flags, rpID, typ, origin := or(tc.format, "packed"), tc.flags, or(tc.rpID, testRPID), or(tc.typ, "webauthn.create"), or(tc.origin, testOrigin)
			if flags == 0 {
				flags = good
			}
			in := input{challenge: make([]byte, 32)}
			rand.Read(in.challenge)
			in.clientDataJSON = clientDataJSON(typ, in.challenge, origin)
			if tc.cdj != "" {
				in.clientDataJSON = []byte(strings.Replace(tc.cdj, "%s", b64(in.challenge), 1))
			}
			ad := k.authData(t, rpID, flags, 3, flags&flagAT != 0)
			in.attestationObject = k.attest(t, format, ad, in.clientDataJSON)
			if tc.tamper != nil {
				tc.tamper(&in)
			}
			p := testPolicy(ca)
			if tc.policy != nil {
				tc.policy(&p)
			}

			cred, err := VerifyRegistration(p, in.challenge, in.clientDataJSON, in.attestationObject)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
				if cred.ID != nil || cred.PublicKey != nil {
					t.Errorf("a refused registration returned credential %+v", cred)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyRegistration: %v", err)
			}
			if !bytes.Equal(cred.ID, k.credID) || !bytes.Equal(cred.PublicKey, k.coseKey(t)) || cred.AAGUID != k.aaguid || cred.SignCount != 3 {
				t.Errorf("credential ID %x key %x AAGUID %x count %d; want the test key's %x %x %x 3", cred.ID, cred.PublicKey, cred.AAGUID, cred.SignCount, k.credID, k.coseKey(t), k.aaguid)
			}
			if cred.UserVerified != (flags&flagUV != 0) {
				t.Errorf("UserVerified %v with flags %#x", cred.UserVerified, flags)
			}
			if tc.want != nil {
				tc.want(t, cred)
			}
		})
	}
}

func notRequired(p *Policy) { p.AttestationRequired = false }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// replaceCredID swaps the credential ID inside a fido-u2f attestation
// object's authData for another of the same length, leaving the statement
// signed over the original.
func replaceCredID(t *testing.T, attObj []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := dec.Unmarshal(attObj, &m); err != nil {
		t.Fatal(err)
	}
	ad := bytes.Clone(m["authData"].([]byte))
	ad[55] ^= 0xff // first byte of the credential ID
	m["authData"] = ad
	return mustCBOR(t, m)
}

// TestVerifyRegistrationErrorsAreSpecific: every refusal above names one
// kind only, so callers can map them to distinct audit events.
func TestVerifyRegistrationErrorsAreSpecific(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	k := newTestKey(t, ca)
	r := k.register(t, "none", flagUP|flagUV|flagAT)
	_, err := VerifyRegistration(testPolicy(ca), r.challenge, r.clientDataJSON, r.attestationObject)
	if !errors.Is(err, ErrAttestationNotAllowed) {
		t.Fatalf("err = %v", err)
	}
	n := 0
	for _, s := range allSentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("error matches %d sentinels, want 1", n)
	}
}

var allSentinels = []error{
	ErrCounterRegressed, ErrWrongType, ErrChallengeMismatch, ErrOriginMismatch, ErrRPIDMismatch,
	ErrUserNotPresent, ErrUserNotVerified, ErrBadSignature, ErrUnknownCredential, ErrAAGUIDNotAllowed, ErrSyncedNotAllowed, ErrAuthenticatorStatus,
	ErrAttestationNotTrusted, ErrAttestationNotAllowed, ErrAttestationInvalid, ErrUnsupportedAlgorithm,
	ErrMalformed, ErrPolicy,
}
