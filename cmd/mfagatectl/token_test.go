package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// token new prints a fresh token once and the token_sha256 line that
// makes the gateway accept it; with -config the line keeps the client's
// current hashes.
func TestTokenNew(t *testing.T) {
	r := ctlRaw(t, nil, nil, "token", "new", "idp")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	tok := regexp.MustCompile(`(?m)^  ([0-9a-f]{64})$`).FindStringSubmatch(r.stdout)
	line := regexp.MustCompile(`(?m)^  token_sha256 = "([0-9a-f]{64})"$`).FindStringSubmatch(r.stdout)
	if tok == nil || line == nil {
		t.Fatalf("no token or token_sha256 line:\n%s", r.stdout)
	}
	if sum := sha256.Sum256([]byte(tok[1])); hex.EncodeToString(sum[:]) != line[1] {
		t.Fatalf("token_sha256 %s is not the SHA-256 of the token printed", line[1])
	}
	if again := ctlRaw(t, nil, nil, "token", "new", "idp"); strings.Contains(again.stdout, tok[1]) {
		t.Fatal("a second token new printed the same token")
	}

	dir := t.TempDir()
	old := sha256.Sum256([]byte("the-old-token-0123456789"))
	conf := filepath.Join(dir, "mfagate.toml")
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(strings.Repeat("ab", 32)), 0o600)
	os.WriteFile(conf, []byte(fmt.Sprintf("[secrets]\nkey_file = \"secret.key\"\n[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"%x\"\nroles = [\"idp\"]\n", old)), 0o600)
	r = ctlRaw(t, nil, nil, "token", "new", "-config", conf, "idp")
	if r.code != 0 {
		t.Fatalf("-config: exit %d: %s", r.code, r.stderr)
	}
	tok = regexp.MustCompile(`(?m)^  ([0-9a-f]{64})$`).FindStringSubmatch(r.stdout)
	line = regexp.MustCompile(`(?m)^  token_sha256 = \["([0-9a-f]{64})", "([0-9a-f]{64})"\]$`).FindStringSubmatch(r.stdout)
	if tok == nil || line == nil {
		t.Fatalf("-config: no token or two-hash line:\n%s", r.stdout)
	}
	if sum := sha256.Sum256([]byte(tok[1])); line[1] != hex.EncodeToString(old[:]) || line[2] != hex.EncodeToString(sum[:]) {
		t.Fatalf("-config: line %q does not list the old hash, then the new token's", line[0])
	}

	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"token", "new", "bad name"}, `"bad name" is not a client name`},
		{[]string{"token", "new", "-config", conf, "kiosk"}, `has no [[api.client]] named "kiosk"`},
		{[]string{"token", "new", "-config", filepath.Join(dir, "missing.toml"), "idp"}, "-config:"},
	} {
		r := ctlRaw(t, nil, nil, tt.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.msg) || r.stdout != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want a refusal with %q and nothing printed", tt.args, r.code, r.stderr, r.stdout, tt.msg)
		}
	}
}
