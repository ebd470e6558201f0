package mfa

import (
	"crypto/rand"
	"encoding/base32"
	"math/big"
	"strings"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix + 128 random bits in lowercase base32: challenge IDs
// are bearer-like (verify needs only the ID and the code), so they must not
// be guessable.
func newID(prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return prefix + strings.ToLower(idEncoding.EncodeToString(b))
}

// randomDigits returns n uniformly random decimal digits from crypto/rand.
func randomDigits(n int) string {
	var sb strings.Builder
	ten := big.NewInt(10)
	for range n {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		sb.WriteByte(byte('0' + d.Int64()))
	}
	return sb.String()
}

// numberMatch returns the two digits a voice callee keys in: 10–99, so it
// never starts with 0 (0# is the fraud report).
func numberMatch() string {
	d, err := rand.Int(rand.Reader, big.NewInt(90))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	n := 10 + d.Int64()
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
