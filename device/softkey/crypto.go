package softkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// PIN/UV auth protocols (CTAP 2.1 §6.5.6, §6.5.7).
const (
	pinProtocol1 = 1
	pinProtocol2 = 2
)

// pinKDF derives the shared secret from the ECDH x-coordinate z.
// Protocol 1: SHA-256(z). Protocol 2: HKDF-SHA-256 HMAC key ‖ AES key.
func pinKDF(proto uint64, z []byte) ([]byte, error) {
	switch proto {
	case pinProtocol1:
		s := sha256.Sum256(z)
		return s[:], nil
	case pinProtocol2:
		salt := make([]byte, 32)
		hk, err := hkdf.Key(sha256.New, z, salt, "CTAP2 HMAC key", 32)
		if err != nil {
			return nil, fmt.Errorf("derive hmac key: %w", err)
		}
		ak, err := hkdf.Key(sha256.New, z, salt, "CTAP2 AES key", 32)
		if err != nil {
			return nil, fmt.Errorf("derive aes key: %w", err)
		}
		return append(hk, ak...), nil
	}
	return nil, StatusInvalidParameter
}

// aesKey picks the AES-256 key out of a shared secret.
func aesKey(proto uint64, secret []byte) []byte {
	if proto == pinProtocol2 {
		return secret[32:]
	}
	return secret[:32]
}

// pinEncrypt is the protocol's encrypt(): AES-256-CBC, IV zero for protocol
// 1, a random IV prefixed to the ciphertext for protocol 2.
func pinEncrypt(proto uint64, secret, plain []byte) ([]byte, error) {
	if len(plain)%aes.BlockSize != 0 {
		return nil, errors.New("plaintext not a multiple of the block size")
	}
	block, err := aes.NewCipher(aesKey(proto, secret))
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	iv := make([]byte, aes.BlockSize)
	if proto == pinProtocol2 {
		if _, err := rand.Read(iv); err != nil {
			return nil, fmt.Errorf("iv: %w", err)
		}
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	if proto == pinProtocol2 {
		return append(iv, out...), nil
	}
	return out, nil
}

// pinDecrypt is the protocol's decrypt(). A malformed ciphertext yields
// StatusInvalidParameter.
func pinDecrypt(proto uint64, secret, ct []byte) ([]byte, error) {
	iv := make([]byte, aes.BlockSize)
	if proto == pinProtocol2 {
		if len(ct) < aes.BlockSize {
			return nil, StatusInvalidParameter
		}
		copy(iv, ct[:aes.BlockSize])
		ct = ct[aes.BlockSize:]
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, StatusInvalidParameter
	}
	block, err := aes.NewCipher(aesKey(proto, secret))
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	return out, nil
}

// pinAuthenticate is the protocol's authenticate(): HMAC-SHA-256 keyed with
// the first 32 bytes of key, truncated to 16 bytes for protocol 1.
func pinAuthenticate(proto uint64, key, msg []byte) []byte {
	m := hmac.New(sha256.New, key[:min(len(key), 32)])
	m.Write(msg)
	sum := m.Sum(nil)
	if proto == pinProtocol1 {
		return sum[:16]
	}
	return sum
}

func pinVerify(proto uint64, key, msg, sig []byte) bool {
	want := pinAuthenticate(proto, key, msg)
	return len(sig) == len(want) && subtle.ConstantTimeCompare(want, sig) == 1
}

// platformKey turns the platform's COSE key-agreement key into an ECDH key.
func platformKey(k *coseKey) (*ecdh.PublicKey, error) {
	if k == nil {
		return nil, StatusMissingParameter
	}
	if k.Kty != coseKtyEC2 || k.Crv != coseCrvP256 || len(k.X) != 32 || len(k.Y) != 32 {
		return nil, StatusInvalidParameter
	}
	raw := append([]byte{4}, k.X...)
	raw = append(raw, k.Y...)
	pub, err := ecdh.P256().NewPublicKey(raw)
	if err != nil {
		return nil, StatusInvalidParameter
	}
	return pub, nil
}

// coseFromECDH encodes the key's key-agreement public key.
func coseFromECDH(pub *ecdh.PublicKey) coseKey {
	b := pub.Bytes() // 0x04 ‖ X ‖ Y
	return coseKey{Kty: coseKtyEC2, Alg: coseAlgECDHHKDF, Crv: coseCrvP256, X: b[1:33], Y: b[33:65]}
}

// coseFromECDSA encodes a credential public key for ES256.
func coseFromECDSA(pub *ecdsa.PublicKey) coseKey {
	raw, err := pub.Bytes() // uncompressed point
	if err != nil {
		panic(fmt.Sprintf("softkey: encode P-256 key: %v", err))
	}
	return coseKey{Kty: coseKtyEC2, Alg: coseAlgES256, Crv: coseCrvP256, X: raw[1:33], Y: raw[33:65]}
}

func newP256Key() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate P-256 key: %w", err)
	}
	return k, nil
}

