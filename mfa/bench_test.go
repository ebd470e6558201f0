package mfa

import (
	"bytes"
	"testing"
	"time"
)

// Hot paths of a verification, measured with -benchmem:
// go test -run '^$' -bench . -benchmem ./mfa

func BenchmarkCodeHashCompare(b *testing.B) {
	k, _ := NewKeys(bytes.Repeat([]byte{1}, 32))
	h := k.HashCode("c_0123456789abcdefghijklmnop", "123456")
	b.ReportAllocs()
	for b.Loop() {
		if !k.CodeMatches("c_0123456789abcdefghijklmnop", "123456", h) {
			b.Fatal("no match")
		}
	}
}

func benchTOTP(b *testing.B, offset time.Duration) {
	p := TOTPParams{Issuer: "x", Digits: 6, Period: 30 * time.Second, Skew: 1}
	seed := bytes.Repeat([]byte{7}, 20)
	now := time.Unix(1_800_000_000, 0)
	code := "000000"
	if offset >= 0 {
		code = hotpCode(seed, now.Add(offset).Unix()/30)
	}
	b.ReportAllocs()
	for b.Loop() {
		matchTOTP(p, seed, code, now)
	}
}

func BenchmarkTOTPMatchCurrent(b *testing.B) { benchTOTP(b, 0) }
func BenchmarkTOTPMiss(b *testing.B)         { benchTOTP(b, -1) }

func BenchmarkSealOpen(b *testing.B) {
	k, _ := NewKeys(bytes.Repeat([]byte{1}, 32))
	seed := bytes.Repeat([]byte{7}, 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(k.Seal(seed, "m_1"), "m_1"); err != nil {
			b.Fatal(err)
		}
	}
}
