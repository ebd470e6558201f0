package softkey

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"
)

// testTimeout bounds every wait in the tests; it is a hang guard, never an
// assertion on how long something took.
const testTimeout = 10 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startKey starts a key for one test and removes it at cleanup.
func startKey(t *testing.T, opts Options) *Key {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	k, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// host is a minimal CTAPHID host written for the tests: it opens the pty
// slave the way libfido2 opens a hidraw node and speaks raw reports, so the
// tests can observe keepalives, errors and framing libfido2 hides.
type host struct {
	t   *testing.T
	fd  int // blocking, like libfido2's
	cid uint32
}

func openHost(t *testing.T, k *Key) *host {
	t.Helper()
	return openHostPath(t, k.Path())
}

func openHostPath(t *testing.T, path string) *host {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	h := &host{t: t, fd: fd, cid: broadcastCID}
	t.Cleanup(h.close)
	nonce := randBytes(8)
	h.send(hidInit, nonce)
	cmd, data := h.recv()
	if cmd != hidInit || len(data) != 17 || !bytes.Equal(data[:8], nonce) {
		t.Fatalf("INIT reply cmd %#x data %x", cmd, data)
	}
	h.cid = binary.BigEndian.Uint32(data[8:12])
	return h
}

// close closes the host's descriptor once.
func (h *host) close() {
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// writeReport writes one report as libfido2 does: report ID 0 and 64 bytes
// in a single write.
func (h *host) writeReport(rep []byte) {
	h.t.Helper()
	buf := append([]byte{0}, rep...)
	n, err := unix.Write(h.fd, buf)
	if err != nil || n != len(buf) {
		h.t.Fatalf("write report: %d bytes, %v", n, err)
	}
}

func (h *host) send(cmd byte, data []byte) {
	h.t.Helper()
	for _, rep := range fragment(hidFrame{cid: h.cid, cmd: cmd, data: data}) {
		h.writeReport(rep)
	}
}

// readReport reads one 64-byte report, or fails the test after testTimeout.
func (h *host) readReport() []byte {
	h.t.Helper()
	rep, err := h.tryReadReport(testTimeout)
	if err != nil {
		h.t.Fatalf("read report: %v", err)
	}
	return rep
}

// tryReadReport reads like libfido2's Linux HID backend: poll until the
// descriptor is readable (with VMIN=64 that means a whole report is there),
// then one read of exactly 64 bytes. A hung-up device reads as io.EOF or
// EIO.
func (h *host) tryReadReport(d time.Duration) ([]byte, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, os.ErrDeadlineExceeded
		}
		fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			break
		}
	}
	rep := make([]byte, reportSize)
	n, err := unix.Read(h.fd, rep)
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, io.EOF
	case n != reportSize:
		return nil, fmt.Errorf("short report: %d bytes", n)
	}
	return rep, nil
}

// recv reassembles the next message on the host's channel (keepalives
// included) and returns its command and payload.
func (h *host) recv() (byte, []byte) {
	h.t.Helper()
	for {
		rep := h.readReport()
		if binary.BigEndian.Uint32(rep[0:4]) != h.cid {
			continue
		}
		if rep[4]&0x80 == 0 {
			h.t.Fatalf("unexpected continuation packet %x", rep[:8])
		}
		cmd := rep[4] & 0x7f
		n := int(binary.BigEndian.Uint16(rep[5:7]))
		data := append([]byte(nil), rep[7:7+min(n, initDataSize)]...)
		for seq := byte(0); len(data) < n; seq++ {
			c := h.readReport()
			if c[4] != seq {
				h.t.Fatalf("continuation seq %d, want %d", c[4], seq)
			}
			data = append(data, c[5:5+min(contDataSize, n-len(data))]...)
		}
		return cmd, data
	}
}

// cbor sends a CTAP2 command and returns the status and body, skipping
// keepalives, which it counts by status byte.
func (h *host) cbor(cmd byte, params any) (Status, []byte, map[byte]int) {
	h.t.Helper()
	req := []byte{cmd}
	if params != nil {
		req = append(req, mustMarshal(params)...)
	}
	h.send(hidCBOR, req)
	keepalives := map[byte]int{}
	for {
		c, data := h.recv()
		switch c {
		case hidKeepalive:
			keepalives[data[0]]++
			continue
		case hidCBOR:
			if len(data) == 0 {
				h.t.Fatal("empty CBOR reply")
			}
			return Status(data[0]), data[1:], keepalives
		default:
			h.t.Fatalf("reply cmd %#x data %x", c, data)
		}
	}
}

