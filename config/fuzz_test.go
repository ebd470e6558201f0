package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// FuzzParse feeds arbitrary documents to Parse. It must never panic, every
// error must be a syntax error or a list of problems naming a key, and any
// configuration it accepts must validate again and survive an encode/parse
// round trip.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	seeds = append(seeds, "../systemd/mfagate.toml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("[store]\nretention_challenges = \"1d12h\"\nretention_outbox = \"0s\"\nretention_audit = \"400d\"\n"))
	f.Add([]byte("[server]\nlisten = \"unix:/run/mfagate.sock\"\n"))
	f.Add([]byte("api.client = [{name = \"a\", token_sha256 = \"" + string(bytes.Repeat([]byte("ab"), 32)) + "\", roles = [\"idp\"]}]\n"))
	f.Add([]byte("api.client = [{name = \"a\", token_sha256 = [\"" + string(bytes.Repeat([]byte("ab"), 32)) + "\", \"" + string(bytes.Repeat([]byte("cd"), 32)) + "\"], roles = [\"idp\"]}]\n"))
	f.Add([]byte("[secrets]\nkey_file = \"new.key\"\nprevious_key_files = [\"old.key\", \"older.key\"]\n"))
	f.Add([]byte("[messages.ja]\nsms = '''\n{code}\n'''\n"))
	f.Add([]byte("[[modem]]\nid = \"ec25-1\"\nport = \"/dev/mfagate/ec25-1\"\nprofile = \"quectel\"\ndaily_cap = 180\n[[modem]]\nid = \"demo\"\nport = \"sim:simcom\"\nchannels = [\"sms\"]\n[voice]\nring_timeout = \"45s\"\n"))
	f.Add([]byte("modem = [{id = \"a\", port = \"sim:quectel\", baud = 9600}]\n"))
	f.Add([]byte("[fido]\nrp_id = \"example.ac.jp\"\norigin = \"https://login.example.ac.jp:8443\"\nuser_verification = \"preferred\"\naaguid_allow = [\"CB69481E-8FF7-4039-93EC-0A2729A154A8\"]\nattestation = \"required\"\ndevice_paths = [\"/dev/pts/3\"]\npoll_interval = \"250ms\"\n"))
	f.Add([]byte("fido = { rp_id = \"localhost\", origin = \"http://localhost:8080\", trusted_ca_file = \"roots.pem\" }\n"))
	dir := f.TempDir() // relative token files resolve here; Parse writes nothing
	f.Fuzz(func(t *testing.T, data []byte) {
		idx := indexKeys(data) // must not panic or hang on any input
		var raw map[string]any
		if md, err := toml.Decode(string(data), &raw); err == nil {
			// The scanner finds every key the library reads.
			found := map[string]bool{}
			for _, kp := range idx.all {
				found[kp.plain] = true
			}
			for _, k := range md.Keys() {
				if !found[k.String()] {
					t.Fatalf("key %s not found by the position scanner", k)
				}
			}
		}
		c, err := Parse(data, dir)
		if err != nil {
			if _, ok := err.(*SyntaxError); ok {
				return
			}
			ps := Problems(err)
			if len(ps) == 0 {
				// Only a decode error the type check could not explain
				// gets here; it must still say where.
				if !bytes.Contains([]byte(err.Error()), []byte("line ")) {
					t.Fatalf("error without problems or position: %v", err)
				}
				return
			}
			for _, p := range ps {
				if p.Key == "" || p.Msg == "" {
					t.Fatalf("problem without key or message: %#v", p)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted configuration does not validate again: %v", err)
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatalf("encode accepted configuration: %v", err)
		}
		if _, err := Parse(buf.Bytes(), dir); err != nil {
			t.Fatalf("re-parse of encoded configuration: %v\n%s", err, buf.Bytes())
		}
	})
}

// FuzzDuration: a duration with days never panics, is never negative, and
// without days reads as time.ParseDuration reads it; with days, it is the
// days plus the rest.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"30d", "1d12h", "0d", "5m", "-1d", "d", "99999999999999999999d", "1d-1h", "1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		days, rest, hasDays := strings.Cut(s, "d")
		switch {
		case !hasDays:
			want, werr := time.ParseDuration(s)
			if (err == nil) != (werr == nil) || d != want {
				t.Fatalf("parseDuration(%q) = %v, %v; time.ParseDuration says %v, %v", s, d, err, want, werr)
			}
		case err == nil:
			if d < 0 {
				t.Fatalf("parseDuration(%q) = %v, negative", s, d)
			}
			n, _ := strconv.Atoi(days)
			r := time.Duration(0)
			if rest != "" {
				r, _ = time.ParseDuration(rest)
			}
			if d != time.Duration(n)*24*time.Hour+r {
				t.Fatalf("parseDuration(%q) = %v, want %d days and %v", s, d, n, r)
			}
		}
	})
}
