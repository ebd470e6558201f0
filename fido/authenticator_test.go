package fido

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// This file is a software authenticator written for the tests from the
// WebAuthn and CTAP wire formats with crypto/ecdsa, crypto/x509 and a CBOR
// encoder, so the verifiers are checked against bytes the package under
// test did not produce.

const (
	testRPID   = "login.example.ac.jp"
	testOrigin = "https://login.example.ac.jp"

	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
	flagED = 0x80
)

var (
	testAAGUID   = [16]byte{0x6d, 0x44, 0xba, 0x9b, 0xf6, 0xec, 0x2e, 0x49, 0xb9, 0x30, 0x0c, 0x8f, 0xe9, 0x20, 0xcb, 0x73}
	otherAAGUID  = [16]byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a}
	idFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
)

var enc = func() cbor.EncMode {
	m, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := enc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCA is an attestation root and the leaf it issues to a key model,
// optionally through an intermediate CA.
type testCA struct {
	cert    *x509.Certificate
	inter   *x509.Certificate // nil: the root issues the leaf
	leaf    *x509.Certificate
	leafKey *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, aaguid [16]byte) *testCA { return makeTestCA(t, aaguid, false) }

func makeTestCA(t testing.TB, aaguid [16]byte, intermediate bool) *testCA {
	t.Helper()
	now := time.Now()
	issue := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
		t.Helper()
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caName := func(cn string) pkix.Name {
		return pkix.Name{Country: []string{"JP"}, Organization: []string{"Test Keys"}, CommonName: cn}
	}
	caKey := mustKey(t)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: caName("Test Attestation Root"),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca := &testCA{cert: issue(rootTmpl, rootTmpl, &caKey.PublicKey, caKey)}
	issuer, issuerKey := ca.cert, caKey
	if intermediate {
		interKey := mustKey(t)
		ca.inter = issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: caName("Test Attestation Intermediate"),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, ca.cert, &interKey.PublicKey, caKey)
		issuer, issuerKey = ca.inter, interKey
	}
	ext, _ := asn1.Marshal(aaguid[:]) // an OCTET STRING holding the AAGUID
	ca.leafKey = mustKey(t)
	ca.leaf = issue(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{
			Country: []string{"JP"}, Organization: []string{"Test Keys"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test Key Attestation",
		},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: idFIDOAAGUID, Value: ext}},
	}, issuer, &ca.leafKey.PublicKey, issuerKey)
	return ca
}

