package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Error() of each problem, in order
	}{
		{"typo", "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n",
			[]string{"line 3: server.lisen: unknown key (did you mean server.listen?)"}},
		{"wrong case", "[policy]\nCode_TTL = \"5m\"\n",
			[]string{"line 2: policy.Code_TTL: unknown key (did you mean policy.code_ttl?)"}},
		{"no close match lists the table's keys", "[totp]\nalgorithm = \"SHA256\"\n",
			[]string{"line 2: totp.algorithm: unknown key; valid in [totp]: digits, issuer, period, skew"}},
		{"unknown table reported once", "\n[hardware]\nport = \"/dev/ttyUSB0\"\nbaud = 115200\n",
			[]string{"line 2: hardware: unknown table; valid at the top level: api, console, fido, messages, modem, oidc, policy, privacyidea, radius, secrets, selfservice, server, store, totp, voice"}},
		{"table name typo", "[[modems]]\nid = \"a\"\n",
			[]string{"line 1: modems: unknown table (did you mean modem?)"}},
		{"in the second modem", "[[modem]]\nid = \"a\"\nport = \"sim:quectel\"\n[[modem]]\nid = \"b\"\nport = \"sim:simcom\"\nbaudrate = 9600\n",
			[]string{"line 7: modem[1].baudrate: unknown key; valid in [modem]: baud, channels, daily_cap, id, port, profile"}},
		{"table typo", "[sever]\nlisten = \"127.0.0.1:1\"\n",
			[]string{"line 1: sever: unknown table (did you mean server?)"}},
		{"dotted key", "server.listen = \"127.0.0.1:1\"\nserver.port = 1\n",
			[]string{"line 2: server.port: unknown key; valid in [server]: idle_timeout, listen, metrics_public, node, read_timeout, shutdown_timeout, write_timeout"}},
		{"in the second client", "[[api.client]]\nname = \"a\"\ntoken_sha256 = \"" + strings.Repeat("aa", 32) + "\"\nroles = [\"idp\"]\n" +
			"[[api.client]]\nname = \"b\"\ntoken_sha256 = \"" + strings.Repeat("bb", 32) + "\"\nrole = [\"idp\"]\nroles = [\"admin\"]\n",
			[]string{"line 8: api.client[1].role: unknown key (did you mean api.client[1].roles?)"}},
		{"inline table", "messages = { default_language = \"en\", lang = \"ja\" }\n",
			[]string{"line 1: messages.lang: unknown key; valid in [messages]: default_language, en, ja"}},
		{"field without a toml name", "[[api.client]]\nname = \"a\"\ntoken_sha256 = \"" + strings.Repeat("aa", 32) + "\"\nroles = [\"idp\"]\nTokenHash = \"x\"\n",
			[]string{"line 5: api.client[0].TokenHash: unknown key; valid in [api.client]: name, roles, token_file, token_sha256"}},
		{"in [fido]", "[fido]\nrpid = \"login.example.ac.jp\"\n",
			[]string{"line 2: fido.rpid: unknown key (did you mean fido.rp_id?)"}},
		{"field without a toml name in [fido]", "[fido]\nAAGUIDs = []\n",
			[]string{"line 2: fido.AAGUIDs: unknown key; valid in [fido]: aaguid_allow, aaguid_deny, allow_synced, attestation, device_paths, mds_file, mds_refresh, mds_root_file, min_pin_length, origin, poll_interval, require_attestation_for, require_resident_key, rp_id, rp_name, session_ttl, touch_timeout, trusted_ca_file, user_verification"}},
		{"after a multi-line string", "[messages.en]\nsms = \"\"\"\n{code}\nis your code\"\"\"\nsmss = \"x\"\n",
			[]string{"line 5: messages.en.smss: unknown key (did you mean messages.en.sms?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), t.TempDir())
			var got []string
			for _, p := range Problems(err) {
				got = append(got, p.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		lastKey   string
	}{
		{"[server]\nlisten = \"127.0.0.1:8470\n", 2, 25, "server.listen"},
		{"[policy]\ncode_length = 6\ncode_ttl = 5m\n", 3, 13, "policy"},
		{"[server\n", 1, 8, ""},
		{"a = 1\na = 2\n", 2, 1, "a"},
		{"[totp]\nissuer = \"認証\nx", 2, 13, "totp.issuer"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.src), "")
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tt.src, err)
			continue
		}
		if se.Line != tt.line || se.Col != tt.col || se.LastKey != tt.lastKey {
			t.Errorf("Parse(%q): line %d col %d last key %q; want line %d col %d last key %q\n%v",
				tt.src, se.Line, se.Col, se.LastKey, tt.line, tt.col, tt.lastKey, err)
		}
		var pe toml.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("SyntaxError does not unwrap to toml.ParseError")
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		if !strings.HasPrefix(first, "line ") || !strings.Contains(err.Error(), "^") {
			t.Errorf("message lacks position or excerpt:\n%v", err)
		}
	}
}

