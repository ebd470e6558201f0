package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mfagate/oidc"
)

// OIDCStore is how a backend keeps the OpenID provider's signing keys and
// sign-in flows.
type OIDCStore interface {
	oidc.KeyStore
	oidc.FlowStore
}

// RunOIDC runs the signing key and sign-in flow tests against stores made
// by open, each test on a fresh store. The in-memory stores of package
// oidctest define the behaviour; a backend must also hold it across nodes.
func RunOIDC(t *testing.T, open func(t *testing.T) OIDCStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, OIDCStore)
	}{
		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeysBySeq", testKeysBySeq},
		{"KeyConflict", testKeyConflict},
		{"ConcurrentKeyInserts", testConcurrentKeyInserts},
		{"RetireKey", testRetireKey},
		{"FlowRoundTrip", testFlowRoundTrip},
		{"FlowNotFound", testFlowNotFound},
		{"FlowIDNotReused", testFlowIDNotReused},
		{"ConsumeFlowOnce", testConsumeFlowOnce},
		{"ConcurrentConsume", testConcurrentConsume},
		{"SetFlowChallenge", testSetFlowChallenge},
		{"DeleteExpiredFlows", testDeleteExpiredFlows},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// signingKey is a key as the KeyManager would store it: the bytes are
// opaque to the store, so any distinct bytes do.
func signingKey(seq int64) oidc.StoredKey {
	return oidc.StoredKey{Seq: seq, KID: fmt.Sprintf("kid-%d-Zm9v_LWJhcg", seq), Created: t0.Add(time.Duration(seq) * time.Hour),
		ActivatesAt: t0.Add(time.Duration(seq)*time.Hour + 48*time.Hour), Certificate: []byte{0x30, 0x82, byte(seq), 0x00, 0xff},
		Sealed: []byte{0x01, byte(seq), 0x00, 0xfe, 0x7f}}
}

func insertKey(t *testing.T, s OIDCStore, k oidc.StoredKey) {
	t.Helper()
	if err := s.InsertKey(t.Context(), k); err != nil {
		t.Fatalf("insert key %d: %v", k.Seq, err)
	}
}

func readKeys(t *testing.T, s OIDCStore) []oidc.StoredKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("read signing keys: %v", err)
	}
	return keys
}

func sameKey(t *testing.T, got, want oidc.StoredKey) {
	t.Helper()
	if got.Seq != want.Seq || got.KID != want.KID || !got.Created.Equal(want.Created) || !got.ActivatesAt.Equal(want.ActivatesAt) ||
		!bytes.Equal(got.Certificate, want.Certificate) || !bytes.Equal(got.Sealed, want.Sealed) || (got.Sealed == nil) != (want.Sealed == nil) ||
		!got.RetiredAt.Equal(want.RetiredAt) {
		t.Fatalf("signing key read back as\n%+v\nwant\n%+v", got, want)
	}
	if got.Created.Location() != time.UTC || got.ActivatesAt.Location() != time.UTC || got.RetiredAt.Location() != time.UTC {
		t.Fatal("times not read back in UTC")
	}
}

func keyBySeq(t *testing.T, keys []oidc.StoredKey, seq int64) oidc.StoredKey {
	t.Helper()
	i := slices.IndexFunc(keys, func(k oidc.StoredKey) bool { return k.Seq == seq })
	if i < 0 {
		t.Fatalf("no key %d in %d keys read", seq, len(keys))
	}
	return keys[i]
}

// Every field comes back as stored, to the nanosecond and in UTC, a
// retired key's included.
func testKeyRoundTrip(t *testing.T, s OIDCStore) {
	live := signingKey(1)
	retired := signingKey(2)
	retired.Sealed, retired.RetiredAt = nil, t0.Add(1234567*time.Nanosecond)
	insertKey(t, s, live)
	insertKey(t, s, retired)
	keys := readKeys(t, s)
	if len(keys) != 2 {
		t.Fatalf("read %d keys, want 2", len(keys))
	}
	sameKey(t, keyBySeq(t, keys, 1), live)
	sameKey(t, keyBySeq(t, keys, 2), retired)
}

// SigningKeys returns every key, retired ones included. The KeyManager
// sorts them itself; the backends return them by Seq whatever the order of
// insertion, so that every node lists them alike.
func testKeysBySeq(t *testing.T, s OIDCStore) {
	if keys := readKeys(t, s); len(keys) != 0 {
		t.Fatalf("a new store holds %d keys", len(keys))
	}
	for _, seq := range []int64{3, 1, 4, 2} {
		insertKey(t, s, signingKey(seq))
	}
	if err := s.RetireKey(t.Context(), signingKey(1).KID, t0); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, k := range readKeys(t, s) {
		seqs = append(seqs, k.Seq)
	}
	if !slices.Equal(seqs, []int64{1, 2, 3, 4}) {
		t.Fatalf("keys read in the order %v, want every key by Seq: [1 2 3 4]", seqs)
	}
}

