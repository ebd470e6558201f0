package device

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"mfagate/device/softkey"
)

// attestationObject is the WebAuthn attestationObject as a relying party
// decodes it.
type attestationObject struct {
	Fmt      string         `cbor:"fmt"`
	AttStmt  map[string]any `cbor:"attStmt"`
	AuthData []byte         `cbor:"authData"`
}

// TestEnrollAndSignIn is the kiosk flow: a resident ES256 credential with
// PIN-based user verification and packed attestation, checked the way a
// relying party would, then assertions with its public key.
func TestEnrollAndSignIn(t *testing.T) {
	ctx := ctxTimeout(t)
	sk := startKey(t, softkey.Options{TouchDelay: 20 * time.Millisecond})
	k := openKey(t, sk)
	if err := k.SetPIN(ctx, "4321"); err != nil {
		t.Fatal(err)
	}
	const rpID = "idp.example.ac.jp"
	cdh := cdhOf(`{"type":"webauthn.create"}`)
	reg, err := k.MakeCredential(ctx, MakeCredentialRequest{
		ClientDataHash: cdh, RPID: rpID, RPName: "Example IdP",
		UserID: []byte("user-0001"), UserName: "alice@example.ac.jp", DisplayName: "Alice",
		ResidentKey: true, UserVerification: true, PIN: "4321",
	})
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}

	ad := parseAuthData(t, reg.AuthData)
	if want := sha256.Sum256([]byte(rpID)); !bytes.Equal(ad.rpIDHash, want[:]) {
		t.Errorf("rpIdHash %x, want SHA-256(%q)", ad.rpIDHash, rpID)
	}
	if ad.flags&(flagUP|flagUV|flagAT) != flagUP|flagUV|flagAT {
		t.Errorf("flags %#x, want UP|UV|AT", ad.flags)
	}
	if aaguid := sk.AAGUID(); !bytes.Equal(ad.aaguid, aaguid[:]) {
		t.Errorf("AAGUID %x, want %x", ad.aaguid, aaguid)
	}
	if len(reg.CredentialID) == 0 || !bytes.Equal(ad.credID, reg.CredentialID) {
		t.Fatalf("credential ID in authData %x, Registration %x", ad.credID, reg.CredentialID)
	}

	// The attestation object carries the same fields, canonically encoded.
	var obj attestationObject
	if err := cbor.Unmarshal(reg.AttestationObject, &obj); err != nil {
		t.Fatalf("attestation object: %v", err)
	}
	if obj.Fmt != "packed" || reg.Format != "packed" || !bytes.Equal(obj.AuthData, reg.AuthData) {
		t.Fatalf("attestation object fmt %q (Format %q), authData equal %v", obj.Fmt, reg.Format, bytes.Equal(obj.AuthData, reg.AuthData))
	}
	if alg, ok := obj.AttStmt["alg"].(int64); !ok || alg != -7 {
		t.Errorf("attStmt alg %v (%T), want -7", obj.AttStmt["alg"], obj.AttStmt["alg"])
	}
	if sig, _ := obj.AttStmt["sig"].([]byte); !bytes.Equal(sig, reg.Signature) {
		t.Error("attStmt sig differs from Signature")
	}
	x5c, _ := obj.AttStmt["x5c"].([]any)
	if len(x5c) != 1 || len(reg.X5C) != 1 || !bytes.Equal(x5c[0].([]byte), reg.X5C[0]) {
		t.Fatalf("attStmt x5c %d certs, X5C %d", len(x5c), len(reg.X5C))
	}
	var generic any
	if err := cbor.Unmarshal(reg.AttestationObject, &generic); err != nil {
		t.Fatal(err)
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := em.Marshal(generic); err != nil || !bytes.Equal(again, reg.AttestationObject) {
		t.Errorf("attestation object is not CTAP2 canonical CBOR (%v)", err)
	}

	cert := verifyChain(t, reg.X5C[0], sk.AttestationCA())
	verifySig(t, cert.PublicKey.(*ecdsa.PublicKey), reg.AuthData, cdh, reg.Signature)

	// Sign in with the allow list: the credential's own key verifies it.
	cdh2 := cdhOf(`{"type":"webauthn.get"}`)
	as, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdh2, RPID: rpID,
		AllowList: [][]byte{reg.CredentialID}, PIN: "4321", UserVerification: true})
	if err != nil {
		t.Fatalf("GetAssertion: %v", err)
	}
	got := parseAuthData(t, as.AuthData)
	verifySig(t, ad.pub, as.AuthData, cdh2, as.Signature)
	if got.flags != flagUP|flagUV || got.count <= ad.count || !bytes.Equal(got.rpIDHash, ad.rpIDHash) {
		t.Fatalf("assertion flags %#x, counter %d after %d", got.flags, got.count, ad.count)
	}
	if !bytes.Equal(as.CredentialID, reg.CredentialID) {
		t.Errorf("assertion credential %x", as.CredentialID)
	}

	// Discoverable: no allow list; the key names the credential and user.
	as2, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdh2, RPID: rpID, PIN: "4321"})
	if err != nil {
		t.Fatalf("discoverable GetAssertion: %v", err)
	}
	verifySig(t, ad.pub, as2.AuthData, cdh2, as2.Signature)
	if !bytes.Equal(as2.CredentialID, reg.CredentialID) || string(as2.UserID) != "user-0001" {
		t.Fatalf("discoverable assertion credential %x user %q", as2.CredentialID, as2.UserID)
	}
	if c := parseAuthData(t, as2.AuthData).count; c <= got.count {
		t.Errorf("counter did not increase: %d after %d", c, got.count)
	}

	// A tampered signature from the key does not verify here either.
	if err := sk.InjectFault(softkey.FaultBadSignature); err != nil {
		t.Fatal(err)
	}
	bad, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdh2, RPID: rpID, AllowList: [][]byte{reg.CredentialID}})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append(bad.AuthData, cdh2...))
	if ecdsa.VerifyASN1(ad.pub, h[:], bad.Signature) {
		t.Fatal("a corrupted signature verified")
	}

	if _, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdh2, RPID: "other.example",
		AllowList: [][]byte{reg.CredentialID}}); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("credential for another RP: %v, want ErrNoCredentials", err)
	}

	// The key already holds a credential from the exclude list.
	_, err = k.MakeCredential(ctx, MakeCredentialRequest{ClientDataHash: cdh, RPID: rpID,
		UserID: []byte("user-0001"), UserName: "alice@example.ac.jp", PIN: "4321",
		ExcludeList: [][]byte{[]byte("unrelated"), reg.CredentialID}})
	if !errors.Is(err, ErrExcluded) {
		t.Fatalf("MakeCredential with an excluded credential on the key: %v, want ErrExcluded", err)
	}
	if _, err := k.MakeCredential(ctx, MakeCredentialRequest{ClientDataHash: cdh, RPID: rpID,
		UserID: []byte("user-0002"), UserName: "bob", PIN: "4321",
		ExcludeList: [][]byte{[]byte("unrelated")}}); err != nil {
		t.Fatalf("MakeCredential with an exclude list of other keys' credentials: %v", err)
	}
}

