package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestIndexKeys(t *testing.T) {
	src := "# [not.a.table]\r\n" + // 1
		"top = 'it is # not a comment' # comment\r\n" + // 2
		"\"quoted.key\" = 1\n" + // 3
		"[server] # [fake]\n" + // 4
		"listen = \"a\\\"b # c\"\n" + // 5
		"text = \"\"\"\n" + // 6
		"[policy]\n" + // 7
		"code_ttl = \"\\\"\"\"\"\"\n" + // 8: the string ends with two quotes before the delimiter
		"after = 1\n" + // 9
		"lit = '''\n" + // 10
		"x = 1'''\n" + // 11
		"arr = [\n" + // 12
		"  \"a\", # one\n" + // 13
		"  [1, 2],\n" + // 14
		"  { k = \"v\" },\n" + // 15
		"]\n" + // 16
		"[[api.client]]\n" + // 17
		"name = \"a\"\n" + // 18
		"[[api.client.sub]]\n" + // 19
		"x = 1\n" + // 20
		"[[api.client]]\n" + // 21
		"roles = [\"idp\",\n" + // 22
		"  \"admin\"]\n" + // 23
		"[[api.client.sub]]\n" + // 24
		"[api.client.sub.t]\n" + // 25
		"y.z = { a = 1, b = { c = 2 } }\n" + // 26
		"[ 'sp ace' . \"x\" ]\n" // 27
	// The scanner works on documents the library accepts.
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	want := map[string]int{
		"top":                            2,
		`"quoted.key"`:                   3,
		"server":                         4,
		"server.listen":                  5,
		"server.text":                    6,
		"server.after":                   9,
		"server.lit":                     10,
		"server.arr":                     12,
		"server.arr[0]":                  13,
		"server.arr[1]":                  14,
		"server.arr[1][1]":               14,
		"server.arr[2].k":                15,
		"api.client[0]":                  17,
		"api.client[0].name":             18,
		"api.client[0].sub[0].x":         20,
		"api.client[1]":                  21,
		"api.client[1].roles[1]":         23,
		"api.client[1].sub[0]":           24,
		"api.client[1].sub[0].t":         25,
		"api.client[1].sub[0].t.y.z.b.c": 26,
		`"sp ace".x`:                     27,
	}
	idx := indexKeys([]byte(src))
	for k, line := range want {
		if got := idx.lines[k]; got != line {
			t.Errorf("line of %s = %d, want %d", k, got, line)
		}
	}
	for _, bogus := range []string{"not.a.table", "policy", "fake", "server.x", "policy.code_ttl"} {
		if _, ok := idx.lines[bogus]; ok {
			t.Errorf("scanner found %s, which is inside a comment or string", bogus)
		}
	}
	// Unwritten keys fall back to their closest written parent.
	if got := idx.line("api.client[1].token_file"); got != 21 {
		t.Errorf("line(api.client[1].token_file) = %d, want 21", got)
	}
	if got := idx.line("totp.issuer"); got != 0 {
		t.Errorf("line(totp.issuer) = %d, want 0", got)
	}
}

func TestParentKey(t *testing.T) {
	tests := map[string]string{
		"a":        "",
		"a.b":      "a",
		"a.b[2]":   "a.b",
		"a[0].b":   "a[0]",
		`a."x.y"`:  "a",
		`"x.y"`:    "",
		`a."q\"."`: "a",
	}
	for in, want := range tests {
		if got := parentKey(in); got != want {
			t.Errorf("parentKey(%s) = %q, want %q", in, got, want)
		}
	}
}
