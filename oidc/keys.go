package oidc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Sealer seals key material at rest with the server key; *mfa.Keys
// implements it. The context binds a sealed value to its row.
type Sealer interface {
	Seal(plaintext []byte, context string) []byte
	Open(sealed []byte, context string) ([]byte, error)
}

// SealContext is the context a signing key's private part is sealed with.
func SealContext(kid string) string { return "oidc signing key " + kid }

// StoredKey is one signing key as the store keeps it. The store is the
// truth for every node sharing it: states are not stored but follow from
// the times, so nodes cannot disagree about them (see KeyState).
type StoredKey struct {
	// Seq numbers the keys: 1 for the first, each successor one more. The
	// store must refuse a second key with the same Seq (a unique
	// constraint, or INSERT … ON CONFLICT DO NOTHING) and answer
	// ErrKeyConflict: that is how two nodes racing to create the next key
	// end with one.
	Seq         int64
	KID         string
	Created     time.Time // generated and published (in the JWKS) from then on
	ActivatesAt time.Time // signs from then on, until its successor activates
	Certificate []byte    // DER, self-signed, holding the public key (the JWKS's x5c)
	Sealed      []byte    // PKCS#8 private key sealed with SealContext(KID); nil once retired
	RetiredAt   time.Time // zero until retired
}

// KeyStore keeps the signing keys. Implementations must be safe for
// concurrent use and shared by every node of one database.
type KeyStore interface {
	// SigningKeys returns every key, retired ones included, in any order.
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	// InsertKey adds k, or returns ErrKeyConflict if a key with k.Seq
	// exists (and changes nothing).
	InsertKey(ctx context.Context, k StoredKey) error
	// RetireKey sets the key's RetiredAt and erases its sealed private
	// part, keeping the row (kid and times) for the record. Retiring a
	// retired key changes nothing.
	RetireKey(ctx context.Context, kid string, at time.Time) error
}

// KeyState is where a key is in its life: next → current → previous →
// retired.
type KeyState string

// Key states.
const (
	KeyNext     KeyState = "next"     // published, not signing yet
	KeyCurrent  KeyState = "current"  // signing
	KeyPrevious KeyState = "previous" // no longer signing; published until the tokens it signed have expired
	KeyRetired  KeyState = "retired"  // neither published nor used
)

// KeyInfo describes a key without its private part.
type KeyInfo struct {
	Seq         int64
	KID         string
	State       KeyState
	Created     time.Time
	ActivatesAt time.Time
	// Until is when the key stops being current (its successor's
	// activation; zero while there is none) and, for a previous key,
	// RetiresAt is when it leaves the JWKS.
	Until     time.Time
	RetiresAt time.Time
}

// KeyOptions configure a KeyManager.
type KeyOptions struct {
	Rotation     time.Duration // how long a key signs (config oidc.key_rotation)
	PublishAhead time.Duration // how long a key is published before it signs (oidc.key_publish_ahead)
	TokenTTL     time.Duration // lifetime of the tokens it signs (oidc.token_ttl)
	// RefreshEvery is how old the manager's copy of the store may grow
	// before a request re-reads it; default 5 minutes. It must stay far
	// below PublishAhead, so that a key another node created is in this
	// node's JWKS long before it signs.
	RefreshEvery time.Duration
	Bits         int              // RSA modulus size; default 2048
	Now          func() time.Time // default time.Now
	Rand         io.Reader        // default crypto/rand
	Log          *slog.Logger     // default discards
}

// retainMargin is how long a previous key stays published beyond the
// lifetime of the last token it signed: clock skew between nodes and
// Entra, and a token posted back at the end of its life.
const retainMargin = time.Hour

// KeyManager creates, rotates and serves the provider's signing keys. It
// keeps a copy of the store's keys, re-read by Refresh and whenever the
// copy is older than RefreshEvery.
type KeyManager struct {
	store  KeyStore
	sealer Sealer
	opt    KeyOptions

	refresh sync.Mutex // serialises Refresh and Rotate

	mu       sync.Mutex
	keys     []StoredKey // sorted by Seq
	loaded   time.Time   // when keys was read; zero: never
	private  map[string]*rsa.PrivateKey
	certs    map[string]*x509.Certificate
	jwksBody []byte // cached JWKS document, rebuilt when the published set changes
	jwksKIDs string
}

