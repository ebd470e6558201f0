package fido

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerifyAssertion runs each case through both paths: the browser's
// AuthenticationResponseJSON (VerifyAssertion) and the kiosk's raw parts
// (VerifyRawAssertion). Both must agree.
func TestVerifyAssertion(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	k := newTestKey(t, ca)
	other := newTestKey(t, ca)
	e := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name     string
		flags    byte // default UP|UV
		count    uint32
		stored   uint32
		rpID     string
		typ      string
		origin   string
		policy   func(*Policy)
		tamper   func(*assertion)
		cred     func(*Credential)
		json     func(a assertion) string // browser path only
		jsonOnly bool
		wantErr  error
		wantMsg  []string
		want     uint32
	}{
		{name: "valid", count: 5, stored: 4, want: 5},
		{name: "counter jumps", count: 1000, stored: 4, want: 1000},
		{name: "extension outputs", flags: flagUP | flagUV | flagED, count: 5, stored: 4, want: 5},
		{name: "both counters zero", count: 0, stored: 0, want: 0},
		{name: "first use of a counter", count: 1, stored: 0, want: 1},
		{name: "UV preferred, key without UV", flags: flagUP, count: 2, stored: 1, policy: func(p *Policy) { p.UserVerification = "preferred" }, want: 2},
		{name: "padded base64 accepted", count: 2, stored: 1, want: 2, jsonOnly: true, json: func(a assertion) string {
			return string(a.json(t)) // re-encoded below with padding
		}},

		{name: "counter equal to stored", count: 5, stored: 5, wantErr: ErrCounterRegressed, want: 5, wantMsg: []string{"5 is not greater than the stored 5"}},
		{name: "counter went back", count: 3, stored: 9, wantErr: ErrCounterRegressed, want: 3, wantMsg: []string{"3", "9", "cloned"}},
		{name: "counter dropped to zero", count: 0, stored: 3, wantErr: ErrCounterRegressed, want: 0},
		{name: "wrong challenge", count: 5, stored: 4, tamper: func(a *assertion) { a.challenge = bytes.Repeat([]byte{7}, 32) }, wantErr: ErrChallengeMismatch},
		{name: "wrong origin", count: 5, stored: 4, origin: "https://evil.example", wantErr: ErrOriginMismatch,
			wantMsg: []string{`origin "https://evil.example" does not match the configured origin "https://login.example.ac.jp"`}},
		{name: "wrong type", count: 5, stored: 4, typ: "webauthn.create", wantErr: ErrWrongType, wantMsg: []string{`expected "webauthn.get"`}},
		{name: "wrong RP ID", count: 5, stored: 4, rpID: "evil.example", wantErr: ErrRPIDMismatch},
		{name: "user not present", flags: flagUV, count: 5, stored: 4, wantErr: ErrUserNotPresent},
		{name: "UV required but absent", flags: flagUP, count: 5, stored: 4, wantErr: ErrUserNotVerified},
		{name: "signature bit flipped", count: 5, stored: 4, tamper: func(a *assertion) { a.sig[len(a.sig)-1] ^= 1 }, wantErr: ErrBadSignature},
		{name: "counter raised after signing", count: 5, stored: 4, tamper: func(a *assertion) { a.authData[36] = 0x7f }, wantErr: ErrBadSignature},
		{name: "clientDataJSON changed after signing", count: 5, stored: 4, tamper: func(a *assertion) {
			// Same type, challenge and origin, one member more: only the
			// signature over its hash can tell.
			a.clientDataJSON = bytes.Replace(a.clientDataJSON, []byte(`}`), []byte(`,"other":1}`), 1)
		}, wantErr: ErrBadSignature},
		{name: "signed by another key", count: 5, stored: 4, tamper: func(a *assertion) {
			cdh := sha256.Sum256(a.clientDataJSON)
			a.sig = signWith(t, other.key, a.authData, cdh[:])
		}, wantErr: ErrBadSignature, wantMsg: []string{"stored public key"}},
		{name: "empty signature", count: 5, stored: 4, tamper: func(a *assertion) { a.sig = nil }, wantErr: ErrBadSignature, wantMsg: []string{"empty"}},
		{name: "stored key is another credential's", count: 5, stored: 4, cred: func(c *Credential) { c.PublicKey = other.coseKey(t) }, wantErr: ErrBadSignature},
		{name: "stored key is not COSE", count: 5, stored: 4, cred: func(c *Credential) { c.PublicKey = []byte{1, 2, 3} }, wantErr: ErrMalformed},
		{name: "authData truncated", count: 5, stored: 4, tamper: func(a *assertion) { a.authData = a.authData[:30] }, wantErr: ErrMalformed},

		{name: "assertion for another credential", count: 5, stored: 4, jsonOnly: true, json: func(a assertion) string {
			a.credID = other.credID
			return string(a.json(t))
		}, wantErr: ErrUnknownCredential, wantMsg: []string{"expected the stored credential"}},
		{name: "id and rawId differ", count: 5, stored: 4, jsonOnly: true, json: func(a assertion) string {
			return strings.Replace(string(a.json(t)), `"id":"`+e(k.credID)+`"`, `"id":"`+e(other.credID)+`"`, 1)
		}, wantErr: ErrMalformed, wantMsg: []string{"id and rawId"}},
		{name: "not JSON", jsonOnly: true, json: func(assertion) string { return `{"id":` }, wantErr: ErrMalformed},
		{name: "JSON array", jsonOnly: true, json: func(assertion) string { return `[]` }, wantErr: ErrMalformed},
		{name: "wrong credential type", jsonOnly: true, json: func(a assertion) string {
			return strings.Replace(string(a.json(t)), `"type":"public-key"`, `"type":"password"`, 1)
		}, wantErr: ErrMalformed, wantMsg: []string{`"password"`, `"public-key"`}},
		{name: "no response", jsonOnly: true, json: func(assertion) string {
			return `{"id":"` + e(k.credID) + `","rawId":"` + e(k.credID) + `","type":"public-key"}`
		}, wantErr: ErrMalformed, wantMsg: []string{"response"}},
		{name: "signature not base64url", jsonOnly: true, json: func(a assertion) string {
			return strings.Replace(string(a.json(t)), `"signature":"`+e(a.sig)+`"`, `"signature":"!!not base64!!"`, 1)
		}, wantErr: ErrMalformed, wantMsg: []string{"response.signature", "base64url"}},
		{name: "padded id", jsonOnly: true, json: func(a assertion) string {
			return strings.Replace(string(a.json(t)), `"id":"`+e(k.credID)+`"`, `"id":"`+e(k.credID)+`=="`, 1)
		}, wantErr: ErrMalformed, wantMsg: []string{"id", "unpadded"}},
		{name: "signature missing", jsonOnly: true, json: func(a assertion) string {
			return strings.Replace(string(a.json(t)), `"signature":"`+e(a.sig)+`",`, ``, 1)
		}, wantErr: ErrMalformed, wantMsg: []string{"response.signature"}},
		{name: "authenticatorData missing", jsonOnly: true, json: func(a assertion) string {
			return strings.Replace(string(a.json(t)), `"authenticatorData":"`+e(a.authData)+`"`, `"authenticatorData":""`, 1)
		}, wantErr: ErrMalformed, wantMsg: []string{"response.authenticatorData"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flags := tc.flags
			if flags == 0 {
				flags = flagUP | flagUV
			}
			a := k.assertFor(t, or(tc.rpID, testRPID), or(tc.typ, "webauthn.get"), or(tc.origin, testOrigin), flags, tc.count)
			if tc.tamper != nil {
				tc.tamper(&a)
			}
			p := testPolicy(ca)
			if tc.policy != nil {
				tc.policy(&p)
			}
			cred := k.credential(t)
			cred.SignCount = tc.stored
			if tc.cred != nil {
				tc.cred(&cred)
			}
			body := a.json(t)
			if tc.json != nil {
				body = []byte(tc.json(a))
			}
			if tc.name == "padded base64 accepted" {
				// Padding on every member but id, which must be unpadded.
				body = []byte(strings.ReplaceAll(string(body), `","`, `==","`))
				body = []byte(strings.Replace(string(body), e(k.credID)+`==`, e(k.credID), 1))
			}
			check := func(path string, n uint32, err error) {
				t.Helper()
				if tc.wantErr == nil {
					if err != nil || n != tc.want {
						t.Fatalf("%s = %d, %v; want %d", path, n, err, tc.want)
					}
					return
				}
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("%s err = %v, want %v", path, err, tc.wantErr)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("%s error %q does not mention %q", path, err, m)
					}
				}
				if errors.Is(err, ErrCounterRegressed) && n != tc.want {
					t.Errorf("%s returned count %d with the regression, want the key's %d", path, n, tc.want)
				}
			}
			n, err := VerifyAssertion(p, cred, a.challenge, body)
			check("VerifyAssertion", n, err)
			if !tc.jsonOnly {
				n, err := VerifyRawAssertion(p, cred, a.challenge, a.clientDataJSON, a.authData, a.sig)
				check("VerifyRawAssertion", n, err)
			}
		})
	}
}

