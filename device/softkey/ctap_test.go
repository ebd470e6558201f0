package softkey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

func cdhOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mcParams(rpID string, userID []byte, rk bool) map[int]any {
	p := map[int]any{
		1: cdhOf("mc " + rpID),
		2: map[string]any{"id": rpID, "name": "RP " + rpID},
		3: map[string]any{"id": userID, "name": "user-" + string(userID), "displayName": "User " + string(userID)},
		4: []map[string]any{{"type": "public-key", "alg": -7}},
	}
	if rk {
		p[7] = map[string]bool{"rk": true}
	}
	return p
}

func withPinAuth(p map[int]any, c *pinClient, tok, cdh []byte) map[int]any {
	p[8] = pinAuthenticate(c.proto, tok, cdh)
	p[9] = c.proto
	return p
}

type mcReply struct {
	Fmt      string                     `cbor:"1,keyasint"`
	AuthData []byte                     `cbor:"2,keyasint"`
	AttStmt  map[string]cbor.RawMessage `cbor:"3,keyasint"`
}

type gaReply struct {
	Credential credDescriptor `cbor:"1,keyasint"`
	AuthData   []byte         `cbor:"2,keyasint"`
	Signature  []byte         `cbor:"3,keyasint"`
	User       *userEntity    `cbor:"4,keyasint"`
	Count      int            `cbor:"5,keyasint"`
}

func makeCredential(t *testing.T, h ctapClient, p map[int]any) (mcReply, parsedAuthData) {
	t.Helper()
	st, body, _ := h.cbor(cmdMakeCredential, p)
	if st != StatusOK {
		t.Fatalf("MakeCredential: status %#x", byte(st))
	}
	r := decodeInto[mcReply](t, body)
	return r, parseAuthData(t, r.AuthData)
}

func TestGetInfoOverPTY(t *testing.T) {
	aaguid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	k := startKey(t, Options{AAGUID: aaguid, MinPINLength: 6})
	h := openHost(t, k)
	m := h.mustCBOR(cmdGetInfo, nil)
	if v := decodeInto[[]string](t, m[1]); len(v) != 2 || v[0] != "FIDO_2_0" || v[1] != "FIDO_2_1" {
		t.Errorf("versions %v", v)
	}
	if v := decodeInto[[]byte](t, m[3]); !bytes.Equal(v, aaguid[:]) {
		t.Errorf("aaguid %x", v)
	}
	opts := decodeInto[map[string]bool](t, m[4])
	for _, o := range []string{"rk", "up", "credMgmt", "pinUvAuthToken"} {
		if !opts[o] {
			t.Errorf("option %s not true: %v", o, opts)
		}
	}
	if v, ok := opts["clientPin"]; !ok || v {
		t.Errorf("clientPin = %v, %v; want present and false before a PIN is set", v, ok)
	}
	if v := decodeInto[[]int](t, m[6]); len(v) != 2 || v[0] != 2 || v[1] != 1 {
		t.Errorf("pinUvAuthProtocols %v", v)
	}
	if v := decodeInto[int](t, m[13]); v != 6 {
		t.Errorf("minPINLength %d", v)
	}
	if v := decodeInto[int](t, m[5]); v != maxMsgSize {
		t.Errorf("maxMsgSize %d", v)
	}
}

func TestPingAndWinkOverPTY(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	payload := bytes.Repeat([]byte("0123456789"), 30) // several continuation packets
	h.send(hidPing, payload)
	if cmd, data := h.recv(); cmd != hidPing || !bytes.Equal(data, payload) {
		t.Fatalf("PING echo cmd %#x len %d", cmd, len(data))
	}
	h.send(hidWink, nil)
	if cmd, _ := h.recv(); cmd != hidWink {
		t.Fatalf("WINK reply %#x", cmd)
	}
	s, err := k.Snapshot()
	if err != nil || s.Winks != 1 {
		t.Fatalf("winks %d, %v", s.Winks, err)
	}
	h.send(hidMsg, []byte{0, 1, 0, 0})
	if cmd, data := h.recv(); cmd != hidError || data[0] != hidErrInvalidCmd {
		t.Fatalf("MSG reply %#x %x", cmd, data)
	}
}

func TestContinuationTimeoutOverPTY(t *testing.T) {
	k := startKey(t, Options{MessageTimeout: 50 * time.Millisecond})
	h := openHost(t, k)
	// Announce 200 bytes, send only the init packet.
	rep := make([]byte, reportSize)
	binary.BigEndian.PutUint32(rep, h.cid)
	rep[4] = 0x80 | hidPing
	binary.BigEndian.PutUint16(rep[5:7], 200)
	h.writeReport(rep)
	if cmd, data := h.recv(); cmd != hidError || data[0] != hidErrMsgTimeout {
		t.Fatalf("reply %#x %x, want ERR_MSG_TIMEOUT", cmd, data)
	}
}

func TestUserPresenceKeepalivesAndManualTouch(t *testing.T) {
	k := startKey(t, Options{Presence: PresenceManual, KeepaliveInterval: 10 * time.Millisecond})
	h := openHost(t, k)
	h.send(hidCBOR, append([]byte{cmdMakeCredential}, mustMarshal(mcParams("example.org", []byte("u1"), false))...))
	if err := k.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	// The key keeps saying it needs a touch until it gets one. A PROCESSING
	// keepalive sent before the wait began may still be in the pipe on a
	// busy machine: skip those, but nothing else.
	for seen, reads := 0, 0; seen < 3; reads++ {
		if reads > 20 {
			t.Fatal("no three UPNEEDED keepalives in 20 reports")
		}
		cmd, data := h.recv()
		switch {
		case cmd == hidKeepalive && data[0] == keepaliveUPNeeded:
			seen++
		case cmd == hidKeepalive && data[0] == keepaliveProcessing && seen == 0:
		default:
			t.Fatalf("got %#x %x, want KEEPALIVE UPNEEDED", cmd, data)
		}
	}
	k.Touch()
	for {
		cmd, data := h.recv()
		if cmd == hidKeepalive {
			continue
		}
		if cmd != hidCBOR || Status(data[0]) != StatusOK {
			t.Fatalf("reply %#x status %#x", cmd, data[0])
		}
		break
	}
}

