package softkey

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// AttestationFormat selects the attestation statement MakeCredential returns.
type AttestationFormat int

const (
	// AttestationPacked is "packed" basic attestation: signed by an
	// attestation key whose certificate chains to the key's test CA.
	AttestationPacked AttestationFormat = iota
	// AttestationSelf is "packed" self attestation, signed by the new
	// credential's own key, with no certificate.
	AttestationSelf
	// AttestationNone is the "none" format with an empty statement.
	AttestationNone
)

func (f AttestationFormat) String() string {
	switch f {
	case AttestationPacked:
		return "packed"
	case AttestationSelf:
		return "self"
	case AttestationNone:
		return "none"
	}
	return fmt.Sprintf("AttestationFormat(%d)", int(f))
}

// oidFIDOGenCeAAGUID is the FIDO AAGUID certificate extension
// (id-fido-gen-ce-aaguid); WebAuthn §8.2.1 requires it to equal the
// authData AAGUID and to be non-critical.
var oidFIDOGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// attestation is the key's attestation material: a CA and a leaf
// certificate for the AAGUID that meets the packed-attestation certificate
// rules (WebAuthn §8.2.1).
type attestation struct {
	caKey   *ecdsa.PrivateKey
	caCert  *x509.Certificate
	key     *ecdsa.PrivateKey
	certDER []byte
}

func serial() *big.Int {
	n := new(big.Int).SetBytes(randBytes(16))
	return n.Add(n, big.NewInt(1))
}

// newAttestation makes a fresh test CA and a leaf for aaguid.
func newAttestation(aaguid [16]byte, now time.Time) (*attestation, error) {
	caKey, err := newP256Key()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Country:      []string{"JP"},
			Organization: []string{"mfagate"},
			CommonName:   "mfagate softkey test attestation CA",
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create attestation CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse attestation CA: %w", err)
	}
	a := &attestation{caKey: caKey, caCert: caCert}
	if err := a.issueLeaf(aaguid, now); err != nil {
		return nil, err
	}
	return a, nil
}

// issueLeaf (re)issues the attestation certificate for aaguid under the CA.
func (a *attestation) issueLeaf(aaguid [16]byte, now time.Time) error {
	key, err := newP256Key()
	if err != nil {
		return err
	}
	extVal, err := asn1.Marshal(aaguid[:])
	if err != nil {
		return fmt.Errorf("encode aaguid extension: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Country:            []string{"JP"},
			Organization:       []string{"mfagate"},
			OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName:         "mfagate softkey attestation",
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFIDOGenCeAAGUID, Critical: false, Value: extVal},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.caCert, &key.PublicKey, a.caKey)
	if err != nil {
		return fmt.Errorf("create attestation certificate: %w", err)
	}
	a.key = key
	a.certDER = der
	return nil
}

// statement builds fmt and attStmt for authData and clientDataHash.
func (a *attestation) statement(format AttestationFormat, credKey *ecdsa.PrivateKey, authData, cdh []byte) (string, map[string]any, error) {
	switch format {
	case AttestationNone:
		return "none", map[string]any{}, nil
	case AttestationSelf:
		sig, err := signES256(credKey, authData, cdh)
		if err != nil {
			return "", nil, err
		}
		return "packed", map[string]any{"alg": coseAlgES256, "sig": sig}, nil
	default:
		sig, err := signES256(a.key, authData, cdh)
		if err != nil {
			return "", nil, err
		}
		return "packed", map[string]any{
			"alg": coseAlgES256,
			"sig": sig,
			"x5c": [][]byte{a.certDER},
		}, nil
	}
}

// signES256 signs authData ‖ clientDataHash, DER-encoded as WebAuthn wants.
func signES256(k *ecdsa.PrivateKey, authData, cdh []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(authData)
	h.Write(cdh)
	sig, err := ecdsa.SignASN1(rand.Reader, k, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}
