package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of the gateway's secret key.
const KeySize = 32

// Keys derives the gateway's working keys from the one secret key file:
// one seals secrets at rest (AES-256-GCM), one hashes one-time codes
// (HMAC-SHA256), one signs the tokens front doors issue (HMAC-SHA256).
// Keeping them apart means a leak of one use does not help the others.
//
// During a rotation Keys also holds the previous keys: values sealed, codes
// hashed and tokens MACed with them are still accepted, while everything
// new uses the current key. Reseal moves sealed values to the current key.
type Keys struct {
	aead     cipher.AEAD
	codeKey  []byte
	macKey   []byte
	previous []*Keys // keys being rotated out, tried after this one
}

// ErrSealed reports ciphertext that does not open under the current key:
// the key file was replaced or the stored value was altered.
var ErrSealed = errors.New("sealed value does not open with this key (wrong secrets.key_file, or the stored value was altered)")

// LoadKeys reads the secret key file: 32 raw bytes, 64 hex characters, or
// base64 of 32 bytes.
func LoadKeys(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("secret key file %s does not exist: create one with `head -c 32 /dev/urandom > %s` (mode 0600)", path, path)
		}
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	key, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return NewKeys(key)
}

// LoadKeyRing reads the current key file and the files of the keys being
// rotated out (secrets.previous_key_files). Each refusal names the file
// and says what to do.
func LoadKeyRing(current string, previous []string) (*Keys, error) {
	k, err := LoadKeys(current)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{derivedID(k): "secrets.key_file"}
	for i, path := range previous {
		key := fmt.Sprintf("secrets.previous_key_files[%d]", i)
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%s: the old key file %s does not exist: keep it until the re-seal is done (mfagate_secrets_sealed_with_previous 0, `mfagatectl status`), or remove it from the list if it was never used", key, path)
		case err != nil:
			return nil, fmt.Errorf("%s: the old key file %s cannot be read (%v): make it readable by the daemon only (chmod 0400, owned by its user)", key, path, err)
		}
		raw, err := ParseKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: the old key file %s %w", key, path, err)
		}
		p, err := NewKeys(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if other, dup := seen[derivedID(p)]; dup {
			return nil, fmt.Errorf("%s: %s holds the same key as %s: put the new key in secrets.key_file and only older, different keys here", key, path, other)
		}
		seen[derivedID(p)] = key
		k.previous = append(k.previous, p)
	}
	return k, nil
}

// NewKeyRing derives the working keys of current and of the keys being
// rotated out, tried in the order given.
func NewKeyRing(current []byte, previous ...[]byte) (*Keys, error) {
	k, err := NewKeys(current)
	if err != nil {
		return nil, err
	}
	for _, raw := range previous {
		p, err := NewKeys(raw)
		if err != nil {
			return nil, err
		}
		k.previous = append(k.previous, p)
	}
	return k, nil
}

// derivedID tells keys apart without revealing them.
func derivedID(k *Keys) string { return string(k.MAC("mfagate key id", nil)) }

// Previous is how many keys being rotated out k holds.
func (k *Keys) Previous() int { return len(k.previous) }

// ParseKey decodes a key file's content.
func ParseKey(data []byte) ([]byte, error) {
	if len(data) == KeySize {
		return data, nil
	}
	text := strings.TrimSpace(string(data))
	if b, err := hex.DecodeString(text); err == nil && len(b) == KeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && len(b) == KeySize {
		return b, nil
	}
	return nil, fmt.Errorf("holds %d bytes; want exactly 32 raw bytes, 64 hex characters or base64 of 32 bytes", len(data))
}

// GenerateKey returns a fresh random key.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k
}

// NewKeys derives the working keys from a 32-byte secret.
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(secret))
	}
	block, err := aes.NewCipher(derive(secret, "mfagate seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{aead: aead, codeKey: derive(secret, "mfagate code hash v1"), macKey: derive(secret, "mfagate mac v1")}, nil
}

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seal encrypts plaintext bound to context (for example a method ID), so a
// sealed value copied to another row does not open.
func (k *Keys) Seal(plaintext []byte, context string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k.aead.Seal(nonce, nonce, plaintext, []byte(context))
}

// Open decrypts a value made by Seal with the same context, under the
// current key or one being rotated out.
func (k *Keys) Open(sealed []byte, context string) ([]byte, error) {
	out, _, err := k.OpenCurrent(sealed, context)
	return out, err
}

// OpenCurrent is Open that also says whether the value was sealed with the
// current key (false: with a previous one, so it is due a re-seal).
func (k *Keys) OpenCurrent(sealed []byte, context string) (plaintext []byte, current bool, err error) {
	if out, err := k.open(sealed, context); err == nil {
		return out, true, nil
	}
	for _, p := range k.previous {
		if out, err := p.open(sealed, context); err == nil {
			return out, false, nil
		}
	}
	return nil, false, ErrSealed
}

func (k *Keys) open(sealed []byte, context string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrSealed
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return nil, ErrSealed
	}
	return out, nil
}

// HashCode returns the keyed hash under which a challenge's code is stored.
func (k *Keys) HashCode(challengeID, code string) []byte {
	m := hmac.New(sha256.New, k.codeKey)
	m.Write([]byte(challengeID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// CodeMatches compares a presented code with the stored hash in constant
// time. A hash made with a key being rotated out matches too, so codes and
// passes issued before a rotation stay usable until they expire. Every key
// is tried, whichever matches.
func (k *Keys) CodeMatches(challengeID, code string, hash []byte) bool {
	ok := hmac.Equal(k.HashCode(challengeID, code), hash)
	for _, p := range k.previous {
		ok = p.CodeMatches(challengeID, code, hash) || ok
	}
	return ok
}

// MAC authenticates msg for purpose (HMAC-SHA256 under a key of its own),
// for front doors that issue signed, expiring tokens. The purpose names
// what the token is for and goes first with its length, so that a MAC made
// for one purpose never passes for another, whatever the messages.
func (k *Keys) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, k.macKey)
	m.Write(binary.AppendUvarint(nil, uint64(len(purpose))))
	m.Write([]byte(purpose))
	m.Write(msg)
	return m.Sum(nil)
}

// MACMatches reports in constant time whether mac is MAC(purpose, msg),
// under the current key or one being rotated out (tokens issued before a
// rotation live out their lifetime).
func (k *Keys) MACMatches(purpose string, msg, mac []byte) bool {
	ok := hmac.Equal(k.MAC(purpose, msg), mac)
	for _, p := range k.previous {
		ok = p.MACMatches(purpose, msg, mac) || ok
	}
	return ok
}
