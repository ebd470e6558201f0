package fido

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// AssertionOptions returns the PublicKeyCredentialRequestOptions JSON object
// for a browser sign-in:
// {"publicKey":{"challenge":b64url,"rpId":…,"allowCredentials":[{"type":"public-key","id":b64url}],"userVerification":…,"timeout":ms}}.
// An empty allow list asks for a discoverable credential; a timeout ≤ 0 is
// left out (the browser's default applies).
func AssertionOptions(p Policy, challenge []byte, allow [][]byte, timeout time.Duration) json.RawMessage {
	type descriptor struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	type options struct {
		Challenge        string       `json:"challenge"`
		RPID             string       `json:"rpId"`
		AllowCredentials []descriptor `json:"allowCredentials"`
		UserVerification string       `json:"userVerification"`
		Timeout          int64        `json:"timeout,omitempty"`
	}
	o := options{
		Challenge:        b64(challenge),
		RPID:             p.RPID,
		AllowCredentials: []descriptor{},
		UserVerification: p.uvOption(),
	}
	if timeout > 0 {
		o.Timeout = timeout.Milliseconds()
	}
	for _, id := range allow {
		o.AllowCredentials = append(o.AllowCredentials, descriptor{Type: string(protocol.PublicKeyCredentialType), ID: b64(id)})
	}
	var buf bytes.Buffer
	jsonEncoder(&buf).Encode(struct {
		PublicKey options `json:"publicKey"`
	}{o}) // cannot fail: strings, slices and an integer
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// assertionResponse is AuthenticationResponseJSON (WebAuthn §5.1).
type assertionResponse struct {
	ID       *string `json:"id"`
	RawID    *string `json:"rawId"`
	Type     *string `json:"type"`
	Response *struct {
		ClientDataJSON    *string `json:"clientDataJSON"`
		AuthenticatorData *string `json:"authenticatorData"`
		Signature         *string `json:"signature"`
		UserHandle        *string `json:"userHandle"`
	} `json:"response"`
}

// AssertionIdentity reads which credential answered a browser's
// AuthenticationResponseJSON and for which user: rawId (or, without it,
// id), and response.userHandle, nil when the response carries none (it is
// optional for a credential the relying party named, WebAuthn L3 §5.2.2).
// A discoverable sign-in (empty allowCredentials) needs both to find the
// stored credential before VerifyAssertion checks it (WebAuthn L3 §7.2
// steps 5 and 6). Nothing is verified here.
func AssertionIdentity(responseJSON []byte) (credentialID, userHandle []byte, err error) {
	var r assertionResponse
	if err := json.Unmarshal(responseJSON, &r); err != nil {
		return nil, nil, failWith(ErrMalformed, "the assertion is not an AuthenticationResponseJSON object", err)
	}
	switch {
	case r.RawID != nil:
		if credentialID, err = field("rawId", r.RawID); err != nil {
			return nil, nil, err
		}
		if r.ID != nil {
			id, err := field("id", r.ID)
			if err != nil {
				return nil, nil, err
			}
			if !bytes.Equal(id, credentialID) {
				return nil, nil, fail(ErrMalformed, "the assertion's id and rawId differ")
			}
		}
	case r.ID != nil:
		if credentialID, err = field("id", r.ID); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fail(ErrMalformed, "the assertion has no rawId or id naming its credential")
	}
	if len(credentialID) == 0 {
		return nil, nil, fail(ErrMalformed, "the assertion's rawId names an empty credential ID")
	}
	if r.Response != nil && r.Response.UserHandle != nil && *r.Response.UserHandle != "" {
		if userHandle, err = field("response.userHandle", r.Response.UserHandle); err != nil {
			return nil, nil, err
		}
		if len(userHandle) == 0 {
			userHandle = nil
		}
	}
	return credentialID, userHandle, nil
}

// VerifyAssertion checks a browser's AuthenticationResponseJSON (id, rawId,
// type, response{clientDataJSON, authenticatorData, signature, userHandle},
// base64url) against the stored credential (WebAuthn §7.2): credential ID,
// type webauthn.get, challenge, origin, rpIdHash, UP, UV per policy, the
// signature with the stored COSE key, and the sign counter. It returns the
// new sign count to store.
//
// The counter must be greater than cred.SignCount unless both are 0. If it
// is not, the error matches ErrCounterRegressed and the returned count is
// the one the authenticator reported, for the audit record; the sign-in
// must be refused.
func VerifyAssertion(p Policy, cred Credential, challenge []byte, responseJSON []byte) (newCount uint32, err error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	var r assertionResponse
	if err := json.Unmarshal(responseJSON, &r); err != nil {
		return 0, failWith(ErrMalformed, "the assertion is not an AuthenticationResponseJSON object", err)
	}
	if r.Type == nil || *r.Type != string(protocol.PublicKeyCredentialType) {
		got := "<missing>"
		if r.Type != nil {
			got = fmt.Sprintf("%q", *r.Type)
		}
		return 0, fail(ErrMalformed, fmt.Sprintf("credential type %s, expected %q", got, protocol.PublicKeyCredentialType))
	}
	if r.ID == nil || *r.ID == "" {
		return 0, fail(ErrMalformed, "the assertion has no id")
	}
	id, err := base64.RawURLEncoding.DecodeString(*r.ID)
	if err != nil {
		return 0, failWith(ErrMalformed, "the assertion's id is not unpadded base64url", err)
	}
	rawID, err := field("rawId", r.RawID)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(id, rawID) {
		return 0, fail(ErrMalformed, "the assertion's id and rawId differ")
	}
	if r.Response == nil {
		return 0, fail(ErrMalformed, "the assertion has no response object")
	}
	cdj, err := field("response.clientDataJSON", r.Response.ClientDataJSON)
	if err != nil {
		return 0, err
	}
	authData, err := field("response.authenticatorData", r.Response.AuthenticatorData)
	if err != nil {
		return 0, err
	}
	if r.Response.Signature == nil {
		return 0, fail(ErrMalformed, "the assertion has no response.signature")
	}
	var sig []byte // an empty one is refused as a bad signature below
	if *r.Response.Signature != "" {
		if sig, err = field("response.signature", r.Response.Signature); err != nil {
			return 0, err
		}
	}
	if r.Response.UserHandle != nil && *r.Response.UserHandle != "" {
		if _, err := field("response.userHandle", r.Response.UserHandle); err != nil {
			return 0, err
		}
	}
	if !bytes.Equal(rawID, cred.ID) {
		return 0, fail(ErrUnknownCredential, fmt.Sprintf("the assertion is for credential %s, expected the stored credential %s", shortID(rawID), shortID(cred.ID)))
	}
	n, err := verifyAssertion(p, cred, challenge, cdj, authData, sig)
	if err != nil {
		return n, err
	}

	// Second opinion: go-webauthn's own browser-path verification of the
	// same JSON must agree with the checks above.
	par, err := protocol.ParseCredentialRequestResponseBytes(responseJSON)
	if err != nil {
		return 0, failWith(ErrMalformed, "go-webauthn cannot parse the assertion", err)
	}
	if err := par.Verify(b64(challenge), p.RPID, "", []string{p.Origin}, nil, nil, protocol.TopOriginDefaultVerificationMode,
		false, p.uvRequired(), true, cred.PublicKey, protocol.SignaturePolicy{}); err != nil {
		return 0, failWith(ErrMalformed, "go-webauthn rejects the assertion that passed the checks here", err)
	}
	return n, nil
}

// VerifyRawAssertion is the kiosk path: authData and signature from
// libfido2 with the clientDataJSON the gateway built (see ClientData). The
// authData may still be CBOR-wrapped as go-libfido2 returns it
// (Assertion.AuthDataCBOR). Checks and counter rules are those of
// VerifyAssertion.
func VerifyRawAssertion(p Policy, cred Credential, challenge, clientDataJSON, authData, signature []byte) (uint32, error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	return verifyAssertion(p, cred, challenge, clientDataJSON, unwrapIfWrapped(p, authData), signature)
}

func verifyAssertion(p Policy, cred Credential, challenge, clientDataJSON, authData, sig []byte) (uint32, error) {
	if len(cred.PublicKey) == 0 {
		return 0, fail(ErrMalformed, fmt.Sprintf("stored credential %s has no public key", shortID(cred.ID)))
	}
	key, err := webauthncose.ParsePublicKey(cred.PublicKey)
	if err != nil {
		return 0, failWith(ErrMalformed, fmt.Sprintf("the stored public key of credential %s is not a valid COSE_Key", shortID(cred.ID)), err)
	}
	if err := checkClientData(p, TypeGet, challenge, clientDataJSON); err != nil {
		return 0, err
	}
	ad, err := checkAuthData(p, authData)
	if err != nil {
		return 0, err
	}
	if len(sig) == 0 {
		return 0, fail(ErrBadSignature, "the assertion signature is empty")
	}
	cdh := sha256.Sum256(clientDataJSON)
	ok, err := webauthncose.VerifySignature(key, slices.Concat(authData, cdh[:]), sig)
	if err != nil || !ok {
		e := fail(ErrBadSignature, fmt.Sprintf("the assertion signature does not verify with the stored public key of credential %s", shortID(cred.ID)))
		if err != nil {
			e = failWith(ErrBadSignature, e.Error(), err)
		}
		return 0, e
	}
	if (ad.Counter != 0 || cred.SignCount != 0) && ad.Counter <= cred.SignCount {
		return ad.Counter, fail(ErrCounterRegressed, fmt.Sprintf("sign counter %d is not greater than the stored %d for credential %s: the key may have been cloned", ad.Counter, cred.SignCount, shortID(cred.ID)))
	}
	return ad.Counter, nil
}

// field decodes a required base64url member. Padding is tolerated, as
// go-webauthn does.
func field(name string, v *string) ([]byte, error) {
	if v == nil || *v == "" {
		return nil, fail(ErrMalformed, fmt.Sprintf("the assertion has no %s", name))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*v, "="))
	if err != nil {
		return nil, failWith(ErrMalformed, fmt.Sprintf("the assertion's %s is not base64url", name), err)
	}
	return b, nil
}

// shortID names a credential in messages without spelling out long IDs.
func shortID(id []byte) string {
	s := b64(id)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	if s == "" {
		return "<empty>"
	}
	return s
}

// UnwrapAuthData returns the raw authenticator data go-libfido2 hands out
// wrapped in a CBOR byte string (Attestation.AuthData,
// Assertion.AuthDataCBOR).
func UnwrapAuthData(wrapped []byte) ([]byte, error) {
	var raw []byte
	if err := cbor.Unmarshal(wrapped, &raw); err != nil {
		return nil, failWith(ErrMalformed, "authenticator data is not a CBOR byte string", err)
	}
	return raw, nil
}

// unwrapIfWrapped accepts raw or CBOR-wrapped authenticator data. Raw data
// for this RP starts with the RP ID hash; anything else that is a whole CBOR
// byte string long enough to be authenticator data is unwrapped, so that a
// wrapped authData for another RP is refused for its RP ID hash.
func unwrapIfWrapped(p Policy, authData []byte) []byte {
	h := sha256.Sum256([]byte(p.RPID))
	if bytes.HasPrefix(authData, h[:]) {
		return authData
	}
	if raw, err := UnwrapAuthData(authData); err == nil && len(raw) >= 37 {
		return raw
	}
	return authData
}
