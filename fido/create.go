package fido

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
)

// Passkey registration in the user's own browser (WebAuthn Level 3 §5.1,
// §7.1): the options navigator.credentials.create() takes, and the
// browser's answer, whose bytes go to VerifyRegistration like the kiosk's.

// UserEntity is the account a new credential is made for (WebAuthn
// §5.4.3). ID becomes the credential's user handle.
type UserEntity struct {
	ID          []byte
	Name        string
	DisplayName string
}

// CreationOptions is the PublicKeyCredentialCreationOptionsJSON object
// (WebAuthn L3 §5.1.4, base64url byte fields) for a registration with
// challenge: the relying party of p, user, the algorithms
// VerifyRegistration accepts (ES256, EdDSA, RS256), exclude as
// excludeCredentials (keys the user has, so an authenticator holding one
// declines instead of making a second credential), a discoverable
// credential preferred but not required, user verification as p asks
// (default required), and attestation "direct" when the policy needs a
// certificate attestation (AttestationRequired, or RefuseSynced, which
// refuses "none") else "none".
func CreationOptions(p Policy, challenge []byte, user UserEntity, exclude [][]byte, timeout time.Duration) json.RawMessage {
	type descriptor struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	type param struct {
		Type string `json:"type"`
		Alg  int64  `json:"alg"`
	}
	type options struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
		PubKeyCredParams       []param      `json:"pubKeyCredParams"`
		Timeout                int64        `json:"timeout,omitempty"`
		ExcludeCredentials     []descriptor `json:"excludeCredentials"`
		AuthenticatorSelection struct {
			ResidentKey        string `json:"residentKey"`
			RequireResidentKey bool   `json:"requireResidentKey"`
			UserVerification   string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation string `json:"attestation"`
	}
	var o options
	o.Challenge = b64(challenge)
	o.RP.ID, o.RP.Name = p.RPID, p.RPName
	if o.RP.Name == "" {
		o.RP.Name = p.RPID
	}
	o.User.ID, o.User.Name, o.User.DisplayName = b64(user.ID), user.Name, user.DisplayName
	for _, c := range credParams {
		o.PubKeyCredParams = append(o.PubKeyCredParams, param{Type: string(c.Type), Alg: int64(c.Algorithm)})
	}
	if timeout > 0 {
		o.Timeout = timeout.Milliseconds()
	}
	o.ExcludeCredentials = []descriptor{}
	for _, id := range exclude {
		o.ExcludeCredentials = append(o.ExcludeCredentials, descriptor{Type: string(protocol.PublicKeyCredentialType), ID: b64(id)})
	}
	o.AuthenticatorSelection.ResidentKey = "preferred"
	o.AuthenticatorSelection.UserVerification = UVRequired
	if p.UserVerification != "" {
		o.AuthenticatorSelection.UserVerification = p.UserVerification
	}
	o.Attestation = "none"
	if p.AttestationRequired || p.RefuseSynced {
		o.Attestation = "direct"
	}
	var buf bytes.Buffer
	jsonEncoder(&buf).Encode(o) // cannot fail: strings, slices, integers
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// RegistrationResponse is a browser's RegistrationResponseJSON (WebAuthn
// L3 §5.1, the JSON of a PublicKeyCredential from create()), decoded.
type RegistrationResponse struct {
	RawID             []byte
	ClientDataJSON    []byte
	AttestationObject []byte
	Transports        []string
	Attachment        string // authenticatorAttachment: "platform", "cross-platform" or ""
}

type registrationJSON struct {
	ID       *string `json:"id"`
	RawID    *string `json:"rawId"`
	Type     *string `json:"type"`
	Response *struct {
		ClientDataJSON    *string  `json:"clientDataJSON"`
		AttestationObject *string  `json:"attestationObject"`
		Transports        []string `json:"transports"`
	} `json:"response"`
	Attachment *string `json:"authenticatorAttachment"`
}

// ParseRegistrationResponse decodes a RegistrationResponseJSON: id and
// rawId (the same credential ID, base64url), type "public-key", and
// response.clientDataJSON and response.attestationObject (base64url).
// Other members (authenticatorData, publicKey, clientExtensionResults, …)
// are ignored: the attestation object holds what they repeat. Every error
// matches ErrMalformed.
func ParseRegistrationResponse(b []byte) (RegistrationResponse, error) {
	var j registrationJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return RegistrationResponse{}, failWith(ErrMalformed, "the registration response is not a RegistrationResponseJSON object", err)
	}
	if j.Type == nil || *j.Type != string(protocol.PublicKeyCredentialType) {
		return RegistrationResponse{}, fail(ErrMalformed, `the registration response's type is not "public-key"`)
	}
	if j.Response == nil {
		return RegistrationResponse{}, fail(ErrMalformed, "the registration response has no response member")
	}
	var r RegistrationResponse
	var err error
	if r.RawID, err = regField("rawId", j.RawID); err != nil {
		return RegistrationResponse{}, err
	}
	id, err := regField("id", j.ID)
	if err != nil {
		return RegistrationResponse{}, err
	}
	if !bytes.Equal(id, r.RawID) {
		return RegistrationResponse{}, fail(ErrMalformed, "the registration response's id and rawId name different credentials")
	}
	if r.ClientDataJSON, err = regField("response.clientDataJSON", j.Response.ClientDataJSON); err != nil {
		return RegistrationResponse{}, err
	}
	if r.AttestationObject, err = regField("response.attestationObject", j.Response.AttestationObject); err != nil {
		return RegistrationResponse{}, err
	}
	for _, t := range j.Response.Transports {
		if len(r.Transports) < 8 && len(t) <= 32 {
			r.Transports = append(r.Transports, t)
		}
	}
	if j.Attachment != nil && (*j.Attachment == "platform" || *j.Attachment == "cross-platform") {
		r.Attachment = *j.Attachment
	}
	return r, nil
}

