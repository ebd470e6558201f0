package fido

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// RegistrationJSON exports a stored registration in the standard WebAuthn
// RegistrationResponseJSON shape an outside verifier can check, with the
// stored credential data beside it:
// {"id","rawId","type":"public-key","response":{"clientDataJSON","attestationObject"},
// "clientExtensionResults":{},"publicKey": b64url COSE, "aaguid": uuid string, "sign_count"}.
func RegistrationJSON(cred Credential, clientDataJSON, attestationObject []byte) json.RawMessage {
	v := struct {
		ID       string `json:"id"`
		RawID    string `json:"rawId"`
		Type     string `json:"type"`
		Response struct {
			ClientDataJSON    string `json:"clientDataJSON"`
			AttestationObject string `json:"attestationObject"`
		} `json:"response"`
		ClientExtensionResults struct{} `json:"clientExtensionResults"`
		PublicKey              string   `json:"publicKey"`
		AAGUID                 string   `json:"aaguid"`
		SignCount              uint32   `json:"sign_count"`
	}{
		ID:        b64(cred.ID),
		RawID:     b64(cred.ID),
		Type:      "public-key",
		PublicKey: b64(cred.PublicKey),
		AAGUID:    FormatAAGUID(cred.AAGUID),
		SignCount: cred.SignCount,
	}
	v.Response.ClientDataJSON = b64(clientDataJSON)
	v.Response.AttestationObject = b64(attestationObject)
	var buf bytes.Buffer
	jsonEncoder(&buf).Encode(v) // cannot fail: strings and an integer
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// ctap2 is the CTAP2 canonical CBOR encoding authenticators use.
var ctap2 = func() cbor.EncMode {
	m, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// AttestationObjectFromCTAP builds the WebAuthn attestationObject
// {"fmt","attStmt","authData"} (CTAP2 canonical CBOR) from what go-libfido2
// returns for MakeCredential: Attestation.Format, AuthData (raw or still
// CBOR-wrapped), Sig and Cert (the first x5c certificate; empty for self
// attestation and "none"). go-libfido2 does not expose the packed "alg": it
// is taken from the certificate's key, or for self attestation from the
// credential key.
func AttestationObjectFromCTAP(format string, authData, sig, cert []byte) ([]byte, error) {
	if raw, err := UnwrapAuthData(authData); err == nil {
		authData = raw
	}
	stmt := map[string]any{}
	switch format {
	case FormatNone:
	case FormatFIDOU2F:
		if len(cert) == 0 || len(sig) == 0 {
			return nil, fail(ErrMalformed, "fido-u2f attestation needs a signature and a certificate")
		}
		stmt["sig"], stmt["x5c"] = sig, [][]byte{cert}
	case FormatPacked:
		if len(sig) == 0 {
			return nil, fail(ErrMalformed, "packed attestation needs a signature")
		}
		stmt["sig"] = sig
		var alg int64
		if len(cert) > 0 {
			c, err := x509.ParseCertificate(cert)
			if err != nil {
				return nil, failWith(ErrMalformed, "the attestation certificate is not DER", err)
			}
			if alg, err = certAlg(c); err != nil {
				return nil, err
			}
			stmt["x5c"] = [][]byte{cert}
		} else {
			key, err := rawCredentialPublicKey(authData)
			if err != nil {
				return nil, err
			}
			var pk webauthncose.PublicKeyData
			if err := cbor.Unmarshal(key, &pk); err != nil {
				return nil, failWith(ErrMalformed, "the credential public key is not a COSE_Key", err)
			}
			alg = pk.Algorithm
		}
		stmt["alg"] = alg
	default:
		return nil, fail(ErrAttestationNotAllowed, fmt.Sprintf("attestation format %q is not supported; expected %q, %q or %q", format, FormatPacked, FormatFIDOU2F, FormatNone))
	}
	return ctap2.Marshal(map[string]any{"fmt": format, "attStmt": stmt, "authData": authData})
}

// certAlg is the COSE algorithm an attestation certificate's key signs with.
func certAlg(c *x509.Certificate) (int64, error) {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return int64(webauthncose.AlgES256), nil
		case elliptic.P384():
			return int64(webauthncose.AlgES384), nil
		case elliptic.P521():
			return int64(webauthncose.AlgES512), nil
		}
	case ed25519.PublicKey:
		return int64(webauthncose.AlgEdDSA), nil
	case *rsa.PublicKey:
		return int64(webauthncose.AlgRS256), nil
	}
	return 0, fail(ErrUnsupportedAlgorithm, fmt.Sprintf("attestation certificate key %T has no COSE signature algorithm here; expected ECDSA P-256/384/521, Ed25519 or RSA", c.PublicKey))
}
