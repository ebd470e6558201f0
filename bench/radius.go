package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// The harness speaks RADIUS itself (RFC 2865, RFC 3579 §3.2) rather than
// through the codec the daemon uses, so that a fault in that codec cannot
// pass unnoticed on both ends.

// RADIUS codes and attribute types the harness sends or reads.
const (
	radiusAccessRequest   = 1
	radiusAccessAccept    = 2
	radiusAccessReject    = 3
	radiusAccessChallenge = 11

	attrUserName             = 1
	attrUserPassword         = 2
	attrNASIdentifier        = 32
	attrMessageAuthenticator = 80
)

// radiusTimeout is how long a request waits for its reply. It is not sent
// again: a lost reply counts as an error.
const radiusTimeout = 3 * time.Second

// radiusSecretFile is the bench client's shared secret in the daemon's
// state directory.
const radiusSecretFile = "radius-bench.secret"

// freeUDPAddr returns a loopback UDP address nobody listens on right now.
func freeUDPAddr() (string, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.LocalAddr().String(), nil
}

// radiusConfig is the [radius] section of figure 1's daemon: one client,
// the harness on 127.0.0.1, in second_factor mode with a required
// Message-Authenticator (the defaults).
func radiusConfig(listen string) string {
	return fmt.Sprintf("[radius]\nlisten = %q\n[[radius.client]]\nname = \"bench\"\naddress = \"127.0.0.1/32\"\nsecret_file = %q\n",
		listen, radiusSecretFile)
}

// writeRadiusSecret writes a fresh shared secret (32 hex digits) into the
// state directory dir, readable by its owner only, and returns it.
func writeRadiusSecret(dir string) ([]byte, error) {
	var b [16]byte
	rand.Read(b[:])
	s := []byte(hex.EncodeToString(b[:]))
	return s, os.WriteFile(filepath.Join(dir, radiusSecretFile), append(s, '\n'), 0o600)
}

// accessRequest encodes an Access-Request with Identifier id and Request
// Authenticator auth: User-Name, User-Password hidden as RFC 2865 §5.2 has
// it, NAS-Identifier, and a Message-Authenticator (RFC 3579 §3.2: HMAC-MD5
// with the shared secret over the packet with the attribute zeroed).
func accessRequest(secret []byte, id byte, auth [16]byte, user, password string) ([]byte, error) {
	if len(user) == 0 || len(user) > 253 || len(password) > 128 {
		return nil, errors.New("user name or password too long for RADIUS")
	}
	b := []byte{radiusAccessRequest, id, 0, 0}
	b = append(b, auth[:]...)
	b = append(b, attrUserName, byte(2+len(user)))
	b = append(b, user...)
	hidden := hidePassword(secret, auth, password)
	b = append(b, attrUserPassword, byte(2+len(hidden)))
	b = append(b, hidden...)
	b = append(b, attrNASIdentifier, byte(2+len("mfagate-bench")))
	b = append(b, "mfagate-bench"...)
	off := len(b)
	b = append(b, attrMessageAuthenticator, 18)
	b = append(b, make([]byte, 16)...)
	b[2], b[3] = byte(len(b)>>8), byte(len(b))
	m := hmac.New(md5.New, secret)
	m.Write(b)
	m.Sum(b[off+2 : off+2])
	return b, nil
}

// hidePassword is RFC 2865 §5.2: the password padded with zeros to a
// multiple of 16 octets, each block XORed with MD5(secret + the previous
// ciphertext block), the Request Authenticator standing in for the first.
func hidePassword(secret []byte, auth [16]byte, password string) []byte {
	n := max((len(password)+15)/16*16, 16)
	out := make([]byte, n)
	copy(out, password)
	prev := auth[:]
	for i := 0; i < n; i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		sum := h.Sum(nil)
		for j := range 16 {
			out[i+j] ^= sum[j]
		}
		prev = out[i : i+16]
	}
	return out
}

