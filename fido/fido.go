package fido

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/go-webauthn/webauthn/protocol"
)

// Client data types (WebAuthn §5.8.1).
const (
	TypeCreate = "webauthn.create"
	TypeGet    = "webauthn.get"
)

// User verification requirements accepted in Policy.UserVerification.
const (
	UVRequired    = "required"
	UVPreferred   = "preferred"
	UVDiscouraged = "discouraged"
)

// Policy is the relying party and attestation policy (from the [fido]
// config).
type Policy struct {
	RPID, RPName string
	// Origin is compared byte for byte with the clientData origin, e.g.
	// "https://login.example.ac.jp".
	Origin string
	// AAGUIDAllow lists the authenticator models accepted at registration;
	// empty: any AAGUID. fido-u2f keys have the zero AAGUID.
	AAGUIDAllow [][16]byte
	// AAGUIDDeny lists models refused at registration, whatever the allow
	// list says.
	AAGUIDDeny [][16]byte
	// RefuseSynced refuses credentials that can be synced between devices
	// (passkeys in a password manager): those with the backup eligible (BE)
	// flag, and those with no attestation (format "none"), which is what
	// synced passkey providers send. Zero: synced passkeys are accepted.
	RefuseSynced bool
	// Metadata, if set, names authenticator models and refuses models whose
	// metadata status is undesired (revoked, compromised, retired).
	Metadata *Metadata
	// AttestationRequired refuses "none" and self attestation. Packed and
	// fido-u2f x5c certificates must then chain to TrustedRoots; if
	// TrustedRoots is empty any well-formed certificate attestation counts.
	AttestationRequired bool
	TrustedRoots        []*x509.Certificate
	// UserVerification is "required", "preferred" or "discouraged"; empty
	// means "preferred". Only "required" makes the UV flag mandatory.
	UserVerification string
}

func (p Policy) check() error {
	if p.RPID == "" {
		return fail(ErrPolicy, "the policy has no RP ID")
	}
	if p.Origin == "" {
		return fail(ErrPolicy, "the policy has no origin")
	}
	if u, err := url.Parse(p.Origin); err != nil || u.Scheme == "" || u.Host == "" {
		return fail(ErrPolicy, fmt.Sprintf("the configured origin %q is not a scheme://host[:port] origin", p.Origin))
	}
	switch p.UserVerification {
	case "", UVRequired, UVPreferred, UVDiscouraged:
	default:
		return fail(ErrPolicy, fmt.Sprintf("user verification %q is not one of %q, %q, %q", p.UserVerification, UVRequired, UVPreferred, UVDiscouraged))
	}
	for i, c := range p.TrustedRoots {
		if c == nil {
			return fail(ErrPolicy, fmt.Sprintf("trusted root %d is nil", i))
		}
	}
	return nil
}

func (p Policy) uvRequired() bool { return p.UserVerification == UVRequired }

func (p Policy) uvOption() string {
	if p.UserVerification == "" {
		return UVPreferred
	}
	return p.UserVerification
}

// NewChallenge returns 32 random bytes.
func NewChallenge() []byte {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return b
}

// ClientData builds the clientDataJSON a browser would:
// {"type":typ,"challenge":base64url(challenge),"origin":origin,"crossOrigin":false},
// typ TypeCreate or TypeGet. It returns the JSON and its SHA-256, the
// clientDataHash to hand to the authenticator.
func ClientData(typ string, challenge []byte, origin string) (json []byte, hash [32]byte) {
	// Field order and the absence of HTML escaping follow the browsers'
	// serialization (WebAuthn §5.8.1.1).
	v := struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, b64(challenge), origin, false}
	var buf bytes.Buffer
	enc := jsonEncoder(&buf)
	enc.Encode(v) // cannot fail: plain strings and a bool
	json = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return json, sha256.Sum256(json)
}

