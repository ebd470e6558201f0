package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// totpNow is RFC 6238 (SHA-1, 6 digits, 30 s) written out for the test.
func totpNow(secret string) string { return totpFor(secret, time.Now()) }

// totpFor is the code of the time step holding at.
func totpFor(secret string, at time.Time) string {
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1000000)
}

// With [store] driver = "postgres", the daemon keeps its state in a real
// PostgreSQL server (password from a file) and finds it again on restart.
func TestPostgresBackend(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	pg := startPostgres(t)
	g := newGateway(t, bin, fmt.Sprintf("[store]\ndriver = \"postgres\"\ndsn = %q\npassword_file = %q\n", pg.srv.DSN(pg.db), pg.srv.PasswordFile()))
	g.start()
	var added struct {
		Method struct{ ID string }
		TOTP   struct{ Secret string }
	}
	if c := g.call("POST", "/v1/users/0123456789/methods", `{"kind":"totp"}`, &added); c != 201 {
		t.Fatalf("register: %d", c)
	}
	if c := g.call("POST", "/v1/users/0123456789/methods/"+added.Method.ID+"/confirm", `{"code":"`+totpNow(added.TOTP.Secret)+`"}`, nil); c != 200 {
		t.Fatalf("confirm: %d", c)
	}
	g.kill()
	g.start()
	var u struct {
		DefaultMethod string `json:"default_method"`
		Methods       []struct{ Confirmed bool }
	}
	if c := g.call("GET", "/v1/users/0123456789", "", &u); c != 200 || u.DefaultMethod != added.Method.ID || len(u.Methods) != 1 || !u.Methods[0].Confirmed {
		t.Fatalf("after restart on PostgreSQL: %d %+v", c, u)
	}
}