// TestVerifyRawAssertionWrappedAuthData: go-libfido2 returns authData as a
// CBOR byte string; the kiosk path takes it as is.
func TestVerifyRawAssertionWrappedAuthData(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	k := newTestKey(t, ca)
	a := k.assert(t, flagUP|flagUV, 8)
	wrapped := mustCBOR(t, a.authData)
	if bytes.Equal(wrapped, a.authData) {
		t.Fatal("wrapping did not change the bytes")
	}
	n, err := VerifyRawAssertion(testPolicy(ca), k.credential(t), a.challenge, a.clientDataJSON, wrapped, a.sig)
	if err != nil || n != 8 {
		t.Fatalf("wrapped authData: %d, %v", n, err)
	}
	raw, err := UnwrapAuthData(wrapped)
	if err != nil || !bytes.Equal(raw, a.authData) {
		t.Fatalf("UnwrapAuthData = %x, %v", raw, err)
	}
	if _, err := UnwrapAuthData(a.authData); !errors.Is(err, ErrMalformed) {
		t.Errorf("UnwrapAuthData of raw authData: %v, want ErrMalformed", err)
	}
	// A wrapped authData for another RP is still refused for its RP ID.
	b := k.assertFor(t, "evil.example", "webauthn.get", testOrigin, flagUP|flagUV, 9)
	if _, err := VerifyRawAssertion(testPolicy(ca), k.credential(t), b.challenge, b.clientDataJSON, mustCBOR(t, b.authData), b.sig); !errors.Is(err, ErrRPIDMismatch) {
		t.Errorf("wrapped authData for another RP: %v, want ErrRPIDMismatch", err)
	}
}

