package softkey

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

var (
	testAttOnce sync.Once
	testAtt     *attestation
)

func testAuthenticator(t *testing.T) *authenticator {
	testAttOnce.Do(func() {
		var err error
		if testAtt, err = newAttestation(DefaultAAGUID, t0); err != nil {
			panic(err)
		}
	})
	cfg := coreConfig{
		aaguid: DefaultAAGUID, format: AttestationPacked, minPINLen: 4, maxResident: 4,
		resetWindow: -1, protocols: []uint64{2, 1}, log: slog.New(slog.DiscardHandler),
	}
	return newAuthenticator(cfg, testAtt, func() time.Time { return t0 })
}

var knownCommands = []byte{
	cmdMakeCredential, cmdGetAssertion, cmdGetInfo, cmdClientPIN, cmdReset,
	cmdGetNextAssertion, cmdCredMgmt, cmdSelection, cmdConfig, cmdCredMgmtPreview,
}

// FuzzCTAP2Request feeds arbitrary CTAP2 requests (command byte and CBOR
// parameters) to the authenticator. It must never panic; every response
// starts with a status byte; a success comes only from a known command and
// carries well-formed CBOR; garbage parameters are a CTAP error.
func FuzzCTAP2Request(f *testing.F) {
	seed := func(cmd byte, params any) {
		req := []byte{cmd}
		if params != nil {
			req = append(req, mustMarshal(params)...)
		}
		f.Add(req)
	}
	seed(cmdGetInfo, nil)
	seed(cmdMakeCredential, mcParams("example.org", []byte("u"), true))
	seed(cmdMakeCredential, map[int]any{1: cdhOf("x"), 2: map[string]any{"id": "a"}, 3: map[string]any{"id": []byte{1}}, 4: []map[string]any{{"type": "public-key", "alg": -7}}, 8: []byte{}, 9: 2})
	seed(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x")})
	seed(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x"), 3: []credDescriptor{{Type: "public-key", ID: make([]byte, credIDLen)}}, 5: map[string]bool{"up": false}})
	seed(cmdClientPIN, map[int]any{1: 2, 2: pinGetKeyAgreement})
	seed(cmdClientPIN, map[int]any{1: 1, 2: pinGetRetries})
	seed(cmdClientPIN, map[int]any{1: 2, 2: pinSetPIN, 3: coseKey{Kty: 2, Alg: -25, Crv: 1, X: make([]byte, 32), Y: make([]byte, 32)}, 4: make([]byte, 32), 5: make([]byte, 80)})
	seed(cmdClientPIN, map[int]any{1: 2, 2: pinGetTokenUsingPINWithPrm, 9: 4, 10: "x"})
	seed(cmdCredMgmt, map[int]any{1: cmGetCredsMetadata, 3: 2, 4: make([]byte, 32)})
	seed(cmdCredMgmtPreview, map[int]any{1: cmEnumerateCredsBegin, 2: map[int]any{1: make([]byte, 32)}, 3: 1, 4: make([]byte, 16)})
	seed(cmdConfig, map[int]any{1: cfgSetMinPINLength, 2: map[int]any{1: 6, 2: []string{"example.org"}, 3: true}})
	seed(cmdGetAssertion, map[int]any{1: "example.org", 2: cdhOf("x"), 4: map[string]any{"hmac-secret": map[int]any{
		1: coseKey{Kty: 2, Alg: -25, Crv: 1, X: make([]byte, 32), Y: make([]byte, 32)}, 2: make([]byte, 48), 3: make([]byte, 16), 4: 2,
	}}})
	seed(cmdReset, nil)
	seed(cmdGetNextAssertion, nil)
	f.Add([]byte{cmdMakeCredential, 0xa1, 0x01})
	f.Add([]byte{cmdClientPIN, 0xbf, 0xff})
	f.Add([]byte{cmdGetAssertion, 0x9f, 0x9f, 0x9f, 0x9f, 0x9f, 0xff})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, req []byte) {
		a := testAuthenticator(t)
		// A PIN makes more of the PIN and token paths run.
		a.pinHash = pinHashOf("1234")
		resp, err := a.handle(req, func() error { return nil })
		if err != nil {
			t.Fatalf("handle returned %v", err)
		}
		if len(resp) == 0 {
			t.Fatal("empty response")
		}
		if Status(resp[0]) != StatusOK {
			if len(resp) != 1 {
				t.Fatalf("error status %#x with a body", resp[0])
			}
			return
		}
		if len(req) == 0 || !slices.Contains(knownCommands, req[0]) {
			t.Fatalf("success for unknown command %x", req)
		}
		if len(resp) > 1 {
			var v map[int]cbor.RawMessage
			if err := cbor.Unmarshal(resp[1:], &v); err != nil {
				t.Fatalf("success body is not a CBOR map: %v", err)
			}
		}
		// A request whose parameters are not CBOR can only succeed for
		// commands that take no parameters.
		if len(req) > 1 && cbor.Wellformed(req[1:]) != nil {
			switch req[0] {
			case cmdGetInfo, cmdReset, cmdGetNextAssertion, cmdSelection:
			default:
				t.Fatalf("malformed CBOR accepted for command %#x", req[0])
			}
		}
	})
}