// A second key with a stored Seq (or kid) is refused with ErrKeyConflict
// and the stored key stays as it was.
func testKeyConflict(t *testing.T, s OIDCStore) {
	first := signingKey(1)
	insertKey(t, s, first)
	sameSeq := signingKey(2)
	sameSeq.Seq = 1
	if err := s.InsertKey(t.Context(), sameSeq); !errors.Is(err, oidc.ErrKeyConflict) {
		t.Fatalf("a second key with Seq 1: %v, want oidc.ErrKeyConflict", err)
	}
	sameKID := signingKey(2)
	sameKID.KID = first.KID
	if err := s.InsertKey(t.Context(), sameKID); !errors.Is(err, oidc.ErrKeyConflict) {
		t.Fatalf("a second key with kid %s: %v, want oidc.ErrKeyConflict", first.KID, err)
	}
	keys := readKeys(t, s)
	if len(keys) != 1 {
		t.Fatalf("%d keys after refused inserts, want the first only", len(keys))
	}
	sameKey(t, keys[0], first)
	// The store still takes the next key.
	insertKey(t, s, signingKey(2))
}

// Nodes racing to create the same next key: exactly one inserts, the
// others get ErrKeyConflict, and the stored key is the winner's.
func testConcurrentKeyInserts(t *testing.T, s OIDCStore) {
	insertKey(t, s, signingKey(1))
	const nodes = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []string
		errs []error
	)
	for i := range nodes {
		wg.Go(func() {
			k := signingKey(2)
			k.KID = fmt.Sprintf("node-%d-key", i)
			err := s.InsertKey(context.Background(), k)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, k.KID)
			case !errors.Is(err, oidc.ErrKeyConflict):
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("racing inserts failed otherwise than with ErrKeyConflict: %v", errs)
	}
	if len(won) != 1 {
		t.Fatalf("%d nodes inserted key 2, want exactly 1", len(won))
	}
	keys := readKeys(t, s)
	if len(keys) != 2 || keyBySeq(t, keys, 2).KID != won[0] {
		t.Fatalf("stored %d keys, key 2 %q; want 2 keys, key 2 the winner's %q", len(keys), keyBySeq(t, keys, 2).KID, won[0])
	}
}

// RetireKey sets RetiredAt, erases the sealed private part and keeps the
// rest; a second retirement and an unknown kid change nothing.
func testRetireKey(t *testing.T, s OIDCStore) {
	k1, k2 := signingKey(1), signingKey(2)
	insertKey(t, s, k1)
	insertKey(t, s, k2)
	at := t0.Add(100 * 24 * time.Hour)
	if err := s.RetireKey(t.Context(), k1.KID, at); err != nil {
		t.Fatal(err)
	}
	want := k1
	want.Sealed, want.RetiredAt = nil, at
	keys := readKeys(t, s)
	sameKey(t, keyBySeq(t, keys, 1), want)
	sameKey(t, keyBySeq(t, keys, 2), k2)
	if err := s.RetireKey(t.Context(), k1.KID, at.Add(time.Hour)); err != nil {
		t.Fatalf("retiring a retired key: %v", err)
	}
	if err := s.RetireKey(t.Context(), "no-such-kid", at); err != nil {
		t.Fatalf("retiring an unknown key: %v", err)
	}
	keys = readKeys(t, s)
	sameKey(t, keyBySeq(t, keys, 1), want)
	sameKey(t, keyBySeq(t, keys, 2), k2)
}

func flow(id string, expires time.Time) oidc.Flow {
	return oidc.Flow{ID: id, ClientID: "600b719b-3766-4dc5-95a6-3c4e2b1fc5d9", RedirectURI: "https://login.microsoftonline.com/common/federation/externalauthprovider",
		Nonce: "nonce-" + id, State: "state-" + id, ACR: "possessionorinherence", AMRValues: []string{"sms", "otp", "a,b", "é\"[x]"},
		Subject: "mBfcvuhSHkDW", OID: "951ddb04-0000", TID: "14c2f153-0000", User: "0123456789",
		Created: expires.Add(-oidc.FlowTTL), Expires: expires, BindingHash: bytes.Repeat([]byte{0xab, 0x00}, 16)}
}