func TestUserPresenceTimeout(t *testing.T) {
	k := startKey(t, Options{Presence: PresenceNever, PresenceTimeout: 100 * time.Millisecond, KeepaliveInterval: 10 * time.Millisecond})
	h := openHost(t, k)
	st, _, ka := h.cbor(cmdMakeCredential, mcParams("example.org", []byte("u1"), false))
	if st != StatusUserActionTimeout {
		t.Fatalf("status %#x, want USER_ACTION_TIMEOUT", byte(st))
	}
	if ka[keepaliveUPNeeded] == 0 {
		t.Fatal("no UPNEEDED keepalive while waiting")
	}
}

func TestCancelWhileWaitingForTouch(t *testing.T) {
	k := startKey(t, Options{Presence: PresenceManual})
	h := openHost(t, k)
	other := openHost(t, k) // a second channel on the same device
	h.send(hidCBOR, append([]byte{cmdMakeCredential}, mustMarshal(mcParams("example.org", []byte("u1"), false))...))
	if err := k.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	other.send(hidPing, []byte{1})
	if cmd, data := other.recv(); cmd != hidError || data[0] != hidErrChannelBusy {
		t.Fatalf("other channel got %#x %x, want ERR_CHANNEL_BUSY", cmd, data)
	}
	h.send(hidCancel, nil)
	for {
		cmd, data := h.recv()
		if cmd == hidKeepalive {
			continue
		}
		if cmd != hidCBOR || Status(data[0]) != StatusKeepaliveCancel {
			t.Fatalf("reply %#x %x, want KEEPALIVE_CANCEL", cmd, data)
		}
		break
	}
	// The key serves requests again afterwards.
	h.mustCBOR(cmdGetInfo, nil)
}

func TestBadRequests(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	noAlg := mcParams("example.org", []byte("u"), false)
	noAlg[4] = []map[string]any{{"type": "public-key", "alg": -257}}
	noRP := mcParams("example.org", []byte("u"), false)
	delete(noRP, 2)
	badType := mcParams("example.org", []byte("u"), false)
	badType[1] = "not bytes"
	upFalse := mcParams("example.org", []byte("u"), false)
	upFalse[7] = map[string]bool{"up": false}
	tests := []struct {
		name string
		raw  []byte
		want Status
	}{
		{"unsupported algorithm", append([]byte{cmdMakeCredential}, mustMarshal(noAlg)...), StatusUnsupportedAlg},
		{"missing rp", append([]byte{cmdMakeCredential}, mustMarshal(noRP)...), StatusMissingParameter},
		{"wrong type", append([]byte{cmdMakeCredential}, mustMarshal(badType)...), StatusCBORUnexpectedType},
		{"up false on make credential", append([]byte{cmdMakeCredential}, mustMarshal(upFalse)...), StatusInvalidOption},
		{"truncated cbor", []byte{cmdMakeCredential, 0xa5, 0x01}, StatusInvalidCBOR},
		{"duplicate map key", []byte{cmdGetAssertion, 0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'}, StatusInvalidCBOR},
		{"not a map", []byte{cmdClientPIN, 0x01}, StatusCBORUnexpectedType},
		{"no params", []byte{cmdGetAssertion}, StatusMissingParameter},
		{"unknown command", []byte{0x55}, StatusInvalidCommand},
		{"config without subcommand", []byte{cmdConfig, 0xa0}, StatusMissingParameter},
		{"config enterprise attestation", append([]byte{cmdConfig}, mustMarshal(map[int]any{1: cfgEnableEnterpriseAttestation})...), StatusInvalidSubcommand},
		{"unknown pin subcommand", append([]byte{cmdClientPIN}, mustMarshal(map[int]any{1: 2, 2: 0x20})...), StatusInvalidSubcommand},
		{"unsupported pin protocol", append([]byte{cmdClientPIN}, mustMarshal(map[int]any{1: 3, 2: pinGetKeyAgreement})...), StatusInvalidParameter},
		{"next assertion without assertion", []byte{cmdGetNextAssertion}, StatusNotAllowed},
		{"unknown allowList credential", append([]byte{cmdGetAssertion}, mustMarshal(map[int]any{
			1: "example.org", 2: cdhOf("x"), 3: []credDescriptor{{Type: "public-key", ID: make([]byte, credIDLen)}},
		})...), StatusNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.send(hidCBOR, tt.raw)
			cmd, data := h.recv()
			if cmd != hidCBOR || Status(data[0]) != tt.want {
				t.Fatalf("reply %#x %x, want status %#x", cmd, data, byte(tt.want))
			}
		})
	}
}

func TestPINProtocols(t *testing.T) {
	for _, proto := range []uint64{pinProtocol1, pinProtocol2} {
		t.Run(map[uint64]string{1: "protocol1", 2: "protocol2"}[proto], func(t *testing.T) {
			k := startKey(t, Options{})
			h := openHost(t, k)
			c := newPINClient(t, h, proto)

			if st, _, _ := h.cbor(cmdClientPIN, c.setPINParams(t, "123")); st != StatusPINPolicyViolation {
				t.Fatalf("3-digit PIN: status %#x, want PIN_POLICY_VIOLATION", byte(st))
			}
			h.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))
			if st, _, _ := h.cbor(cmdClientPIN, c.setPINParams(t, "5678")); st != StatusNotAllowed {
				t.Fatalf("second setPIN: status %#x, want NOT_ALLOWED", byte(st))
			}
			// A PIN is now required to make credentials.
			if st, _, _ := h.cbor(cmdMakeCredential, mcParams("example.org", []byte("u"), false)); st != StatusPUATRequired {
				t.Fatalf("MakeCredential without PIN: status %#x", byte(st))
			}

			tok := c.token(t, h, "1234", 0, "")
			p := mcParams("example.org", []byte("u"), true)
			_, ad := makeCredential(t, h, withPinAuth(p, c, tok, p[1].([]byte)))
			if ad.flags&flagUV == 0 {
				t.Fatalf("flags %#x: UV not set after PIN auth", ad.flags)
			}
			// A wrong pinUvAuthParam is refused.
			p = mcParams("example.org", []byte("u2"), false)
			p = withPinAuth(p, c, tok, cdhOf("something else"))
			if st, _, _ := h.cbor(cmdMakeCredential, p); st != StatusPINAuthInvalid {
				t.Fatalf("bad pinUvAuthParam: status %#x", byte(st))
			}

			// changePIN with the right current PIN.
			c = newPINClient(t, h, proto)
			newPinEnc := c.enc(t, pad64("98765"))
			pinHashEnc := c.enc(t, pinHashOf("1234"))
			h.mustCBOR(cmdClientPIN, map[int]any{
				1: proto, 2: pinChangePIN, 3: c.pub, 5: newPinEnc, 6: pinHashEnc,
				4: pinAuthenticate(proto, c.secret, append(append([]byte(nil), newPinEnc...), pinHashEnc...)),
			})
			// The old token died with the PIN change.
			p = mcParams("example.org", []byte("u3"), false)
			if st, _, _ := h.cbor(cmdMakeCredential, withPinAuth(p, c, tok, p[1].([]byte))); st != StatusPINAuthInvalid {
				t.Fatalf("old token after changePIN: status %#x", byte(st))
			}
			c.token(t, h, "98765", permMakeCredential, "example.org")
		})
	}
}

