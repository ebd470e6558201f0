package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A token change-over without a restart: the client's old and new tokens
// are both accepted while token_sha256 lists both, and the old one is
// refused once its hash is dropped and the daemon reloaded.
func TestTokenChangeOver(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, bin, "")
	const oldTok, newTok = "idp-token-old-0123456789", "idp-token-new-0123456789"
	idp := func(toks ...string) {
		var sums []string
		for _, tok := range toks {
			sums = append(sums, fmt.Sprintf("%q", fmt.Sprintf("%x", sha256.Sum256([]byte(tok)))))
		}
		path := filepath.Join(g.dir, "mfagate.toml")
		b, _ := os.ReadFile(path)
		head, _, _ := strings.Cut(string(b), "[[api.client]]\nname = \"idp\"")
		conf := head + "[[api.client]]\nname = \"idp\"\ntoken_sha256 = [" + strings.Join(sums, ", ") + "]\nroles = [\"idp\"]\n"
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	status := func(tok string) int {
		req, _ := http.NewRequest("GET", "http://mfagate/v1/challenges/c_none", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// 404: the token was accepted and the challenge does not exist.
	const accepted, refused = http.StatusNotFound, http.StatusUnauthorized
	reload := func(want map[string]int) {
		t.Helper()
		g.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "the reloaded tokens", 20*time.Second, func() bool {
			for tok, code := range want {
				if status(tok) != code {
					return false
				}
			}
			return true
		})
	}

	idp(oldTok)
	g.start()
	if got := status(oldTok); got != accepted {
		t.Fatalf("the configured token: HTTP %d, want %d", got, accepted)
	}
	if got := status(newTok); got != refused {
		t.Fatalf("a token not yet listed: HTTP %d, want %d", got, refused)
	}
	idp(oldTok, newTok)
	reload(map[string]int{oldTok: accepted, newTok: accepted})
	idp(newTok)
	reload(map[string]int{oldTok: refused, newTok: accepted})
}