func createFlow(t *testing.T, s OIDCStore, f oidc.Flow) {
	t.Helper()
	if err := s.CreateFlow(t.Context(), f); err != nil {
		t.Fatalf("create flow %s: %v", f.ID, err)
	}
}

func readFlow(t *testing.T, s OIDCStore, id string) oidc.Flow {
	t.Helper()
	f, err := s.Flow(t.Context(), id)
	if err != nil {
		t.Fatalf("read flow %s: %v", id, err)
	}
	return f
}

func sameFlow(t *testing.T, got, want oidc.Flow) {
	t.Helper()
	if got.ID != want.ID || got.ClientID != want.ClientID || got.RedirectURI != want.RedirectURI || got.Nonce != want.Nonce ||
		got.State != want.State || got.ACR != want.ACR || !slices.Equal(got.AMRValues, want.AMRValues) ||
		got.Subject != want.Subject || got.OID != want.OID || got.TID != want.TID || got.User != want.User ||
		!got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || !bytes.Equal(got.BindingHash, want.BindingHash) ||
		got.Challenge != want.Challenge || got.Consumed != want.Consumed {
		t.Fatalf("flow read back as\n%+v\nwant\n%+v", got, want)
	}
	if got.Created.Location() != time.UTC || got.Expires.Location() != time.UTC {
		t.Fatal("times not read back in UTC")
	}
	// A Check on the stored flow decides as one on the original.
	if !errors.Is(got.Check("wrong secret", want.Created), oidc.ErrFlowBinding) {
		t.Fatal("the stored flow accepts a browser the original refuses")
	}
}

// Every field comes back as stored; AMR values keep commas, quotes and
// brackets, and an empty list reads back empty.
func testFlowRoundTrip(t *testing.T, s OIDCStore) {
	full := flow("flow-1", t0.Add(oidc.FlowTTL))
	full.Challenge = "ch_01"
	createFlow(t, s, full)
	sameFlow(t, readFlow(t, s, full.ID), full)

	bare := oidc.Flow{ID: "flow-2", ClientID: "app", RedirectURI: "https://example.test/cb", User: "u1",
		Created: t0, Expires: t0.Add(oidc.FlowTTL), BindingHash: []byte{1}, Consumed: true}
	createFlow(t, s, bare)
	got := readFlow(t, s, bare.ID)
	sameFlow(t, got, bare)
	if len(got.AMRValues) != 0 {
		t.Fatalf("no AMR values read back as %q", got.AMRValues)
	}
	// A flow made by NewFlow from a real request survives the store with
	// its binding: the browser holding the secret passes Check.
	f, secret := oidc.NewFlow(&oidc.AuthRequest{Client: &oidc.Client{ID: "app"}, RedirectURI: "https://example.test/cb", Nonce: "n",
		State: "s", AMRValues: []string{"sms"}}, &oidc.Hint{Subject: "sub", ObjectID: "oid", TenantID: "tid", User: "u2"}, t0)
	createFlow(t, s, f)
	if err := readFlow(t, s, f.ID).Check(secret, t0.Add(time.Minute)); err != nil {
		t.Fatalf("the browser that started the flow fails Check on the stored flow: %v", err)
	}
}

func testFlowNotFound(t *testing.T, s OIDCStore) {
	createFlow(t, s, flow("flow-1", t0))
	if _, err := s.Flow(t.Context(), "flow-2"); !errors.Is(err, oidc.ErrFlowNotFound) {
		t.Fatalf("unknown flow: %v, want oidc.ErrFlowNotFound", err)
	}
}

// A flow's ID names one flow for its life: creating another under it fails
// and does not replace it (nor un-consume it).
func testFlowIDNotReused(t *testing.T, s OIDCStore) {
	f := flow("flow-1", t0.Add(oidc.FlowTTL))
	createFlow(t, s, f)
	if err := s.ConsumeFlow(t.Context(), f.ID); err != nil {
		t.Fatal(err)
	}
	other := flow("flow-1", t0.Add(time.Hour))
	other.User = "someone-else"
	if err := s.CreateFlow(t.Context(), other); err == nil {
		t.Fatal("a second flow with a stored ID was accepted")
	}
	f.Consumed = true
	sameFlow(t, readFlow(t, s, f.ID), f)
}