func retries(t *testing.T, h ctapClient) (int, bool) {
	t.Helper()
	m := h.mustCBOR(cmdClientPIN, map[int]any{1: 2, 2: pinGetRetries})
	return decodeInto[int](t, m[3]), decodeInto[bool](t, m[4])
}

func TestWrongPINRetriesAndBlocking(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	c := newPINClient(t, h, pinProtocol2)
	h.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))

	tryPIN := func(pin string) Status {
		t.Helper()
		c := newPINClient(t, h, pinProtocol2) // a wrong PIN rotates the key agreement key
		st, _, _ := h.cbor(cmdClientPIN, c.tokenParams(t, pin, 0, ""))
		return st
	}
	want := []Status{StatusPINInvalid, StatusPINInvalid, StatusPINAuthBlocked}
	for i, w := range want {
		if st := tryPIN("0000"); st != w {
			t.Fatalf("wrong PIN %d: status %#x, want %#x", i+1, byte(st), byte(w))
		}
	}
	if n, pc := retries(t, h); n != 5 || !pc {
		t.Fatalf("retries %d powerCycle %v, want 5 true", n, pc)
	}
	// Even the right PIN is refused until a power cycle.
	if st := tryPIN("1234"); st != StatusPINAuthBlocked {
		t.Fatalf("right PIN before power cycle: %#x", byte(st))
	}
	if err := k.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	h = openHost(t, k)
	if st := tryPIN("1234"); st != StatusOK {
		t.Fatalf("right PIN after power cycle: %#x", byte(st))
	}
	if n, _ := retries(t, h); n != maxPINRetries {
		t.Fatalf("retries after a good PIN: %d", n)
	}
	// Eight wrong PINs in all block the PIN for good.
	for i := range maxPINRetries {
		if i > 0 && i%3 == 0 {
			if err := k.PowerCycle(); err != nil {
				t.Fatal(err)
			}
			h = openHost(t, k)
		}
		st := tryPIN("0000")
		if i == maxPINRetries-1 && st != StatusPINBlocked {
			t.Fatalf("eighth wrong PIN: %#x, want PIN_BLOCKED", byte(st))
		}
	}
	if st := tryPIN("1234"); st != StatusPINBlocked {
		t.Fatalf("right PIN when blocked: %#x", byte(st))
	}
	s, _ := k.Snapshot()
	if s.PINRetries != 0 {
		t.Fatalf("snapshot retries %d", s.PINRetries)
	}
}

func TestAttestationFormats(t *testing.T) {
	for _, f := range []AttestationFormat{AttestationPacked, AttestationSelf, AttestationNone} {
		t.Run(f.String(), func(t *testing.T) {
			k := startKey(t, Options{Attestation: f})
			h := openHost(t, k)
			p := mcParams("login.example.ac.jp", []byte("alice"), false)
			r, _ := makeCredential(t, h, p)
			var ca = k.AttestationCA()
			if f != AttestationPacked {
				ca = nil
			}
			ad := checkAttestation(t, r.Fmt, r.AuthData, r.AttStmt, "login.example.ac.jp", p[1].([]byte), ca)
			if aaguid := k.AAGUID(); !bytes.Equal(ad.aaguid, aaguid[:]) {
				t.Fatalf("authData AAGUID %x", ad.aaguid)
			}
			wantFmt := map[AttestationFormat]string{AttestationPacked: "packed", AttestationSelf: "packed", AttestationNone: "none"}[f]
			if r.Fmt != wantFmt {
				t.Fatalf("fmt %q, want %q", r.Fmt, wantFmt)
			}
			// The credential then signs assertions the RP can verify.
			cdh := cdhOf("assert")
			st, body, _ := h.cbor(cmdGetAssertion, map[int]any{1: "login.example.ac.jp", 2: cdh, 3: []credDescriptor{{Type: "public-key", ID: ad.credID}}})
			if st != StatusOK {
				t.Fatalf("GetAssertion: %#x", byte(st))
			}
			ga := decodeInto[gaReply](t, body)
			verifySig(t, ad.pub, ga.AuthData, cdh, ga.Signature)
			if got := parseAuthData(t, ga.AuthData); got.count <= ad.count || got.flags != flagUP {
				t.Fatalf("assertion counter %d after %d, flags %#x", got.count, ad.count, got.flags)
			}
		})
	}
}

