package softkey

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// U2FSupport says whether the key also speaks U2F (FIDO U2F raw messages
// over CTAPHID_MSG), as most real keys do.
type U2FSupport int

const (
	// U2FNone: CTAP2 only; the INIT capabilities say NMSG.
	U2FNone U2FSupport = iota
	// U2FAlso: CTAP2 and U2F; GetInfo lists U2F_V2 too.
	U2FAlso
	// U2FOnly: a U2F-only key (no CBOR capability). libfido2 then makes
	// "fido-u2f" attestations and go-libfido2's Info returns ErrNotFIDO2.
	U2FOnly
)

func (u U2FSupport) String() string {
	switch u {
	case U2FNone:
		return "none"
	case U2FAlso:
		return "also"
	case U2FOnly:
		return "only"
	}
	return fmt.Sprintf("U2FSupport(%d)", int(u))
}

// U2F raw message instructions and status words (FIDO U2F Raw Message
// Formats, ISO 7816-4).
const (
	u2fRegister     = 0x01
	u2fAuthenticate = 0x02
	u2fVersion      = 0x03

	u2fAuthCheckOnly   = 0x07
	u2fAuthEnforceUP   = 0x03
	u2fAuthDontEnforce = 0x08

	swNoError                = 0x9000
	swWrongLength            = 0x6700
	swConditionsNotSatisfied = 0x6985
	swWrongData              = 0x6a80
	swInsNotSupported        = 0x6d00
	swClaNotSupported        = 0x6e00

	u2fRegisterReserved = 0x05
)

func sw(code uint16, body ...[]byte) []byte {
	var out []byte
	for _, b := range body {
		out = append(out, b...)
	}
	return binary.BigEndian.AppendUint16(out, code)
}

// parseAPDU splits a command APDU in short or extended encoding.
func parseAPDU(b []byte) (cla, ins, p1 byte, data []byte, ok bool) {
	if len(b) < 4 {
		return 0, 0, 0, nil, false
	}
	cla, ins, p1 = b[0], b[1], b[2]
	rest := b[4:]
	switch {
	case len(rest) == 0:
		return cla, ins, p1, nil, true
	case len(rest) == 1: // short Le only
		return cla, ins, p1, nil, true
	case rest[0] == 0 && len(rest) >= 3: // extended: 00 Lc1 Lc2 data [Le1 Le2]
		n := int(binary.BigEndian.Uint16(rest[1:3]))
		body := rest[3:]
		if len(body) < n {
			return 0, 0, 0, nil, false
		}
		if tail := len(body) - n; tail != 0 && tail != 2 {
			return 0, 0, 0, nil, false
		}
		return cla, ins, p1, body[:n], true
	default: // short: Lc data [Le]
		n := int(rest[0])
		body := rest[1:]
		if n == 0 || len(body) < n || len(body)-n > 1 {
			return 0, 0, 0, nil, false
		}
		return cla, ins, p1, body[:n], true
	}
}

// u2f answers one U2F raw message. present tests user presence without
// waiting: U2F hosts poll until the key stops saying
// SW_CONDITIONS_NOT_SATISFIED. Key handles are credential IDs in the same
// format as CTAP2's, bound to the application parameter (the rpIdHash), so
// a credential registered over U2F also works with CTAP2 GetAssertion.
func (a *authenticator) u2f(apdu []byte, present func() bool) ([]byte, error) {
	cla, ins, p1, data, ok := parseAPDU(apdu)
	if !ok {
		return sw(swWrongLength), nil
	}
	if cla != 0 {
		return sw(swClaNotSupported), nil
	}
	switch ins {
	case u2fVersion:
		if len(data) != 0 {
			return sw(swWrongLength), nil
		}
		return sw(swNoError, []byte("U2F_V2")), nil
	case u2fRegister:
		if len(data) != 64 {
			return sw(swWrongLength), nil
		}
		chal, app := data[:32], data[32:]
		if !present() {
			return sw(swConditionsNotSatisfied), nil
		}
		priv, err := newP256Key()
		if err != nil {
			return nil, err
		}
		kh, err := wrapCredential(a.master, app, wrappedKey{priv: priv, credProtect: credProtectOptional})
		if err != nil {
			return nil, err
		}
		pub, err := priv.PublicKey.Bytes()
		if err != nil {
			return nil, fmt.Errorf("encode public key: %w", err)
		}
		signed := []byte{0}
		for _, p := range [][]byte{app, chal, kh, pub} {
			signed = append(signed, p...)
		}
		h := sha256.Sum256(signed)
		sig, err := ecdsa.SignASN1(rand.Reader, a.att.key, h[:])
		if err != nil {
			return nil, fmt.Errorf("sign registration: %w", err)
		}
		a.maybeCorrupt(sig)
		return sw(swNoError, []byte{u2fRegisterReserved}, pub, []byte{byte(len(kh))}, kh, a.att.certDER, sig), nil
	case u2fAuthenticate:
		if len(data) < 65 || len(data) != 65+int(data[64]) {
			return sw(swWrongLength), nil
		}
		chal, app, kh := data[:32], data[32:64], data[65:]
		w, ok := unwrapCredential(a.master, app, kh)
		if !ok || w.credProtect == credProtectRequired {
			// Not ours, or needs user verification U2F cannot give.
			return sw(swWrongData), nil
		}
		var flags byte
		switch p1 {
		case u2fAuthCheckOnly:
			return sw(swConditionsNotSatisfied), nil // "the key handle is ours"
		case u2fAuthEnforceUP:
			if !present() {
				return sw(swConditionsNotSatisfied), nil
			}
			flags = flagUP
		case u2fAuthDontEnforce:
		default:
			return sw(swWrongData), nil
		}
		counter := binary.BigEndian.AppendUint32(nil, a.nextCount())
		signed := append(append(append(append([]byte(nil), app...), flags), counter...), chal...)
		h := sha256.Sum256(signed)
		sig, err := ecdsa.SignASN1(rand.Reader, w.priv, h[:])
		if err != nil {
			return nil, fmt.Errorf("sign authentication: %w", err)
		}
		a.maybeCorrupt(sig)
		return sw(swNoError, []byte{flags}, counter, sig), nil
	}
	return sw(swInsNotSupported), nil
}