// ConsumeFlow succeeds once; after that the flow stays consumed, and an
// unknown flow is not found.
func testConsumeFlowOnce(t *testing.T, s OIDCStore) {
	f := flow("flow-1", t0.Add(oidc.FlowTTL))
	createFlow(t, s, f)
	createFlow(t, s, flow("flow-2", t0.Add(oidc.FlowTTL)))
	if err := s.ConsumeFlow(t.Context(), f.ID); err != nil {
		t.Fatalf("first consume: %v", err)
	}
	for range 2 {
		if err := s.ConsumeFlow(t.Context(), f.ID); !errors.Is(err, oidc.ErrFlowConsumed) {
			t.Fatalf("consume again: %v, want oidc.ErrFlowConsumed", err)
		}
	}
	if err := s.ConsumeFlow(t.Context(), "flow-3"); !errors.Is(err, oidc.ErrFlowNotFound) {
		t.Fatalf("consume an unknown flow: %v, want oidc.ErrFlowNotFound", err)
	}
	f.Consumed = true
	sameFlow(t, readFlow(t, s, f.ID), f)
	if readFlow(t, s, "flow-2").Consumed {
		t.Fatal("consuming one flow consumed another")
	}
}

// The same answer posted to several nodes at once: exactly one consume
// succeeds, every other gets ErrFlowConsumed.
func testConcurrentConsume(t *testing.T, s OIDCStore) {
	createFlow(t, s, flow("flow-1", t0.Add(oidc.FlowTTL)))
	const callers = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      int
		consumed int
		errs     []error
	)
	for range callers {
		wg.Go(func() {
			err := s.ConsumeFlow(context.Background(), "flow-1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, oidc.ErrFlowConsumed):
				consumed++
			default:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent consumes failed: %v", errs)
	}
	if won != 1 || consumed != callers-1 {
		t.Fatalf("%d consumes succeeded and %d got ErrFlowConsumed, want 1 and %d", won, consumed, callers-1)
	}
	if !readFlow(t, s, "flow-1").Consumed {
		t.Fatal("the flow is not consumed")
	}
}

// SetFlowChallenge replaces the flow's challenge until the flow is
// consumed; then, and for an unknown flow, it changes nothing.
func testSetFlowChallenge(t *testing.T, s OIDCStore) {
	f := flow("flow-1", t0.Add(oidc.FlowTTL))
	createFlow(t, s, f)
	for _, ch := range []string{"ch_01", "ch_02"} {
		if err := s.SetFlowChallenge(t.Context(), f.ID, ch); err != nil {
			t.Fatalf("set challenge %s: %v", ch, err)
		}
		f.Challenge = ch
		sameFlow(t, readFlow(t, s, f.ID), f)
	}
	if err := s.ConsumeFlow(t.Context(), f.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFlowChallenge(t.Context(), f.ID, "ch_03"); !errors.Is(err, oidc.ErrFlowConsumed) {
		t.Fatalf("set challenge of a consumed flow: %v, want oidc.ErrFlowConsumed", err)
	}
	f.Consumed = true
	sameFlow(t, readFlow(t, s, f.ID), f)
	if err := s.SetFlowChallenge(t.Context(), "flow-2", "ch_04"); !errors.Is(err, oidc.ErrFlowNotFound) {
		t.Fatalf("set challenge of an unknown flow: %v, want oidc.ErrFlowNotFound", err)
	}
	if _, err := s.Flow(t.Context(), "flow-2"); !errors.Is(err, oidc.ErrFlowNotFound) {
		t.Fatalf("setting the challenge of an unknown flow created it (%v)", err)
	}
}

// DeleteExpiredFlows removes the flows that expired before the cut-off,
// consumed or not, and counts them; the others stay as they were.
func testDeleteExpiredFlows(t *testing.T, s OIDCStore) {
	if n, err := s.DeleteExpiredFlows(t.Context(), t0); err != nil || n != 0 {
		t.Fatalf("empty store: deleted %d (%v), want 0", n, err)
	}
	for id, exp := range map[string]time.Duration{"old": -time.Hour, "just": -time.Nanosecond, "edge": 0, "live": time.Hour} {
		createFlow(t, s, flow(id, t0.Add(exp)))
	}
	if err := s.ConsumeFlow(t.Context(), "just"); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteExpiredFlows(t.Context(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("deleted %d, want the 2 that expired before the cut-off", n)
	}
	for _, id := range []string{"old", "just"} {
		if _, err := s.Flow(t.Context(), id); !errors.Is(err, oidc.ErrFlowNotFound) {
			t.Fatalf("%s expired before the cut-off and is still there (%v)", id, err)
		}
	}
	for _, id := range []string{"edge", "live"} {
		sameFlow(t, readFlow(t, s, id), flow(id, t0.Add(map[string]time.Duration{"edge": 0, "live": time.Hour}[id])))
	}
	if n, err := s.DeleteExpiredFlows(t.Context(), t0); err != nil || n != 0 {
		t.Fatalf("second sweep: deleted %d (%v), want 0", n, err)
	}
}