func TestExcludeList(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	_, ad := makeCredential(t, h, mcParams("example.org", []byte("u"), false))
	p := mcParams("example.org", []byte("u"), false)
	p[5] = []credDescriptor{{Type: "public-key", ID: ad.credID}}
	if st, _, _ := h.cbor(cmdMakeCredential, p); st != StatusCredentialExcluded {
		t.Fatalf("status %#x, want CREDENTIAL_EXCLUDED", byte(st))
	}
	// The same ID does not exclude for another RP.
	p = mcParams("other.example", []byte("u"), false)
	p[5] = []credDescriptor{{Type: "public-key", ID: ad.credID}}
	makeCredential(t, h, p)
}

func TestResidentAssertionsAndNext(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	_, first := makeCredential(t, h, mcParams("example.org", []byte("alice"), true))
	_, second := makeCredential(t, h, mcParams("example.org", []byte("bob"), true))
	makeCredential(t, h, mcParams("other.example", []byte("carol"), true))
	// Same user again replaces the old credential.
	_, third := makeCredential(t, h, mcParams("other.example", []byte("carol"), true))

	creds, err := k.Credentials()
	if err != nil || len(creds) != 3 {
		t.Fatalf("credentials %d, %v", len(creds), err)
	}

	cdh := cdhOf("discover")
	st, body, _ := h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdh})
	if st != StatusOK {
		t.Fatalf("GetAssertion: %#x", byte(st))
	}
	a := decodeInto[gaReply](t, body)
	if a.Count != 2 || !bytes.Equal(a.Credential.ID, second.credID) || a.User == nil || string(a.User.ID) != "bob" {
		t.Fatalf("first assertion: count %d user %+v", a.Count, a.User)
	}
	if a.User.Name != "" {
		t.Fatalf("user name %q disclosed without user verification", a.User.Name)
	}
	verifySig(t, second.pub, a.AuthData, cdh, a.Signature)
	st, body, _ = h.cbor(cmdGetNextAssertion, nil)
	if st != StatusOK {
		t.Fatalf("GetNextAssertion: %#x", byte(st))
	}
	b := decodeInto[gaReply](t, body)
	if !bytes.Equal(b.Credential.ID, first.credID) || string(b.User.ID) != "alice" {
		t.Fatalf("second assertion user %+v", b.User)
	}
	verifySig(t, first.pub, b.AuthData, cdh, b.Signature)
	if parseAuthData(t, b.AuthData).count <= parseAuthData(t, a.AuthData).count {
		t.Fatal("sign counter did not increase")
	}
	if st, _, _ := h.cbor(cmdGetNextAssertion, nil); st != StatusNotAllowed {
		t.Fatalf("third GetNextAssertion: %#x", byte(st))
	}
	st, body, _ = h.cbor(cmdGetAssertion, map[int]any{1: "other.example", 2: cdh})
	if st != StatusOK {
		t.Fatalf("GetAssertion other: %#x", byte(st))
	}
	if c := decodeInto[gaReply](t, body); c.Count > 1 || !bytes.Equal(c.Credential.ID, third.credID) {
		t.Fatalf("other.example: count %d", c.Count)
	}
	if st, _, _ := h.cbor(cmdGetAssertion, map[int]any{1: "nobody.example", 2: cdh}); st != StatusNoCredentials {
		t.Fatalf("unknown RP: %#x", byte(st))
	}
}

func TestCredProtectRequiresUV(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	p := mcParams("example.org", []byte("u"), true)
	p[6] = map[string]any{"credProtect": 3}
	r, ad := makeCredential(t, h, p)
	if ad.flags&flagED == 0 || decodeInto[int](t, ad.ext["credProtect"]) != 3 {
		t.Fatalf("flags %#x ext %v", ad.flags, ad.ext)
	}
	_ = r
	if st, _, _ := h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x")}); st != StatusNoCredentials {
		t.Fatalf("discoverable without UV: %#x", byte(st))
	}
	if st, _, _ := h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x"), 3: []credDescriptor{{Type: "public-key", ID: ad.credID}}}); st != StatusNoCredentials {
		t.Fatalf("allowList without UV: %#x", byte(st))
	}
	c := newPINClient(t, h, pinProtocol2)
	h.mustCBOR(cmdClientPIN, c.setPINParams(t, "4321"))
	tok := c.token(t, h, "4321", permGetAssertion, "example.org")
	cdh := cdhOf("y")
	st, body, _ := h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdh, 6: pinAuthenticate(2, tok, cdh), 7: 2})
	if st != StatusOK {
		t.Fatalf("with UV: %#x", byte(st))
	}
	a := decodeInto[gaReply](t, body)
	if a.User == nil || a.User.Name != "user-u" || a.User.DisplayName != "User u" {
		t.Fatalf("user after UV: %+v", a.User)
	}
	// The token is bound to example.org.
	cdh = cdhOf("z")
	p = mcParams("evil.example", []byte("u"), false)
	p[1] = cdh
	if st, _, _ := h.cbor(cmdMakeCredential, withPinAuth(p, c, tok, cdh)); st != StatusPINAuthInvalid {
		t.Fatalf("token used for another RP / permission: %#x", byte(st))
	}
}

