package softkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"slices"
	"testing"
)

// apdu encodes a U2F command in extended length, as libfido2 does.
func apdu(ins, p1 byte, data []byte) []byte {
	b := []byte{0, ins, p1, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, data...)
	return append(b, 0, 0)
}

// u2fCall sends a U2F message and returns the response body and status.
func (h *host) u2fCall(req []byte) ([]byte, uint16) {
	h.t.Helper()
	h.send(hidMsg, req)
	cmd, data := h.recv()
	if cmd != hidMsg || len(data) < 2 {
		h.t.Fatalf("U2F reply cmd %#x data %x", cmd, data)
	}
	return data[:len(data)-2], binary.BigEndian.Uint16(data[len(data)-2:])
}

// u2fRegistration is a parsed U2F REGISTER response.
type u2fRegistration struct {
	pub  *ecdsa.PublicKey
	raw  []byte // 65-byte uncompressed point
	kh   []byte
	cert *x509.Certificate
	sig  []byte
}

// parseRegistration splits a REGISTER response as the U2F raw message
// format defines it; the certificate's length comes from its DER header.
func parseRegistration(t *testing.T, b []byte) u2fRegistration {
	t.Helper()
	if len(b) < 67 || b[0] != 0x05 {
		t.Fatalf("registration response %x", b)
	}
	r := u2fRegistration{raw: b[1:66]}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), r.raw)
	if err != nil {
		t.Fatalf("registration public key: %v", err)
	}
	r.pub = pub
	n := int(b[66])
	r.kh = b[67 : 67+n]
	rest := b[67+n:]
	// DER SEQUENCE with a two-byte long-form length.
	if len(rest) < 4 || rest[0] != 0x30 || rest[1] != 0x82 {
		t.Fatalf("attestation certificate header %x", rest[:4])
	}
	certLen := 4 + int(binary.BigEndian.Uint16(rest[2:4]))
	if r.cert, err = x509.ParseCertificate(rest[:certLen]); err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	r.sig = rest[certLen:]
	return r
}

