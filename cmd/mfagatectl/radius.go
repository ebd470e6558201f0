package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// defaultRadiusServer is where [radius] listen points in the examples and
// the demo.
const defaultRadiusServer = "127.0.0.1:1812"

// demoRadiusSecret is the demo's RADIUS client secret in its state
// directory.
const demoRadiusSecret = "radius-demo-vpn.secret"

// maxRadiusRounds bounds the challenges answered in one test.
const maxRadiusRounds = 5

// radiusResend is how long one Access-Request waits before it is sent
// again, unchanged, as a gateway retransmits.
const radiusResend = 5 * time.Second

func setupRadiusTest(fs *flag.FlagSet) action {
	server := fs.String("server", defaultRadiusServer, "the RADIUS server's UDP `HOST:PORT`")
	secretFile := fs.String("secret-file", "", "read the client's shared secret from `FILE` (default with -demo-dir: the demo's "+demoRadiusSecret+")")
	code := fs.String("code", "", "send `CODE` (or the trigger word) as User-Password instead of reading it from standard input")
	return func(e *env, args []string) error {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if e.g.json {
			return usagef("radius test: -json is not offered; the result is one line")
		}
		if _, _, err := net.SplitHostPort(*server); err != nil {
			return usagef("radius test: -server %q: want HOST:PORT, e.g. %s", *server, defaultRadiusServer)
		}
		path := *secretFile
		switch {
		case path == "" && e.g.demoDir != "":
			path = filepath.Join(e.g.demoDir, demoRadiusSecret)
		case path == "":
			return usagef("radius test: no shared secret: pass -secret-file FILE (the client's secret_file) or -demo-dir DIR")
		}
		secret, err := readSecret(path)
		if err != nil {
			return err
		}
		password := *code
		if !given["code"] {
			e.note("Code (Enter for a challenge): ")
			line, err := e.readLine()
			if errors.Is(err, errInterrupted) {
				return err
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("radius test: read the code: %w", err)
			}
			password = strings.TrimSpace(line)
		}
		var state []byte
		for round := 1; ; round++ {
			r, err := radiusAsk(e.ctx, *server, secret, args[0], password, state, e.g.timeout)
			if err != nil {
				return err
			}
			msgs, _ := rfc2865.ReplyMessage_GetStrings(r)
			msg := strings.Join(msgs, "\n")
			switch r.Code {
			case radius.CodeAccessAccept:
				fmt.Fprintln(e.stdout, withMessage("Access-Accept", msg))
				classes, _ := rfc2865.Class_Gets(r)
				filters, _ := rfc2865.FilterID_GetStrings(r)
				for _, c := range classes {
					fmt.Fprintf(e.stdout, "  Class: %s\n", c)
				}
				for _, f := range filters {
					fmt.Fprintf(e.stdout, "  Filter-Id: %s\n", f)
				}
				return nil
			case radius.CodeAccessReject:
				fmt.Fprintln(e.stdout, withMessage("Access-Reject", msg))
				return errors.New("radius test: the server rejected the sign-in")
			case radius.CodeAccessChallenge:
				fmt.Fprintln(e.stdout, withMessage("Access-Challenge", msg))
				state = rfc2865.State_Get(r)
				if state == nil {
					return errors.New("radius test: the Access-Challenge carries no State")
				}
				if round >= maxRadiusRounds {
					return fmt.Errorf("radius test: still challenged after %d rounds", round)
				}
				e.note("> ")
				line, err := e.readLine()
				if errors.Is(err, errInterrupted) {
					return err
				}
				if err != nil && line == "" {
					return errors.New("radius test: standard input ended before the challenge was answered")
				}
				password = strings.TrimSpace(line)
			default:
				return fmt.Errorf("radius test: the server answered with %v", r.Code)
			}
		}
	}
}

func withMessage(code, msg string) string {
	if msg == "" {
		return code
	}
	return code + ": " + strings.ReplaceAll(msg, "\n", " / ")
}

