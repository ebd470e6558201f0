package radius

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"mfagate/mfa"
)

// Proxy mode: the first factor (the directory password) is checked by the
// client's upstream RADIUS server, NPS or FreeRADIUS against the directory.
// mfagate is not a transparent proxy: it asks the upstream with an
// Access-Request of its own and answers the gateway with packets of its
// own. An upstream Access-Accept only means the password is right; the
// sign-in then goes on exactly as a second_factor request with an empty
// password (the User-Password was the directory's, so it cannot also be a
// code): a challenge, or the mfa_off answer for a user without MFA. The
// follow-up with our State never goes upstream.

// upstreamTry is how long one try waits for the upstream's answer, and
// upstreamTries how many tries are sent (the first and its
// retransmissions). A directory bind answers in milliseconds; 3 × 2 s
// stays near the 5 s gateways wait before they retransmit, and their
// retransmissions wait as duplicates in progress meanwhile.
// (A variable so that the tests can shorten the wait.)
var upstreamTry = 2 * time.Second

const upstreamTries = 3

// Reasons an upstream exchange ends without an answer, counted in
// mfagate_radius_dropped_total like the other requests left unanswered.
const (
	// No response at all within the tries: the upstream is down, the port
	// filtered, or it drops our requests (unknown client to it).
	dropUpstreamUnreachable = "upstream_unreachable"
	// Responses came, but none passed the checks: a wrong
	// upstream_secret_file, or an upstream that sends no
	// Message-Authenticator.
	dropUpstreamUnauthentic = "upstream_unauthentic"
)

// errUpstream is an upstream exchange that got no authentic answer.
// decide's caller leaves the gateway's request unanswered for it (see
// firstFactor) and counts reason.
type errUpstream struct{ reason string }

func (e *errUpstream) Error() string { return "RADIUS upstream: " + e.reason }

// firstFactor asks the upstream whether r's password is right. ok is true
// on its Access-Accept; otherwise v is the answer to the gateway.
//
// When the upstream cannot be asked or never answers authentically, the
// gateway gets no answer (an errUpstream): RFC 2865 §2.4 leaves a server
// that does not answer to the NAS's retransmission and failover to an
// alternate server, which is what an unreachable directory calls for, and
// an Access-Reject would tell the user the password is wrong, count as a
// failed login on gateways that lock accounts, and stop the failover. It
// is the rule this package follows for a store failure too.
func (s *Server) firstFactor(ctx context.Context, a mfa.Actor, r *request) (v verdict, ok bool, err error) {
	lang := s.cfg.Language
	resp, err := s.askUpstream(ctx, r)
	if err != nil {
		return verdict{}, false, err
	}
	switch resp.Code {
	case radius.CodeAccessAccept:
		return verdict{}, true, nil
	case radius.CodeAccessReject:
		if err := s.svc.AuditExternalSignin(ctx, a, r.user, "", "result=reject reason=upstream_reject"); err != nil {
			return verdict{}, false, err
		}
		v := reject(lang, msgUpstreamReject, "upstream_reject")
		// The upstream's own words (password expired, account disabled)
		// are what the user can act on; they are passed on unread and
		// never logged.
		if msgs := all(resp.Attributes, rfc2865.ReplyMessage_Type); len(msgs) > 0 {
			v.lines = nil
			v.raw = msgs
		}
		return v, false, nil
	}
	// Access-Challenge: the upstream runs an MFA of its own (the NPS
	// extension, privacyIDEA), or EAP. Its State and prompt would have to
	// be relayed round by round, which proxy mode does not do.
	s.log.Warn("RADIUS upstream answered with Access-Challenge, which proxy mode does not support; turn off the upstream's own challenge (MFA, EAP) for this client",
		"client", r.client.name, "upstream", r.client.upstream.String())
	if err := s.svc.AuditExternalSignin(ctx, a, r.user, "", "result=reject reason=upstream_challenge"); err != nil {
		return verdict{}, false, err
	}
	return reject(lang, msgUpstreamChallenge, "upstream_challenge"), false, nil
}

// hopByHop are the attributes of the gateway's request that are not
// copied into the request to the upstream:
//   - User-Password is hidden with the shared secret and the Request
//     Authenticator of one hop (RFC 2865 §5.2); it is hidden anew with the
//     upstream's secret and our Request Authenticator.
//   - Message-Authenticator signs one hop's packet (RFC 3579 §3.2); ours is
//     computed for the upstream.
//   - Proxy-State belongs to the hops between the gateway and us: RFC 2865
//     §2.3 lets a forwarding server leave it out, and we answer the
//     gateway with a packet of our own that echoes it (§5.33). We add none
//     of our own: the reply is matched by its socket and Identifier.
//   - State is never present here (a request with a State is answered by
//     the second-factor code, without the upstream).
//
// Everything else (User-Name, NAS-IP-Address, NAS-Identifier, NAS-Port,
// Called- and Calling-Station-Id, Vendor-Specific, ...) describes the user
// and the NAS end to end and is copied unchanged and in order, so that the
// upstream's policies (network policies in NPS, huntgroups in FreeRADIUS)
// see the request as the gateway sent it.
var hopByHop = map[radius.Type]bool{
	rfc2865.UserPassword_Type: true,
	typeMessageAuthenticator:  true,
	rfc2865.ProxyState_Type:   true,
	rfc2865.State_Type:        true,
}