func TestU2FOverPTY(t *testing.T) {
	k := startKey(t, Options{U2F: U2FAlso, Presence: PresenceManual})
	h := openHost(t, k)

	if body, st := h.u2fCall(apdu(u2fVersion, 0, nil)); st != swNoError || string(body) != "U2F_V2" {
		t.Fatalf("VERSION: %q %#x", body, st)
	}
	for name, tc := range map[string]struct {
		req  []byte
		want uint16
	}{
		"wrong class":       {append([]byte{0x80}, apdu(u2fVersion, 0, nil)[1:]...), swClaNotSupported},
		"unknown command":   {apdu(0x40, 0, nil), swInsNotSupported},
		"short register":    {apdu(u2fRegister, 0, make([]byte, 63)), swWrongLength},
		"truncated apdu":    {[]byte{0, u2fRegister, 0}, swWrongLength},
		"foreign keyhandle": {apdu(u2fAuthenticate, u2fAuthEnforceUP, slices.Concat(make([]byte, 64), []byte{3, 1, 2, 3})), swWrongData},
	} {
		if _, st := h.u2fCall(tc.req); st != tc.want {
			t.Errorf("%s: status %#x, want %#x", name, st, tc.want)
		}
	}

	chal, app := cdhOf("u2f challenge"), rpHash("u2f.example")
	// Without a touch the key refuses, as often as the host asks.
	for range 3 {
		if _, st := h.u2fCall(apdu(u2fRegister, 0, slices.Concat(chal, app))); st != swConditionsNotSatisfied {
			t.Fatalf("REGISTER before touch: %#x", st)
		}
	}
	if err := k.WaitForTouchRequest(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	k.Touch()
	body, st := h.u2fCall(apdu(u2fRegister, 0, slices.Concat(chal, app)))
	if st != swNoError {
		t.Fatalf("REGISTER after touch: %#x", st)
	}
	reg := parseRegistration(t, body)
	checkChain(t, reg.cert.Raw, k.AttestationCA())
	signed := sha256.Sum256(slices.Concat([]byte{0}, app, chal, reg.kh, reg.raw))
	if !ecdsa.VerifyASN1(reg.cert.PublicKey.(*ecdsa.PublicKey), signed[:], reg.sig) {
		t.Fatal("registration signature does not verify")
	}

	authReq := func(p1 byte, app []byte) []byte {
		return apdu(u2fAuthenticate, p1, slices.Concat(chal, app, []byte{byte(len(reg.kh))}, reg.kh))
	}
	if _, st := h.u2fCall(authReq(u2fAuthCheckOnly, app)); st != swConditionsNotSatisfied {
		t.Fatalf("check-only on our key handle: %#x", st)
	}
	if _, st := h.u2fCall(authReq(u2fAuthCheckOnly, rpHash("other.example"))); st != swWrongData {
		t.Fatalf("key handle for another application: %#x", st)
	}
	k.Touch()
	body, st = h.u2fCall(authReq(u2fAuthEnforceUP, app))
	if st != swNoError || body[0] != flagUP {
		t.Fatalf("AUTHENTICATE: %#x %x", st, body)
	}
	signed = sha256.Sum256(slices.Concat(app, body[:5], chal))
	if !ecdsa.VerifyASN1(reg.pub, signed[:], body[5:]) {
		t.Fatal("authentication signature does not verify")
	}

	// The U2F key handle is a CTAP2 credential ID for the same RP.
	k.Touch()
	cdh := cdhOf("ctap2 after u2f")
	st2, resp, _ := h.cbor(cmdGetAssertion, map[int]any{1: "u2f.example", 2: cdh, 3: []credDescriptor{{Type: "public-key", ID: reg.kh}}})
	if st2 != StatusOK {
		t.Fatalf("CTAP2 assertion with a U2F key handle: %#x", byte(st2))
	}
	ga := decodeInto[gaReply](t, resp)
	verifySig(t, reg.pub, ga.AuthData, cdh, ga.Signature)
	if got := binary.BigEndian.Uint32(ga.AuthData[33:37]); got <= binary.BigEndian.Uint32(body[1:5]) {
		t.Fatalf("counter %d did not move past the U2F one", got)
	}
	if v := decodeInto[[]string](t, h.mustCBOR(cmdGetInfo, nil)[1]); !slices.Contains(v, "U2F_V2") {
		t.Fatalf("GetInfo versions %v lack U2F_V2", v)
	}
}

func TestU2FOnlyRefusesCBOR(t *testing.T) {
	k := startKey(t, Options{U2F: U2FOnly})
	h := openHostPath(t, k.Path())
	h.send(hidCBOR, []byte{cmdGetInfo})
	if cmd, data := h.recv(); cmd != hidError || data[0] != hidErrInvalidCmd {
		t.Fatalf("CBOR on a U2F-only key: %#x %x", cmd, data)
	}
	if body, st := h.u2fCall(apdu(u2fVersion, 0, nil)); st != swNoError || !bytes.Equal(body, []byte("U2F_V2")) {
		t.Fatalf("VERSION: %q %#x", body, st)
	}
}

func TestParseAPDU(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		ok   bool
		data []byte
	}{
		{[]byte{0, 3, 0, 0}, true, nil},
		{[]byte{0, 3, 0, 0, 0}, true, nil},                            // short, Le only
		{[]byte{0, 3, 0, 0, 0, 0, 0, 0, 0}, true, nil},                // extended, no data, Le
		{[]byte{0, 1, 0, 0, 2, 9, 8}, true, []byte{9, 8}},             // short
		{[]byte{0, 1, 0, 0, 2, 9, 8, 0}, true, []byte{9, 8}},          // short + Le
		{[]byte{0, 1, 0, 0, 0, 0, 2, 9, 8}, true, []byte{9, 8}},       // extended
		{[]byte{0, 1, 0, 0, 0, 0, 3, 9, 8}, false, nil},               // extended, short of data
		{[]byte{0, 1, 0, 0, 2, 9, 8, 0, 0}, false, nil},               // short with a 2-byte tail
		{[]byte{0, 1, 0}, false, nil},                                 // no P2
		{[]byte{0, 1, 0, 0, 0, 0, 2, 9, 8, 0}, false, nil},            // extended, 1-byte tail
		{[]byte{0, 1, 0, 0, 5, 1, 2}, false, nil},                     // short, short of data
		{[]byte{0, 1, 0, 0, 0, 0, 2, 9, 8, 0, 0}, true, []byte{9, 8}}, // extended + Le
	} {
		_, _, _, data, ok := parseAPDU(tc.in)
		if ok != tc.ok || !bytes.Equal(data, tc.data) {
			t.Errorf("parseAPDU(%x) = %x, %v; want %x, %v", tc.in, data, ok, tc.data, tc.ok)
		}
	}
}

// FuzzU2FRequest: arbitrary U2F messages never panic and always end in a
// status word; only well-formed VERSION, REGISTER and AUTHENTICATE succeed.
func FuzzU2FRequest(f *testing.F) {
	f.Add(apdu(u2fVersion, 0, nil))
	f.Add(apdu(u2fRegister, 0, make([]byte, 64)))
	f.Add(apdu(u2fAuthenticate, u2fAuthEnforceUP, slices.Concat(make([]byte, 64), []byte{credIDLen}, make([]byte, credIDLen))))
	f.Add([]byte{0, 2, 7, 0, 70})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, req []byte) {
		a := testAuthenticator(t)
		resp, err := a.u2f(req, func() bool { return true })
		if err != nil {
			t.Fatalf("u2f: %v", err)
		}
		if len(resp) < 2 {
			t.Fatalf("response %x has no status word", resp)
		}
		if binary.BigEndian.Uint16(resp[len(resp)-2:]) == swNoError {
			_, ins, _, _, ok := parseAPDU(req)
			if !ok || (ins != u2fVersion && ins != u2fRegister && ins != u2fAuthenticate) {
				t.Fatalf("success for %x", req)
			}
		}
	})
}
