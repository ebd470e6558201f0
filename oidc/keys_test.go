package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"mfagate/mfa"
	"mfagate/oidc"
	"mfagate/oidc/oidctest"
)

func states(t *testing.T, m *oidc.KeyManager) map[oidc.KeyState][]string {
	t.Helper()
	ks, err := m.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[oidc.KeyState][]string{}
	for _, k := range ks {
		out[k.State] = append(out[k.State], k.KID)
	}
	return out
}

func mint(t *testing.T, m *oidc.KeyManager) string {
	t.Helper()
	tok, err := (&oidc.Minter{Issuer: testIssuer, Keys: m, TokenTTL: 5 * time.Minute}).Mint(ctx,
		oidc.Grant{ClientID: "app", Subject: "sub-1", Nonce: "n-1", AMR: oidc.AMROTP})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A full rotation under a fake clock: the next key is published
// key_publish_ahead before it signs, a token signed by the previous key
// still verifies after the switch, and the previous key leaves the set
// once its tokens have expired.
func TestKeyRotationSchedule(t *testing.T) {
	clk := oidctest.NewClock(t0)
	store := &oidctest.KeyStore{}
	m := oidc.NewKeyManager(store, oidctest.Sealer(), keyOptions(clk))
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st := states(t, m)
	if len(st[oidc.KeyCurrent]) != 1 || len(st[oidc.KeyNext]) != 0 {
		t.Fatalf("after the first start: %v, want one current key", st)
	}
	first := st[oidc.KeyCurrent][0]
	if jw := fetchJWKS(t, m); len(jw) != 1 || jw[first] == nil {
		t.Fatalf("JWKS has %d keys, want the current one", len(jw))
	}

	// Just before the next key is due nothing changes.
	clk.Advance(88*24*time.Hour - time.Minute)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := states(t, m); len(st[oidc.KeyNext]) != 0 {
		t.Fatalf("a next key %v was created before rotation − publish ahead", st[oidc.KeyNext])
	}
	clk.Advance(time.Minute)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st = states(t, m)
	if len(st[oidc.KeyNext]) != 1 {
		t.Fatalf("at rotation − publish ahead: %v, want a next key", st)
	}
	next := st[oidc.KeyNext][0]
	jw := fetchJWKS(t, m)
	if len(jw) != 2 || jw[first] == nil || jw[next] == nil {
		t.Fatalf("JWKS keys %d, want current and next", len(jw))
	}

	// Until it activates, the current key signs.
	clk.Advance(48*time.Hour - time.Second)
	old := mint(t, m)
	if _, tk, err := verifyToken(t, old, jw, clk.Now()); err != nil || tk.Header["kid"] != first {
		t.Fatalf("token before the switch: kid %v, err %v; want signed by %s", tk.Header["kid"], err, first)
	}
	clk.Advance(time.Second)
	tok := mint(t, m)
	if _, tk, err := verifyToken(t, tok, jw, clk.Now()); err != nil || tk.Header["kid"] != next {
		t.Fatalf("token after the switch: kid %v, err %v; want signed by %s", tk.Header["kid"], err, next)
	}
	// The token signed a second ago by the previous key still verifies
	// against the key set published now.
	clk.Advance(4 * time.Minute)
	jw = fetchJWKS(t, m)
	if _, _, err := verifyToken(t, old, jw, clk.Now()); err != nil {
		t.Fatalf("a live token of the previous key no longer verifies: %v", err)
	}
	if st := states(t, m); !slices.Equal(st[oidc.KeyPrevious], []string{first}) {
		t.Fatalf("states %v, want %s previous", st, first)
	}

	// Past token lifetime plus margin the previous key is retired: out of
	// the set, its private part erased from the store.
	clk.Advance(time.Hour + 2*time.Minute)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	jw = fetchJWKS(t, m)
	if len(jw) != 1 || jw[next] == nil {
		t.Fatalf("JWKS after retirement has %d keys, want only %s", len(jw), next)
	}
	stored, _ := store.SigningKeys(ctx)
	for _, k := range stored {
		if k.KID == first && (k.RetiredAt.IsZero() || k.Sealed != nil) {
			t.Errorf("retired key in store: retired %v, sealed %d bytes; want retired and erased", k.RetiredAt, len(k.Sealed))
		}
		if k.Seq > 1 && k.ActivatesAt.Sub(k.Created) < 24*time.Hour {
			t.Errorf("key %d was published %v before signing; Entra needs at least 24h", k.Seq, k.ActivatesAt.Sub(k.Created))
		}
	}
}

// Rotate publishes a key now that signs a publish-ahead later; calling it
// again while that key waits does not make another.
func TestRotateOnDemand(t *testing.T) {
	clk := oidctest.NewClock(t0)
	m := oidc.NewKeyManager(&oidctest.KeyStore{}, oidctest.Sealer(), keyOptions(clk))
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	ki, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ki.State != oidc.KeyNext || !ki.ActivatesAt.Equal(clk.Now().Add(48*time.Hour)) {
		t.Fatalf("Rotate = %+v, want a next key activating in 48h", ki)
	}
	clk.Advance(time.Hour)
	again, err := m.Rotate(ctx)
	if err != nil || again.KID != ki.KID {
		t.Fatalf("second Rotate = %v, %v; want the same next key %s", again.KID, err, ki.KID)
	}
	if jw := fetchJWKS(t, m); jw[ki.KID] == nil {
		t.Error("the rotated-in key is not published")
	}
	clk.Advance(47*time.Hour - time.Second)
	if tok := mint(t, m); tokenKID(t, tok) == ki.KID {
		t.Error("the new key signs before publish-ahead has passed")
	}
	clk.Advance(time.Second)
	if tok := mint(t, m); tokenKID(t, tok) != ki.KID {
		t.Error("the new key does not sign once active")
	}
}

func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	tk, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tk.Header["kid"].(string)
	return kid
}

