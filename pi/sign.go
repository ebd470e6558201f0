package pi

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Signer signs responses the way privacyIDEA does, so that plugins
// configured with its public key keep verifying them: RSASSA-PSS with
// SHA-256, MGF1-SHA-256 and the largest salt (Python cryptography's
// PSS.MAX_LENGTH), over the UTF-8 of the Python-serialised response,
// hex-encoded behind the scheme prefix "rsa_sha256_pss:"
// (privacyidea/lib/crypto.py, class Sign).
type Signer struct {
	key    *rsa.PrivateKey
	public []byte // PEM "PUBLIC KEY" (SubjectPublicKeyInfo)
}

// signaturePrefix names the scheme in the signature field.
const signaturePrefix = "rsa_sha256_pss:"

// minKeyBits is the smallest response key accepted.
const minKeyBits = 2048

// NewSigner wraps an RSA key.
func NewSigner(key *rsa.PrivateKey) (*Signer, error) {
	if key.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("the response key has %d bits; use at least %d", key.N.BitLen(), minKeyBits)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, public: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, nil
}

// LoadOrCreateSigner reads the response key from path (PEM, PKCS#8 or
// PKCS#1), or creates a 3072-bit one there (mode 0600) when the file does
// not exist, reporting created. A key file other users can read is
// refused: whoever holds it can forge answers the plugins trust.
func LoadOrCreateSigner(path string) (_ *Signer, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// 2048 bits, as privacyIDEA's pi-manage creates its keys: a
		// signature costs about 0.9 ms of CPU per answer, a 3072-bit one
		// three times that (docs/performance.md, figure 1).
		key, err := rsa.GenerateKey(rand.Reader, minKeyBits)
		if err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("create the directory of the privacyIDEA response key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("create the privacyIDEA response key: %w", err)
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("write the privacyIDEA response key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, false, fmt.Errorf("write the privacyIDEA response key: %w", err)
		}
		s, err := NewSigner(key)
		return s, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the privacyIDEA response key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("the privacyIDEA response key %s is readable by other users (mode %o); chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("privacyIDEA response key %s: %w", path, err)
	}
	s, err := NewSigner(key)
	return s, false, err
}

func parseKey(data []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("not a PEM file; expected a \"PRIVATE KEY\" or \"RSA PRIVATE KEY\" block")
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the key is a %T; privacyIDEA's signatures need an RSA key", k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", b.Type)
}

// PublicKeyPEM is the key plugins verify responses with.
func (s *Signer) PublicKeyPEM() []byte { return s.public }

// Sign returns the signature field for a serialised response.
func (s *Signer) Sign(serialised string) string {
	sum := sha256.Sum256([]byte(serialised))
	sig, err := rsa.SignPSS(rand.Reader, s.key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256})
	if err != nil {
		panic("sign response: " + err.Error()) // only fails on a broken key or RNG
	}
	return signaturePrefix + hex.EncodeToString(sig)
}