// checkResponse returns the code of reply b if it answers request req and
// is authentic: the Identifier matches, the Response Authenticator is
// MD5(Code+Identifier+Length+Request Authenticator+Attributes+secret) (RFC
// 2865 §3), and it carries a Message-Authenticator that is the HMAC-MD5 of
// the reply with the Request Authenticator in place and the attribute
// zeroed (RFC 3579 §3.2), as the daemon sends with every reply.
func checkResponse(b, req, secret []byte) (byte, bool) {
	if len(b) < 20 || b[1] != req[1] || int(b[2])<<8|int(b[3]) != len(b) {
		return 0, false
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(req[4:20])
	h.Write(b[20:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), b[4:20]) {
		return 0, false
	}
	off := -1
	for i := 20; i+2 <= len(b) && b[i+1] >= 2 && i+int(b[i+1]) <= len(b); i += int(b[i+1]) {
		if b[i] == attrMessageAuthenticator {
			off = i
			break
		}
	}
	if off < 0 || b[off+1] != 18 {
		return 0, false
	}
	z := bytes.Clone(b)
	copy(z[4:20], req[4:20])
	clear(z[off+2 : off+18])
	m := hmac.New(md5.New, secret)
	m.Write(z)
	if !hmac.Equal(m.Sum(nil), b[off+2:off+18]) {
		return 0, false
	}
	return b[0], true
}

// radiusClient is one worker's RADIUS client: its own UDP socket and
// Identifier sequence.
type radiusClient struct {
	conn   *net.UDPConn
	nextID byte
	buf    []byte
}

// ask sends one Access-Request and waits up to radiusTimeout for its
// authentic reply; datagrams that are not (a late reply to an earlier
// request, a forgery) are read past. It returns the reply's code, or an
// error for a lost reply.
func (c *radiusClient) ask(secret []byte, user, password string) (byte, error) {
	var auth [16]byte
	rand.Read(auth[:])
	c.nextID++
	req, err := accessRequest(secret, c.nextID, auth, user, password)
	if err != nil {
		return 0, err
	}
	if _, err := c.conn.Write(req); err != nil {
		return 0, err
	}
	c.conn.SetReadDeadline(time.Now().Add(radiusTimeout))
	for {
		n, err := c.conn.Read(c.buf)
		if err != nil {
			return 0, err
		}
		if code, ok := checkResponse(c.buf[:n], req, secret); ok {
			return code, nil
		}
	}
}

// radiusVerdicts counts the RADIUS door's answers.
type radiusVerdicts struct {
	verdicts
	lost, other atomic.Int64 // no authentic reply within radiusTimeout; an Access-Challenge or another code
}

// radiusOp is figure 1's sign-in attempt through the RADIUS server in one
// Access-Request: User-Name the user ID, User-Password the code. A success
// is an authentic Access-Accept, nothing else; Access-Reject is a refused
// code. The status recorded is the reply's RADIUS code, -1 for a lost
// reply (timed at radiusTimeout); a lost reply does not stop the worker.
func radiusOp(addr string, secret []byte, s *signins, v *radiusVerdicts, clients []*radiusClient) func(int, func(time.Duration, int)) bool {
	return func(w int, rec func(time.Duration, int)) bool {
		c := clients[w]
		if c == nil {
			conn, err := net.Dial("udp", addr)
			if err != nil {
				return false
			}
			c = &radiusClient{conn: conn.(*net.UDPConn), nextID: byte(w * 37), buf: make([]byte, 4096)}
			clients[w] = c
		}
		u, code, step := s.next(w)
		if u == nil {
			return false
		}
		if step >= 0 {
			v.right.Add(1)
		}
		t := time.Now()
		rc, err := c.ask(secret, u.id, code)
		if err != nil {
			rec(time.Since(t), -1)
			v.lost.Add(1)
			return true
		}
		rec(time.Since(t), int(rc))
		accepted, refused := rc == radiusAccessAccept, rc == radiusAccessReject
		switch {
		case accepted && step < 0:
			v.wrongAccepted.Add(1)
		case accepted:
			v.accept.Add(1)
		case refused:
			v.reject.Add(1)
		default:
			v.other.Add(1)
		}
		u.outcome(step, accepted, refused)
		return true
	}
}

// radiusLoop runs figure 1's RADIUS series at concurrency conc, each
// worker with its own socket, and checks what the door answered.
func radiusLoop(addr string, secret []byte, si *signins, conc int, dur time.Duration) (*loadResult, string, error) {
	var rv radiusVerdicts
	clients := make([]*radiusClient, conc)
	r := closedLoop(conc, dur, 1<<20, radiusOp(addr, secret, si, &rv, clients))
	si.release()
	for _, c := range clients {
		if c != nil {
			c.conn.Close()
		}
	}
	if n := rv.wrongAccepted.Load(); n > 0 {
		return nil, "", fmt.Errorf("the RADIUS server answered Access-Accept to %d wrong codes", n)
	}
	if n := rv.right.Load(); n >= 3 && rv.accept.Load() == 0 {
		return nil, "", fmt.Errorf("the RADIUS server accepted none of %d correct codes for fresh time steps; codes %v", n, r.status)
	}
	note := fmt.Sprintf("one Access-Request per sign-in; %d requests in %s; Access-Accept %d (of %d correct codes sent), Access-Reject %d, other codes %d, lost replies (no authentic reply within %s, not sent again) %d; RADIUS codes %v",
		r.requests, r.elapsed.Round(time.Millisecond), rv.accept.Load(), rv.right.Load(), rv.reject.Load(), rv.other.Load(), radiusTimeout, rv.lost.Load(), r.status)
	if r.stopped != "" {
		note += "; ended early: " + r.stopped
	}
	return r, note, nil
}

// radiusProbe waits until the daemon's RADIUS server answers: an
// Access-Request for a user ID nobody registered must get an authentic
// Access-Reject. It checks the secret and the listener before the loops.
func radiusProbe(ctx context.Context, addr string, secret []byte) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	c := &radiusClient{conn: conn.(*net.UDPConn), buf: make([]byte, 4096)}
	var last error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		rc, err := c.ask(secret, "1999999999", "000000")
		if err != nil {
			last = err
			continue
		}
		if rc != radiusAccessReject {
			return fmt.Errorf("RADIUS: an unknown user got code %d, not Access-Reject", rc)
		}
		return nil
	}
	return fmt.Errorf("RADIUS server at %s did not answer: %v", addr, last)
}
