package fido

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzVerifyAssertion: no responseJSON makes VerifyAssertion panic, every
// refusal names a sentinel, and nothing verifies unless, checked here with
// crypto/ecdsa alone, the signature is the credential key's over the
// authenticator data and the hash of client data carrying the issued
// challenge, and the counter moved on.
func FuzzVerifyAssertion(f *testing.F) {
	ca := newTestCA(f, testAAGUID)
	k := newTestKey(f, ca)
	p := testPolicy(ca)
	cred := k.credential(f)
	cred.SignCount = 4
	a := k.assert(f, flagUP|flagUV, 5)
	challenge := a.challenge // one fixed ceremony for all inputs

	valid := a.json(f)
	f.Add(valid)
	f.Add([]byte(strings.Replace(string(valid), `"signature":"`, `"signature":"A`, 1)))
	f.Add([]byte(strings.Replace(string(valid), `"type":"public-key"`, `"type":"public-key","type":"x"`, 1)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"response":null}`))
	for _, flags := range []byte{flagUP, flagUV, flagUP | flagUV | flagAT, flagUP | flagUV | flagED} {
		b := a
		b.authData = bytes.Clone(a.authData)
		b.authData[32] = flags
		f.Add(b.json(f))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := VerifyAssertion(p, cred, challenge, body)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %q matches no sentinel", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// Accepted: check it all again independently.
		var r struct {
			RawID    string `json:"rawId"`
			Response struct {
				ClientDataJSON, AuthenticatorData, Signature string
			} `json:"response"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("accepted a body encoding/json cannot read: %v", err)
		}
		d := func(s string) []byte {
			b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
			if err != nil {
				t.Fatalf("accepted a body with bad base64url %q", s)
			}
			return b
		}
		cdj, ad, sig := d(r.Response.ClientDataJSON), d(r.Response.AuthenticatorData), d(r.Response.Signature)
		if !bytes.Equal(d(r.RawID), k.credID) {
			t.Fatal("accepted an assertion for another credential")
		}
		cdh := sha256.Sum256(cdj)
		h := sha256.Sum256(append(bytes.Clone(ad), cdh[:]...))
		if !ecdsa.VerifyASN1(&k.key.PublicKey, h[:], sig) {
			t.Fatal("accepted an assertion whose signature does not verify")
		}
		var cd struct{ Type, Challenge, Origin string }
		if err := json.Unmarshal(cdj, &cd); err != nil || cd.Type != "webauthn.get" || cd.Challenge != base64.RawURLEncoding.EncodeToString(challenge) || cd.Origin != testOrigin {
			t.Fatalf("accepted client data %s", cdj)
		}
		rp := sha256.Sum256([]byte(testRPID))
		if len(ad) < 37 || !bytes.Equal(ad[:32], rp[:]) || ad[32]&(flagUP|flagUV) != flagUP|flagUV {
			t.Fatalf("accepted authData %x", ad)
		}
		if c := binary.BigEndian.Uint32(ad[33:37]); c != n || c <= cred.SignCount {
			t.Fatalf("accepted counter %d (returned %d, stored %d)", c, n, cred.SignCount)
		}
	})
}

