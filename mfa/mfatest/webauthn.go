package mfatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"

	"mfagate/fido"
	"mfagate/mfa"
)

// SoftKey is a software WebAuthn authenticator holding one P-256
// credential, that answers a sign-in as a browser hands the answer to a
// relying party (an AuthenticationResponseJSON). It is written here from
// WebAuthn Level 3 (§6.1 authenticator data, §6.5.1.1 the COSE key,
// §5.8.1 client data, §6.3.3 the signature) with crypto/ecdsa alone,
// independent of package fido, so tests check one with the other.
type SoftKey struct {
	RPID, Origin string
	CredentialID []byte
	// UserHandle is the user.id the credential was created with, returned
	// in every answer; nil: the answer carries none.
	UserHandle []byte
	key        *ecdsa.PrivateKey
	counter    uint32
}

// NewSoftKey makes a credential for rpID, answering from origin, with a
// random 16-byte credential ID.
func NewSoftKey(rpID, origin string, userHandle []byte) *SoftKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &SoftKey{RPID: rpID, Origin: origin, CredentialID: id, UserHandle: userHandle, key: key}
}

// Credential is what a registration of the key stores.
func (k *SoftKey) Credential() mfa.FIDOCredential {
	x, y := make([]byte, 32), make([]byte, 32)
	pub, err := k.key.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	raw := pub.Bytes() // 0x04 || x || y
	copy(x, raw[1:33])
	copy(y, raw[33:65])
	// COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
	// in CTAP2 canonical CBOR.
	cose := slices.Concat([]byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}, x, []byte{0x22, 0x58, 0x20}, y)
	return mfa.FIDOCredential{ID: k.CredentialID, PublicKey: cose, AAGUID: make([]byte, 16), AttestationFormat: "none"}
}

// Assert signs challenge (the request options' challenge bytes) with user
// presence and verification, the counter one higher than last time.
func (k *SoftKey) Assert(challenge []byte) json.RawMessage {
	e := base64.RawURLEncoding.EncodeToString
	cdj, authData, sig := k.AssertRaw(challenge)
	resp := map[string]any{"clientDataJSON": e(cdj), "authenticatorData": e(authData), "signature": e(sig)}
	if k.UserHandle != nil {
		resp["userHandle"] = e(k.UserHandle)
	}
	b, _ := json.Marshal(map[string]any{"id": e(k.CredentialID), "rawId": e(k.CredentialID), "type": "public-key",
		"authenticatorAttachment": "cross-platform", "clientExtensionResults": map[string]any{}, "response": resp})
	return b
}

// AssertRaw is Assert's answer in parts, as the kiosk takes one: the
// client data, the authenticator data and the signature.
func (k *SoftKey) AssertRaw(challenge []byte) (clientDataJSON, authData, sig []byte) {
	e := base64.RawURLEncoding.EncodeToString
	k.counter++
	rpHash := sha256.Sum256([]byte(k.RPID))
	authData = slices.Concat(rpHash[:], []byte{0x05}, binary.BigEndian.AppendUint32(nil, k.counter)) // UP | UV
	cdj, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": e(challenge), "origin": k.Origin, "crossOrigin": false})
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(slices.Concat(authData, cdh[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		panic(err)
	}
	return cdj, authData, sig
}

// WebAuthn is the security-key verifier the daemon attaches (package
// fido with a relying-party policy), for tests of code built on package
// mfa.
func WebAuthn(p fido.Policy) mfa.WebAuthn { return verifier{p} }

type verifier struct{ p fido.Policy }

func credential(c mfa.FIDOCredential) fido.Credential {
	var aaguid [16]byte
	copy(aaguid[:], c.AAGUID)
	return fido.Credential{ID: c.ID, PublicKey: c.PublicKey, AAGUID: aaguid, SignCount: c.SignCount, AttestationFormat: c.AttestationFormat}
}

func (v verifier) AssertionOptions(challenge []byte, allow [][]byte) json.RawMessage {
	return fido.AssertionOptions(v.p, challenge, allow, 0)
}

func (v verifier) VerifyAssertion(c mfa.FIDOCredential, challenge, responseJSON []byte) (uint32, error) {
	return fido.VerifyAssertion(v.p, credential(c), challenge, responseJSON)
}

func (verifier) AssertionIdentity(responseJSON []byte) ([]byte, []byte, error) {
	return fido.AssertionIdentity(responseJSON)
}

func (v verifier) VerifyRawAssertion(c mfa.FIDOCredential, challenge, clientDataJSON, authData, sig []byte) (uint32, error) {
	return fido.VerifyRawAssertion(v.p, credential(c), challenge, clientDataJSON, authData, sig)
}

func (verifier) CounterRegressed(err error) bool { return errors.Is(err, fido.ErrCounterRegressed) }