// Wrong types are all reported, each with key, line and the expected type,
// together with unknown keys.
func TestTypeErrors(t *testing.T) {
	src := `[server]
listen = 8470
metrics_public = "yes"
read_timeout = 10

[policy]
code_length = "6"
code_ttl = "5 minutes"
allowed_regions = "JP"
colour = 1

[[api.client]]
name = "a"
roles = "idp"
`
	_, err := Parse([]byte(src), "")
	want := `line 2: server.listen = 8470: must be a string, in double quotes
line 3: server.metrics_public = "yes": must be true or false, without quotes
line 4: server.read_timeout = 10: must be a duration in double quotes, like "30s", "5m" or "1h"
line 7: policy.code_length = "6": must be a whole number, without quotes
line 8: policy.code_ttl = "5 minutes": is not a duration: write a number with a unit, like "30s", "5m", "1h" or "30d"
line 9: policy.allowed_regions = "JP": must be an array of strings, like ["a", "b"]
line 10: policy.colour: unknown key; valid in [policy]: activation_delay, allowed_regions, code_length, code_ttl, default_region, max_attempts, max_consecutive_failures, phone_challenge_window, phone_challenges_per_user, proof_max_age, tap_allowed_for, tap_max_lifetime, tap_signin, user_id_pattern, voice_confirmation
line 14: api.client[0].roles = "idp": must be an array of strings, like ["a", "b"]`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	// An empty inline array of clients is fine; a wrong type beside it is
	// reported alone.
	_, err = Parse([]byte("[api]\nclient = []\n[totp]\nskew = \"1\"\n"), "")
	if ps := Problems(err); len(ps) != 1 || ps[0].Key != "totp.skew" {
		t.Errorf("got %v, want only totp.skew", err)
	}
	_, err = Parse([]byte("[api]\nclient = [{name = 1}, 2]\n"), "")
	if err == nil || err.Error() != `line 2: api.client = [{…}, 2]: must be an array of tables: write [[api.client]] before each one` {
		t.Errorf("got %v", err)
	}
	// A table where a value belongs, and a value where a table belongs.
	_, err = Parse([]byte("server = 1\n[policy.code_ttl]\nx = 1\n"), "")
	for _, w := range []string{"line 1: server = 1: must be a table", "line 2: policy.code_ttl = {…}: must be a duration"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("got %v, want it to contain %q", err, w)
		}
	}
}

// All problems of a file come back at once, sorted by line; problems about
// keys that are not written come last.
func TestProblemsSortedByLine(t *testing.T) {
	src := `[totp]
digits = 7

[policy]
code_ttl = "1h"
typo = 1

[server]
write_timeout = "5s"
`
	_, err := Parse([]byte(src), "")
	var lines []int
	for _, p := range Problems(err) {
		lines = append(lines, p.Line)
	}
	if got, want := lines, []int{2, 5, 6, 9}; !equalInts(got, want) {
		t.Errorf("lines = %v, want %v\n%v", got, want, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Golden files: each testdata/bad-*.toml gives exactly the messages in the
// .golden file beside it. Run with -update after an intended change.
func TestGoldenErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			_, err := Load(in)
			if err == nil {
				t.Fatal("accepted")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(in, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("messages changed; got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
