package mfa

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/phone"
)

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{9}, 32)
	for name, content := range map[string][]byte{
		"raw": key, "hex": []byte(hex.EncodeToString(key) + "\n"), "b64": []byte("CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, content, 0o600)
		k, err := LoadKeys(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ref, _ := NewKeys(key)
		sealed := ref.Seal([]byte("seed"), "m_1")
		if got, err := k.Open(sealed, "m_1"); err != nil || string(got) != "seed" {
			t.Fatalf("%s: the same key in another encoding does not open: %v", name, err)
		}
	}
	if _, err := LoadKeys(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Fatalf("missing key file: %v", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc"), 0o600)
	if _, err := LoadKeys(short); err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("short key file: %v", err)
	}

	k, _ := NewKeys(key)
	other, _ := NewKeys(bytes.Repeat([]byte{8}, 32))
	sealed := k.Seal([]byte("JBSWY3DPEHPK3PXP"), "m_1")
	if bytes.Contains(sealed, []byte("JBSWY3DP")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if _, err := k.Open(sealed, "m_2"); err != ErrSealed {
		t.Fatalf("opened under another row's context: %v", err)
	}
	if _, err := other.Open(sealed, "m_1"); err != ErrSealed {
		t.Fatalf("opened with another key: %v", err)
	}
	h := k.HashCode("c_1", "123456")
	if !k.CodeMatches("c_1", "123456", h) || k.CodeMatches("c_2", "123456", h) || k.CodeMatches("c_1", "123457", h) || other.CodeMatches("c_1", "123456", h) {
		t.Fatal("code hashes are not bound to challenge, code and key")
	}
}

func TestPhoneNormalizeAndMask(t *testing.T) {
	for _, tc := range []struct {
		in, e164, masked string
		mobile           bool
		code             Code
	}{
		{"090-1234-5678", "+819012345678", "+81 90-****-5678", true, ""},
		{"+81 90 1234 5678", "+819012345678", "+81 90-****-5678", true, ""},
		{"03-1234-5678", "+81312345678", "+81 3-****-5678", false, ""},
		{"0120-123-456", "", "", false, CodeInvalidPhone},
		{"+1 202 555 0147", "", "", false, CodeRegionNotAllowed},
		{"abc", "", "", false, CodeInvalidPhone},
		{"", "", "", false, CodeInvalidPhone},
	} {
		p, err := NormalizePhone(tc.in, "JP", []string{"JP"})
		if CodeOf(err) != tc.code {
			t.Errorf("%q: err %v, want code %q", tc.in, err, tc.code)
			continue
		}
		if tc.code != "" {
			continue
		}
		if p.E164 != tc.e164 || p.Mobile != tc.mobile || phone.Mask(p.E164) != tc.masked {
			t.Errorf("%q: %+v masked %q", tc.in, p, phone.Mask(p.E164))
		}
	}
}

func TestRandomValues(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		n := numberMatch()
		if len(n) != 2 || n[0] < '1' || n[0] > '9' || !isDigits(n) {
			t.Fatalf("number to match %q", n)
		}
		seen[n] = true
		if c := randomDigits(6); len(c) != 6 || !isDigits(c) {
			t.Fatalf("code %q", c)
		}
	}
	if len(seen) < 85 {
		t.Fatalf("only %d of 90 numbers to match seen in 2000 draws", len(seen))
	}
	if a, b := newID("c_"), newID("c_"); a == b || len(a) != 28 || !strings.HasPrefix(a, "c_") {
		t.Fatalf("ids %q %q", a, b)
	}
}

// hotpCode is RFC 4226 written out for the tests, independent of the
// library the service uses.
func hotpCode(key []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1000000)
}

func TestMatchTOTPAgainstRFC4226(t *testing.T) {
	p := TOTPParams{Issuer: "x", Digits: 6, Period: 30 * time.Second, Skew: 1}
	seed := []byte("12345678901234567890") // RFC 6238 test key
	now := time.Unix(59, 0)                // step 1: RFC 6238 gives 94287082 (8 digits) → 287082
	if got := hotpCode(seed, 1); got != "287082" {
		t.Fatalf("reference HOTP = %s, want 287082 (RFC 6238 appendix B)", got)
	}
	step, ok := matchTOTP(p, seed, "287082", now)
	if !ok || step != 1 {
		t.Fatalf("matchTOTP = %d %v", step, ok)
	}
	if _, ok := matchTOTP(p, seed, hotpCode(seed, 3), now); ok {
		t.Fatal("a code two steps ahead matched with skew 1")
	}
}

func TestMAC(t *testing.T) {
	secret := bytes.Repeat([]byte{9}, 32)
	k, _ := NewKeys(secret)
	other, _ := NewKeys(bytes.Repeat([]byte{8}, 32))

	// Written out independently: HMAC-SHA256 under HMAC-SHA256(secret,
	// "mfagate mac v1") of the purpose's length, the purpose and the message.
	dk := hmac.New(sha256.New, secret)
	dk.Write([]byte("mfagate mac v1"))
	ref := hmac.New(sha256.New, dk.Sum(nil))
	ref.Write([]byte{4})
	ref.Write([]byte("auth"))
	ref.Write([]byte("user=0000000001"))
	mac := k.MAC("auth", []byte("user=0000000001"))
	if !bytes.Equal(mac, ref.Sum(nil)) {
		t.Fatalf("MAC = %x, want %x", mac, ref.Sum(nil))
	}
	if !k.MACMatches("auth", []byte("user=0000000001"), mac) {
		t.Fatal("a MAC does not match its own message")
	}
	for name, got := range map[string][]byte{
		"another purpose": k.MAC("auth2", []byte("user=0000000001")),
		"another message": k.MAC("auth", []byte("user=0000000002")),
		"another key":     other.MAC("auth", []byte("user=0000000001")),
		// The purpose's end is not movable into the message.
		"shifted boundary": k.MAC("aut", []byte("huser=0000000001")),
		"code hash key":    k.HashCode("auth", "user=0000000001"),
	} {
		if bytes.Equal(got, mac) {
			t.Errorf("%s gives the same MAC", name)
		}
	}
	for i := range mac {
		bad := bytes.Clone(mac)
		bad[i] ^= 1
		if k.MACMatches("auth", []byte("user=0000000001"), bad) {
			t.Fatalf("a MAC with byte %d changed matches", i)
		}
	}
	if k.MACMatches("auth", []byte("user=0000000001"), mac[:31]) || k.MACMatches("auth", []byte("user=0000000001"), nil) {
		t.Fatal("a short MAC matches")
	}
	if other.MACMatches("auth", []byte("user=0000000001"), mac) || k.MACMatches("other", []byte("user=0000000001"), mac) {
		t.Fatal("a MAC matches under another key or purpose")
	}
}