// staleStore answers the first SigningKeys with an old view, as a node
// that read the store just before another node inserted a key.
type staleStore struct {
	oidc.KeyStore
	stale []oidc.StoredKey
	used  atomic.Bool
}

func (s *staleStore) SigningKeys(ctx context.Context) ([]oidc.StoredKey, error) {
	if !s.used.Swap(true) {
		return s.stale, nil
	}
	return s.KeyStore.SigningKeys(ctx)
}

// Two nodes that both find the next key due end with one next key: the
// loser's insert conflicts on Seq and it adopts the winner's key.
func TestTwoNodesRaceForNextKey(t *testing.T) {
	clk := oidctest.NewClock(t0)
	store := &oidctest.KeyStore{}
	sealer := oidctest.Sealer()
	a := oidc.NewKeyManager(store, sealer, keyOptions(clk))
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(89 * 24 * time.Hour)
	before, _ := store.SigningKeys(ctx)
	b := oidc.NewKeyManager(&staleStore{KeyStore: store, stale: before}, sealer, keyOptions(clk))
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := store.SigningKeys(ctx)
	if len(all) != 2 {
		t.Fatalf("store holds %d keys, want 2 (one current, one next)", len(all))
	}
	sa, sb := states(t, a), states(t, b)
	if !slices.Equal(sa[oidc.KeyNext], sb[oidc.KeyNext]) || len(sa[oidc.KeyNext]) != 1 {
		t.Fatalf("nodes disagree on the next key: %v vs %v", sa, sb)
	}
}

// A node picks up a key another node created without being told, within
// RefreshEvery, and serves the same set.
func TestNodeRereadsStore(t *testing.T) {
	clk := oidctest.NewClock(t0)
	store := &oidctest.KeyStore{}
	sealer := oidctest.Sealer()
	a := oidc.NewKeyManager(store, sealer, keyOptions(clk))
	b := oidc.NewKeyManager(store, sealer, keyOptions(clk))
	fetchJWKS(t, a)
	fetchJWKS(t, b)
	ki, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fetchJWKS(t, b)[ki.KID] != nil {
		t.Fatal("b saw the new key before re-reading; the test proves nothing")
	}
	clk.Advance(5 * time.Minute)
	if fetchJWKS(t, b)[ki.KID] == nil {
		t.Fatal("b does not publish a's new key after RefreshEvery")
	}
}

// A key sealed under another server key does not open: minting fails
// with the sealing error instead of signing with anything else.
func TestSealedKeyWrongServerKey(t *testing.T) {
	clk := oidctest.NewClock(t0)
	store := &oidctest.KeyStore{}
	if err := oidc.NewKeyManager(store, oidctest.Sealer(), keyOptions(clk)).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m := oidc.NewKeyManager(store, oidctest.Sealer(), keyOptions(clk))
	_, err := (&oidc.Minter{Issuer: testIssuer, Keys: m, TokenTTL: time.Minute}).Mint(ctx, oidc.Grant{ClientID: "a", Subject: "s", Nonce: "n", AMR: "otp"})
	if !errors.Is(err, mfa.ErrSealed) {
		t.Fatalf("Mint with the wrong server key: %v, want ErrSealed", err)
	}
}

func TestDiscovery(t *testing.T) {
	rec := httptest.NewRecorder()
	oidc.DiscoveryHandler(testIssuer).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidc.DiscoveryPath, nil))
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		t.Errorf("Content-Length %q, body %d bytes", cl, rec.Body.Len())
	}
	var d map[string]any
	mustJSON(t, rec.Body, &d)
	want := map[string]any{
		"issuer":                                testIssuer,
		"authorization_endpoint":                testIssuer + "/oidc/authorize",
		"jwks_uri":                              testIssuer + "/oidc/jwks",
		"response_types_supported":              []any{"id_token"},
		"response_modes_supported":              []any{"form_post"},
		"scopes_supported":                      []any{"openid"},
		"subject_types_supported":               []any{"public"},
		"id_token_signing_alg_values_supported": []any{"RS256"},
		"grant_types_supported":                 []any{"implicit"},
		"claim_types_supported":                 []any{"normal"},
	}
	for k, v := range want {
		if got, _ := jsonString(d[k]); got != mustString(v) {
			t.Errorf("%s = %s, want %s", k, got, mustString(v))
		}
	}
	claims, _ := d["claims_supported"].([]any)
	for _, c := range []string{"sub", "nonce", "acr", "amr"} {
		if !slices.Contains(claims, any(c)) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
}
