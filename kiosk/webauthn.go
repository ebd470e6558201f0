package kiosk

import (
	"encoding/json"
	"errors"
	"time"

	"mfagate/fido"
	"mfagate/mfa"
)

// Verifier returns the domain's security-key verifier, bound to the
// kiosk's current relying-party policy (so a reload takes effect).
func (k *Kiosk) Verifier() mfa.WebAuthn { return verifier{k} }

type verifier struct{ k *Kiosk }

var _ mfa.WebAuthn = verifier{}

func credential(c mfa.FIDOCredential) fido.Credential {
	var aaguid [16]byte
	copy(aaguid[:], c.AAGUID)
	return fido.Credential{ID: c.ID, PublicKey: c.PublicKey, AAGUID: aaguid, SignCount: c.SignCount, AttestationFormat: c.AttestationFormat}
}

func (v verifier) AssertionOptions(challenge []byte, allow [][]byte) json.RawMessage {
	return fido.AssertionOptions(v.k.pol().WebAuthn, challenge, allow, v.k.pol().TouchTimeout+30*time.Second)
}

func (v verifier) VerifyAssertion(c mfa.FIDOCredential, challenge, responseJSON []byte) (uint32, error) {
	return fido.VerifyAssertion(v.k.pol().WebAuthn, credential(c), challenge, responseJSON)
}

func (verifier) AssertionIdentity(responseJSON []byte) ([]byte, []byte, error) {
	return fido.AssertionIdentity(responseJSON)
}

func (v verifier) VerifyRawAssertion(c mfa.FIDOCredential, challenge, clientDataJSON, authData, sig []byte) (uint32, error) {
	return fido.VerifyRawAssertion(v.k.pol().WebAuthn, credential(c), challenge, clientDataJSON, authData, sig)
}

func (verifier) CounterRegressed(err error) bool { return errors.Is(err, fido.ErrCounterRegressed) }

// RegistrationJSON exports a stored security-key registration in the
// standard WebAuthn shape, for outside verifiers.
func RegistrationJSON(m mfa.Method) (json.RawMessage, error) {
	if m.FIDO == nil {
		return nil, errors.New("not a security key")
	}
	return fido.RegistrationJSON(credential(*m.FIDO), m.FIDO.ClientDataJSON, m.FIDO.AttestationObject), nil
}