// NewKeyManager returns a manager over store. It reads nothing until the
// first Refresh or use.
func NewKeyManager(store KeyStore, sealer Sealer, opt KeyOptions) *KeyManager {
	if opt.RefreshEvery <= 0 {
		opt.RefreshEvery = 5 * time.Minute
	}
	if opt.Bits == 0 {
		opt.Bits = 2048
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &KeyManager{store: store, sealer: sealer, opt: opt,
		private: map[string]*rsa.PrivateKey{}, certs: map[string]*x509.Certificate{}}
}

// states computes each key's state at now. keys are sorted by Seq.
func (m *KeyManager) states(keys []StoredKey, now time.Time) []KeyInfo {
	out := make([]KeyInfo, len(keys))
	cur := -1
	for i, k := range keys {
		if k.RetiredAt.IsZero() && !k.ActivatesAt.After(now) {
			cur = i
		}
	}
	for i, k := range keys {
		ki := KeyInfo{Seq: k.Seq, KID: k.KID, Created: k.Created, ActivatesAt: k.ActivatesAt}
		if i+1 < len(keys) {
			ki.Until = keys[i+1].ActivatesAt
			// The previous key must stay in the JWKS until every token it
			// signed has expired.
			ki.RetiresAt = ki.Until.Add(m.opt.TokenTTL + retainMargin)
		}
		switch {
		case !k.RetiredAt.IsZero():
			ki.State = KeyRetired
		case i == cur:
			ki.State = KeyCurrent
		case i > cur:
			ki.State = KeyNext
		case now.Before(ki.RetiresAt):
			ki.State = KeyPrevious
		default:
			ki.State = KeyRetired
		}
		out[i] = ki
	}
	return out
}

// Keys returns every key with its state now, oldest first.
func (m *KeyManager) Keys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := m.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return m.states(keys, m.opt.Now()), nil
}

// snapshot returns the copy of the store's keys, re-reading it when it is
// older than RefreshEvery.
func (m *KeyManager) snapshot(ctx context.Context) ([]StoredKey, error) {
	m.mu.Lock()
	keys, loaded := m.keys, m.loaded
	m.mu.Unlock()
	if !loaded.IsZero() && m.opt.Now().Sub(loaded) < m.opt.RefreshEvery {
		return keys, nil
	}
	if err := m.Refresh(ctx); err != nil {
		if !loaded.IsZero() {
			// Keep serving the last copy: a store outage must not take
			// the key set down while the keys in it are still right.
			m.opt.Log.Warn("signing keys not re-read", "err", err)
			return keys, nil
		}
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys, nil
}

// Refresh re-reads the store and does what the schedule asks: the first
// key when there is none, the next key once the current one has signed for
// Rotation − PublishAhead, and retiring keys no token needs any more. Every
// node may call it; the store's conflict on Seq keeps one key per step.
// The daemon calls it at start and periodically.
func (m *KeyManager) Refresh(ctx context.Context) error {
	m.refresh.Lock()
	defer m.refresh.Unlock()
	return m.refreshLocked(ctx, false)
}

// Rotate starts a rotation now rather than on schedule (mfagatectl oidc
// rotate-key): it publishes a new key that signs PublishAhead from now,
// since Entra may hold the old key set for a day (the reference, "Provider
// metadata caching"). If a next key is already published, the rotation is
// under way and Rotate returns that key.
func (m *KeyManager) Rotate(ctx context.Context) (KeyInfo, error) {
	m.refresh.Lock()
	defer m.refresh.Unlock()
	if err := m.refreshLocked(ctx, true); err != nil {
		return KeyInfo{}, err
	}
	m.mu.Lock()
	keys := m.keys
	m.mu.Unlock()
	for _, ki := range m.states(keys, m.opt.Now()) {
		if ki.State == KeyNext {
			return ki, nil
		}
	}
	return KeyInfo{}, errors.New("oidc: rotation did not produce a next key")
}

func (m *KeyManager) refreshLocked(ctx context.Context, rotate bool) error {
	keys, err := m.load(ctx)
	if err != nil {
		return err
	}
	now := m.opt.Now()
	var insert *StoredKey
	switch st := m.states(keys, now); {
	case len(keys) == 0:
		// The first key signs at once: no relying party can hold an
		// older key set of this provider.
		k, err := m.generate(1, now, now)
		if err != nil {
			return err
		}
		insert = &k
	default:
		hasNext := slices.ContainsFunc(st, func(ki KeyInfo) bool { return ki.State == KeyNext })
		curIdx := slices.IndexFunc(st, func(ki KeyInfo) bool { return ki.State == KeyCurrent })
		if hasNext || curIdx < 0 {
			break
		}
		cur := keys[curIdx]
		due := cur.ActivatesAt.Add(m.opt.Rotation - m.opt.PublishAhead)
		if !rotate && now.Before(due) {
			break
		}
		// Publish PublishAhead before signing (the reference: publish the
		// new key, keep signing with the existing one until Entra's
		// 24-hour cache has picked it up, then switch).
		at := now.Add(m.opt.PublishAhead)
		if sched := cur.ActivatesAt.Add(m.opt.Rotation); !rotate && sched.After(at) {
			at = sched
		}
		k, err := m.generate(keys[len(keys)-1].Seq+1, now, at)
		if err != nil {
			return err
		}
		insert = &k
	}
	if insert != nil {
		switch err := m.store.InsertKey(ctx, *insert); {
		case errors.Is(err, ErrKeyConflict):
			// Another node made this key first; use its.
		case err != nil:
			return fmt.Errorf("store signing key: %w", err)
		default:
			m.opt.Log.Info("signing key created", "kid", insert.KID, "seq", insert.Seq, "activates", insert.ActivatesAt.UTC().Format(time.RFC3339))
		}
		if keys, err = m.load(ctx); err != nil {
			return err
		}
	}
	for _, ki := range m.states(keys, now) {
		i := slices.IndexFunc(keys, func(k StoredKey) bool { return k.KID == ki.KID })
		if ki.State == KeyRetired && keys[i].RetiredAt.IsZero() {
			if err := m.store.RetireKey(ctx, ki.KID, now); err != nil {
				return fmt.Errorf("retire signing key %s: %w", ki.KID, err)
			}
			keys[i].RetiredAt, keys[i].Sealed = now, nil
			m.opt.Log.Info("signing key retired", "kid", ki.KID, "seq", ki.Seq)
		}
	}
	m.mu.Lock()
	m.keys, m.loaded = keys, now
	for kid := range m.private {
		if !slices.ContainsFunc(keys, func(k StoredKey) bool { return k.KID == kid && k.RetiredAt.IsZero() }) {
			delete(m.private, kid)
		}
	}
	m.mu.Unlock()
	return nil
}

func (m *KeyManager) load(ctx context.Context) ([]StoredKey, error) {
	keys, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b StoredKey) int { return int(a.Seq - b.Seq) })
	return keys, nil
}

