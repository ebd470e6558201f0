package fido

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// regJSON is the RegistrationResponseJSON a browser sends for r.
func (k *testKey) regJSON(t testing.TB, r registration) []byte {
	t.Helper()
	e := base64.RawURLEncoding.EncodeToString
	b, err := json.Marshal(map[string]any{"id": e(k.credID), "rawId": e(k.credID), "type": "public-key", "authenticatorAttachment": "cross-platform",
		"clientExtensionResults": map[string]any{}, "response": map[string]any{"clientDataJSON": e(r.clientDataJSON), "attestationObject": e(r.attestationObject),
			"transports": []string{"usb"}, "authenticatorData": e(r.authData), "publicKeyAlgorithm": -7}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCreationOptions(t *testing.T) {
	p := Policy{RPID: testRPID, RPName: "Example University", Origin: testOrigin}
	ch := bytes.Repeat([]byte{0xfb}, 32)
	raw := CreationOptions(p, ch, UserEntity{ID: []byte("0123456789"), Name: "0123456789", DisplayName: "0123456789"}, [][]byte{{1, 2, 3}}, 5*time.Minute)
	var o map[string]any
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	want := `{"attestation":"none","authenticatorSelection":{"requireResidentKey":false,"residentKey":"preferred","userVerification":"required"},` +
		`"challenge":"-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s","excludeCredentials":[{"id":"AQID","type":"public-key"}],` +
		`"pubKeyCredParams":[{"alg":-7,"type":"public-key"},{"alg":-8,"type":"public-key"},{"alg":-257,"type":"public-key"}],` +
		`"rp":{"id":"` + testRPID + `","name":"Example University"},"timeout":300000,"user":{"displayName":"0123456789","id":"MDEyMzQ1Njc4OQ","name":"0123456789"}}`
	if got, _ := json.Marshal(o); string(got) != want {
		t.Fatalf("options\n%s\nwant\n%s", got, want)
	}
	for _, tc := range []struct {
		p    Policy
		want string
	}{{Policy{RPID: "x", AttestationRequired: true}, "direct"}, {Policy{RPID: "x", RefuseSynced: true}, "direct"}, {Policy{RPID: "x"}, "none"}} {
		json.Unmarshal(CreationOptions(tc.p, ch, UserEntity{}, nil, 0), &o)
		if o["attestation"] != tc.want || o["excludeCredentials"] == nil {
			t.Errorf("policy %+v: attestation %v, excludeCredentials %v; want %s and []", tc.p, o["attestation"], o["excludeCredentials"], tc.want)
		}
	}
}

func TestVerifyRegistrationResponse(t *testing.T) {
	ca := newTestCA(t, testAAGUID)
	k := newTestKey(t, ca)
	p := testPolicy(ca)
	r := k.register(t, "packed", flagUP|flagUV|flagAT)
	cred, resp, err := VerifyRegistrationResponse(p, r.challenge, k.regJSON(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cred.ID, k.credID) || !bytes.Equal(resp.AttestationObject, r.attestationObject) || resp.Attachment != "cross-platform" || len(resp.Transports) != 1 {
		t.Fatalf("credential %x, response %+v", cred.ID, resp)
	}
	valid := string(k.regJSON(t, r))
	other := base64.RawURLEncoding.EncodeToString([]byte("another credential"))
	for name, tc := range map[string]struct {
		body string
		kind error
	}{
		"wrong type":      {strings.Replace(valid, `"type":"public-key"`, `"type":"password"`, 1), ErrMalformed},
		"id is not rawId": {strings.Replace(valid, `"id":"`, `"id":"`+other[:8], 1), ErrMalformed},
		"rawId not attested": {strings.ReplaceAll(strings.Replace(valid, `"id":"`+base64.RawURLEncoding.EncodeToString(k.credID), `"id":"`+other, 1),
			`"rawId":"`+base64.RawURLEncoding.EncodeToString(k.credID), `"rawId":"`+other), ErrMalformed},
		"no response":      {`{"id":"AA","rawId":"AA","type":"public-key"}`, ErrMalformed},
		"not base64url":    {strings.Replace(valid, `"clientDataJSON":"`, `"clientDataJSON":"*`, 1), ErrMalformed},
		"another ceremony": {string(k.regJSON(t, k.register(t, "packed", flagUP|flagUV|flagAT))), ErrChallengeMismatch},
	} {
		if _, _, err := VerifyRegistrationResponse(p, r.challenge, []byte(tc.body)); !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", name, err, tc.kind)
		}
	}
}

// FuzzParseRegistrationResponse: no input makes the parser or the
// verification panic, every refusal is one of the package's kinds, and
// what verifies is, checked here with encoding/json alone, a response of
// type public-key whose rawId is the attested credential and whose client
// data carries the ceremony's challenge and origin.
func FuzzParseRegistrationResponse(f *testing.F) {
	ca := newTestCA(f, testAAGUID)
	k := newTestKey(f, ca)
	p := testPolicy(ca)
	r := k.register(f, "packed", flagUP|flagUV|flagAT)
	valid := k.regJSON(f, r)
	f.Add(valid)
	f.Add([]byte(strings.Replace(string(valid), `"type":"public-key"`, `"type":"public-key","type":"x"`, 1)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{"response":null,"type":"public-key"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, perr := ParseRegistrationResponse(in)
		if perr != nil && !errors.Is(perr, ErrMalformed) {
			t.Fatalf("parse error of no kind: %v", perr)
		}
		cred, _, err := VerifyRegistrationResponse(p, r.challenge, in)
		if err != nil {
			if Kind(err) == "" {
				t.Fatalf("refusal of no kind: %v", err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("verified what did not parse: %v", perr)
		}
		var j struct {
			ID, RawID, Type string
			Response        struct{ ClientDataJSON string }
		}
		if err := json.Unmarshal(in, &j); err != nil || j.Type != "public-key" {
			t.Fatalf("verified a response that is not a public-key credential: %v %q", err, j.Type)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.RawID, "="))
		if !bytes.Equal(raw, cred.ID) || !bytes.Equal(resp.RawID, cred.ID) {
			t.Fatalf("verified credential %x is not rawId %x", cred.ID, raw)
		}
		cdj, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.Response.ClientDataJSON, "="))
		var cd struct{ Type, Challenge, Origin string }
		if json.Unmarshal(cdj, &cd) != nil || cd.Type != TypeCreate || cd.Challenge != base64.RawURLEncoding.EncodeToString(r.challenge) || cd.Origin != testOrigin {
			t.Fatalf("verified client data %s", cdj)
		}
	})
}
