package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"mfagate/config"
)

// clientNameRE is what config accepts as an [[api.client]] name.
var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// setupTokenNew makes a fresh API token on this machine; the gateway is
// not asked, so the token crosses no network. With -config the printed
// line keeps the hashes the client holds, for a change-over.
func setupTokenNew(fs *flag.FlagSet) action {
	cfgPath := fs.String("config", "", "the gateway's configuration `FILE`: print the client's token_sha256 line with its current hashes and the new one")
	return func(e *env, args []string) error {
		name := args[0]
		if !clientNameRE.MatchString(name) {
			return usagef("%q is not a client name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return fmt.Errorf("make a token: %w", err)
		}
		token := hex.EncodeToString(raw)
		sum := sha256.Sum256([]byte(token))
		hash := hex.EncodeToString(sum[:])
		hashes := []string{hash}
		if *cfgPath != "" {
			cfg, err := config.Load(*cfgPath)
			if err != nil {
				return fmt.Errorf("-config: %w", err)
			}
			i := -1
			for j, c := range cfg.API.Clients {
				if c.Name == name {
					i = j
				}
			}
			if i < 0 {
				return usagef("-config %s has no [[api.client]] named %q: add one with this token_sha256 line and its roles", *cfgPath, name)
			}
			old := cfg.API.Clients[i].TokenHashes
			if len(old) >= config.MaxClientTokens {
				return usagef("client %q already holds %d tokens, the most accepted at once: remove the ones no longer in use first", name, len(old))
			}
			hashes = hashes[:0]
			for _, h := range old {
				hashes = append(hashes, hex.EncodeToString(h[:]))
			}
			hashes = append(hashes, hash)
		}
		line := "token_sha256 = " + strconv.Quote(hash)
		if len(hashes) > 1 {
			q := make([]string, len(hashes))
			for i, h := range hashes {
				q[i] = strconv.Quote(h)
			}
			line = "token_sha256 = [" + strings.Join(q, ", ") + "]"
		}
		if e.g.json {
			b, _ := json.Marshal(map[string]any{"client": name, "token": token, "token_sha256": hashes})
			fmt.Fprintln(e.stdout, string(b))
			return nil
		}
		fmt.Fprintf(e.stdout, "token for %s (shown once; give it to the client, store it readable by its owner only):\n  %s\n\n", name, token)
		fmt.Fprintf(e.stdout, "in the [[api.client]] named %q of the gateway's configuration:\n  %s\n", name, line)
		if len(hashes) > 1 {
			fmt.Fprintln(e.stdout, "\nthen reload (systemctl reload mfagated), move the client to the new token, drop the old hash and reload again")
		} else {
			fmt.Fprintln(e.stdout, "\nduring a change-over list the old hash too (token_sha256 = [\"OLD\", \"NEW\"]; -config prints that line), then reload (systemctl reload mfagated)")
		}
		return nil
	}
}