// generate makes a key with its self-signed certificate, sealed.
func (m *KeyManager) generate(seq int64, now, activates time.Time) (StoredKey, error) {
	priv, err := rsa.GenerateKey(m.opt.Rand, m.opt.Bits)
	if err != nil {
		return StoredKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return StoredKey{}, err
	}
	// The RFC 7638 thumbprint names the key by its content, so two nodes
	// can never give different keys one kid.
	kid := base64.RawURLEncoding.EncodeToString(tp)
	serial, err := rand.Int(m.opt.Rand, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return StoredKey{}, err
	}
	// Entra wants the key as an X.509 certificate too (x5c, "Discovery of
	// provider metadata"); nothing chains to it, so it is self-signed and
	// long-lived, and the JWKS decides which keys are trusted.
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mfagate OpenID provider signing key " + kid},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(m.opt.Rand, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return StoredKey{}, fmt.Errorf("certify signing key: %w", err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return StoredKey{}, err
	}
	return StoredKey{Seq: seq, KID: kid, Created: now, ActivatesAt: activates, Certificate: der,
		Sealed: m.sealer.Seal(pk8, SealContext(kid))}, nil
}

// signer returns the current key's kid and private key.
func (m *KeyManager) signer(ctx context.Context) (string, *rsa.PrivateKey, error) {
	keys, err := m.snapshot(ctx)
	if err != nil {
		return "", nil, err
	}
	i := slices.IndexFunc(m.states(keys, m.opt.Now()), func(ki KeyInfo) bool { return ki.State == KeyCurrent })
	if i < 0 {
		return "", nil, ErrNoSigningKey
	}
	k := keys[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.private[k.KID]; p != nil {
		return k.KID, p, nil
	}
	pk8, err := m.sealer.Open(k.Sealed, SealContext(k.KID))
	if err != nil {
		return "", nil, fmt.Errorf("open signing key %s: %w", k.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(pk8)
	priv, ok := parsed.(*rsa.PrivateKey)
	if err != nil || !ok {
		return "", nil, fmt.Errorf("signing key %s: not an RSA private key", k.KID)
	}
	m.private[k.KID] = priv
	return k.KID, priv, nil
}

// publishedJWKS returns the JSON Web Key Set of the keys that are next,
// current or previous now.
func (m *KeyManager) publishedJWKS(ctx context.Context) ([]byte, error) {
	keys, err := m.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var pub []StoredKey
	var kids string
	for i, ki := range m.states(keys, m.opt.Now()) {
		if ki.State != KeyRetired {
			pub = append(pub, keys[i])
			kids += ki.KID + " "
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.jwksBody != nil && m.jwksKIDs == kids {
		return m.jwksBody, nil
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range pub {
		cert := m.certs[k.KID]
		if cert == nil {
			if cert, err = x509.ParseCertificate(k.Certificate); err != nil {
				return nil, fmt.Errorf("signing key %s certificate: %w", k.KID, err)
			}
			m.certs[k.KID] = cert
		}
		x5t := sha1.Sum(cert.Raw) // x5t is the SHA-1 thumbprint by definition (RFC 7517 §4.8)
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key: cert.PublicKey, KeyID: k.KID, Use: "sig", Algorithm: string(jose.RS256),
			Certificates: []*x509.Certificate{cert}, CertificateThumbprintSHA1: x5t[:],
		})
	}
	body, err := jsonMarshal(set)
	if err != nil {
		return nil, err
	}
	m.jwksBody, m.jwksKIDs = body, kids
	return body, nil
}
