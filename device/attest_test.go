package device

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	libfido2 "github.com/keys-pub/go-libfido2"

	"mfagate/device/softkey"
)

func wrap(t *testing.T, b []byte) []byte {
	t.Helper()
	w, err := cbor.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestRegistrationOfRejects(t *testing.T) {
	authData := make([]byte, 37)
	for _, tc := range []struct {
		name string
		att  libfido2.Attestation
		msg  string
	}{
		{"raw authData", libfido2.Attestation{AuthData: authData, Format: "none"}, "not a CBOR byte string"},
		{"short authData", libfido2.Attestation{AuthData: wrap(t, authData[:36]), Format: "none"}, "36 bytes"},
		{"unknown format", libfido2.Attestation{AuthData: wrap(t, authData), Format: "tpm"}, `unsupported attestation format "tpm"`},
		{"u2f without certificate", libfido2.Attestation{AuthData: wrap(t, authData), Format: "fido-u2f", Sig: []byte{1}}, "without a certificate"},
		{"bad certificate", libfido2.Attestation{AuthData: wrap(t, authData), Format: "packed", Cert: []byte{0x30}, Sig: []byte{1}}, "attestation certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := registrationOf(&tc.att); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("registrationOf: %v, want an error mentioning %q", err, tc.msg)
			}
		})
	}
}

func TestProductOf(t *testing.T) {
	for _, tc := range []struct {
		manufacturer, product, want string
	}{
		{"Yubico", "YubiKey OTP+FIDO+CCID", "Yubico YubiKey OTP+FIDO+CCID"},
		{"", "Security Key", "Security Key"},
		{"SoloKeys", "SoloKeys", "SoloKeys"},
		{"", "", "FIDO2 key"},
	} {
		if got := productOf(&libfido2.DeviceLocation{Manufacturer: tc.manufacturer, Product: tc.product}); got != tc.want {
			t.Errorf("productOf(%q, %q) = %q, want %q", tc.manufacturer, tc.product, got, tc.want)
		}
	}
}

// FuzzUnwrapAuthData: libfido2's output is outside input; unwrapping never
// panics and returns exactly the wrapped bytes.
func FuzzUnwrapAuthData(f *testing.F) {
	for _, seed := range [][]byte{
		{0x58, 0x25}, append([]byte{0x58, 0x25}, make([]byte, 37)...), {0x40}, {0xa0}, {0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		raw, err := unwrapAuthData(in)
		if err != nil {
			return
		}
		if len(raw) < 37 {
			t.Fatalf("accepted %d-byte authData", len(raw))
		}
		var want []byte
		if cbor.Unmarshal(in, &want) != nil || !bytes.Equal(raw, want) {
			t.Fatalf("unwrapped %x from %x", raw, in)
		}
	})
}

// TestU2FOnlyRegistration: a legacy U2F key still enrolls, with a
// fido-u2f statement whose signature verifies per WebAuthn §8.6.
func TestU2FOnlyRegistration(t *testing.T) {
	sk := startKey(t, softkey.Options{U2F: softkey.U2FOnly})
	k := openKey(t, sk)
	const rpID = "legacy.example.org"
	cdh := cdhOf("u2f")
	reg, err := k.MakeCredential(ctxTimeout(t), MakeCredentialRequest{ClientDataHash: cdh, RPID: rpID,
		UserID: []byte("u"), UserName: "u"})
	if err != nil {
		t.Fatalf("MakeCredential on a U2F-only key: %v", err)
	}
	var obj attestationObject
	if err := cbor.Unmarshal(reg.AttestationObject, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Fmt != "fido-u2f" || obj.AttStmt["alg"] != nil || len(reg.X5C) != 1 {
		t.Fatalf("fmt %q, attStmt keys %v, x5c %d", obj.Fmt, obj.AttStmt, len(reg.X5C))
	}
	ad := parseAuthData(t, reg.AuthData)
	cert := verifyChain(t, reg.X5C[0], sk.AttestationCA())
	rpHash := sha256.Sum256([]byte(rpID))
	pub, err := ad.pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	signed := slices.Concat([]byte{0}, rpHash[:], cdh, ad.credID, pub.Bytes())
	h := sha256.Sum256(signed)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), h[:], reg.Signature) {
		t.Fatal("fido-u2f attestation signature does not verify")
	}
	if _, err := k.MakeCredential(ctxTimeout(t), MakeCredentialRequest{ClientDataHash: cdh, RPID: rpID,
		UserID: []byte("u"), UserName: "u", ResidentKey: true}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("resident key on a U2F-only key: %v, want ErrUnsupported", err)
	}
}

// TestCertAlg: the packed "alg" follows the attestation key, which
// go-libfido2 does not report.
func TestCertAlg(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		want int64
	}{
		{"P-256", p256, -7},
		{"P-384", p384, -35},
		{"Ed25519", ed, -8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attestation"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := certAlg(der); err != nil || got != tc.want {
				t.Fatalf("certAlg = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