func TestCredentialManagement(t *testing.T) {
	k := startKey(t, Options{MaxResidentKeys: 3})
	h := openHost(t, k)
	c := newPINClient(t, h, pinProtocol2)
	h.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))
	mk := func(rp, user string) parsedAuthData {
		tok := c.token(t, h, "1234", 0, "")
		p := mcParams(rp, []byte(user), true)
		_, ad := makeCredential(t, h, withPinAuth(p, c, tok, p[1].([]byte)))
		return ad
	}
	mk("a.example", "u1")
	target := mk("a.example", "u2")
	mk("b.example", "u3")
	tok := c.token(t, h, "1234", 0, "")
	p := mcParams("c.example", []byte("u4"), true)
	if st, _, _ := h.cbor(cmdMakeCredential, withPinAuth(p, c, tok, p[1].([]byte))); st != StatusKeyStoreFull {
		t.Fatalf("fourth resident key: %#x, want KEY_STORE_FULL", byte(st))
	}

	cm := func(tok []byte, sub byte, params map[int]any) (Status, map[int]cbor.RawMessage) {
		t.Helper()
		req := map[int]any{1: sub}
		msg := []byte{sub}
		if params != nil {
			req[2] = params
			msg = append(msg, mustMarshal(params)...)
		}
		if tok != nil {
			req[3] = 2
			req[4] = pinAuthenticate(2, tok, msg)
		}
		st, body, _ := h.cbor(cmdCredMgmt, req)
		var m map[int]cbor.RawMessage
		if st == StatusOK && len(body) > 0 {
			m = decodeInto[map[int]cbor.RawMessage](t, body)
		}
		return st, m
	}
	if st, _ := cm(nil, cmGetCredsMetadata, nil); st != StatusPUATRequired {
		t.Fatalf("metadata without token: %#x", byte(st))
	}
	mcTok := c.token(t, h, "1234", permMakeCredential, "")
	if st, _ := cm(mcTok, cmGetCredsMetadata, nil); st != StatusPINAuthInvalid {
		t.Fatalf("metadata with an mc-only token: %#x", byte(st))
	}
	tok = c.token(t, h, "1234", permCredMgmt, "")
	st, m := cm(tok, cmGetCredsMetadata, nil)
	if st != StatusOK || decodeInto[int](t, m[1]) != 3 || decodeInto[int](t, m[2]) != 0 {
		t.Fatalf("metadata: %#x %v", byte(st), m)
	}
	st, m = cm(tok, cmEnumerateRPsBegin, nil)
	if st != StatusOK || decodeInto[int](t, m[5]) != 2 || decodeInto[rpEntity](t, m[3]).ID != "a.example" {
		t.Fatalf("RPs begin: %#x %v", byte(st), m)
	}
	st, m = cm(nil, cmEnumerateRPsNext, nil)
	if st != StatusOK || decodeInto[rpEntity](t, m[3]).ID != "b.example" {
		t.Fatalf("RPs next: %#x", byte(st))
	}
	if st, _ := cm(nil, cmEnumerateRPsNext, nil); st != StatusNotAllowed {
		t.Fatalf("RPs past the end: %#x", byte(st))
	}
	st, m = cm(tok, cmEnumerateCredsBegin, map[int]any{1: rpHash("a.example")})
	if st != StatusOK || decodeInto[int](t, m[9]) != 2 {
		t.Fatalf("creds begin: %#x %v", byte(st), m)
	}
	st, m = cm(nil, cmEnumerateCredsNext, nil)
	if st != StatusOK || string(decodeInto[userEntity](t, m[6]).ID) != "u2" {
		t.Fatalf("creds next: %#x", byte(st))
	}
	st, _ = cm(tok, cmUpdateUserInformation, map[int]any{
		2: credDescriptor{Type: "public-key", ID: target.credID},
		3: map[string]any{"id": []byte("u2"), "name": "renamed"},
	})
	if st != StatusOK {
		t.Fatalf("update user: %#x", byte(st))
	}
	if st, _ := cm(tok, cmDeleteCredential, map[int]any{2: credDescriptor{Type: "public-key", ID: target.credID}}); st != StatusOK {
		t.Fatalf("delete: %#x", byte(st))
	}
	if st, _ := cm(tok, cmDeleteCredential, map[int]any{2: credDescriptor{Type: "public-key", ID: target.credID}}); st != StatusNoCredentials {
		t.Fatalf("delete again: %#x", byte(st))
	}
	creds, _ := k.Credentials()
	if len(creds) != 2 {
		t.Fatalf("%d credentials after delete", len(creds))
	}
	// A token bound to one RP cannot list the others.
	bound := c.token(t, h, "1234", permCredMgmt, "b.example")
	if st, _ := cm(bound, cmEnumerateRPsBegin, nil); st != StatusPINAuthInvalid {
		t.Fatalf("RP-bound token enumerating RPs: %#x", byte(st))
	}
}

func TestResetWindow(t *testing.T) {
	t.Run("within window wipes the key", func(t *testing.T) {
		k := startKey(t, Options{ResetWindow: -1})
		h := openHost(t, k)
		c := newPINClient(t, h, 2)
		h.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))
		tok := c.token(t, h, "1234", 0, "")
		p := mcParams("example.org", []byte("u"), true)
		_, ad := makeCredential(t, h, withPinAuth(p, c, tok, p[1].([]byte)))
		h.mustCBOR(cmdReset, nil)
		s, _ := k.Snapshot()
		if s.PINSet || len(s.Credentials) != 0 || s.PINRetries != maxPINRetries {
			t.Fatalf("after reset: %+v", s)
		}
		// Old non-resident credential IDs no longer unwrap.
		if st, _, _ := h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x"), 3: []credDescriptor{{Type: "public-key", ID: ad.credID}}}); st != StatusNoCredentials {
			t.Fatalf("old credential after reset: %#x", byte(st))
		}
	})
	t.Run("after window refused", func(t *testing.T) {
		now := t0
		a := newAuthenticator(coreConfig{aaguid: DefaultAAGUID, minPINLen: 4, maxResident: 5, resetWindow: 10 * time.Second,
			protocols: []uint64{2}, log: testLogger(t)}, nil, func() time.Time { return now })
		now = now.Add(11 * time.Second)
		resp, _ := a.handle([]byte{cmdReset}, func() error { return nil })
		if Status(resp[0]) != StatusNotAllowed {
			t.Fatalf("reset after window: %#x", resp[0])
		}
		a.powerUp()
		resp, _ = a.handle([]byte{cmdReset}, func() error { return nil })
		if Status(resp[0]) != StatusOK {
			t.Fatalf("reset after power-up: %#x", resp[0])
		}
	})
}