func jsonEncoder(buf *bytes.Buffer) *json.Encoder {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Credential is what the gateway stores for a registered key.
type Credential struct {
	ID                []byte
	PublicKey         []byte // COSE_Key (CBOR) exactly as in the attested credential data
	AAGUID            [16]byte
	SignCount         uint32
	AttestationFormat string // "packed", "fido-u2f", "none"
	AttestationType   string // "basic", "self", "none", "attca"
	// AttestationTrusted: the attestation certificate chains to one of
	// Policy.TrustedRoots.
	AttestationTrusted          bool
	BackupEligible, BackupState bool
	UserVerified                bool
}

// clientData is the part of CollectedClientData the checks read.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
	TopOrigin   string `json:"topOrigin"`
}

// checkClientData checks type, challenge and origin (WebAuthn §7.1 steps
// 7–10, §7.2 steps 11–14).
func checkClientData(p Policy, typ string, challenge, clientDataJSON []byte) error {
	if len(challenge) == 0 {
		return fail(ErrChallengeMismatch, "no challenge was issued for this ceremony (expected challenge is empty)")
	}
	if len(clientDataJSON) == 0 {
		return fail(ErrMalformed, "clientDataJSON is empty")
	}
	var cd clientData
	if err := json.Unmarshal(clientDataJSON, &cd); err != nil {
		return failWith(ErrMalformed, "clientDataJSON is not a JSON object with string type, challenge and origin", err)
	}
	if cd.Type != typ {
		return fail(ErrWrongType, fmt.Sprintf("client data type %q, expected %q", cd.Type, typ))
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(cd.Challenge)
	if err != nil {
		return failWith(ErrMalformed, "the challenge in clientDataJSON is not unpadded base64url", err)
	}
	if subtle.ConstantTimeCompare(got, challenge) != 1 {
		return fail(ErrChallengeMismatch, fmt.Sprintf("the challenge in clientDataJSON (%d bytes) is not the one issued for this ceremony (%d bytes); it may be stale or from another session", len(got), len(challenge)))
	}
	if cd.Origin != p.Origin {
		return fail(ErrOriginMismatch, fmt.Sprintf("origin %q does not match the configured origin %q", cd.Origin, p.Origin))
	}
	if cd.CrossOrigin {
		return fail(ErrOriginMismatch, fmt.Sprintf("clientData has crossOrigin true (top origin %q); only same-origin ceremonies on %q are accepted", cd.TopOrigin, p.Origin))
	}
	return nil
}

// checkAuthData parses authenticator data and checks rpIdHash, UP and UV
// (WebAuthn §7.1 steps 13–15, §7.2 steps 15–17).
func checkAuthData(p Policy, raw []byte) (*protocol.AuthenticatorData, error) {
	var ad protocol.AuthenticatorData
	if err := ad.Unmarshal(raw); err != nil {
		return nil, failWith(ErrMalformed, fmt.Sprintf("authenticator data (%d bytes) cannot be parsed", len(raw)), err)
	}
	want := sha256.Sum256([]byte(p.RPID))
	if !bytes.Equal(ad.RPIDHash, want[:]) {
		return nil, fail(ErrRPIDMismatch, fmt.Sprintf("authenticator data is for another RP ID: rpIdHash %x, expected SHA-256(%q) = %x", ad.RPIDHash, p.RPID, want))
	}
	if !ad.Flags.HasUserPresent() {
		return nil, fail(ErrUserNotPresent, "the user present (UP) flag is clear: the key was not touched")
	}
	if p.uvRequired() && !ad.Flags.HasUserVerified() {
		return nil, fail(ErrUserNotVerified, "user verification is required but the UV flag is clear: no PIN or biometric was verified by the key")
	}
	if ad.Flags.HasBackupState() && !ad.Flags.HasBackupEligible() {
		return nil, fail(ErrMalformed, "authenticator data has the backup state (BS) flag without backup eligibility (BE)")
	}
	return &ad, nil
}
