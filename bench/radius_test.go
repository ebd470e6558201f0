package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"strings"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

var testSecret = []byte("0123456789abcdef0123")

// The harness's Access-Request decoded by another codec: the user, the
// password once unhidden (RFC 2865 §5.2, also longer than one block), and
// a Message-Authenticator that is the HMAC-MD5 of the packet with it
// zeroed.
func TestAccessRequestDecodes(t *testing.T) {
	for _, pw := range []string{"", "123456", strings.Repeat("7", 16), strings.Repeat("8", 33)} {
		auth := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		b, err := accessRequest(testSecret, 42, auth, "1000000007", pw)
		if err != nil {
			t.Fatal(err)
		}
		p, err := radius.Parse(b, testSecret)
		if err != nil {
			t.Fatalf("password %q: %v", pw, err)
		}
		if p.Code != radius.CodeAccessRequest || p.Identifier != 42 || p.Authenticator != auth {
			t.Fatalf("header: code %v id %d", p.Code, p.Identifier)
		}
		if u := rfc2865.UserName_GetString(p); u != "1000000007" {
			t.Fatalf("User-Name %q", u)
		}
		if got := rfc2865.UserPassword_GetString(p); got != pw {
			t.Fatalf("User-Password %q, sent %q", got, pw)
		}
		ma, ok := p.Attributes.Lookup(attrMessageAuthenticator)
		if !ok || len(ma) != 16 {
			t.Fatalf("Message-Authenticator missing or %d octets", len(ma))
		}
		z := bytes.Clone(b)
		i := bytes.Index(z, append([]byte{attrMessageAuthenticator, 18}, ma...))
		clear(z[i+2 : i+18])
		m := hmac.New(md5.New, testSecret)
		m.Write(z)
		if !hmac.Equal(m.Sum(nil), ma) {
			t.Fatal("Message-Authenticator does not verify")
		}
		if wrong, _ := radius.Parse(b, []byte("another-secret-of-20")); rfc2865.UserPassword_GetString(wrong) == pw && pw != "" {
			t.Fatal("the password reads the same with another secret: it is not hidden")
		}
	}
}

// reply builds an answer to req with another codec: a Message-Authenticator
// over the reply with the Request Authenticator in place, then the
// Response Authenticator.
func reply(t *testing.T, req []byte, code radius.Code, secret []byte) []byte {
	t.Helper()
	p, err := radius.Parse(req, secret)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Response(code)
	r.Attributes = radius.Attributes{{Type: attrMessageAuthenticator, Attribute: make([]byte, 16)}}
	rfc2865.ReplyMessage_SetString(r, "bench")
	w, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(md5.New, secret)
	m.Write(w)
	r.Attributes[0].Attribute = m.Sum(nil)
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckResponse(t *testing.T) {
	auth := [16]byte{9, 9, 9}
	req, err := accessRequest(testSecret, 7, auth, "1000000007", "123456")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []radius.Code{radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge} {
		code, ok := checkResponse(reply(t, req, c, testSecret), req, testSecret)
		if !ok || code != byte(c) {
			t.Fatalf("%v: got code %d, authentic %v", c, code, ok)
		}
	}
	good := reply(t, req, radius.CodeAccessAccept, testSecret)
	other, _ := accessRequest(testSecret, 8, auth, "1000000007", "123456")
	sameID, _ := accessRequest(testSecret, 7, [16]byte{1}, "1000000007", "123456")
	// A reply without a Message-Authenticator, with a valid Response Authenticator.
	p, _ := radius.Parse(req, testSecret)
	bare, _ := p.Response(radius.CodeAccessAccept).Encode()
	// A Message-Authenticator made with another secret, the Response Authenticator with ours.
	badMA := reply(t, req, radius.CodeAccessAccept, []byte("another-secret-of-20"))
	rp, _ := radius.Parse(badMA, testSecret)
	rp.Secret, rp.Authenticator = testSecret, auth
	badMA, _ = rp.Encode()
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	for name, tc := range map[string]struct{ reply, req, secret []byte }{
		"another secret":                {good, req, []byte("another-secret-of-20")},
		"another Identifier":            {good, other, testSecret},
		"another Request Authenticator": {good, sameID, testSecret},
		"no Message-Authenticator":      {bare, req, testSecret},
		"Message-Authenticator forged":  {badMA, req, testSecret},
		"a changed attribute":           {flipped, req, testSecret},
		"cut short":                     {good[:len(good)-1], req, testSecret},
		"shorter than a RADIUS header":  {good[:19], req, testSecret},
	} {
		if _, ok := checkResponse(tc.reply, tc.req, tc.secret); ok {
			t.Errorf("%s: taken as authentic", name)
		}
	}
}
