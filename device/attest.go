package device

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	libfido2 "github.com/keys-pub/go-libfido2"
)

// COSE algorithm identifiers for the packed attStmt "alg".
const (
	coseES256 = -7
	coseES384 = -35
	coseES512 = -36
	coseEdDSA = -8
	coseRS256 = -257
)

var ctap2Enc = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(fmt.Sprintf("device: CTAP2 CBOR encoder: %v", err))
	}
	return em
}()

// unwrapAuthData returns the raw authenticator data libfido2 hands out as
// a CBOR byte string.
func unwrapAuthData(wrapped []byte) ([]byte, error) {
	var raw []byte
	if err := cbor.Unmarshal(wrapped, &raw); err != nil {
		return nil, fmt.Errorf("authenticator data from libfido2 is not a CBOR byte string: %w", err)
	}
	// rpIdHash (32) + flags (1) + signCount (4).
	if len(raw) < 37 {
		return nil, fmt.Errorf("authenticator data is %d bytes, shorter than the 37-byte minimum", len(raw))
	}
	return raw, nil
}

// registrationOf converts go-libfido2's attestation, rebuilding the attStmt
// (go-libfido2 gives only its parts) and the attestationObject.
func registrationOf(att *libfido2.Attestation) (Registration, error) {
	authData, err := unwrapAuthData(att.AuthData)
	if err != nil {
		return Registration{}, err
	}
	reg := Registration{
		CredentialID: att.CredentialID,
		AuthData:     authData,
		Format:       att.Format,
		Signature:    att.Sig,
	}
	if len(att.Cert) > 0 {
		reg.X5C = [][]byte{att.Cert}
	}
	stmt := map[string]any{}
	switch att.Format {
	case "packed":
		alg := int64(att.CredentialType) // self attestation signs with the credential key
		if len(att.Cert) > 0 {
			if alg, err = certAlg(att.Cert); err != nil {
				return Registration{}, err
			}
			stmt["x5c"] = reg.X5C
		}
		stmt["alg"] = alg
		stmt["sig"] = att.Sig
	case "fido-u2f":
		if len(att.Cert) == 0 {
			return Registration{}, errors.New("fido-u2f attestation without a certificate")
		}
		stmt["sig"] = att.Sig
		stmt["x5c"] = reg.X5C
	case "none":
	default:
		return Registration{}, fmt.Errorf("unsupported attestation format %q", att.Format)
	}
	obj, err := ctap2Enc.Marshal(map[string]any{
		"fmt":      att.Format,
		"attStmt":  stmt,
		"authData": authData,
	})
	if err != nil {
		return Registration{}, fmt.Errorf("encode attestation object: %w", err)
	}
	reg.AttestationObject = obj
	return reg, nil
}

// certAlg derives the packed "alg" from the attestation certificate's key,
// since go-libfido2 does not expose the attStmt.
func certAlg(der []byte) (int64, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return 0, fmt.Errorf("attestation certificate: %w", err)
	}
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return coseES256, nil
		case elliptic.P384():
			return coseES384, nil
		case elliptic.P521():
			return coseES512, nil
		}
		return 0, fmt.Errorf("attestation certificate curve %s unsupported", pub.Curve.Params().Name)
	case ed25519.PublicKey:
		return coseEdDSA, nil
	case *rsa.PublicKey:
		return coseRS256, nil
	}
	return 0, fmt.Errorf("attestation certificate key type %T unsupported", cert.PublicKey)
}
