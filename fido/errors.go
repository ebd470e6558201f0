package fido

import (
	"errors"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
)

// Sentinel errors, checked with errors.Is. Every error returned by a
// verifier matches exactly one of them; its message says what was wrong.
var (
	// ErrCounterRegressed: the authenticator's sign counter did not
	// increase. The key may have been cloned; the caller should refuse the
	// sign-in and audit it.
	ErrCounterRegressed = errors.New("sign counter regressed")

	ErrWrongType         = errors.New("wrong client data type")
	ErrChallengeMismatch = errors.New("challenge mismatch")
	ErrOriginMismatch    = errors.New("origin mismatch")
	ErrRPIDMismatch      = errors.New("RP ID mismatch")
	ErrUserNotPresent    = errors.New("user not present")
	ErrUserNotVerified   = errors.New("user not verified")
	ErrBadSignature      = errors.New("bad signature")
	ErrUnknownCredential = errors.New("unknown credential")
	ErrAAGUIDNotAllowed  = errors.New("AAGUID not allowed")
	// ErrSyncedNotAllowed: the credential can be synced (or carries no
	// attestation) and the policy refuses synced passkeys.
	ErrSyncedNotAllowed = errors.New("synced passkey not allowed")
	// ErrAuthenticatorStatus: the FIDO metadata reports the model revoked,
	// compromised or retired.
	ErrAuthenticatorStatus = errors.New("authenticator status refused")

	// ErrAttestationNotTrusted: the attestation certificate does not chain
	// to any of Policy.TrustedRoots.
	ErrAttestationNotTrusted = errors.New("attestation not trusted")
	// ErrAttestationNotAllowed: the attestation format or type is refused
	// by the policy or not supported.
	ErrAttestationNotAllowed = errors.New("attestation not allowed")
	// ErrAttestationInvalid: the attestation statement does not verify (bad
	// signature, certificate not meeting the format's rules, …).
	ErrAttestationInvalid = errors.New("attestation invalid")

	ErrUnsupportedAlgorithm = errors.New("unsupported public key algorithm")
	// ErrMalformed: the input (JSON, base64url, CBOR, authenticator data,
	// stored credential) cannot be parsed.
	ErrMalformed = errors.New("malformed input")
	// ErrPolicy: the Policy itself is unusable (a configuration error).
	ErrPolicy = errors.New("invalid policy")
)

// verifyError is a refusal: a sentinel kind, a message for people, and
// optionally the underlying error.
type verifyError struct {
	kind error
	msg  string
	err  error
}

func (e *verifyError) Error() string {
	if e.err != nil {
		return e.msg + ": " + describe(e.err)
	}
	return e.msg
}

func (e *verifyError) Is(target error) bool { return target == e.kind }

func (e *verifyError) Unwrap() error { return e.err }

func fail(kind error, msg string) error { return &verifyError{kind: kind, msg: msg} }

func failWith(kind error, msg string, err error) error {
	return &verifyError{kind: kind, msg: msg, err: err}
}

// describe spells out a go-webauthn error, whose Error() is only its terse
// Details. Callers only hand it errors from steps that come after this
// package's own challenge check, so DevInfo never carries a challenge.
func describe(err error) string {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return err.Error()
	}
	var parts []string
	add := func(s string) {
		// go-webauthn often repeats the cause in Details and DevInfo.
		if s != "" && !strings.Contains(strings.Join(parts, ": "), s) {
			parts = append(parts, s)
		}
	}
	add(pe.Type)
	add(pe.Details)
	add(pe.DevInfo)
	if pe.Err != nil {
		add(pe.Err.Error())
	}
	if len(parts) == 0 {
		return "rejected by go-webauthn"
	}
	return strings.Join(parts, ": ")
}
