package api_test

import (
	"testing"
	"time"
)

// BenchmarkTOTPSignin measures one sign-in through the HTTP API on a real
// SQLite file: create a TOTP challenge, verify the code (two requests, two
// write transactions). Run: go test -run '^$' -bench TOTPSignin ./api
func BenchmarkTOTPSignin(b *testing.B) {
	h := newHarness(b)
	_, secret := h.addTOTP()
	b.ReportAllocs()
	for b.Loop() {
		h.clock.Advance(30 * time.Second) // a fresh time step: each code is accepted once
		r := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
		if r.status != 201 {
			b.Fatalf("create: %d %s", r.status, r.raw)
		}
		r = h.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"code":"`+totpCode(secret, h.clock.Now())+`"}`)
		if r.status != 200 {
			b.Fatalf("verify: %d %s", r.status, r.raw)
		}
	}
}
