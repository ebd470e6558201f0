package sqlite

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mfagate/oidc"
	"mfagate/oidc/oidctest"
	"mfagate/store/storetest"
)

func TestOIDC(t *testing.T) {
	storetest.RunOIDC(t, func(t *testing.T) storetest.OIDCStore { return open(t) })
}

func openPath(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func keyOptions(clk *oidctest.Clock) oidc.KeyOptions {
	return oidc.KeyOptions{Rotation: 90 * 24 * time.Hour, PublishAhead: 48 * time.Hour, TokenTTL: 5 * time.Minute, Now: clk.Now}
}

// byState is the kids of m's keys in each state.
func byState(t *testing.T, m *oidc.KeyManager) map[oidc.KeyState][]string {
	t.Helper()
	ks, err := m.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[oidc.KeyState][]string{}
	for _, k := range ks {
		out[k.State] = append(out[k.State], k.KID)
	}
	return out
}

func current(t *testing.T, m *oidc.KeyManager) string {
	t.Helper()
	cur := byState(t, m)[oidc.KeyCurrent]
	if len(cur) != 1 {
		t.Fatalf("%d current keys, want 1", len(cur))
	}
	return cur[0]
}

// verifyWith mints an id_token with signer and checks it against the key
// set verifier publishes, as Entra would: go-jose, not the manager, does
// the verifying. It returns the kid that signed.
func verifyWith(t *testing.T, signer, verifier *oidc.KeyManager) string {
	t.Helper()
	tok, err := (&oidc.Minter{Issuer: "https://mfa.example.test", Keys: signer, TokenTTL: 5 * time.Minute}).Mint(t.Context(),
		oidc.Grant{ClientID: "app", Subject: "sub-1", Nonce: "n-1", AMR: oidc.AMROTP})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	verifier.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oidc.JWKSPath, nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatalf("JWKS (%d): %v", rec.Code, err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("the key set holds %d keys with the token's kid %s", len(keys), kid)
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		t.Fatalf("the token does not verify with the published key %s: %v", kid, err)
	}
	return kid
}

// A full rotation over the SQLite store, and a restart in between: the
// keys, their sealed private parts and their retirement survive in the
// file, and tokens verify with the published set throughout.
func TestKeyManagerRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db := openPath(t, path)
	clk := oidctest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	sealer := oidctest.Sealer()
	m := oidc.NewKeyManager(db, sealer, keyOptions(clk))
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := current(t, m)
	if kid := verifyWith(t, m, m); kid != first {
		t.Fatalf("signed by %s, want the current key %s", kid, first)
	}

	// A restarted node (new handle on the file, new manager) signs with
	// the same key, opened from its sealed copy in the store.
	db.Close()
	db = openPath(t, path)
	m = oidc.NewKeyManager(db, sealer, keyOptions(clk))
	if kid := verifyWith(t, m, m); kid != first {
		t.Fatalf("after a restart signed by %s, want %s", kid, first)
	}

	// Rotation − PublishAhead later the next key is published, not signing.
	clk.Advance(88*24*time.Hour + time.Minute)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := byState(t, m)
	if len(st[oidc.KeyNext]) != 1 || current(t, m) != first {
		t.Fatalf("at the publish time: %v, want the first key current and one next", st)
	}
	second := st[oidc.KeyNext][0]
	clk.Advance(48 * time.Hour)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := byState(t, m); current(t, m) != second || len(st[oidc.KeyPrevious]) != 1 || st[oidc.KeyPrevious][0] != first {
		t.Fatalf("after the switch: %v, want %s current and %s previous", st, second, first)
	}
	if kid := verifyWith(t, m, m); kid != second {
		t.Fatalf("signed by %s after the switch, want %s", kid, second)
	}

	// Once its tokens have expired the first key is retired: its row stays,
	// its sealed private key is gone. Read the file directly.
	clk.Advance(5*time.Minute + time.Hour + time.Second)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.QueryContext(t.Context(), `SELECT kid, sealed IS NULL, retired_at FROM oidc_signing_keys ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		kid     string
		erased  bool
		retired int64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.kid, &r.erased, &r.retired); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []row{{first, true, clk.Now().UnixNano()}, {second, false, 0}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("stored keys %+v, want %+v", got, want)
	}
	if st := byState(t, m); len(st[oidc.KeyRetired]) != 1 || st[oidc.KeyRetired][0] != first {
		t.Fatalf("after retirement: %v, want %s retired", st, first)
	}
}

// Two nodes on one database file start and rotate at the same moment:
// the store's conflict on Seq leaves one key per step, both nodes sign with
// it, and each verifies the other's tokens.
func TestTwoNodesAgreeOnKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	dbA, dbB := openPath(t, path), openPath(t, path)
	clk := oidctest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	sealer := oidctest.Sealer() // the server key both nodes share
	a := oidc.NewKeyManager(dbA, sealer, keyOptions(clk))
	b := oidc.NewKeyManager(dbB, sealer, keyOptions(clk))
	both := func(fn func(m *oidc.KeyManager) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, m := range []*oidc.KeyManager{a, b} {
			wg.Go(func() { errs[i] = fn(m) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
		}
	}
	stored := func() int {
		t.Helper()
		keys, err := dbA.SigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}

	both(func(m *oidc.KeyManager) error { return m.Refresh(t.Context()) })
	if n := stored(); n != 1 {
		t.Fatalf("two nodes starting together stored %d keys, want 1", n)
	}
	first := current(t, a)
	if current(t, b) != first {
		t.Fatalf("node b's current key %s, node a's %s", current(t, b), first)
	}

	clk.Advance(10 * 24 * time.Hour)
	var mu sync.Mutex
	rotated := map[string]bool{}
	both(func(m *oidc.KeyManager) error {
		ki, err := m.Rotate(t.Context())
		mu.Lock()
		rotated[ki.KID] = true
		mu.Unlock()
		return err
	})
	if n := stored(); n != 2 || len(rotated) != 1 {
		t.Fatalf("two nodes rotating together stored %d keys and named %d next keys, want 2 and 1", n, len(rotated))
	}
	clk.Advance(48*time.Hour + time.Second)
	both(func(m *oidc.KeyManager) error { return m.Refresh(t.Context()) })
	next := current(t, a)
	if !rotated[next] || current(t, b) != next {
		t.Fatalf("current keys a %s, b %s; want both the rotated key %v", next, current(t, b), rotated)
	}
	if kid := verifyWith(t, a, b); kid != next {
		t.Fatalf("node a signed with %s, want %s", kid, next)
	}
	if kid := verifyWith(t, b, a); kid != next {
		t.Fatalf("node b signed with %s, want %s", kid, next)
	}
}
