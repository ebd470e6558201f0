package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// The demo's RADIUS server, asked as a gateway asks: an SMS user signs in
// with a challenge answered by the code from the demo handset. The
// gateway's Message-Authenticator is computed here, and the server's is
// checked here, from RFC 3579 §3.2, not by the server's code.
func TestRadiusDemo(t *testing.T) {
	d := newPIDemo(t)
	d.start()
	const (
		user   = "0123470001"
		number = "090-4700-0001"
	)
	sms := d.addSMS(user, number)
	d.testSigninSMS(user, sms, number)
	d.apply(user)
	d.restart(piClockOffset)

	m := regexp.MustCompile(`RADIUS \(VPN, Citrix, SSH\): udp (\S+), client demo-vpn from 127\.0\.0\.1/32, secret in (\S+)\n`).FindStringSubmatch(d.banner)
	if m == nil {
		t.Fatalf("the demo does not announce its RADIUS server:\n%s", d.banner)
	}
	if !strings.Contains(d.banner, "| radclient -x "+m[1]+" auth") {
		t.Errorf("the banner's radclient line does not name the server's address %s:\n%s", m[1], d.banner)
	}
	sec, err := os.ReadFile(m[2])
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(strings.TrimSpace(string(sec)))
	if fi, _ := os.Stat(m[2]); fi.Mode().Perm() != 0o600 {
		t.Errorf("the demo's RADIUS secret file has mode %04o, want 0600", fi.Mode().Perm())
	}

	before := d.messages(number)
	r := radiusExchange(t, m[1], secret, user, "push", nil)
	if r.Code != radius.CodeAccessChallenge {
		t.Fatalf("reply %v to the trigger, want Access-Challenge", r.Code)
	}
	msg := rfc2865.ReplyMessage_GetString(r)
	checkMasked(t, msg, number)
	state := rfc2865.State_Get(r)
	code := d.nextCode(number, before)
	r = radiusExchange(t, m[1], secret, user, otherCode(code), state)
	if r.Code != radius.CodeAccessReject {
		t.Fatalf("reply %v to a wrong code, want Access-Reject", r.Code)
	}
	// A fresh challenge, answered right.
	before = d.messages(number)
	r = radiusExchange(t, m[1], secret, user, "", nil)
	code = d.nextCode(number, before)
	r = radiusExchange(t, m[1], secret, user, code, rfc2865.State_Get(r))
	if r.Code != radius.CodeAccessAccept {
		t.Fatalf("reply %v to the SMS code, want Access-Accept (%q)", r.Code, rfc2865.ReplyMessage_GetString(r))
	}
}

// radiusExchange sends one Access-Request with a Message-Authenticator and
// returns the reply after checking its Response Authenticator and its
// Message-Authenticator, which must come first.
func radiusExchange(t *testing.T, addr string, secret []byte, user, password string, state []byte) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, secret)
	p.Add(80, make([]byte, 16))
	rfc2865.UserName_SetString(p, user)
	rfc2865.UserPassword_SetString(p, password)
	if state != nil {
		rfc2865.State_Set(p, state)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, secret)
	mac.Write(b)
	copy(b[22:38], mac.Sum(nil))
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(b)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no RADIUS reply: %v", err)
	}
	resp := buf[:n]
	if !radius.IsAuthenticResponse(resp, b, secret) {
		t.Fatal("the reply's Response Authenticator is wrong")
	}
	if len(resp) < 38 || resp[20] != 80 || resp[21] != 18 {
		t.Fatalf("the reply does not start with a Message-Authenticator: % x", resp)
	}
	z := bytes.Clone(resp)
	copy(z[4:20], b[4:20])
	clear(z[22:38])
	mac = hmac.New(md5.New, secret)
	mac.Write(z)
	if !hmac.Equal(mac.Sum(nil), resp[22:38]) {
		t.Fatal("the reply's Message-Authenticator is wrong")
	}
	r, err := radius.Parse(resp, secret)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