func TestAttestationFormats(t *testing.T) {
	for _, tc := range []struct {
		format softkey.AttestationFormat
		want   string
		x5c    bool
	}{
		{softkey.AttestationSelf, "packed", false},
		{softkey.AttestationNone, "none", false},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			k := openKey(t, startKey(t, softkey.Options{Attestation: tc.format}))
			cdh := cdhOf("x")
			reg, err := k.MakeCredential(ctxTimeout(t), MakeCredentialRequest{ClientDataHash: cdh, RPID: "example.org",
				UserID: []byte("u"), UserName: "u"})
			if err != nil {
				t.Fatal(err)
			}
			var obj attestationObject
			if err := cbor.Unmarshal(reg.AttestationObject, &obj); err != nil {
				t.Fatal(err)
			}
			if obj.Fmt != tc.want || reg.Format != tc.want || len(reg.X5C) != 0 || obj.AttStmt["x5c"] != nil {
				t.Fatalf("fmt %q/%q, x5c %d, attStmt %v", obj.Fmt, reg.Format, len(reg.X5C), obj.AttStmt)
			}
			ad := parseAuthData(t, reg.AuthData)
			switch tc.want {
			case "none":
				if len(obj.AttStmt) != 0 {
					t.Errorf("none attStmt %v", obj.AttStmt)
				}
			case "packed":
				// Self attestation: signed by the credential key itself.
				if alg, _ := obj.AttStmt["alg"].(int64); alg != -7 {
					t.Errorf("self attestation alg %v", obj.AttStmt["alg"])
				}
				verifySig(t, ad.pub, reg.AuthData, cdh, reg.Signature)
			}
		})
	}
}