// readSecret reads a shared secret file: one line, not empty.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("radius test: read the shared secret: %v", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return nil, usagef("radius test: %s must hold the shared secret alone on one line", path)
	}
	return []byte(s), nil
}

// radiusAsk sends one Access-Request with a Message-Authenticator (RFC
// 3579 §3.2) and returns the reply once its Response Authenticator and its
// Message-Authenticator check out; a reply without one is refused, as a
// Blast-RADIUS forgery could be. The request is sent again, unchanged,
// every radiusResend until a reply comes or timeout passes.
func radiusAsk(ctx context.Context, server string, secret []byte, user, password string, state []byte, timeout time.Duration) (*radius.Packet, error) {
	p := radius.New(radius.CodeAccessRequest, secret)
	p.Add(typeMessageAuthenticator, make([]byte, 16))
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return nil, usagef("radius test: user: %v", err)
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		return nil, usagef("radius test: code: %v", err)
	}
	rfc2865.NASIdentifier_SetString(p, "mfagatectl")
	if state != nil {
		rfc2865.State_Set(p, state)
	}
	req, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("radius test: encode the request: %w", err)
	}
	off := attrOffset(req, typeMessageAuthenticator)
	m := hmac.New(md5.New, secret)
	m.Write(req)
	m.Sum(req[off+2 : off+2])
	conn, err := net.Dial("udp", server)
	if err != nil {
		return nil, fmt.Errorf("radius test: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() { <-ctx.Done(); conn.SetReadDeadline(time.Now()) }()
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Write(req); err != nil {
			return nil, fmt.Errorf("radius test: send to %s: %w", server, err)
		}
		conn.SetReadDeadline(time.Now().Add(radiusResend))
		for {
			n, err := conn.Read(buf)
			if ctx.Err() != nil {
				if errors.Is(ctx.Err(), context.Canceled) {
					return nil, errInterrupted
				}
				return nil, fmt.Errorf("radius test: no answer from %s within %s: is the server there, and are this address and the secret its client's?", server, timeout)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // send again
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				return nil, fmt.Errorf("radius test: nothing listens at %s (connection refused): is it the daemon's [radius] listen?", server)
			}
			if err != nil {
				return nil, fmt.Errorf("radius test: %w", err)
			}
			if r, ok := checkReply(buf[:n], req, secret); ok {
				return r, nil
			}
			// Not the answer to this request, or forged: wait on.
		}
	}
}

// checkReply parses reply b to request req if it is authentic: its
// Identifier, Response Authenticator (RFC 2865 §3) and Message-Authenticator
// (RFC 3579 §3.2: HMAC-MD5 with the Request Authenticator in place).
func checkReply(b, req, secret []byte) (*radius.Packet, bool) {
	if len(b) < 20 || b[1] != req[1] || !radius.IsAuthenticResponse(b, req, secret) {
		return nil, false
	}
	off := attrOffset(b, typeMessageAuthenticator)
	if off < 0 || b[off+1] != 18 {
		return nil, false
	}
	z := bytes.Clone(b)
	copy(z[4:20], req[4:20])
	clear(z[off+2 : off+18])
	m := hmac.New(md5.New, secret)
	m.Write(z)
	if !hmac.Equal(m.Sum(nil), b[off+2:off+18]) {
		return nil, false
	}
	r, err := radius.Parse(b, secret)
	if err != nil {
		return nil, false
	}
	return r, true
}

// typeMessageAuthenticator is Message-Authenticator (RFC 2869 §5.14).
const typeMessageAuthenticator radius.Type = 80

// attrOffset is the offset of the first attribute of type t in packet b,
// or -1.
func attrOffset(b []byte, t radius.Type) int {
	for i := 20; i+2 <= len(b) && b[i+1] >= 2; i += int(b[i+1]) {
		if radius.Type(b[i]) == t {
			return i
		}
	}
	return -1
}
