package fido

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Attestation statement formats VerifyRegistration accepts.
const (
	FormatPacked  = "packed"
	FormatFIDOU2F = "fido-u2f"
	FormatNone    = "none"
)

// Attestation types reported in Credential.AttestationType.
const (
	AttestationBasic = "basic"
	AttestationSelf  = "self"
	AttestationNone  = "none"
	AttestationCA    = "attca"
)

// credParams are the credential public key algorithms accepted at
// registration: those go-webauthn verifies and FIDO2 keys use.
var credParams = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// VerifyRegistration checks an attestationObject and its clientDataJSON
// against the challenge and policy (WebAuthn §7.1): type webauthn.create,
// challenge, origin, rpIdHash, UP, UV if required, the attestation
// statement (packed, fido-u2f or none), the AAGUID deny and allow lists,
// the model's FIDO metadata status (Policy.Metadata), synced passkeys
// (Policy.RefuseSynced) and the attestation policy. It returns the
// credential to store. Browser and kiosk registrations both come here.
func VerifyRegistration(p Policy, challenge, clientDataJSON, attestationObject []byte) (Credential, error) {
	if err := p.check(); err != nil {
		return Credential{}, err
	}
	if err := checkClientData(p, TypeCreate, challenge, clientDataJSON); err != nil {
		return Credential{}, err
	}
	if len(attestationObject) == 0 {
		return Credential{}, fail(ErrMalformed, "attestationObject is empty")
	}
	resp := protocol.AuthenticatorAttestationResponse{
		AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: clientDataJSON},
		AttestationObject:     attestationObject,
	}
	parsed, err := resp.Parse()
	if err != nil {
		return Credential{}, failWith(ErrMalformed, "attestationObject is not a CBOR map of fmt, attStmt and authData with attested credential data", err)
	}
	obj := &parsed.AttestationObject
	if _, err := checkAuthData(p, obj.RawAuthData); err != nil {
		return Credential{}, err
	}
	switch obj.Format {
	case FormatPacked, FormatFIDOU2F, FormatNone:
	default:
		return Credential{}, fail(ErrAttestationNotAllowed, fmt.Sprintf("attestation format %q is not supported; expected %q, %q or %q", obj.Format, FormatPacked, FormatFIDOU2F, FormatNone))
	}
	coseKey, err := rawCredentialPublicKey(obj.RawAuthData)
	if err != nil {
		return Credential{}, err
	}
	var pk webauthncose.PublicKeyData
	if err := cbor.Unmarshal(coseKey, &pk); err != nil {
		return Credential{}, failWith(ErrMalformed, "the credential public key is not a COSE_Key", err)
	}
	if !slices.ContainsFunc(credParams, func(c protocol.CredentialParameter) bool { return int64(c.Algorithm) == pk.Algorithm }) {
		return Credential{}, fail(ErrUnsupportedAlgorithm, fmt.Sprintf("credential public key algorithm %d is not supported; expected ES256 (-7), EdDSA (-8) or RS256 (-257)", pk.Algorithm))
	}
	if _, err := webauthncose.ParsePublicKey(coseKey); err != nil {
		return Credential{}, failWith(ErrMalformed, "the credential public key is not a valid COSE_Key", err)
	}

	cdh := sha256.Sum256(clientDataJSON)
	if err := obj.Verify(p.RPID, cdh[:], p.uvRequired(), true, nil, credParams, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		return Credential{}, failWith(ErrAttestationInvalid, fmt.Sprintf("the %s attestation statement does not verify", obj.Format), err)
	}

	cred := Credential{
		ID:                slices.Clone(obj.AuthData.AttData.CredentialID),
		PublicKey:         coseKey,
		SignCount:         obj.AuthData.Counter,
		AttestationFormat: obj.Format,
		AttestationType:   attestationType(obj.Type),
		BackupEligible:    obj.AuthData.Flags.HasBackupEligible(),
		BackupState:       obj.AuthData.Flags.HasBackupState(),
		UserVerified:      obj.AuthData.Flags.HasUserVerified(),
	}
	copy(cred.AAGUID[:], obj.AuthData.AttData.AAGUID)

	model, known := p.Metadata.Lookup(cred.AAGUID)
	name := "AAGUID " + FormatAAGUID(cred.AAGUID)
	if known && model.Name != "" {
		name = fmt.Sprintf("%q (AAGUID %s)", model.Name, FormatAAGUID(cred.AAGUID))
	}
	if slices.Contains(p.AAGUIDDeny, cred.AAGUID) {
		return Credential{}, fail(ErrAAGUIDNotAllowed, fmt.Sprintf("authenticator %s is on the deny list", name))
	}
	if len(p.AAGUIDAllow) > 0 && !slices.Contains(p.AAGUIDAllow, cred.AAGUID) {
		return Credential{}, fail(ErrAAGUIDNotAllowed, fmt.Sprintf("authenticator %s is not in the allow list (%s)", name, allowList(p.AAGUIDAllow)))
	}
	if known {
		if st := model.RefusedStatus(time.Now()); st != "" {
			return Credential{}, fail(ErrAuthenticatorStatus, fmt.Sprintf("authenticator %s has FIDO metadata status %s; such keys are not accepted", name, st))
		}
	}
	if p.RefuseSynced {
		switch {
		case cred.BackupEligible:
			return Credential{}, fail(ErrSyncedNotAllowed, fmt.Sprintf("authenticator %s created a passkey that can be synced to other devices (backup eligible); the policy accepts only device-bound keys", name))
		case cred.AttestationType == AttestationNone:
			return Credential{}, fail(ErrSyncedNotAllowed, fmt.Sprintf("authenticator %s sent no attestation (format %q), as synced passkeys do; the policy accepts only keys that attest their model", name, obj.Format))
		}
	}

	chain, err := x5c(obj.AttStatement)
	if err != nil {
		return Credential{}, err
	}
	if len(chain) > 0 && len(p.TrustedRoots) > 0 {
		if err := verifyChain(chain, p.TrustedRoots); err == nil {
			cred.AttestationTrusted = true
		} else if p.AttestationRequired {
			return Credential{}, failWith(ErrAttestationNotTrusted, fmt.Sprintf("the attestation certificate %q does not chain to any of the %d trusted roots", chain[0].Subject.String(), len(p.TrustedRoots)), err)
		}
	}
	if p.AttestationRequired {
		switch cred.AttestationType {
		case AttestationNone:
			return Credential{}, fail(ErrAttestationNotAllowed, fmt.Sprintf("attestation format %q carries no attestation; the policy requires a packed or fido-u2f certificate attestation", obj.Format))
		case AttestationSelf:
			return Credential{}, fail(ErrAttestationNotAllowed, "the key uses self attestation (signed with the credential's own key); the policy requires a packed or fido-u2f certificate attestation")
		}
		if len(chain) == 0 {
			return Credential{}, fail(ErrAttestationNotAllowed, fmt.Sprintf("%s attestation of type %q has no certificate; the policy requires a certificate attestation", obj.Format, cred.AttestationType))
		}
	}
	return cred, nil
}

