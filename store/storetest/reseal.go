package storetest

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/oidc"
)

// ResealStore is a backend whose sealed values a key rotation moves.
type ResealStore interface {
	mfa.Store
	oidc.KeyStore
}

// RunReseal checks, on a store made by open, that a re-seal after a key
// rotation moves every value sealed with the old key (TOTP seeds, outbox
// payloads, OpenID signing keys) to the new one, and leaves keyed hashes,
// erased keys and values already on the new key alone.
func RunReseal(t *testing.T, open func(t *testing.T) ResealStore) {
	s := open(t)
	ctx := t.Context()
	rawA, rawB := bytes.Repeat([]byte{0xa1}, mfa.KeySize), bytes.Repeat([]byte{0xb2}, mfa.KeySize)
	a, _ := mfa.NewKeys(rawA)
	b, _ := mfa.NewKeys(rawB)
	ring, err := mfa.NewKeyRing(rawB, rawA)
	if err != nil {
		t.Fatal(err)
	}

	tap := mfa.Method{ID: "m_tap", User: "u1", Kind: mfa.KindTAP, Label: "pass", Confirmed: true, Secret: a.HashCode("m_tap", "PASS"),
		CreatedAt: t0, ConfirmedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	put(t, s, user("u1", mfa.StateActive))
	var methods []mfa.Method
	for _, id := range []string{"m_1", "m_2", "m_3", "m_4", "m_5"} {
		m := method(id, "u1", t0)
		m.Secret = a.Seal([]byte("seed of "+id), id)
		methods = append(methods, m)
	}
	onB := method("m_b", "u1", t0)
	onB.Secret = b.Seal([]byte("seed of m_b"), "m_b")
	j := job("j_1", mfa.ChannelSMS, 0, time.Hour)
	j.Sealed = a.Seal([]byte("123456"), "j_1")
	put(t, s, methods[0], methods[1], methods[2], methods[3], methods[4], onB, tap, j)
	live := oidc.StoredKey{Seq: 1, KID: "kid-live", Created: t0, ActivatesAt: t0, Certificate: []byte{1},
		Sealed: a.Seal([]byte("pkcs8"), oidc.SealContext("kid-live"))}
	retired := oidc.StoredKey{Seq: 2, KID: "kid-retired", Created: t0, ActivatesAt: t0, Certificate: []byte{2}, RetiredAt: t0}
	for _, k := range []oidc.StoredKey{live, retired} {
		if err := s.InsertKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}

	svc, err := mfa.New(mfa.Options{Store: s, Keys: ring, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100,
		UserID: regexp.MustCompile(`^u[0-9]$`), TOTP: mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: noMessages{}}})
	if err != nil {
		t.Fatal(err)
	}
	var reports []mfa.ResealProgress
	// Batches of two: the pass pages through each table.
	p, err := svc.Reseal(ctx, 2, 0, func(p mfa.ResealProgress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	if p.Resealed != 7 || p.Pending != 0 || p.Unreadable != 0 || !p.Done || p.Running || p.PreviousKeys != 1 {
		t.Fatalf("progress %+v, want 7 re-sealed (5 seeds, 1 job, 1 signing key) and done", p)
	}
	if len(reports) < 3 || reports[0].Pending != 7 || !reports[0].Running {
		t.Fatalf("progress reports %+v: want a first count of 7 pending, then batches", reports)
	}

	// Everything now opens with B alone.
	view(t, s, func(tx mfa.Tx) error {
		for _, m := range append(methods, onB) {
			got, err := tx.Method(m.ID)
			if err != nil {
				return err
			}
			if plain, err := b.Open(got.Secret, m.ID); err != nil || string(plain) != "seed of "+m.ID {
				t.Errorf("method %s after the re-seal: %q, %v", m.ID, plain, err)
			}
		}
		got, err := tx.Method("m_tap")
		if err != nil {
			return err
		}
		if !bytes.Equal(got.Secret, tap.Secret) {
			t.Error("the pass's keyed hash was changed")
		}
		gj, err := tx.Job("j_1")
		if err != nil {
			return err
		}
		if plain, err := b.Open(gj.Sealed, "j_1"); err != nil || string(plain) != "123456" {
			t.Errorf("job after the re-seal: %q, %v", plain, err)
		}
		return nil
	})
	keys, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch k.KID {
		case "kid-live":
			if plain, err := b.Open(k.Sealed, oidc.SealContext(k.KID)); err != nil || string(plain) != "pkcs8" {
				t.Errorf("signing key after the re-seal: %q, %v", plain, err)
			}
		case "kid-retired":
			if k.Sealed != nil {
				t.Error("a retired key got a sealed value")
			}
		}
	}
	// A second pass finds nothing to do.
	if p, err := svc.Reseal(ctx, 2, 0, nil); err != nil || p.Resealed != 0 || !p.Done {
		t.Fatalf("second pass: %+v, %v", p, err)
	}
	// A value no key opens is counted, not touched.
	other, _ := mfa.NewKeys(bytes.Repeat([]byte{0xc3}, mfa.KeySize))
	lost := method("m_lost", "u1", t0)
	lost.Secret = other.Seal([]byte("x"), "m_lost")
	put(t, s, lost)
	if p, err := svc.Reseal(ctx, 2, 0, nil); err != nil || p.Unreadable != 1 || p.Resealed != 0 {
		t.Fatalf("with a value sealed by an unknown key: %+v, %v", p, err)
	}
}

// noMessages renders no text: a re-seal sends nothing.
type noMessages struct{}

func (noMessages) SMS(string, map[string]string) string         { return "" }
func (noMessages) Voice(string, bool, map[string]string) string { return "" }
func (noMessages) DefaultLanguage() string                      { return "en" }
