package device

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// These helpers check the package's output from the WebAuthn wire formats
// with crypto/x509, crypto/ecdsa and a CBOR decoder only, independently of
// the code under test.

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
	flagED = 0x80
)

type authData struct {
	rpIDHash []byte
	flags    byte
	count    uint32
	aaguid   []byte
	credID   []byte
	pub      *ecdsa.PublicKey
}

func parseAuthData(t *testing.T, raw []byte) authData {
	t.Helper()
	if len(raw) < 37 {
		t.Fatalf("authData is %d bytes, want at least 37", len(raw))
	}
	a := authData{rpIDHash: raw[:32], flags: raw[32], count: binary.BigEndian.Uint32(raw[33:37])}
	rest := raw[37:]
	if a.flags&flagAT != 0 {
		if len(rest) < 18 {
			t.Fatalf("attested credential data is %d bytes", len(rest))
		}
		a.aaguid = rest[:16]
		n := int(binary.BigEndian.Uint16(rest[16:18]))
		if len(rest) < 18+n {
			t.Fatalf("credential ID length %d exceeds authData", n)
		}
		a.credID = rest[18 : 18+n]
		var cose map[int]cbor.RawMessage
		r, err := cbor.UnmarshalFirst(rest[18+n:], &cose)
		if err != nil {
			t.Fatalf("COSE key: %v", err)
		}
		rest = r
		a.pub = parseCOSEKey(t, cose)
	}
	if a.flags&flagED != 0 {
		var ext map[string]cbor.RawMessage
		r, err := cbor.UnmarshalFirst(rest, &ext)
		if err != nil {
			t.Fatalf("extensions: %v", err)
		}
		rest = r
	}
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes in authData", len(rest))
	}
	return a
}

// parseCOSEKey reads an EC2 P-256 ES256 COSE key (RFC 9053 §7.1).
func parseCOSEKey(t *testing.T, k map[int]cbor.RawMessage) *ecdsa.PublicKey {
	t.Helper()
	if kty, alg, crv := decodeAs[int](t, k[1]), decodeAs[int](t, k[3]), decodeAs[int](t, k[-1]); kty != 2 || alg != -7 || crv != 1 {
		t.Fatalf("COSE key kty %d alg %d crv %d, want EC2 (2), ES256 (-7), P-256 (1)", kty, alg, crv)
	}
	x, y := decodeAs[[]byte](t, k[-2]), decodeAs[[]byte](t, k[-3])
	if len(x) != 32 || len(y) != 32 {
		t.Fatalf("COSE key coordinates %d/%d bytes", len(x), len(y))
	}
	// ParseUncompressedPublicKey refuses a point not on the curve.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("COSE key point not on P-256: %v", err)
	}
	return pub
}

func decodeAs[T any](t *testing.T, raw cbor.RawMessage) T {
	t.Helper()
	var v T
	if err := cbor.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %x as %T: %v", []byte(raw), v, err)
	}
	return v
}

// verifySig checks an ES256 signature over authData || clientDataHash.
func verifySig(t *testing.T, pub *ecdsa.PublicKey, authData, cdh, sig []byte) {
	t.Helper()
	h := sha256.Sum256(slices.Concat(authData, cdh))
	if !ecdsa.VerifyASN1(pub, h[:], sig) {
		t.Fatal("signature over authData||clientDataHash does not verify")
	}
}

// verifyChain checks that der is a certificate issued by ca.
func verifyChain(t *testing.T, der []byte, ca *x509.Certificate) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("attestation certificate does not chain to the key's CA: %v", err)
	}
	return cert
}