// attestationType maps go-webauthn's names (metadata.AuthenticatorAttestationType)
// to the ones the gateway stores.
func attestationType(t string) string {
	switch metadata.AuthenticatorAttestationType(t) {
	case metadata.BasicFull:
		return AttestationBasic
	case metadata.BasicSurrogate:
		return AttestationSelf
	case metadata.None:
		return AttestationNone
	case metadata.AttCA:
		return AttestationCA
	}
	return t
}

// rawCredentialPublicKey returns the COSE_Key bytes as the authenticator
// encoded them (go-webauthn re-encodes its copy). The caller has parsed
// authData with go-webauthn, so the attested credential data is present.
func rawCredentialPublicKey(authData []byte) ([]byte, error) {
	const idLenAt = 32 + 1 + 4 + 16
	if len(authData) < idLenAt+2 {
		return nil, fail(ErrMalformed, "authenticator data is too short for attested credential data")
	}
	n := int(authData[idLenAt])<<8 | int(authData[idLenAt+1])
	start := idLenAt + 2 + n
	if len(authData) < start {
		return nil, fail(ErrMalformed, "authenticator data is too short for its credential ID")
	}
	var key cbor.RawMessage
	if _, err := cbor.UnmarshalFirst(authData[start:], &key); err != nil {
		return nil, failWith(ErrMalformed, "the credential public key in authenticator data is not CBOR", err)
	}
	return slices.Clone([]byte(key)), nil
}

// x5c returns the parsed attestation certificate chain of a statement, if
// it has one.
func x5c(stmt map[string]any) ([]*x509.Certificate, error) {
	v, ok := stmt["x5c"]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fail(ErrMalformed, "attStmt x5c is not a non-empty array of certificates")
	}
	var chain []*x509.Certificate
	for i, e := range list {
		der, ok := e.([]byte)
		if !ok {
			return nil, fail(ErrMalformed, fmt.Sprintf("attStmt x5c[%d] is not a byte string", i))
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, failWith(ErrMalformed, fmt.Sprintf("attStmt x5c[%d] is not a DER certificate", i), err)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

func verifyChain(chain []*x509.Certificate, roots []*x509.Certificate) error {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err
}

// FormatAAGUID formats an AAGUID the way metadata and IdPs show it
// (8-4-4-4-12 lowercase hex).
func FormatAAGUID(a [16]byte) string {
	h := hex.EncodeToString(a[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func allowList(l [][16]byte) string {
	const show = 4
	s := ""
	for i, a := range l {
		if i == show {
			return s + fmt.Sprintf(", … %d more", len(l)-show)
		}
		if i > 0 {
			s += ", "
		}
		s += FormatAAGUID(a)
	}
	return s
}
