package mfa

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// During a rotation what the old key made still verifies, everything new
// is made with the new key, and once the old key is gone only what was
// re-sealed opens.
func TestKeyRing(t *testing.T) {
	rawA, rawB := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	a, _ := NewKeys(rawA)
	b, _ := NewKeys(rawB)
	ring, err := NewKeyRing(rawB, rawA)
	if err != nil {
		t.Fatal(err)
	}
	old := a.Seal([]byte("seed"), "m_1")
	if got, current, err := ring.OpenCurrent(old, "m_1"); err != nil || current || string(got) != "seed" {
		t.Fatalf("a value sealed with A: %q current=%v %v; want it open and due a re-seal", got, current, err)
	}
	if _, err := ring.Open(old, "m_2"); !errors.Is(err, ErrSealed) {
		t.Fatalf("A's value under another context: %v, want ErrSealed", err)
	}
	fresh := ring.Seal([]byte("seed"), "m_1")
	if _, err := b.Open(fresh, "m_1"); err != nil {
		t.Fatalf("a value sealed by the ring does not open with B alone: %v", err)
	}
	if _, err := a.Open(fresh, "m_1"); err == nil {
		t.Fatal("a value sealed by the ring opens with A")
	}
	if _, err := b.Open(old, "m_1"); !errors.Is(err, ErrSealed) {
		t.Fatal("A's value opens with B alone")
	}
	// Code hashes and MACs of A verify under the ring only.
	h := a.HashCode("c_1", "123456")
	if !ring.CodeMatches("c_1", "123456", h) || ring.CodeMatches("c_1", "654321", h) || b.CodeMatches("c_1", "123456", h) {
		t.Fatal("A's code hash: want it to match under the ring, not a wrong code, not under B alone")
	}
	if !bytes.Equal(ring.HashCode("c_1", "123456"), b.HashCode("c_1", "123456")) {
		t.Fatal("the ring hashes new codes with A")
	}
	mac := a.MAC("pi auth", []byte("msg"))
	if !ring.MACMatches("pi auth", []byte("msg"), mac) || b.MACMatches("pi auth", []byte("msg"), mac) {
		t.Fatal("A's MAC: want it accepted by the ring only")
	}
}

func TestLoadKeyRing(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o600)
		return p
	}
	cur := write("new.key", bytes.Repeat([]byte{7}, KeySize))
	old := write("old.key", []byte(strings.Repeat("0a", KeySize)+"\n"))
	same := write("same.key", []byte(strings.Repeat("07", KeySize)))
	k, err := LoadKeyRing(cur, []string{old})
	if err != nil || k.Previous() != 1 {
		t.Fatalf("LoadKeyRing = %v, %v", k, err)
	}
	for _, tt := range []struct {
		prev []string
		msg  string
	}{
		{[]string{filepath.Join(dir, "gone.key")}, "secrets.previous_key_files[0]: the old key file " + filepath.Join(dir, "gone.key") + " does not exist"},
		{[]string{old, dir}, "secrets.previous_key_files[1]: the old key file " + dir + " cannot be read"},
		{[]string{same}, "secrets.previous_key_files[0]: " + same + " holds the same key as secrets.key_file"},
		{[]string{old, write("old-copy.key", []byte(strings.Repeat("0a", KeySize)))}, "holds the same key as secrets.previous_key_files[0]"},
		{[]string{write("short.key", []byte("abc"))}, "holds 3 bytes; want exactly 32 raw bytes"},
	} {
		if _, err := LoadKeyRing(cur, tt.prev); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: %v, want …%s…", tt.prev, err, tt.msg)
		}
	}
}
