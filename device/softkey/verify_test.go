package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The helpers in this file check the key's output the way a relying party
// would, from the WebAuthn/CTAP wire formats, using only crypto/x509,
// crypto/ecdsa and a CBOR decoder, never the key's own encoders.

type parsedAuthData struct {
	rpIDHash []byte
	flags    byte
	count    uint32
	aaguid   []byte
	credID   []byte
	pub      *ecdsa.PublicKey
	coseKey  []byte // as encoded in authData
	ext      map[string]cbor.RawMessage
	extRaw   []byte
}

func parseAuthData(t *testing.T, raw []byte) parsedAuthData {
	t.Helper()
	if len(raw) < 37 {
		t.Fatalf("authData too short: %d bytes", len(raw))
	}
	p := parsedAuthData{rpIDHash: raw[:32], flags: raw[32], count: binary.BigEndian.Uint32(raw[33:37])}
	rest := raw[37:]
	if p.flags&0x40 != 0 {
		if len(rest) < 18 {
			t.Fatalf("attested credential data too short")
		}
		p.aaguid = rest[:16]
		n := int(binary.BigEndian.Uint16(rest[16:18]))
		p.credID = rest[18 : 18+n]
		rest = rest[18+n:]
		var k map[int]cbor.RawMessage
		r, err := cbor.UnmarshalFirst(rest, &k)
		if err != nil {
			t.Fatalf("credential public key: %v", err)
		}
		p.coseKey = rest[:len(rest)-len(r)]
		rest = r
		if decodeInto[int](t, k[1]) != 2 || decodeInto[int](t, k[3]) != -7 || decodeInto[int](t, k[-1]) != 1 {
			t.Fatalf("COSE key is not EC2/ES256/P-256: %v", k)
		}
		x, y := decodeInto[[]byte](t, k[-2]), decodeInto[[]byte](t, k[-3])
		// ParseUncompressedPublicKey refuses a point not on the curve.
		if p.pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...)); err != nil {
			t.Fatalf("credential public key not on P-256: %v", err)
		}
	}
	if p.flags&0x80 != 0 {
		r, err := cbor.UnmarshalFirst(rest, &p.ext)
		if err != nil {
			t.Fatalf("extensions: %v", err)
		}
		p.extRaw = rest[:len(rest)-len(r)]
		rest = r
	}
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes in authData", len(rest))
	}
	return p
}

func verifySig(t *testing.T, pub *ecdsa.PublicKey, authData, cdh, sig []byte) {
	t.Helper()
	h := sha256.Sum256(append(append([]byte(nil), authData...), cdh...))
	if !ecdsa.VerifyASN1(pub, h[:], sig) {
		t.Fatal("signature does not verify")
	}
}

var oidAAGUIDExt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// checkPackedCert applies the packed attestation certificate requirements
// (WebAuthn §8.2.1) and verifies the chain to ca.
func checkPackedCert(t *testing.T, der []byte, ca *x509.Certificate, aaguid []byte) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse x5c[0]: %v", err)
	}
	if cert.Version != 3 {
		t.Errorf("certificate version %d, want 3", cert.Version)
	}
	s := cert.Subject
	if len(s.Country) == 0 || len(s.Organization) == 0 || s.CommonName == "" {
		t.Errorf("subject %q lacks C, O or CN", s)
	}
	if len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != "Authenticator Attestation" {
		t.Errorf("subject OU %q", s.OrganizationalUnit)
	}
	if !cert.BasicConstraintsValid || cert.IsCA {
		t.Errorf("basic constraints valid=%v CA=%v, want a non-CA certificate", cert.BasicConstraintsValid, cert.IsCA)
	}
	found := false
	for _, e := range cert.Extensions {
		if !e.Id.Equal(oidAAGUIDExt) {
			continue
		}
		found = true
		if e.Critical {
			t.Error("AAGUID extension is critical")
		}
		var v []byte
		if _, err := asn1.Unmarshal(e.Value, &v); err != nil {
			t.Fatalf("AAGUID extension: %v", err)
		}
		if !bytes.Equal(v, aaguid) {
			t.Errorf("certificate AAGUID %x, authData AAGUID %x", v, aaguid)
		}
	}
	if !found {
		t.Error("no AAGUID extension")
	}
	checkChain(t, der, ca)
	return cert
}

// checkChain verifies that the certificate der chains to ca.
func checkChain(t *testing.T, der []byte, ca *x509.Certificate) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse attestation certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("attestation certificate does not chain to the CA: %v", err)
	}
	return cert
}

// checkAttestation verifies a MakeCredential response (fmt, authData,
// attStmt) for rpID and cdh; ca is nil unless basic attestation is expected.
func checkAttestation(t *testing.T, format string, authData []byte, stmt map[string]cbor.RawMessage, rpID string, cdh []byte, ca *x509.Certificate) parsedAuthData {
	t.Helper()
	ad := parseAuthData(t, authData)
	if want := sha256.Sum256([]byte(rpID)); !bytes.Equal(ad.rpIDHash, want[:]) {
		t.Fatal("rpIdHash mismatch")
	}
	if ad.flags&0x41 != 0x41 {
		t.Fatalf("flags %#x: want UP and AT", ad.flags)
	}
	switch format {
	case "none":
		if len(stmt) != 0 {
			t.Fatalf("none attStmt not empty: %v", stmt)
		}
	case "packed":
		if decodeInto[int](t, stmt["alg"]) != -7 {
			t.Fatalf("attStmt alg %x", stmt["alg"])
		}
		sig := decodeInto[[]byte](t, stmt["sig"])
		if raw, ok := stmt["x5c"]; ok {
			x5c := decodeInto[[][]byte](t, raw)
			if ca == nil {
				t.Fatal("unexpected x5c")
			}
			cert := checkPackedCert(t, x5c[0], ca, ad.aaguid)
			verifySig(t, cert.PublicKey.(*ecdsa.PublicKey), authData, cdh, sig)
		} else {
			if ca != nil {
				t.Fatal("packed attestation without x5c")
			}
			verifySig(t, ad.pub, authData, cdh, sig)
		}
	default:
		t.Fatalf("attestation format %q", format)
	}
	return ad
}

// unwrapAuthData removes the CBOR byte-string wrapping libfido2 (and its
// tools) put around authData.
func unwrapAuthData(t *testing.T, wrapped []byte) []byte {
	t.Helper()
	var raw []byte
	if err := cbor.Unmarshal(wrapped, &raw); err != nil {
		t.Fatalf("authData is not a CBOR byte string: %v", err)
	}
	return raw
}