// x5c is the certificate chain a key sends: leaf first.
func (ca *testCA) x5c() [][]byte {
	if ca.inter != nil {
		return [][]byte{ca.leaf.Raw, ca.inter.Raw}
	}
	return [][]byte{ca.leaf.Raw}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKey is one credential on the test authenticator.
type testKey struct {
	key    *ecdsa.PrivateKey
	credID []byte
	aaguid [16]byte
	ca     *testCA
	alg    int // COSE alg in the credential public key; 0: ES256 (-7)
}

func newTestKey(t testing.TB, ca *testCA) *testKey {
	t.Helper()
	id := make([]byte, 48)
	rand.Read(id)
	return &testKey{key: mustKey(t), credID: id, aaguid: testAAGUID, ca: ca}
}

// coseKey is the EC2 P-256 ES256 COSE_Key of RFC 9053, CTAP2 canonical.
func (k *testKey) coseKey(t testing.TB) []byte {
	x, y := make([]byte, 32), make([]byte, 32)
	k.key.X.FillBytes(x)
	k.key.Y.FillBytes(y)
	alg := k.alg
	if alg == 0 {
		alg = -7
	}
	return mustCBOR(t, map[int]any{1: 2, 3: alg, -1: 1, -2: x, -3: y})
}

// authData lays out authenticator data (WebAuthn §6.1); attested adds the
// attested credential data (§6.5.1).
func (k *testKey) authData(t testing.TB, rpID string, flags byte, count uint32, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	b := slices.Concat(h[:], []byte{flags}, binary.BigEndian.AppendUint32(nil, count))
	if attested {
		b = slices.Concat(b, k.aaguid[:], binary.BigEndian.AppendUint16(nil, uint16(len(k.credID))), k.credID, k.coseKey(t))
	}
	if flags&flagED != 0 { // extension outputs follow (CTAP 2.1 credProtect)
		b = append(b, mustCBOR(t, map[string]any{"credProtect": 2})...)
	}
	return b
}

func signWith(t testing.TB, key *ecdsa.PrivateKey, parts ...[]byte) []byte {
	t.Helper()
	h := sha256.Sum256(slices.Concat(parts...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// clientDataJSON is written out by hand, independently of ClientData.
func clientDataJSON(typ string, challenge []byte, origin string) []byte {
	return fmt.Appendf(nil, `{"type":%q,"challenge":%q,"origin":%q,"crossOrigin":false}`,
		typ, base64.RawURLEncoding.EncodeToString(challenge), origin)
}

// attest returns an attestationObject in one of the formats "packed"
// (x5c), "self" (packed without x5c), "none" and "fido-u2f".
func (k *testKey) attest(t testing.TB, format string, authData, cdj []byte) []byte {
	t.Helper()
	cdh := sha256.Sum256(cdj)
	var fmtName string
	var stmt map[string]any
	switch format {
	case "packed":
		fmtName = "packed"
		stmt = map[string]any{"alg": -7, "sig": signWith(t, k.ca.leafKey, authData, cdh[:]), "x5c": k.ca.x5c()}
	case "self":
		fmtName = "packed"
		stmt = map[string]any{"alg": -7, "sig": signWith(t, k.key, authData, cdh[:])}
	case "packed-badsig": // signed over another clientDataHash
		fmtName = "packed"
		stmt = map[string]any{"alg": -7, "sig": signWith(t, k.ca.leafKey, authData, []byte("another clientDataHash")), "x5c": [][]byte{k.ca.leaf.Raw}}
	case "packed-wrongkey": // signed by the credential key, not the certificate's
		fmtName = "packed"
		stmt = map[string]any{"alg": -7, "sig": signWith(t, k.key, authData, cdh[:]), "x5c": [][]byte{k.ca.leaf.Raw}}
	case "self-badsig":
		fmtName = "packed"
		stmt = map[string]any{"alg": -7, "sig": signWith(t, k.key, authData, []byte("another clientDataHash"))}
	case "tpm":
		fmtName = "tpm"
		stmt = map[string]any{"ver": "2.0", "alg": -7, "sig": signWith(t, k.key, authData, cdh[:])}
	case "none":
		fmtName = "none"
		stmt = map[string]any{}
	case "fido-u2f":
		// FIDO U2F raw message §4.3: 0x00 ‖ appParam ‖ challengeParam ‖ keyHandle ‖ pubKey.
		fmtName = "fido-u2f"
		pub, err := k.key.PublicKey.Bytes() // the uncompressed point U2F carries
		if err != nil {
			t.Fatal(err)
		}
		sig := signWith(t, k.ca.leafKey, []byte{0}, authData[:32], cdh[:], k.credID, pub)
		stmt = map[string]any{"sig": sig, "x5c": [][]byte{k.ca.leaf.Raw}}
	default:
		t.Fatalf("unknown format %q", format)
	}
	return mustCBOR(t, map[string]any{"fmt": fmtName, "attStmt": stmt, "authData": authData})
}

// registration is a complete kiosk registration with the given knobs.
type registration struct {
	challenge, clientDataJSON, attestationObject, authData []byte
}

func (k *testKey) register(t testing.TB, format string, flags byte) registration {
	t.Helper()
	ch := make([]byte, 32)
	rand.Read(ch)
	cdj := clientDataJSON("webauthn.create", ch, testOrigin)
	ad := k.authData(t, testRPID, flags, 0, true)
	return registration{ch, cdj, k.attest(t, format, ad, cdj), ad}
}

// assertion is a browser sign-in response with its parts.
type assertion struct {
	challenge, clientDataJSON, authData, sig []byte
	credID                                   []byte
}

func (k *testKey) assert(t testing.TB, flags byte, count uint32) assertion {
	t.Helper()
	return k.assertFor(t, testRPID, "webauthn.get", testOrigin, flags, count)
}

func (k *testKey) assertFor(t testing.TB, rpID, typ, origin string, flags byte, count uint32) assertion {
	t.Helper()
	ch := make([]byte, 32)
	rand.Read(ch)
	cdj := clientDataJSON(typ, ch, origin)
	ad := k.authData(t, rpID, flags, count, false)
	cdh := sha256.Sum256(cdj)
	return assertion{ch, cdj, ad, signWith(t, k.key, ad, cdh[:]), k.credID}
}

// json is the AuthenticationResponseJSON a browser sends.
func (a assertion) json(t testing.TB) []byte {
	t.Helper()
	e := base64.RawURLEncoding.EncodeToString
	b, err := json.Marshal(map[string]any{
		"id": e(a.credID), "rawId": e(a.credID), "type": "public-key",
		"authenticatorAttachment": "cross-platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": e(a.clientDataJSON), "authenticatorData": e(a.authData),
			"signature": e(a.sig), "userHandle": e([]byte("user-0001")),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// credential is the stored credential the test expects VerifyRegistration
// to return, built from the test key directly.
func (k *testKey) credential(t testing.TB) Credential {
	return Credential{ID: k.credID, PublicKey: k.coseKey(t), AAGUID: k.aaguid}
}

func testPolicy(ca *testCA) Policy {
	p := Policy{RPID: testRPID, RPName: "Example University", Origin: testOrigin, UserVerification: "required", AttestationRequired: true}
	if ca != nil {
		p.TrustedRoots = []*x509.Certificate{ca.cert}
	}
	return p
}

var dec = func() cbor.DecMode {
	m, err := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any{})}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()
