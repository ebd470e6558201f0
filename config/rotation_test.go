package config

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// During a token change-over a client lists the hashes of its old and new
// tokens; both are accepted, in the order written.
func TestClientTokenList(t *testing.T) {
	old, next := sha256.Sum256([]byte("old-token-0123456789")), sha256.Sum256([]byte("new-token-0123456789"))
	src := fmt.Sprintf("[[api.client]]\nname = \"idp\"\ntoken_sha256 = [\"%x\", \"%x\"]\nroles = [\"idp\"]\n", old, next)
	c, err := Parse([]byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	cl := c.API.Clients[0]
	if len(cl.TokenHashes) != 2 || cl.TokenHashes[0] != old || cl.TokenHashes[1] != next || cl.TokenHash != old {
		t.Fatalf("hashes = %x (first %x), want the old then the new token's", cl.TokenHashes, cl.TokenHash)
	}
	// One string is still one token.
	c, err = Parse([]byte(fmt.Sprintf("[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"%x\"\nroles = [\"idp\"]\n", old)), "")
	if err != nil {
		t.Fatal(err)
	}
	if hs := c.API.Clients[0].TokenHashes; len(hs) != 1 || hs[0] != old {
		t.Fatalf("hashes = %x, want the one given", hs)
	}
}

func TestClientTokenListBad(t *testing.T) {
	h := func(s string) string { return fmt.Sprintf("%q", fmt.Sprintf("%x", sha256.Sum256([]byte(s)))) }
	client := func(sums string) string {
		return "[[api.client]]\nname = \"idp\"\ntoken_sha256 = " + sums + "\nroles = [\"idp\"]\n"
	}
	tests := []struct {
		name, src, key, msg string
	}{
		{"second hash short", client("[" + h("a") + ", \"abcd\"]"), "api.client[0].token_sha256[1]", "must be 64 hex characters"},
		{"same hash twice", client("[" + h("a") + ", " + h("a") + "]"), "api.client[0].token_sha256[1]", "repeats a hash listed before it"},
		{"too many", client("[" + h("a") + ", " + h("b") + ", " + h("c") + ", " + h("d") + ", " + h("e") + "]"), "api.client[0].token_sha256", "at most 4 tokens"},
		{"not strings", client("[1, 2]"), "api.client[0].token_sha256", "or an array of them"},
		{"a number", client("5"), "api.client[0].token_sha256", "must be a string in double quotes"},
		{"other client's token in the list", client(h("a")) + "[[api.client]]\nname = \"kiosk\"\ntoken_sha256 = [" + h("b") + ", " + h("a") + "]\nroles = [\"enroll\"]\n",
			"api.client[1]", "has the same token as api.client[0]"},
		{"list and file", client("["+h("a")+"]") + "token_file = \"x.token\"\n", "api.client[0]", "list the hashes of both tokens in token_sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, p := range Problems(err) {
				if p.Key == tt.key && strings.Contains(p.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("want %s: …%s…; got %v", tt.key, tt.msg, err)
		})
	}
}

func TestPreviousKeyFilesBad(t *testing.T) {
	tests := []struct {
		name, src, key, msg string
	}{
		{"the current key", "[secrets]\nkey_file = \"/k/new.key\"\nprevious_key_files = [\"/k/new.key\"]\n", "secrets.previous_key_files[0]", "is secrets.key_file itself"},
		{"empty", "[secrets]\nprevious_key_files = [\"\"]\n", "secrets.previous_key_files[0]", "must name the file of a key being rotated out"},
		{"twice", "[secrets]\nprevious_key_files = [\"/k/a\", \"/k/a\"]\n", "secrets.previous_key_files[1]", "repeats secrets.previous_key_files[0]"},
		{"too many", "[secrets]\nprevious_key_files = [\"/k/a\", \"/k/b\", \"/k/c\", \"/k/d\"]\n", "secrets.previous_key_files", "at most 3 keys"},
		{"a string", "[secrets]\nprevious_key_files = \"/k/a\"\n", "secrets.previous_key_files", "must be an array of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "")
			for _, p := range Problems(err) {
				if p.Key == tt.key && strings.Contains(p.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("want %s: …%s…; got %v", tt.key, tt.msg, err)
		})
	}
	// Relative names are relative to the configuration's directory.
	c, err := Parse([]byte("[secrets]\nkey_file = \"new.key\"\nprevious_key_files = [\"old.key\"]\n"), "/etc/mfagate")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Secrets.PreviousKeyFiles; len(got) != 1 || got[0] != "/etc/mfagate/old.key" {
		t.Fatalf("previous_key_files = %q", got)
	}
}
