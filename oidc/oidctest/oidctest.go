// Package oidctest provides in-memory implementations of the stores package
// oidc consumes, with the same conflict rules a database enforces, for
// tests.
package oidctest

import (
	"context"
	"slices"
	"sync"
	"time"

	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/oidc"
)

// KeyStore is an in-memory oidc.KeyStore. Seq is unique, as the database's
// constraint makes it.
type KeyStore struct {
	mu   sync.Mutex
	keys []oidc.StoredKey
}

// SigningKeys implements oidc.KeyStore.
func (s *KeyStore) SigningKeys(context.Context) ([]oidc.StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]oidc.StoredKey, len(s.keys))
	for i, k := range s.keys {
		k.Sealed = slices.Clone(k.Sealed)
		out[i] = k
	}
	return out, nil
}

// InsertKey implements oidc.KeyStore.
func (s *KeyStore) InsertKey(_ context.Context, k oidc.StoredKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.keys, func(o oidc.StoredKey) bool { return o.Seq == k.Seq || o.KID == k.KID }) {
		return oidc.ErrKeyConflict
	}
	s.keys = append(s.keys, k)
	return nil
}

// RetireKey implements oidc.KeyStore.
func (s *KeyStore) RetireKey(_ context.Context, kid string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i].KID == kid && s.keys[i].RetiredAt.IsZero() {
			s.keys[i].RetiredAt, s.keys[i].Sealed = at, nil
		}
	}
	return nil
}

// Sealer returns the real sealer (*mfa.Keys) under a fresh random key.
func Sealer() oidc.Sealer {
	k, err := mfa.NewKeys(mfa.GenerateKey())
	if err != nil {
		panic(err)
	}
	return k
}

// Clock is a settable clock for KeyOptions.Now and HintOptions.Now: the
// domain's test clock, so that both packages' tests move time the same way.
type Clock = mfatest.Clock

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return mfatest.NewClock(t) }
