package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// typeMessageAuthenticator is Message-Authenticator (RFC 2869 §5.14).
const typeMessageAuthenticator radius.Type = 80

// maLen is the length of the Message-Authenticator attribute on the wire:
// type, length, 16 octets of HMAC-MD5.
const maLen = 18

// request is an Access-Request that passed every check that needs no
// store: its client is known, it parses, it is authentic as far as RADIUS
// can tell, and its User-Password decodes.
type request struct {
	client   *client
	id       byte
	auth     [16]byte
	user     string
	password string // decoded User-Password; "" when absent or empty
	state    []byte // State (RFC 2865 §5.24); nil when absent
	chap     bool   // CHAP-Password instead of User-Password
	status   bool   // a Status-Server (RFC 5997), not an Access-Request
	// attrs are the request's attributes in order: proxy mode copies
	// them upstream, and every reply echoes its Proxy-State ones.
	attrs radius.Attributes
}

// Reasons a packet is dropped, as mfagate_radius_dropped_total counts them.
const (
	dropUnknownClient = "unknown_client"
	dropMalformed     = "malformed"
	dropCode          = "unsupported_code"
	dropNoMA          = "no_message_authenticator"
	dropBadMA         = "bad_message_authenticator"
	dropBadPassword   = "bad_password"
	dropInProgress    = "in_progress"
	dropFlood         = "flood"
	dropUnanswered    = "unanswered"
)

// parse checks one datagram from c. It returns the request, or the reason
// to drop it silently, as RFC 2865 §3 and RFC 3579 §3.2 ask for packets
// that are malformed or fail authentication: no answer, so that a forger
// learns nothing.
func parse(c *client, b []byte) (*request, string) {
	p, err := radius.Parse(b, c.secret)
	if err != nil {
		return nil, dropMalformed
	}
	// Octets beyond Length are padding and are ignored (RFC 2865 §3);
	// the checks below work on the packet as Length has it.
	b = b[:binary.BigEndian.Uint16(b[2:4])]
	r := &request{client: c, id: p.Identifier, auth: p.Authenticator, attrs: p.Attributes}
	switch p.Code {
	case radius.CodeAccessRequest:
	case radius.CodeStatusServer:
		// RFC 5997 §3: a Status-Server without a valid
		// Message-Authenticator is silently discarded, whatever the
		// client's require_message_authenticator.
		if len(all(p.Attributes, typeMessageAuthenticator)) != 1 {
			return nil, dropNoMA
		}
		ok, wellFormed := checkMessageAuthenticator(b, c.secret)
		if !wellFormed {
			return nil, dropMalformed
		}
		if !ok {
			return nil, dropBadMA
		}
		r.status = true
		return r, ""
	default:
		return nil, dropCode
	}
	var ma, names, passwords, states int
	for _, a := range p.Attributes {
		switch a.Type {
		case typeMessageAuthenticator:
			ma++
		case rfc2865.UserName_Type:
			names++
		case rfc2865.UserPassword_Type:
			passwords++
		case rfc2865.State_Type:
			states++
		case rfc2865.CHAPPassword_Type:
			r.chap = true
		}
	}
	// RFC 2865 §5.44 allows each of these at most once in an
	// Access-Request, and RFC 3579 §3.2 Message-Authenticator too.
	if ma > 1 || names > 1 || passwords > 1 || states > 1 || (passwords == 1 && r.chap) {
		return nil, dropMalformed
	}
	switch {
	case ma == 1:
		// Checked whenever present (RFC 3579 §3.2: a server "MUST
		// calculate the correct value ... and silently discard the
		// packet if it does not match").
		ok, wellFormed := checkMessageAuthenticator(b, c.secret)
		if !wellFormed {
			return nil, dropMalformed
		}
		if !ok {
			return nil, dropBadMA
		}
	case c.requireMA:
		// Blast-RADIUS (CVE-2024-3596): without it, a man in the middle
		// can forge a response to the request; a server that requires
		// it on every Access-Request closes that door.
		return nil, dropNoMA
	}
	if v, ok := p.Lookup(rfc2865.UserName_Type); ok {
		if !utf8.Valid(v) || len(v) == 0 {
			return nil, dropMalformed
		}
		r.user = string(v)
	}
	if v, ok := p.Lookup(rfc2865.UserPassword_Type); ok {
		pw, err := radius.UserPassword(v, c.secret, r.auth[:])
		if err != nil {
			return nil, dropMalformed
		}
		// A User-Password hidden with another secret decodes to noise.
		// Without Message-Authenticator that is the only sign of a wrong
		// secret, and noise must not reach the code check, where it would
		// cost the user an attempt.
		if !utf8.Valid(pw) || containsControl(string(pw)) {
			return nil, dropBadPassword
		}
		r.password = string(pw)
	}
	if v, ok := p.Lookup(rfc2865.State_Type); ok {
		r.state = append([]byte(nil), v...)
	}
	return r, ""
}

func containsControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// checkMessageAuthenticator verifies the one Message-Authenticator of an
// Access-Request b (whose Length is len(b)): HMAC-MD5 keyed with the shared
// secret over the whole packet, with the Request Authenticator as sent and
// the attribute's 16 octets taken as zero (RFC 2869 §5.14, RFC 3579 §3.2).
// wellFormed is false when the attribute is not 18 octets long.
func checkMessageAuthenticator(b, secret []byte) (ok, wellFormed bool) {
	off := attributeOffset(b, typeMessageAuthenticator)
	if off < 0 || b[off+1] != maLen {
		return false, false
	}
	zeroed := append([]byte(nil), b...)
	clear(zeroed[off+2 : off+maLen])
	m := hmac.New(md5.New, secret)
	m.Write(zeroed)
	return hmac.Equal(m.Sum(nil), b[off+2:off+maLen]), true
}

// attributeOffset returns the offset in packet b of the first attribute of
// type t, or -1. b must have parsed.
func attributeOffset(b []byte, t radius.Type) int {
	for i := 20; i+2 <= len(b); i += int(b[i+1]) {
		if b[i+1] < 2 {
			return -1
		}
		if radius.Type(b[i]) == t {
			return i
		}
	}
	return -1
}

// encodeReply builds the reply to r: Message-Authenticator first, then
// attrs. The Message-Authenticator is HMAC-MD5 over the reply with the
// Request Authenticator of r in the authenticator field (RFC 3579 §3.2);
// the Response Authenticator is then MD5(Code, Identifier, Length, Request
// Authenticator, Attributes, secret) over the attributes as sent (RFC 2865
// §3). Putting Message-Authenticator first is what the Blast-RADIUS
// guidance asks of servers: a forged prefix cannot come before it.
func encodeReply(r *request, code radius.Code, attrs radius.Attributes) ([]byte, error) {
	p := &radius.Packet{Code: code, Identifier: r.id, Authenticator: r.auth, Secret: r.client.secret}
	p.Attributes = append(radius.Attributes{{Type: typeMessageAuthenticator, Attribute: make([]byte, 16)}}, attrs...)
	// RFC 2865 §4.2-§4.4: the Proxy-State attributes of the request are
	// copied unmodified and in order into the response, so that a proxy
	// between the gateway and us finds its own.
	for _, a := range r.attrs {
		if a.Type == rfc2865.ProxyState_Type {
			p.Attributes = append(p.Attributes, a)
		}
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode RADIUS reply: %w", err)
	}
	if b[20] != byte(typeMessageAuthenticator) {
		return nil, errors.New("encode RADIUS reply: Message-Authenticator is not first")
	}
	m := hmac.New(md5.New, r.client.secret)
	m.Write(b)
	m.Sum(b[22:22:38])
	h := md5.New()
	h.Write(b[:4])
	h.Write(r.auth[:])
	h.Write(b[20:])
	h.Write(r.client.secret)
	h.Sum(b[4:4:20])
	return b, nil
}

// replyMessages packs text lines into Reply-Message attributes (RFC 2865
// §5.18): as many lines as fit in one attribute's 253 octets, joined by
// newlines, so that a client that shows only the first attribute (as
// pam_radius_auth does for a challenge's prompt) shows the whole text when
// it is short enough. A line longer than 253 octets is cut at a character
// boundary.
func replyMessages(lines []string) []radius.Attribute {
	const maxLen = 253
	var out []radius.Attribute
	cur := ""
	flush := func() {
		if cur != "" {
			out = append(out, radius.Attribute(cur))
			cur = ""
		}
	}
	for _, l := range lines {
		for len(l) > maxLen {
			cut := maxLen
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			flush()
			out = append(out, radius.Attribute(l[:cut]))
			l = l[cut:]
		}
		switch {
		case cur == "":
			cur = l
		case len(cur)+1+len(l) <= maxLen:
			cur += "\n" + l
		default:
			flush()
			cur = l
		}
	}
	flush()
	return out
}