// mustCBOR runs a command that must succeed and decodes its body.
func (h *host) mustCBOR(cmd byte, params any) map[int]cbor.RawMessage {
	h.t.Helper()
	return mustSucceed(h.t, h, cmd, params)
}

// ctapClient sends CTAP2 commands: over the pty (host) or straight to the
// authenticator state machine (direct), for tests that need its clock.
type ctapClient interface {
	cbor(cmd byte, params any) (Status, []byte, map[byte]int)
	mustCBOR(cmd byte, params any) map[int]cbor.RawMessage
}

func mustSucceed(t *testing.T, c ctapClient, cmd byte, params any) map[int]cbor.RawMessage {
	t.Helper()
	st, body, _ := c.cbor(cmd, params)
	if st != StatusOK {
		t.Fatalf("command %#x: status %#x", cmd, byte(st))
	}
	var m map[int]cbor.RawMessage
	if len(body) > 0 {
		if err := cbor.Unmarshal(body, &m); err != nil {
			t.Fatalf("command %#x: decode reply: %v", cmd, err)
		}
	}
	return m
}

// direct drives an authenticator without CTAPHID; the user touches at once.
type direct struct {
	t *testing.T
	a *authenticator
}

func (d direct) cbor(cmd byte, params any) (Status, []byte, map[byte]int) {
	d.t.Helper()
	req := []byte{cmd}
	if params != nil {
		req = append(req, mustMarshal(params)...)
	}
	resp, err := d.a.handle(req, func() error { return nil })
	if err != nil {
		d.t.Fatalf("handle: %v", err)
	}
	return Status(resp[0]), resp[1:], nil
}

func (d direct) mustCBOR(cmd byte, params any) map[int]cbor.RawMessage {
	d.t.Helper()
	return mustSucceed(d.t, d, cmd, params)
}

func decodeInto[T any](t *testing.T, raw cbor.RawMessage) T {
	t.Helper()
	var v T
	if err := cbor.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %x: %v", raw, err)
	}
	return v
}

// pinClient is the platform side of a PIN/UV auth protocol, written from
// CTAP 2.1 §6.5.6/§6.5.7 for the tests.
type pinClient struct {
	proto  uint64
	secret []byte
	pub    coseKey
}

func newPINClient(t *testing.T, h ctapClient, proto uint64) *pinClient {
	t.Helper()
	m := h.mustCBOR(cmdClientPIN, map[int]any{1: proto, 2: pinGetKeyAgreement})
	ka := decodeInto[coseKey](t, m[1])
	peer, err := platformKey(&ka)
	if err != nil {
		t.Fatalf("key agreement key: %v", err)
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := pinKDF(proto, z)
	if err != nil {
		t.Fatal(err)
	}
	return &pinClient{proto: proto, secret: secret, pub: coseFromECDH(priv.PublicKey())}
}

func (c *pinClient) enc(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := pinEncrypt(c.proto, c.secret, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pad64(pin string) []byte {
	b := make([]byte, 64)
	copy(b, pin)
	return b
}

func pinHashOf(pin string) []byte {
	h := sha256.Sum256([]byte(pin))
	return h[:16]
}

func (c *pinClient) setPINParams(t *testing.T, pin string) map[int]any {
	newPinEnc := c.enc(t, pad64(pin))
	return map[int]any{1: c.proto, 2: pinSetPIN, 3: c.pub, 4: pinAuthenticate(c.proto, c.secret, newPinEnc), 5: newPinEnc}
}

func (c *pinClient) tokenParams(t *testing.T, pin string, perms uint64, rpID string) map[int]any {
	p := map[int]any{1: c.proto, 2: pinGetPINToken, 3: c.pub, 6: c.enc(t, pinHashOf(pin))}
	if perms != 0 {
		p[2] = pinGetTokenUsingPINWithPrm
		p[9] = perms
		if rpID != "" {
			p[10] = rpID
		}
	}
	return p
}

// token gets a pinUvAuthToken; it fails the test unless the key accepts.
func (c *pinClient) token(t *testing.T, h ctapClient, pin string, perms uint64, rpID string) []byte {
	t.Helper()
	m := h.mustCBOR(cmdClientPIN, c.tokenParams(t, pin, perms, rpID))
	enc := decodeInto[[]byte](t, m[2])
	tok, err := pinDecrypt(c.proto, c.secret, enc)
	if err != nil {
		t.Fatalf("decrypt token: %v", err)
	}
	return tok
}

func waitDone(t *testing.T, k *Key) {
	t.Helper()
	select {
	case <-k.Done():
	case <-time.After(testTimeout):
		t.Fatal("key did not stop")
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}
