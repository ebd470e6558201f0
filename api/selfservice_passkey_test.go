package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"mfagate/mfa/mfatest"
)

// softAuthenticator is a platform authenticator and browser written here
// from WebAuthn L3 (§6.1 authenticator data, §6.5 attestation objects,
// §8.2 packed self attestation, §5.8.1 client data), independent of
// package fido: ECDSA P-256 keys, CBOR by fxamacker/cbor in CTAP2
// canonical form.
type softAuthenticator struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	credID []byte
	aaguid [16]byte
}

// Authenticator data flags (§6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagAT = 0x40
)

func newSoftAuthenticator(t *testing.T) *softAuthenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := &softAuthenticator{t: t, key: k, credID: randomBytes(32)}
	copy(a.aaguid[:], randomBytes(16))
	return a
}

func ctap2(t *testing.T, v any) []byte {
	t.Helper()
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// makeCredential answers creation options: format "none" or "packed"
// (self attestation); origin and rpID as the browser would report them.
func (a *softAuthenticator) makeCredential(publicKey map[string]any, origin, rpID, format string, flags byte) []byte {
	t := a.t
	t.Helper()
	challenge, err := base64.RawURLEncoding.DecodeString(publicKey["challenge"].(string))
	if err != nil {
		t.Fatalf("options challenge: %v", err)
	}
	x, y := make([]byte, 32), make([]byte, 32)
	a.key.X.FillBytes(x)
	a.key.Y.FillBytes(y)
	cose := ctap2(t, map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	rpHash := sha256.Sum256([]byte(rpID))
	authData := slices.Concat(rpHash[:], []byte{flags | flagAT}, binary.BigEndian.AppendUint32(nil, 0), a.aaguid[:],
		binary.BigEndian.AppendUint16(nil, uint16(len(a.credID))), a.credID, cose)
	cdj := fmt.Appendf(nil, `{"type":"webauthn.create","challenge":%q,"origin":%q,"crossOrigin":false}`, base64.RawURLEncoding.EncodeToString(challenge), origin)
	stmt := map[string]any{}
	if format == "packed" {
		cdh := sha256.Sum256(cdj)
		h := sha256.Sum256(slices.Concat(authData, cdh[:]))
		sig, err := ecdsa.SignASN1(rand.Reader, a.key, h[:])
		if err != nil {
			t.Fatal(err)
		}
		stmt = map[string]any{"alg": -7, "sig": sig}
	}
	att := ctap2(t, map[string]any{"fmt": format, "attStmt": stmt, "authData": authData})
	e := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(map[string]any{"id": e(a.credID), "rawId": e(a.credID), "type": "public-key", "authenticatorAttachment": "platform",
		"clientExtensionResults": map[string]any{}, "response": map[string]any{"clientDataJSON": e(cdj), "attestationObject": e(att), "transports": []string{"internal"}}})
	return b
}

// passkeyOptions asks the page's options and checks them against the contract.
func (b *selfBrowser) passkeyOptions() (string, map[string]any) {
	b.h.t.Helper()
	r := b.call("POST", "/me/api/passkeys/options", `{}`, true)
	b.h.want(r, 200, "")
	pk := r.body["publicKey"].(map[string]any)
	ch, err := base64.RawURLEncoding.DecodeString(pk["challenge"].(string))
	u := pk["user"].(map[string]any)
	sel := pk["authenticatorSelection"].(map[string]any)
	var algs []float64
	for _, p := range pk["pubKeyCredParams"].([]any) {
		algs = append(algs, p.(map[string]any)["alg"].(float64))
	}
	switch {
	case err != nil || len(ch) != 32:
		b.h.t.Fatalf("challenge %v is not 32 base64url bytes", pk["challenge"])
	case u["id"] != base64.RawURLEncoding.EncodeToString([]byte(user)) || u["name"] != user || u["displayName"] != user:
		b.h.t.Fatalf("user entity %v", u)
	case pk["rp"].(map[string]any)["id"] != selfRPID || !slices.Equal(algs, []float64{-7, -8, -257}):
		b.h.t.Fatalf("rp %v, algorithms %v", pk["rp"], algs)
	case sel["residentKey"] != "preferred" || sel["requireResidentKey"] != false || sel["userVerification"] != "required":
		b.h.t.Fatalf("authenticatorSelection %v", sel)
	case pk["timeout"] != float64(300000):
		b.h.t.Fatalf("timeout %v", pk["timeout"])
	}
	return r.str("ceremony"), pk
}

func (b *selfBrowser) registerPasskey(ceremony string, cred []byte, extra string) resp {
	b.h.t.Helper()
	return b.call("POST", "/me/api/passkeys", `{"ceremony":"`+ceremony+`","credential":`+string(cred)+`,"label":"laptop"`+extra+`}`, true)
}

func (h *harness) fidoMethods() int {
	h.t.Helper()
	var v struct {
		Methods []struct{ Kind string } `json:"methods"`
	}
	json.Unmarshal([]byte(h.state()), &v)
	n := 0
	for _, m := range v.Methods {
		if m.Kind == "fido" {
			n++
		}
	}
	return n
}

func TestSelfServicePasskeys(t *testing.T) {
	h := newSelfHarness(t, nil)
	b := h.selfBrowser()
	b.signIn()
	auth := newSoftAuthenticator(t)

	// Refusals first: each takes its ceremony and stores nothing.
	refused := []struct {
		name, origin, rpID, code string
		status                   int
		challenge                bool // answer another challenge than the options'
	}{
		{"wrong challenge", selfOrigin, selfRPID, "webauthn_challenge", 422, true},
		{"wrong origin", "https://evil.example", selfRPID, "webauthn_origin", 422, false},
		{"wrong RP ID", selfOrigin, "example.ac.jp", "webauthn_rp_id", 422, false},
	}
	for _, tc := range refused {
		cer, pk := b.passkeyOptions()
		if tc.challenge {
			pk["challenge"] = base64.RawURLEncoding.EncodeToString(randomBytes(32))
		}
		r := b.registerPasskey(cer, auth.makeCredential(pk, tc.origin, tc.rpID, "none", flagUP|flagUV), "")
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.raw, tc.status, tc.code)
		}
		h.want(b.registerPasskey(cer, auth.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), ""), 409, "unknown_ceremony")
	}
	// Another session's ceremony cannot be answered from this one, and
	// stays usable by its own.
	other := h.selfBrowser()
	other.signIn()
	cer, pk := other.passkeyOptions()
	h.want(b.registerPasskey(cer, auth.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), ""), 409, "unknown_ceremony")
	if n := h.fidoMethods(); n != 0 {
		t.Fatalf("%d fido methods stored after refusals", n)
	}
	r := other.registerPasskey(cer, auth.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), "")
	h.want(r, 201, "")
	m := r.body["method"].(map[string]any)
	if m["kind"] != "fido" || m["label"] != "laptop" || m["confirmed"] != true {
		t.Fatalf("registered method %s", r.raw)
	}
	// Replayed: the ceremony has answered.
	h.want(other.registerPasskey(cer, auth.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), ""), 409, "unknown_ceremony")

	// The next options exclude the key; a packed self attestation of a
	// second authenticator registers too, and the same key again does not.
	cer, pk = b.passkeyOptions()
	ex := pk["excludeCredentials"].([]any)
	if len(ex) != 1 || ex[0].(map[string]any)["id"] != base64.RawURLEncoding.EncodeToString(auth.credID) || pk["attestation"] != "none" {
		t.Fatalf("excludeCredentials %v, attestation %v", ex, pk["attestation"])
	}
	h.want(b.registerPasskey(cer, auth.makeCredential(pk, selfOrigin, selfRPID, "packed", flagUP|flagUV), ""), 409, "slot_taken")
	second := newSoftAuthenticator(t)
	cer, pk = b.passkeyOptions()
	h.want(b.registerPasskey(cer, second.makeCredential(pk, selfOrigin, selfRPID, "packed", flagUP|flagUV), ""), 201, "")
	// Without user verification, under a policy that requires it.
	cer, pk = b.passkeyOptions()
	h.want(b.registerPasskey(cer, newSoftAuthenticator(t).makeCredential(pk, selfOrigin, selfRPID, "none", flagUP), ""), 422, "webauthn_user_verification")
	// Too late.
	cer, pk = b.passkeyOptions()
	h.clock.Advance(5*time.Minute + time.Second)
	h.want(b.registerPasskey(cer, newSoftAuthenticator(t).makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), ""), 410, "ceremony_expired")
	// Malformed.
	cer, _ = b.passkeyOptions()
	h.want(b.registerPasskey(cer, []byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`), ""), 400, "webauthn_malformed")
	if n := h.fidoMethods(); n != 2 {
		t.Fatalf("%d fido methods stored, want the 2 registered", n)
	}

	// allow_synced = false: attestation is asked for, and a backup-eligible
	// credential is refused.
	p := browserPolicy()
	p.RefuseSynced = true
	h.api.SetPasskeyPolicy(p)
	cer, pk = b.passkeyOptions()
	if pk["attestation"] != "direct" {
		t.Fatalf("attestation %v under allow_synced = false, want direct", pk["attestation"])
	}
	h.want(b.registerPasskey(cer, newSoftAuthenticator(t).makeCredential(pk, selfOrigin, selfRPID, "packed", flagUP|flagUV|flagBE), ""), 422, "webauthn_synced")
	h.api.SetPasskeyPolicy(browserPolicy())

	// Once MFA is on, a passkey needs a proof.
	_, secret := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	third := newSoftAuthenticator(t)
	cer, pk = b.passkeyOptions()
	h.want(b.registerPasskey(cer, third.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), ""), 403, "proof_required")
	if n := h.fidoMethods(); n != 2 {
		t.Fatalf("%d fido methods after the refused registration, want 2", n)
	}
	proof := h.signin("proof", secret)
	cer, pk = b.passkeyOptions()
	h.want(b.registerPasskey(cer, third.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), `,"proof":"`+proof+`"`), 201, "")
	if n := h.fidoMethods(); n != 3 {
		t.Fatalf("%d fido methods, want 3", n)
	}
}

// getAssertion signs in with the credential (§6.1, §7.2 of the
// authenticator's side): counter count, user handle userHandle.
func (a *softAuthenticator) getAssertion(publicKey map[string]any, origin, rpID string, count uint32, userHandle []byte) []byte {
	t := a.t
	t.Helper()
	challenge, err := base64.RawURLEncoding.DecodeString(publicKey["challenge"].(string))
	if err != nil {
		t.Fatalf("request options challenge: %v", err)
	}
	rpHash := sha256.Sum256([]byte(rpID))
	authData := slices.Concat(rpHash[:], []byte{flagUP | flagUV}, binary.BigEndian.AppendUint32(nil, count))
	cdj := fmt.Appendf(nil, `{"type":"webauthn.get","challenge":%q,"origin":%q,"crossOrigin":false}`, base64.RawURLEncoding.EncodeToString(challenge), origin)
	cdh := sha256.Sum256(cdj)
	h := sha256.Sum256(slices.Concat(authData, cdh[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	e := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(map[string]any{"id": e(a.credID), "rawId": e(a.credID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": e(cdj), "authenticatorData": e(authData), "signature": e(sig), "userHandle": e(userHandle)}})
	return b
}

// A passkey registered on the page signs in through the page's
// discoverable challenge (kind fido: no allowCredentials), its user handle
// the user ID's bytes; the rename route relabels it.
func TestSelfServicePasskeySignin(t *testing.T) {
	h := newSelfHarness(t, nil)
	h.svc.SetWebAuthn(mfatest.WebAuthn(browserPolicy()))
	b := h.selfBrowser()
	b.signIn()
	auth := newSoftAuthenticator(t)
	cer, pk := b.passkeyOptions()
	r := b.registerPasskey(cer, auth.makeCredential(pk, selfOrigin, selfRPID, "none", flagUP|flagUV), "")
	h.want(r, 201, "")
	id := r.body["method"].(map[string]any)["id"].(string)

	r = b.call("POST", "/me/api/challenges", `{"kind":"fido","purpose":"test"}`, true)
	h.want(r, 201, "")
	opts := r.body["webauthn"].(map[string]any)["publicKey"].(map[string]any)
	if allow, _ := opts["allowCredentials"].([]any); len(allow) != 0 || r.str("method") != "" {
		t.Fatalf("a discoverable challenge %s: want no method and an empty allowCredentials", r.raw)
	}
	// Another user's handle is refused; the user's own signs in.
	h.want(b.call("POST", "/me/api/challenges/"+r.str("id")+"/verify", `{"webauthn":`+string(auth.getAssertion(opts, selfOrigin, selfRPID, 1, []byte("9876543210")))+`}`, true), 422, "")
	r = b.call("POST", "/me/api/challenges", `{"kind":"fido","purpose":"test"}`, true)
	h.want(r, 201, "")
	opts = r.body["webauthn"].(map[string]any)["publicKey"].(map[string]any)
	r = b.call("POST", "/me/api/challenges/"+r.str("id")+"/verify", `{"webauthn":`+string(auth.getAssertion(opts, selfOrigin, selfRPID, 2, []byte(user)))+`}`, true)
	h.want(r, 200, "")
	if r.str("status") != "approved" || r.str("method") != id {
		t.Fatalf("the passkey's sign-in %s: want approved by %s", r.raw, id)
	}
	r = b.call("PATCH", "/me/api/methods/"+id, `{"label":"work laptop"}`, true)
	h.want(r, 200, "")
	if r.body["method"].(map[string]any)["label"] != "work laptop" {
		t.Fatalf("renamed %s", r.raw)
	}
	h.want(b.call("PATCH", "/me/api/methods/"+id, `{}`, true), 400, "invalid_request")
	ev := jsonArray(t, h.do("GET", "/v1/audit?user="+user+"&limit=1", tokAdmin, "").raw)
	if ev[0]["type"] != "method_renamed" || ev[0]["actor"] != "self:"+user {
		t.Fatalf("newest audit event %v, want method_renamed by self:%s", ev[0], user)
	}
}