// FuzzVerifyRegistration: no attestationObject or clientDataJSON makes
// VerifyRegistration panic, every refusal names a sentinel, and an accepted
// one carries the issued challenge and a credential public key.
func FuzzVerifyRegistration(f *testing.F) {
	ca := newTestCA(f, testAAGUID)
	k := newTestKey(f, ca)
	p := testPolicy(ca)
	p.AttestationRequired = false
	r := k.register(f, "packed", flagUP|flagUV|flagAT)
	challenge := r.challenge
	f.Add(r.clientDataJSON, r.attestationObject)
	for _, format := range []string{"self", "none", "fido-u2f", "tpm", "packed-badsig"} {
		k := newTestKey(f, ca)
		if format == "fido-u2f" {
			k.aaguid = [16]byte{}
		}
		ad := k.authData(f, testRPID, flagUP|flagUV|flagAT, 0, true)
		f.Add(r.clientDataJSON, k.attest(f, format, ad, r.clientDataJSON))
	}
	f.Add([]byte(`{}`), []byte{0xa0})
	f.Add(r.clientDataJSON, r.attestationObject[:len(r.attestationObject)/2])

	f.Fuzz(func(t *testing.T, cdj, attObj []byte) {
		cred, err := VerifyRegistration(p, challenge, cdj, attObj)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %q matches no sentinel", err)
			}
			return
		}
		var cd struct{ Type, Challenge, Origin string }
		if err := json.Unmarshal(cdj, &cd); err != nil || cd.Type != "webauthn.create" || cd.Challenge != base64.RawURLEncoding.EncodeToString(challenge) || cd.Origin != testOrigin {
			t.Fatalf("accepted client data %s", cdj)
		}
		if len(cred.ID) == 0 || len(cred.PublicKey) == 0 {
			t.Fatalf("accepted registration without credential ID or key: %+v", cred)
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range allSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzAssertionIdentity: no input makes AssertionIdentity panic, every
// refusal is ErrMalformed, and what it reads agrees with a plain decoding
// of the JSON here: the credential ID is rawId's bytes (else id's), never
// empty, and the user handle is response.userHandle's bytes, nil when
// absent or empty.
func FuzzAssertionIdentity(f *testing.F) {
	k := newTestKey(f, newTestCA(f, testAAGUID))
	valid := k.assert(f, flagUP|flagUV, 1).json(f)
	f.Add(valid)
	f.Add([]byte(`{"id":"AQID","rawId":"AQID","response":{"userHandle":"MDEyMzQ1Njc4OQ"}}`))
	f.Add([]byte(`{"id":"AQID"}`))
	f.Add([]byte(`{"rawId":"AQID=="}`))
	f.Add([]byte(`{"id":"AQID","rawId":"AQIE"}`))
	f.Add([]byte(`{"rawId":"","response":{"userHandle":null}}`))
	f.Add([]byte(`{"rawId":"AQ","response":{"userHandle":"!"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		id, handle, err := AssertionIdentity(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("refusal %v is not ErrMalformed", err)
			}
			if id != nil || handle != nil {
				t.Fatalf("refused, yet returned id %x handle %x", id, handle)
			}
			return
		}
		var plain struct {
			ID       *string `json:"id"`
			RawID    *string `json:"rawId"`
			Response *struct {
				UserHandle *string `json:"userHandle"`
			} `json:"response"`
		}
		if json.Unmarshal(in, &plain) != nil {
			t.Fatalf("accepted %q, which encoding/json refuses", in)
		}
		src := plain.RawID
		if src == nil {
			src = plain.ID
		}
		if src == nil {
			t.Fatalf("accepted %q without rawId or id", in)
		}
		want, derr := base64.RawURLEncoding.DecodeString(strings.TrimRight(*src, "="))
		if derr != nil || len(want) == 0 || !bytes.Equal(id, want) {
			t.Fatalf("credential ID %x from %q, want %x (%v)", id, *src, want, derr)
		}
		var wantHandle []byte
		if plain.Response != nil && plain.Response.UserHandle != nil && *plain.Response.UserHandle != "" {
			wantHandle, derr = base64.RawURLEncoding.DecodeString(strings.TrimRight(*plain.Response.UserHandle, "="))
			if derr != nil {
				t.Fatalf("accepted user handle %q that is not base64url", *plain.Response.UserHandle)
			}
			if len(wantHandle) == 0 {
				wantHandle = nil
			}
		}
		if !bytes.Equal(handle, wantHandle) || (handle == nil) != (wantHandle == nil) {
			t.Fatalf("user handle %x, want %x", handle, wantHandle)
		}
	})
}