func TestAssertionOptions(t *testing.T) {
	p := testPolicy(nil)
	ch := bytes.Repeat([]byte{0xfb}, 32)
	raw := AssertionOptions(p, ch, [][]byte{{1, 2, 3}, {0xff, 0xfe}}, 90*time.Second)
	var got struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			AllowCredentials []struct {
				Type, ID string
			} `json:"allowCredentials"`
			UserVerification string          `json:"userVerification"`
			Timeout          json.RawMessage `json:"timeout"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("AssertionOptions is not JSON: %v\n%s", err, raw)
	}
	pk := got.PublicKey
	if pk.Challenge != "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s" || pk.RPID != testRPID || pk.UserVerification != "required" || string(pk.Timeout) != "90000" {
		t.Errorf("options %s", raw)
	}
	if len(pk.AllowCredentials) != 2 || pk.AllowCredentials[0] != (struct{ Type, ID string }{"public-key", "AQID"}) || pk.AllowCredentials[1].ID != "__4" {
		t.Errorf("allowCredentials %+v", pk.AllowCredentials)
	}

	// Discoverable sign-in, default UV, no timeout.
	p.UserVerification = ""
	raw = AssertionOptions(p, ch, nil, 0)
	if neg := AssertionOptions(p, ch, nil, -time.Second); !bytes.Equal(neg, raw) {
		t.Errorf("negative timeout: %s", neg)
	}
	if !strings.Contains(string(raw), `"allowCredentials":[]`) || !strings.Contains(string(raw), `"userVerification":"preferred"`) || strings.Contains(string(raw), "timeout") {
		t.Errorf("discoverable options %s", raw)
	}
}

func TestAssertionIdentity(t *testing.T) {
	k := newTestKey(t, newTestCA(t, testAAGUID))
	id, handle, err := AssertionIdentity(k.assert(t, flagUP|flagUV, 1).json(t))
	if err != nil || !bytes.Equal(id, k.credID) || string(handle) != "user-0001" {
		t.Fatalf("browser response: id %x handle %q %v; want %x and the user handle", id, handle, err, k.credID)
	}
	for _, tc := range []struct {
		name, in   string
		id, handle string // base64url; "" for none
		wantMsg    string
	}{
		{name: "rawId only, no user handle", in: `{"rawId":"AQID","response":{}}`, id: "AQID"},
		{name: "id only", in: `{"id":"AQID"}`, id: "AQID"},
		{name: "null user handle", in: `{"id":"AQID","rawId":"AQID","response":{"userHandle":null}}`, id: "AQID"},
		{name: "empty user handle", in: `{"id":"AQID","rawId":"AQID","response":{"userHandle":""}}`, id: "AQID"},
		{name: "user handle", in: `{"id":"AQID","rawId":"AQID","response":{"userHandle":"MDEyMzQ1Njc4OQ"}}`, id: "AQID", handle: "MDEyMzQ1Njc4OQ"},
		{name: "no credential", in: `{"response":{"userHandle":"AQ"}}`, wantMsg: "no rawId or id"},
		{name: "empty rawId", in: `{"rawId":""}`, wantMsg: "no rawId"},
		{name: "id and rawId differ", in: `{"id":"AQID","rawId":"AQIE"}`, wantMsg: "id and rawId differ"},
		{name: "rawId not base64url", in: `{"rawId":"a+b/"}`, wantMsg: "rawId is not base64url"},
		{name: "user handle not base64url", in: `{"rawId":"AQ","response":{"userHandle":"@@"}}`, wantMsg: "response.userHandle is not base64url"},
		{name: "not an object", in: `"AQID"`, wantMsg: "not an AuthenticationResponseJSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, handle, err := AssertionIdentity([]byte(tc.in))
			if tc.wantMsg != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err %v, want ErrMalformed saying %q", err, tc.wantMsg)
				}
				return
			}
			e := base64.RawURLEncoding.EncodeToString
			if err != nil || e(id) != tc.id || e(handle) != tc.handle || (tc.handle == "") != (handle == nil) {
				t.Fatalf("id %q handle %q (%v), want %q %q", e(id), e(handle), err, tc.id, tc.handle)
			}
		})
	}
}