func TestKeyFull(t *testing.T) {
	ctx := ctxTimeout(t)
	k := openKey(t, startKey(t, softkey.Options{MaxResidentKeys: 1}))
	req := MakeCredentialRequest{ClientDataHash: cdhOf("x"), RPID: "example.org", UserID: []byte("a"), UserName: "a", ResidentKey: true}
	if _, err := k.MakeCredential(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.UserID, req.UserName = []byte("b"), "b"
	if _, err := k.MakeCredential(ctx, req); !errors.Is(err, ErrKeyFull) {
		t.Fatalf("resident credential on a full key: %v, want ErrKeyFull", err)
	}
}

func TestResidentCredentials(t *testing.T) {
	ctx := ctxTimeout(t)
	sk := startKey(t, softkey.Options{})
	k := openKey(t, sk)
	if err := k.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	make := func(rpID, user string) Registration {
		t.Helper()
		reg, err := k.MakeCredential(ctx, MakeCredentialRequest{ClientDataHash: cdhOf(user), RPID: rpID,
			UserID: []byte("id-" + user), UserName: user, PIN: "1234", ResidentKey: true, UserVerification: true})
		if err != nil {
			t.Fatalf("MakeCredential for %s: %v", user, err)
		}
		return reg
	}
	alice := make("idp.example.org", "alice")
	bob := make("idp.example.org", "bob")
	make("other.example.org", "carol")

	if creds, err := k.ResidentCredentials(ctx, "idp.example.org", "0000"); !errors.Is(err, ErrPINInvalid) || creds != nil {
		t.Fatalf("list with a wrong PIN: %v", err)
	}
	creds, err := k.ResidentCredentials(ctx, "idp.example.org", "1234")
	if err != nil {
		t.Fatalf("ResidentCredentials: %v", err)
	}
	users := map[string]ResidentCredential{}
	for _, c := range creds {
		users[c.UserName] = c
	}
	if len(creds) != 2 || !bytes.Equal(users["alice"].ID, alice.CredentialID) ||
		!bytes.Equal(users["bob"].ID, bob.CredentialID) || string(users["bob"].UserID) != "id-bob" ||
		users["alice"].RPID != "idp.example.org" {
		t.Fatalf("ResidentCredentials = %+v", creds)
	}
	if creds, err := k.ResidentCredentials(ctx, "nobody.example.org", "1234"); err != nil || len(creds) != 0 {
		t.Fatalf("RP without credentials: %+v, %v", creds, err)
	}

	if err := k.DeleteResidentCredential(ctx, alice.CredentialID, "1234"); err != nil {
		t.Fatalf("DeleteResidentCredential: %v", err)
	}
	creds, err = k.ResidentCredentials(ctx, "idp.example.org", "1234")
	if err != nil || len(creds) != 1 || creds[0].UserName != "bob" {
		t.Fatalf("after delete: %+v, %v", creds, err)
	}
	// Sign-in without an allow list now finds only bob.
	as, err := k.GetAssertion(ctx, AssertionRequest{ClientDataHash: cdhOf("x"), RPID: "idp.example.org", PIN: "1234"})
	if err != nil || string(as.UserID) != "id-bob" {
		t.Fatalf("discoverable assertion after delete: user %q, %v", as.UserID, err)
	}
	if stored, _ := sk.Credentials(); len(stored) != 2 {
		t.Fatalf("key holds %d resident credentials, want 2", len(stored))
	}
}