func TestSelectionWaitsForTouch(t *testing.T) {
	k := startKey(t, Options{Presence: PresenceNever, PresenceTimeout: 50 * time.Millisecond})
	h := openHost(t, k)
	if st, _, _ := h.cbor(cmdSelection, nil); st != StatusUserActionTimeout {
		t.Fatalf("selection without touch: %#x", byte(st))
	}
	k.Touch()
	if st, _, _ := h.cbor(cmdSelection, nil); st != StatusOK {
		t.Fatalf("selection with touch: %#x", byte(st))
	}
}

func TestFaultGarbageReply(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	if err := k.InjectFault(FaultGarbageReply); err != nil {
		t.Fatal(err)
	}
	h.send(hidCBOR, []byte{cmdGetInfo})
	cmd, _ := h.recv()
	if cmd == hidCBOR || cmd == hidKeepalive {
		t.Fatalf("garbage reply has command %#x", cmd)
	}
	h.mustCBOR(cmdGetInfo, nil) // one-shot
}

func TestFaultRemoval(t *testing.T) {
	for _, f := range []Fault{FaultRemoveOnRequest, FaultRemoveOnPresence} {
		t.Run(map[Fault]string{FaultRemoveOnRequest: "on request", FaultRemoveOnPresence: "on presence"}[f], func(t *testing.T) {
			k := startKey(t, Options{})
			h := openHost(t, k)
			if err := k.InjectFault(f); err != nil {
				t.Fatal(err)
			}
			h.send(hidCBOR, append([]byte{cmdMakeCredential}, mustMarshal(mcParams("example.org", []byte("u"), false))...))
			waitDone(t, k)
			for {
				rep, err := h.tryReadReport(testTimeout)
				if err == nil {
					if rep[4] == 0x80|hidKeepalive {
						continue
					}
					t.Fatalf("report %x from a removed key", rep[:8])
				}
				if !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
					t.Fatalf("read from removed key: %v, want EIO or EOF", err)
				}
				break
			}
			if _, err := k.Snapshot(); !errors.Is(err, ErrRemoved) {
				t.Fatalf("Snapshot after removal: %v", err)
			}
		})
	}
}

func TestSlowResponseSendsProcessingKeepalives(t *testing.T) {
	k := startKey(t, Options{KeepaliveInterval: 10 * time.Millisecond})
	h := openHost(t, k)
	if err := k.SetResponseDelay(60 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	st, _, ka := h.cbor(cmdGetInfo, nil)
	if st != StatusOK || ka[keepaliveProcessing] == 0 {
		t.Fatalf("status %#x keepalives %v", byte(st), ka)
	}
}

func TestCancelSlowResponse(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	if err := k.SetResponseDelay(time.Hour); err != nil {
		t.Fatal(err)
	}
	h.send(hidCBOR, []byte{cmdGetInfo})
	if cmd, data := h.recv(); cmd != hidKeepalive || data[0] != keepaliveProcessing {
		t.Fatalf("got %#x %x, want KEEPALIVE PROCESSING", cmd, data)
	}
	h.send(hidCancel, nil)
	for {
		cmd, data := h.recv()
		if cmd == hidKeepalive {
			continue
		}
		if cmd != hidCBOR || Status(data[0]) != StatusKeepaliveCancel {
			t.Fatalf("reply %#x %x, want KEEPALIVE_CANCEL", cmd, data)
		}
		break
	}
}

func TestBlockPIN(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	c := newPINClient(t, h, 2)
	h.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))
	if err := k.BlockPIN(); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := h.cbor(cmdClientPIN, c.tokenParams(t, "1234", 0, "")); st != StatusPINBlocked {
		t.Fatalf("status %#x, want PIN_BLOCKED", byte(st))
	}
}

func TestStateFilePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.json")
	k := startKey(t, Options{StateFile: path})
	h := openHost(t, k)
	c := newPINClient(t, h, 2)
	h.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))
	tok := c.token(t, h, "1234", 0, "")
	p := mcParams("example.org", []byte("u"), true)
	_, ad := makeCredential(t, h, withPinAuth(p, c, tok, p[1].([]byte)))
	ca := k.AttestationCA()
	k.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	k2 := startKey(t, Options{StateFile: path})
	if !k2.AttestationCA().Equal(ca) {
		t.Fatal("attestation CA changed across restart")
	}
	s, _ := k2.Snapshot()
	if !s.PINSet || len(s.Credentials) != 1 || !bytes.Equal(s.Credentials[0].ID, ad.credID) {
		t.Fatalf("restored state %+v", s)
	}
	h2 := openHost(t, k2)
	cdh := cdhOf("after restart")
	st, body, _ := h2.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdh})
	if st != StatusOK {
		t.Fatalf("assertion after restart: %#x", byte(st))
	}
	a := decodeInto[gaReply](t, body)
	verifySig(t, ad.pub, a.AuthData, cdh, a.Signature)
	if parseAuthData(t, a.AuthData).count <= ad.count {
		t.Fatal("counter went back across restart")
	}

	k2.Close()
	if err := os.WriteFile(path, []byte(`{"version": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(t.Context(), Options{StateFile: path}); err == nil {
		t.Fatal("Start accepted a state file of an unknown version")
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := []Options{
		{MinPINLength: 3},
		{MinPINLength: 64},
		{PINProtocols: []int{3}},
		{PINProtocols: []int{}},
		{Presence: 7},
		{Attestation: 9},
		{TouchDelay: -time.Second},
		{MaxResidentKeys: -1},
		{StateFile: filepath.Join(t.TempDir(), "missing-dir", "key.json")},
	}
	for _, o := range bad {
		if _, err := Start(t.Context(), o); err == nil {
			t.Errorf("Start(%+v) accepted bad options", o)
		}
	}
}

func TestNewHostWhileBusy(t *testing.T) {
	k := startKey(t, Options{Presence: PresenceManual})
	h := openHost(t, k)
	h.send(hidCBOR, append([]byte{cmdMakeCredential}, mustMarshal(mcParams("example.org", []byte("u1"), false))...))
	if err := k.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	// A second host still gets a channel, then finds the key busy.
	h2 := openHost(t, k)
	if h2.cid == h.cid {
		t.Fatalf("second host got the busy channel %#x", h.cid)
	}
	h2.send(hidCBOR, []byte{cmdGetInfo})
	if cmd, data := h2.recv(); cmd != hidError || data[0] != hidErrChannelBusy {
		t.Fatalf("second host got %#x %x, want ERR_CHANNEL_BUSY", cmd, data)
	}
	k.Touch()
	for {
		cmd, data := h.recv()
		if cmd == hidKeepalive {
			continue
		}
		if cmd != hidCBOR || Status(data[0]) != StatusOK {
			t.Fatalf("first host reply %#x %x", cmd, data)
		}
		break
	}
	h2.mustCBOR(cmdGetInfo, nil)
}

func TestCloseRemovesDevice(t *testing.T) {
	k, err := Start(t.Context(), Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := openHost(t, k)
	h.mustCBOR(cmdGetInfo, nil)
	k.Close()
	waitDone(t, k)
	if _, err := h.tryReadReport(testTimeout); err == nil {
		t.Error("host still reads from a closed key")
	}
	if err := k.InjectFault(FaultGarbageReply); !errors.Is(err, ErrRemoved) {
		t.Errorf("InjectFault after Close: %v", err)
	}
	k.Close() // idempotent
}

func TestStartStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	k, err := Start(ctx, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitDone(t, k)
	k.Close()
}

func TestSetMinPINLengthAndForceChange(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	cfg := func(tok []byte, params map[int]any) Status {
		t.Helper()
		req := map[int]any{1: cfgSetMinPINLength}
		msg := append(bytes.Repeat([]byte{0xff}, 32), cmdConfig, cfgSetMinPINLength)
		if params != nil {
			req[2] = params
			msg = append(msg, mustMarshal(params)...)
		}
		if tok != nil {
			req[3], req[4] = 2, pinAuthenticate(2, tok, msg)
		}
		st, _, _ := h.cbor(cmdConfig, req)
		return st
	}
	// Without a PIN the key is unprotected: no token needed.
	if st := cfg(nil, map[int]any{1: 5}); st != StatusOK {
		t.Fatalf("setMinPINLength without PIN: %#x", byte(st))
	}
	if v := decodeInto[int](t, h.mustCBOR(cmdGetInfo, nil)[13]); v != 5 {
		t.Fatalf("minPINLength %d after setting 5", v)
	}
	c := newPINClient(t, h, 2)
	if st, _, _ := h.cbor(cmdClientPIN, c.setPINParams(t, "1234")); st != StatusPINPolicyViolation {
		t.Fatalf("4-digit PIN under minimum 5: %#x", byte(st))
	}
	h.mustCBOR(cmdClientPIN, c.setPINParams(t, "12345"))
	if st := cfg(nil, map[int]any{1: 6}); st != StatusPUATRequired {
		t.Fatalf("setMinPINLength with a PIN but no token: %#x", byte(st))
	}
	noCfg := c.token(t, h, "12345", permCredMgmt, "")
	if st := cfg(noCfg, map[int]any{1: 6}); st != StatusPINAuthInvalid {
		t.Fatalf("token without acfg: %#x", byte(st))
	}
	tok := c.token(t, h, "12345", permAuthnrConfig, "")
	if st := cfg(tok, map[int]any{1: 4}); st != StatusPINPolicyViolation {
		t.Fatalf("lowering the minimum: %#x", byte(st))
	}
	// Raising the minimum above the current PIN's length forces a change.
	if st := cfg(tok, map[int]any{1: 6, 2: []string{"example.org"}}); st != StatusOK {
		t.Fatalf("raising the minimum: %#x", byte(st))
	}
	info := h.mustCBOR(cmdGetInfo, nil)
	if !decodeInto[bool](t, info[12]) || decodeInto[int](t, info[13]) != 6 {
		t.Fatalf("forcePINChange %x minPINLength %x", info[12], info[13])
	}
	if st, _, _ := h.cbor(cmdClientPIN, c.tokenParams(t, "12345", 0, "")); st != StatusPINPolicyViolation {
		t.Fatalf("token while a change is forced: %#x", byte(st))
	}
	c = newPINClient(t, h, 2)
	newPinEnc := c.enc(t, pad64("654321"))
	pinHashEnc := c.enc(t, pinHashOf("12345"))
	h.mustCBOR(cmdClientPIN, map[int]any{
		1: 2, 2: pinChangePIN, 3: c.pub, 5: newPinEnc, 6: pinHashEnc,
		4: pinAuthenticate(2, c.secret, append(append([]byte(nil), newPinEnc...), pinHashEnc...)),
	})
	if decodeInto[bool](t, h.mustCBOR(cmdGetInfo, nil)[12]) {
		t.Fatal("forcePINChange still set after changePIN")
	}
	if s, _ := k.Snapshot(); s.ForcePINChange || s.MinPINLength != 6 {
		t.Fatalf("snapshot %+v", s)
	}
	// The minPinLength extension reports the minimum to listed RPs only.
	for rp, want := range map[string]bool{"example.org": true, "other.example": false} {
		tok := c.token(t, h, "654321", permMakeCredential, "")
		p := mcParams(rp, []byte("u"), false)
		p[6] = map[string]any{"minPinLength": true}
		_, ad := makeCredential(t, h, withPinAuth(p, c, tok, p[1].([]byte)))
		v, ok := ad.ext["minPinLength"]
		if ok != want || (ok && decodeInto[int](t, v) != 6) {
			t.Fatalf("%s: minPinLength extension %x (present %v)", rp, v, ok)
		}
	}
}

func TestLinkIsAStableDevicePath(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "softkey")
	if err := os.Symlink("/dev/null", link); err != nil { // a stale link from a previous run
		t.Fatal(err)
	}
	k := startKey(t, Options{Link: link})
	if target, err := os.Readlink(link); err != nil || target != k.Path() {
		t.Fatalf("link -> %q, %v; want %s", target, err, k.Path())
	}
	openHostPath(t, link).mustCBOR(cmdGetInfo, nil) // a host that only knows the link
	k.Close()
	if _, err := os.Lstat(link); err == nil {
		t.Fatal("link left behind after Close")
	}
	if err := os.WriteFile(link, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(t.Context(), Options{Link: link}); err == nil {
		t.Fatal("Start replaced a regular file with its link")
	}
}

func TestTokenLifetime(t *testing.T) {
	now := t0
	a := testAuthenticator(t)
	a.now = func() time.Time { return now }
	d := direct{t: t, a: a}
	c := newPINClient(t, d, 2)
	d.mustCBOR(cmdClientPIN, c.setPINParams(t, "1234"))
	use := func(tok []byte) Status {
		t.Helper()
		p := mcParams("example.org", []byte("u"), false)
		st, _, _ := d.cbor(cmdMakeCredential, withPinAuth(p, c, tok, p[1].([]byte)))
		return st
	}
	tok := c.token(t, d, "1234", 0, "")
	now = now.Add(tokenInitialUsageLimit + time.Second)
	if st := use(tok); st != StatusPINAuthInvalid {
		t.Fatalf("token unused past the initial usage limit: %#x", byte(st))
	}
	tok = c.token(t, d, "1234", 0, "")
	if st := use(tok); st != StatusOK {
		t.Fatalf("fresh token: %#x", byte(st))
	}
	now = now.Add(tokenMaxUsagePeriod - time.Second)
	if st := use(tok); st != StatusOK {
		t.Fatalf("token in use within its period: %#x", byte(st))
	}
	now = now.Add(2 * time.Second)
	if st := use(tok); st != StatusPINAuthInvalid {
		t.Fatalf("token past the maximum usage period: %#x", byte(st))
	}
}

// TestHostThatStopsReading: a host closes the device mid-request while the
// key keeps sending keepalives until the pty buffers are full. The key must
// not stall, and the next host must get a clean device.
func TestHostThatStopsReading(t *testing.T) {
	k := startKey(t, Options{Presence: PresenceManual, KeepaliveInterval: 100 * time.Microsecond})
	h := openHost(t, k)
	h.send(hidCBOR, append([]byte{cmdMakeCredential}, mustMarshal(mcParams("example.org", []byte("u"), false))...))
	if err := k.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	h.close()
	// Wait until the pty refuses more reports.
	waitFor(t, "a keepalive write to time out", func() bool {
		var dropped int
		if err := k.do(func() { dropped = k.dropped }); err != nil {
			t.Fatal(err)
		}
		return dropped > 0
	})
	k.Touch()
	// The MakeCredential completes (its reply goes nowhere) ...
	waitFor(t, "MakeCredential to complete after the touch", func() bool {
		s, err := k.Snapshot()
		return err == nil && s.SignCount == 1
	})
	// ... and a new host gets a clean device despite the full buffers.
	h2 := openHost(t, k)
	h2.mustCBOR(cmdGetInfo, nil)
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestResponsesAreCanonical checks that responses are in CTAP2 canonical
// CBOR (CTAP 2.1 §8): re-encoding them canonically changes no byte.
func TestResponsesAreCanonical(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	canon, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, body []byte) {
		t.Helper()
		var v any
		if err := cbor.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := canon.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("%s is not canonical:\n got %x\nwant %x", name, body, again)
		}
	}
	_, body, _ := h.cbor(cmdGetInfo, nil)
	check("GetInfo", body)
	p := mcParams("example.org", []byte("u"), true)
	p[6] = map[string]any{"credProtect": 2, "hmac-secret": true}
	_, body, _ = h.cbor(cmdMakeCredential, p)
	check("MakeCredential", body)
	r := decodeInto[mcReply](t, body)
	ad := parseAuthData(t, r.AuthData)
	check("credential public key", ad.coseKey)
	check("authData extensions", ad.extRaw)
	_, body, _ = h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x"), 3: []credDescriptor{{Type: "public-key", ID: ad.credID}}})
	check("GetAssertion", body)
	_, body, _ = h.cbor(cmdClientPIN, map[int]any{1: 2, 2: pinGetKeyAgreement})
	check("ClientPIN getKeyAgreement", body)
}

func TestFaultBadSignatureAndCounterRollback(t *testing.T) {
	k := startKey(t, Options{})
	h := openHost(t, k)
	if err := k.InjectFault(FaultBadSignature); err != nil {
		t.Fatal(err)
	}
	p := mcParams("example.org", []byte("u"), false)
	r, ad := makeCredential(t, h, p)
	sig := decodeInto[[]byte](t, r.AttStmt["sig"])
	cert, _ := x509.ParseCertificate(decodeInto[[][]byte](t, r.AttStmt["x5c"])[0])
	h1 := sha256.Sum256(slices.Concat(r.AuthData, p[1].([]byte)))
	if ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), h1[:], sig) {
		t.Fatal("attestation signature verifies despite FaultBadSignature")
	}
	// One-shot: the assertion afterwards is good.
	assert := func() (uint32, []byte, []byte) {
		t.Helper()
		cdh := cdhOf("a")
		st, body, _ := h.cbor(cmdGetAssertion, map[int]any{1: "example.org", 2: cdh, 3: []credDescriptor{{Type: "public-key", ID: ad.credID}}})
		if st != StatusOK {
			t.Fatalf("GetAssertion: %#x", byte(st))
		}
		ga := decodeInto[gaReply](t, body)
		return parseAuthData(t, ga.AuthData).count, slices.Concat(ga.AuthData, cdh), ga.Signature
	}
	n, signed, sig := assert()
	h2 := sha256.Sum256(signed)
	if !ecdsa.VerifyASN1(ad.pub, h2[:], sig) {
		t.Fatal("assertion after the one-shot fault does not verify")
	}
	// A cloned key: the counter goes back.
	if err := k.SetSignCount(0); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := assert(); again >= n {
		t.Fatalf("counter %d after rollback, was %d", again, n)
	}
}
