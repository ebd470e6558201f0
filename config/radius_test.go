package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeSecret(t *testing.T, path, secret string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(secret+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestRadiusOffUnlessPresent(t *testing.T) {
	c, err := Parse([]byte(""), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Radius != nil {
		t.Fatalf("RADIUS on without a section: %+v", c.Radius)
	}
}

func TestRadiusDefaults(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "vpn.secret"), "0123456789abcdef-vpn", 0o600)
	writeSecret(t, filepath.Join(dir, "ssh.secret"), "0123456789abcdef-ssh", 0o400)
	c, err := Parse([]byte(`[radius]
listen = "127.0.0.1:1812"

[[radius.client]]
name = "vpn"
address = "192.0.2.7/32"
secret_file = "vpn.secret"

[[radius.client]]
name = "ssh"
address = "10.1.2.0/24"
secret_file = "ssh.secret"
require_message_authenticator = false
timeout = "0s"
filter_id = "ssh-users"
class = "mfagate"
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Radius
	if r.Language != "ja" || r.MFAOff != MFAOffReject || len(r.Clients) != 2 {
		t.Fatalf("section: %+v", r)
	}
	vpn, ssh := r.Clients[0], r.Clients[1]
	if !vpn.RequireMessageAuthenticator || vpn.Timeout.Duration != DefaultRadiusTimeout || vpn.Mode != RadiusSecondFactor ||
		string(vpn.Secret) != "0123456789abcdef-vpn" || vpn.Network.String() != "192.0.2.7/32" {
		t.Errorf("defaults of a client that writes none: %+v", vpn)
	}
	if ssh.RequireMessageAuthenticator || ssh.Timeout.Duration != 0 || ssh.FilterID != "ssh-users" || ssh.Class != "mfagate" ||
		string(ssh.Secret) != "0123456789abcdef-ssh" {
		t.Errorf("a client's written false and 0s were replaced by defaults: %+v", ssh)
	}
	// Validate again (as -listen does) changes nothing.
	if err := c.Validate(); err != nil || !c.Radius.Clients[0].RequireMessageAuthenticator || c.Radius.Clients[1].Timeout.Duration != 0 {
		t.Fatalf("second Validate: %v %+v", err, c.Radius.Clients)
	}
}

func TestRadiusProblems(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "ok.secret"), "0123456789abcdef", 0o600)
	writeSecret(t, filepath.Join(dir, "short.secret"), "tooshort", 0o600)
	writeSecret(t, filepath.Join(dir, "group.secret"), "0123456789abcdef", 0o640)
	writeSecret(t, filepath.Join(dir, "world.secret"), "0123456789abcdef", 0o604)
	client := func(extra string) string {
		return "listen = \"127.0.0.1:1812\"\n[[radius.client]]\nname = \"vpn\"\naddress = \"192.0.2.7/32\"\nsecret_file = \"ok.secret\"\n" + extra
	}
	for _, tt := range []struct {
		name, body, key string
		line            int
		msg             string
	}{
		{"no clients", "listen = \"127.0.0.1:1812\"\n", "radius.client", 0, "at least one [[radius.client]]"},
		{"listen missing", "[[radius.client]]\nname = \"vpn\"\naddress = \"192.0.2.7/32\"\nsecret_file = \"ok.secret\"\n", "radius.listen", 0, `"127.0.0.1:1812"`},
		{"listen name", "listen = \"localhost:1812\"\n" + client("")[len("listen = \"127.0.0.1:1812\"\n"):], "radius.listen", 2, "not an IP address"},
		{"listen port", "listen = \"127.0.0.1:0\"\n" + client("")[len("listen = \"127.0.0.1:1812\"\n"):], "radius.listen", 2, "from 1 to 65535"},
		{"language", "language = \"de\"\n" + client(""), "radius.language", 2, `"ja", "en"`},
		{"mfa_off", "mfa_off = \"passthru\"\n" + client(""), "radius.mfa_off", 2, `must be "reject"`},
		{"trigger digits", "trigger = \"1\"\n" + client(""), "radius.trigger", 2, "not all digits"},
		{"name", client("")[:len(client(""))-len("name = \"vpn\"\naddress = \"192.0.2.7/32\"\nsecret_file = \"ok.secret\"\n")] + "name = \"unknown\"\naddress = \"192.0.2.7/32\"\nsecret_file = \"ok.secret\"\n", "radius.client[0].name", 4, `not "unknown"`},
		{"duplicate name", client("[[radius.client]]\nname = \"vpn\"\naddress = \"192.0.2.8/32\"\nsecret_file = \"ok.secret\"\n"), "radius.client[1].name", 8, "already the name of radius.client[0]"},
		{"address not cidr", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.8\"\nsecret_file = \"ok.secret\"\n"), "radius.client[1].address", 9, "CIDR notation"},
		{"address host bits", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.9/24\"\nsecret_file = \"ok.secret\"\n"), "radius.client[1].address", 9, `"192.0.2.0/24"`},
		{"address overlaps", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.0/24\"\nsecret_file = \"ok.secret\"\n"), "radius.client[1].address", 9, "overlaps radius.client[0].address"},
		{"secret missing", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.8/32\"\nsecret_file = \"absent\"\n"), "radius.client[1].secret_file", 10, "does not exist"},
		{"secret short", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.8/32\"\nsecret_file = \"short.secret\"\n"), "radius.client[1].secret_file", 10, "8 characters long; use at least 16"},
		{"secret group", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.8/32\"\nsecret_file = \"group.secret\"\n"), "radius.client[1].secret_file", 10, "chmod 600"},
		{"secret world", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.8/32\"\nsecret_file = \"world.secret\"\n"), "radius.client[1].secret_file", 10, "mode 0604"},
		{"no secret_file", client("[[radius.client]]\nname = \"b\"\naddress = \"192.0.2.8/32\"\n"), "radius.client[1].secret_file", 0, "is required"},
		{"mode", client("mode = \"pap\"\n"), "radius.client[0].mode", 7, `must be "second_factor"`},
		{"proxy without upstream", client("mode = \"proxy\"\nupstream_secret_file = \"ok.secret\"\n"), "radius.client[0].upstream", 0, `is required with mode = "proxy"`},
		{"proxy without upstream secret", client("mode = \"proxy\"\nupstream = \"10.0.0.5:1812\"\n"), "radius.client[0].upstream_secret_file", 0, `is required with mode = "proxy"`},
		{"proxy upstream bad", client("mode = \"proxy\"\nupstream = \"nps\"\nupstream_secret_file = \"ok.secret\"\n"), "radius.client[0].upstream", 8, `"address:port"`},
		{"upstream without proxy", client("upstream = \"10.0.0.5:1812\"\n"), "radius.client[0].upstream", 7, `only for mode = "proxy"`},
		{"timeout negative", client("timeout = \"-1s\"\n"), "radius.client[0].timeout", 7, "must not be negative"},
		{"timeout long", client("timeout = \"5m\"\n"), "radius.client[0].timeout", 7, "at most 2m"},
		{"filter_id long", client("filter_id = \"" + strings.Repeat("x", 254) + "\"\n"), "radius.client[0].filter_id", 7, "at most 253"},
		{"class control", client("class = \"a\\tb\"\n"), "radius.client[0].class", 7, "control characters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := wantOneProblem(t, "[radius]\n"+tt.body, dir, tt.key, tt.line, tt.msg)
			if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "tooshort") {
				t.Errorf("the message shows the secret: %v", err)
			}
		})
	}
}

// The example's [radius] section loads uncommented, with its secret files
// in place, and shows the defaults.
func TestExampleRadius(t *testing.T) {
	src, err := os.ReadFile("../systemd/mfagate.toml")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(src, []byte("\n#[radius]\n"))
	if start < 0 {
		t.Fatal("the example has no commented-out [radius] section")
	}
	dir := t.TempDir()
	var section []string
	for _, l := range strings.Split(string(src[start+1:]), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		section = append(section, strings.ReplaceAll(strings.TrimPrefix(l, "#"), "/etc/mfagate/", dir+"/"))
	}
	for _, f := range []string{"radius-vpn.secret", "radius-citrix.secret", "radius-upstream.secret"} {
		writeSecret(t, filepath.Join(dir, f), "example-secret-"+f, 0o600)
	}
	c, err := Parse([]byte(strings.Join(section, "\n")), dir)
	if err != nil {
		t.Fatalf("the example's [radius] section does not load uncommented:\n%v\n%s", err, strings.Join(section, "\n"))
	}
	if len(c.Radius.Clients) != 2 {
		t.Fatalf("example has %d radius clients, want 2", len(c.Radius.Clients))
	}
	vpn := c.Radius.Clients[0]
	if !vpn.RequireMessageAuthenticator || vpn.Timeout.Duration != DefaultRadiusTimeout || vpn.Mode != RadiusSecondFactor {
		t.Errorf("the example's first client does not show the defaults: %+v", vpn)
	}
	if want := 4 * time.Second; DefaultRadiusTimeout != want {
		t.Errorf("DefaultRadiusTimeout = %v; the example says %v", DefaultRadiusTimeout, want)
	}
	if p := c.Radius.Clients[1]; p.Mode != RadiusProxy || len(p.UpstreamSecret) == 0 {
		t.Errorf("the example's proxy client: %+v", p)
	}
}