func regField(name string, v *string) ([]byte, error) {
	if v == nil || *v == "" {
		return nil, fail(ErrMalformed, fmt.Sprintf("the registration response has no %s", name))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*v, "="))
	if err != nil {
		return nil, failWith(ErrMalformed, fmt.Sprintf("the registration response's %s is not base64url", name), err)
	}
	return b, nil
}

// VerifyRegistrationResponse parses a browser's RegistrationResponseJSON
// and verifies it with VerifyRegistration against challenge and p; the
// credential ID the authenticator attested must be the response's rawId.
func VerifyRegistrationResponse(p Policy, challenge, responseJSON []byte) (Credential, RegistrationResponse, error) {
	r, err := ParseRegistrationResponse(responseJSON)
	if err != nil {
		return Credential{}, r, err
	}
	c, err := VerifyRegistration(p, challenge, r.ClientDataJSON, r.AttestationObject)
	if err != nil {
		return Credential{}, r, err
	}
	if !slices.Equal(c.ID, r.RawID) {
		return Credential{}, r, fail(ErrMalformed, "the attested credential ID is not the response's rawId")
	}
	return c, r, nil
}

// Kind names the sentinel err matches, for problem codes: "challenge",
// "origin", "rp_id", "user_verification", "attestation", "aaguid",
// "synced", "authenticator_status", "algorithm", "malformed", "policy",
// or "" for an error of no kind of this package.
func Kind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{
		{ErrChallengeMismatch, "challenge"}, {ErrOriginMismatch, "origin"}, {ErrRPIDMismatch, "rp_id"}, {ErrWrongType, "type"},
		{ErrUserNotPresent, "user_presence"}, {ErrUserNotVerified, "user_verification"}, {ErrAAGUIDNotAllowed, "aaguid"},
		{ErrSyncedNotAllowed, "synced"}, {ErrAuthenticatorStatus, "authenticator_status"},
		{ErrAttestationNotTrusted, "attestation"}, {ErrAttestationNotAllowed, "attestation"}, {ErrAttestationInvalid, "attestation"},
		{ErrUnsupportedAlgorithm, "algorithm"}, {ErrMalformed, "malformed"}, {ErrPolicy, "policy"}, {ErrBadSignature, "signature"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return ""
}