// p256FromScalar rebuilds a private key from its 32-byte scalar.
func p256FromScalar(d []byte) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, fmt.Errorf("parse P-256 scalar: %w", err)
	}
	return k, nil
}

// scalarOf is the 32-byte private scalar of a P-256 key.
func scalarOf(k *ecdsa.PrivateKey) []byte {
	b, err := k.Bytes()
	if err != nil {
		// Every key here comes from GenerateKey or ParseRawPrivateKey on
		// P-256, for which Bytes cannot fail: a failure is a defect.
		panic(fmt.Sprintf("softkey: private key without a P-256 scalar: %v", err))
	}
	return b
}

// Credential IDs wrap the credential's private key under the key's master
// secret (AES-256-GCM, AAD = rpIdHash), like hardware keys that keep no
// state for non-resident credentials. Layout:
// version(1) ‖ nonce(12) ‖ seal(scalar(32) ‖ credProtect(1) ‖ flags(1)).
const (
	credIDVersion = 1
	credIDLen     = 1 + 12 + 32 + 1 + 1 + 16

	credFlagHMACSecret = 0x01 // made with the hmac-secret extension
)

type wrappedKey struct {
	priv        *ecdsa.PrivateKey
	credProtect byte
	hmacSecret  bool
}

func wrapCredential(master, rpIDHash []byte, w wrappedKey) ([]byte, error) {
	aead, err := masterAEAD(master)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	var flags byte
	if w.hmacSecret {
		flags |= credFlagHMACSecret
	}
	plain := append(scalarOf(w.priv), w.credProtect, flags)
	out := append([]byte{credIDVersion}, nonce...)
	return aead.Seal(out, nonce, plain, rpIDHash), nil
}

// unwrapCredential returns the credential inside id if this key made it for
// the RP with rpIDHash.
func unwrapCredential(master, rpIDHash, id []byte) (wrappedKey, bool) {
	if len(id) != credIDLen || id[0] != credIDVersion {
		return wrappedKey{}, false
	}
	aead, err := masterAEAD(master)
	if err != nil {
		return wrappedKey{}, false
	}
	plain, err := aead.Open(nil, id[1:13], id[13:], rpIDHash)
	if err != nil || len(plain) != 34 {
		return wrappedKey{}, false
	}
	priv, err := p256FromScalar(plain[:32])
	if err != nil {
		return wrappedKey{}, false
	}
	return wrappedKey{priv: priv, credProtect: plain[32], hmacSecret: plain[33]&credFlagHMACSecret != 0}, true
}

// credRandom is the hmac-secret extension's per-credential secret (CTAP 2.1
// §12.5), one with and one without user verification. It is derived from
// the credential's private key so non-resident credentials need no storage.
func credRandom(priv *ecdsa.PrivateKey, uv bool) []byte {
	m := hmac.New(sha256.New, scalarOf(priv))
	m.Write([]byte("mfagate softkey hmac-secret"))
	if uv {
		m.Write([]byte{1})
	} else {
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func masterAEAD(master []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return aead, nil
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand.Read does not fail on Linux (Go 1.24+ panics
		// internally rather than returning an error).
		panic(fmt.Sprintf("softkey: crypto/rand: %v", err))
	}
	return b
}