// upstreamRequest builds the Access-Request for the upstream: a new
// Identifier and Request Authenticator (both random, RFC 2865 §3), the
// gateway's attributes but the hop-by-hop ones, the password hidden with
// the upstream's secret, and Message-Authenticator first.
func upstreamRequest(r *request) ([]byte, error) {
	c := r.client
	p := &radius.Packet{Code: radius.CodeAccessRequest, Secret: c.upstreamSecret}
	var id [1]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	p.Identifier = id[0]
	if _, err := rand.Read(p.Authenticator[:]); err != nil {
		return nil, err
	}
	p.Attributes = radius.Attributes{{Type: typeMessageAuthenticator, Attribute: make([]byte, 16)}}
	for _, at := range r.attrs {
		if !hopByHop[at.Type] {
			p.Attributes = append(p.Attributes, at)
		}
	}
	pw, err := radius.NewUserPassword([]byte(r.password), c.upstreamSecret, p.Authenticator[:])
	if err != nil {
		return nil, fmt.Errorf("hide the password for the upstream: %w", err)
	}
	p.Attributes = append(p.Attributes, &radius.AVP{Type: rfc2865.UserPassword_Type, Attribute: pw})
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode the upstream request: %w", err)
	}
	m := hmac.New(md5.New, c.upstreamSecret)
	m.Write(b)
	m.Sum(b[22:22:38])
	return b, nil
}

// askUpstream sends r's first factor to the upstream, retransmitting the
// same packet (same Identifier and Authenticator, so that the upstream's
// duplicate detection knows it; RFC 5080 §2.2.1) up to upstreamTries
// times, and returns the first authentic response.
func (s *Server) askUpstream(ctx context.Context, r *request) (*radius.Packet, error) {
	c := r.client
	req, err := upstreamRequest(r)
	if err != nil {
		return nil, err
	}
	// A socket of its own per request: the kernel only delivers datagrams
	// from the upstream's address and port, and Identifiers never clash.
	conn, err := net.DialUDP("udp", nil, c.upstream)
	if err != nil {
		s.log.Warn("RADIUS upstream cannot be reached", "client", c.name, "upstream", c.upstream.String(), "err", err)
		return nil, &errUpstream{dropUpstreamUnreachable}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, radius.MaxPacketLength)
	unauthentic := 0
	for try := 0; try < upstreamTries && ctx.Err() == nil; try++ {
		if _, err := conn.Write(req); err != nil {
			// ICMP port unreachable of an earlier try shows up here.
			s.log.Debug("RADIUS upstream send failed", "client", c.name, "err", err)
		}
		deadline := time.Now().Add(upstreamTry)
		for ctx.Err() == nil {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				// ECONNREFUSED: nothing listens there now. Wait out the
				// try rather than spin, in case it comes back.
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(deadline)):
				}
				break
			}
			p, ok := checkUpstreamResponse(buf[:n], req, c.upstreamSecret)
			if !ok {
				// Silently discarded (RFC 2865 §3), but remembered:
				// the operator needs to hear about a wrong secret.
				unauthentic++
				continue
			}
			return p, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if unauthentic > 0 {
		s.log.Warn("RADIUS upstream responses failed their checks and were discarded; check upstream_secret_file, and that the upstream sends Message-Authenticator in every response",
			"client", c.name, "upstream", c.upstream.String(), "discarded", unauthentic)
		return nil, &errUpstream{dropUpstreamUnauthentic}
	}
	s.log.Warn("RADIUS upstream did not answer", "client", c.name, "upstream", c.upstream.String(), "tries", upstreamTries)
	return nil, &errUpstream{dropUpstreamUnreachable}
}

// checkUpstreamResponse checks a response b to our request req: its
// Identifier, Length and code, its Response Authenticator (RFC 2865 §3),
// and its Message-Authenticator, which must be present and right (RFC 3579
// §3.2; required, as the gateways' requests are, against Blast-RADIUS,
// CVE-2024-3596, which forges an upstream Access-Accept from a Reject).
// Comparisons are constant-time.
func checkUpstreamResponse(b, req, secret []byte) (*radius.Packet, bool) {
	if len(b) < 20 || b[1] != req[1] {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 20 || n > len(b) {
		return nil, false
	}
	b = b[:n]
	switch radius.Code(b[0]) {
	case radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge:
	default:
		return nil, false
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(req[4:20])
	h.Write(b[20:])
	h.Write(secret)
	if subtle.ConstantTimeCompare(h.Sum(nil), b[4:20]) != 1 {
		return nil, false
	}
	p, err := radius.Parse(b, secret)
	if err != nil {
		return nil, false
	}
	if len(all(p.Attributes, typeMessageAuthenticator)) != 1 {
		return nil, false
	}
	off := attributeOffset(b, typeMessageAuthenticator)
	if off < 0 || b[off+1] != maLen {
		return nil, false
	}
	z := append([]byte(nil), b...)
	copy(z[4:20], req[4:20])
	clear(z[off+2 : off+maLen])
	m := hmac.New(md5.New, secret)
	m.Write(z)
	if !hmac.Equal(m.Sum(nil), b[off+2:off+maLen]) {
		return nil, false
	}
	return p, true
}

// all returns the values of the attributes of type t, in order.
func all(as radius.Attributes, t radius.Type) []radius.Attribute {
	var out []radius.Attribute
	for _, a := range as {
		if a.Type == t {
			out = append(out, a.Attribute)
		}
	}
	return out
}
