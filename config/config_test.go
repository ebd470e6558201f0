package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestDefaults(t *testing.T) {
	c := Default()
	tests := []struct {
		key       string
		got, want any
	}{
		{"server.listen", c.Server.Listen, "127.0.0.1:8470"},
		{"server.metrics_public", c.Server.MetricsPublic, false},
		{"server.read_timeout", c.Server.ReadTimeout.Duration, 10 * time.Second},
		{"server.write_timeout", c.Server.WriteTimeout.Duration, 40 * time.Second},
		{"server.idle_timeout", c.Server.IdleTimeout.Duration, 120 * time.Second},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout.Duration, 15 * time.Second},
		{"store.driver", c.Store.Driver, "sqlite"},
		{"store.path", c.Store.Path, "/var/lib/mfagate/mfagate.db"},
		{"store.lease", c.Store.Lease.Duration, 30 * time.Second},
		{"store.retention_challenges", c.Store.RetentionChallenges.Duration, 30 * 24 * time.Hour},
		{"store.retention_outbox", c.Store.RetentionOutbox.Duration, 30 * 24 * time.Hour},
		{"store.retention_audit", c.Store.RetentionAudit.Duration, 400 * 24 * time.Hour},
		{"server.node", c.Server.Node, ""},
		{"secrets.key_file", c.Secrets.KeyFile, "/etc/mfagate/secret.key"},
		{"api.client", len(c.API.Clients), 0},
		{"policy.code_length", c.Policy.CodeLength, 6},
		{"policy.code_ttl", c.Policy.CodeTTL.Duration, 5 * time.Minute},
		{"policy.max_attempts", c.Policy.MaxAttempts, 5},
		{"policy.max_consecutive_failures", c.Policy.MaxConsecutiveFailures, 100},
		{"policy.phone_challenges_per_user", c.Policy.PhoneChallengesPerUser, 5},
		{"policy.phone_challenge_window", c.Policy.PhoneChallengeWindow.Duration, 15 * time.Minute},
		{"policy.activation_delay", c.Policy.ActivationDelay.Duration, 40 * time.Minute},
		{"policy.proof_max_age", c.Policy.ProofMaxAge.Duration, 10 * time.Minute},
		{"policy.user_id_pattern", c.Policy.UserIDPattern, `^[0-9]{10}$`},
		{"policy.default_region", c.Policy.DefaultRegion, "JP"},
		{"policy.allowed_regions", c.Policy.AllowedRegions, []string{"JP"}},
		{"policy.voice_confirmation", c.Policy.VoiceConfirmation, "number_match"},
		{"totp.issuer", c.TOTP.Issuer, "mfagate"},
		{"totp.digits", c.TOTP.Digits, 6},
		{"totp.period", c.TOTP.Period.Duration, 30 * time.Second},
		{"totp.skew", c.TOTP.Skew, 1},
		{"messages.default_language", c.Messages.DefaultLanguage, "ja"},
		{"modem", len(c.Modems), 0},
		{"voice.ring_timeout", c.Voice.RingTimeout.Duration, 30 * time.Second},
		{"voice.input_timeout", c.Voice.InputTimeout.Duration, 20 * time.Second},
		{"fido.rp_id", c.FIDO.RPID, "localhost"},
		{"fido.rp_name", c.FIDO.RPName, "mfagate"},
		{"fido.origin", c.FIDO.Origin, "https://localhost"},
		{"fido.min_pin_length", c.FIDO.MinPINLength, 6},
		{"fido.require_resident_key", c.FIDO.RequireResidentKey, false},
		{"fido.user_verification", c.FIDO.UserVerification, "required"},
		{"fido.UserVerificationRequired", c.FIDO.UserVerificationRequired(), true},
		{"fido.aaguid_allow", len(c.FIDO.AAGUIDAllow), 0},
		{"fido.attestation", c.FIDO.Attestation, "optional"},
		{"fido.trusted_ca_file", c.FIDO.TrustedCAFile, ""},
		{"fido.device_paths", len(c.FIDO.DevicePaths), 0},
		{"fido.poll_interval", c.FIDO.PollInterval.Duration, time.Second},
		{"fido.touch_timeout", c.FIDO.TouchTimeout.Duration, 30 * time.Second},
		{"fido.session_ttl", c.FIDO.SessionTTL.Duration, 15 * time.Minute},
		{"messages.en.sms", c.Messages.EN.SMS, "{issuer}: your sign-in code is {code}. It expires in {minutes} minutes. Never share it."},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("default %s = %#v, want %#v", tt.key, tt.got, tt.want)
			}
		})
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.Policy.UserID == nil || !c.Policy.UserID.MatchString("0123456789") || c.Policy.UserID.MatchString("012345678") {
		t.Errorf("Validate did not compile the default user ID pattern into Policy.UserID")
	}
	if c.FIDO.AAGUIDs != nil {
		t.Errorf("default AAGUIDs = %x, want nil: any key model", c.FIDO.AAGUIDs)
	}
}

// An empty file gives exactly the defaults.
func TestParseEmptyIsDefault(t *testing.T) {
	got, err := Parse(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(empty) differs from Default():\n got %+v\nwant %+v", got, want)
	}
}

// Every key of a full file is decoded into its field.
func TestParseFullFile(t *testing.T) {
	dir := t.TempDir()
	writeToken(t, filepath.Join(dir, "tokens", "kiosk.token"), "\n  kiosk-token-0123456789abcdef \n", 0o600)
	writeCA(t, filepath.Join(dir, "ca", "roots.pem"), "Example FIDO Root")
	hash := sha256.Sum256([]byte("idp-token-0123456789abcdef"))
	src := `
[server]
listen = "unix:/run/mfagate/api.sock"
metrics_public = true
read_timeout = "5s"
write_timeout = "1m"
idle_timeout = "30s"
shutdown_timeout = "3s"

[store]
driver = "sqlite"
path = "state/db.sqlite"

[secrets]
key_file = "secret.key"

[[api.client]]
name = "idp"
token_sha256 = "` + hexOf(hash[:]) + `"
roles = ["idp"]

[[api.client]]
name = "kiosk"
token_file = "tokens/kiosk.token"
roles = ["enroll", "admin"]

[policy]
code_length = 8
code_ttl = "10m"
max_attempts = 3
max_consecutive_failures = 50
phone_challenges_per_user = 7
phone_challenge_window = "1h"
activation_delay = "0s"
proof_max_age = "2m"
user_id_pattern = '^[a-z]{2}[0-9]{6}$'
default_region = "US"
allowed_regions = ["US", "CA"]
voice_confirmation = "pound"

[totp]
issuer = "UTokyo Account"
digits = 8
period = "60s"
skew = 0

[messages]
default_language = "en"
[messages.en]
sms = "{code} is your {issuer} code"
voice_number_match = "{issuer}: enter the number on the screen."
voice_pound = "{issuer}: press pound."

[[modem]]
id = "ec25-1"
port = "/dev/mfagate/ec25-1"
profile = "quectel"
channels = ["voice", "sms"]
daily_cap = 180
baud = 921600

[voice]
ring_timeout = "45s"
input_timeout = "10s"

[fido]
rp_id = "example.ac.jp"
rp_name = "UTokyo Account"
origin = "https://login.example.ac.jp:8443"
min_pin_length = 8
require_resident_key = true
user_verification = "discouraged"
aaguid_allow = ["CB69481E-8FF7-4039-93EC-0A2729A154A8", "ee882879-721c-4913-9775-3dfcce97072a"]
attestation = "required"
trusted_ca_file = "ca/roots.pem"
device_paths = ["/dev/pts/7", "/dev/mfagate/hid-kiosk"]
poll_interval = "250ms"
touch_timeout = "1m"
session_ttl = "2h"
`
	c, err := Parse([]byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("listen", c.Server.Listen, "unix:/run/mfagate/api.sock")
	p, ok := c.Server.IsUnix()
	check("IsUnix", []any{p, ok}, []any{"/run/mfagate/api.sock", true})
	check("metrics_public", c.Server.MetricsPublic, true)
	check("read_timeout", c.Server.ReadTimeout.Duration, 5*time.Second)
	check("write_timeout", c.Server.WriteTimeout.Duration, time.Minute)
	check("idle_timeout", c.Server.IdleTimeout.Duration, 30*time.Second)
	check("shutdown_timeout", c.Server.ShutdownTimeout.Duration, 3*time.Second)
	check("store.path (relative to the file)", c.Store.Path, filepath.Join(dir, "state/db.sqlite"))
	check("key_file (relative to the file)", c.Secrets.KeyFile, filepath.Join(dir, "secret.key"))
	check("clients", len(c.API.Clients), 2)
	check("client 0 hash from token_sha256", c.API.Clients[0].TokenHash, hash)
	check("client 1 hash of the trimmed token file", c.API.Clients[1].TokenHash, sha256.Sum256([]byte("kiosk-token-0123456789abcdef")))
	check("client 1 token_file", c.API.Clients[1].TokenFile, filepath.Join(dir, "tokens", "kiosk.token"))
	check("client 1 roles", c.API.Clients[1].Roles, []string{"enroll", "admin"})
	check("client 1 HasRole(admin)", c.API.Clients[1].HasRole(RoleAdmin), true)
	check("client 1 HasRole(idp)", c.API.Clients[1].HasRole(RoleIDP), false)
	check("code_length", c.Policy.CodeLength, 8)
	check("code_ttl", c.Policy.CodeTTL.Duration, 10*time.Minute)
	check("max_attempts", c.Policy.MaxAttempts, 3)
	check("max_consecutive_failures", c.Policy.MaxConsecutiveFailures, 50)
	check("phone_challenges_per_user", c.Policy.PhoneChallengesPerUser, 7)
	check("phone_challenge_window", c.Policy.PhoneChallengeWindow.Duration, time.Hour)
	check("activation_delay", c.Policy.ActivationDelay.Duration, time.Duration(0))
	check("proof_max_age", c.Policy.ProofMaxAge.Duration, 2*time.Minute)
	check("UserID matches", c.Policy.UserID.MatchString("ab123456"), true)
	check("UserID anchored", c.Policy.UserID.MatchString("xab123456"), false)
	check("default_region", c.Policy.DefaultRegion, "US")
	check("allowed_regions", c.Policy.AllowedRegions, []string{"US", "CA"})
	check("voice_confirmation", c.Policy.VoiceConfirmation, VoicePound)
	check("issuer", c.TOTP.Issuer, "UTokyo Account")
	check("digits", c.TOTP.Digits, 8)
	check("period", c.TOTP.Period.Duration, time.Minute)
	check("skew", c.TOTP.Skew, 0)
	check("default_language", c.Messages.DefaultLanguage, "en")
	check("en.sms", c.Messages.EN.SMS, "{code} is your {issuer} code")
	check("modems", c.Modems, []Modem{{ID: "ec25-1", Port: "/dev/mfagate/ec25-1", Profile: "quectel", Channels: []string{"voice", "sms"}, DailyCap: 180, Baud: 921600}})
	check("ring_timeout", c.Voice.RingTimeout.Duration, 45*time.Second)
	check("input_timeout", c.Voice.InputTimeout.Duration, 10*time.Second)
	check("rp_id", c.FIDO.RPID, "example.ac.jp")
	check("rp_name", c.FIDO.RPName, "UTokyo Account")
	check("origin", c.FIDO.Origin, "https://login.example.ac.jp:8443")
	check("min_pin_length", c.FIDO.MinPINLength, 8)
	check("require_resident_key", c.FIDO.RequireResidentKey, true)
	check("user_verification", c.FIDO.UserVerification, UVDiscouraged)
	check("UserVerificationRequired", c.FIDO.UserVerificationRequired(), false)
	check("aaguid_allow", c.FIDO.AAGUIDAllow, []string{"CB69481E-8FF7-4039-93EC-0A2729A154A8", "ee882879-721c-4913-9775-3dfcce97072a"})
	check("AAGUIDs", c.FIDO.AAGUIDs, [][16]byte{
		{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8},
		{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a},
	})
	check("attestation", c.FIDO.Attestation, AttestationRequired)
	check("trusted_ca_file (relative to the file)", c.FIDO.TrustedCAFile, filepath.Join(dir, "ca", "roots.pem"))
	check("device_paths", c.FIDO.DevicePaths, []string{"/dev/pts/7", "/dev/mfagate/hid-kiosk"})
	check("poll_interval", c.FIDO.PollInterval.Duration, 250*time.Millisecond)
	check("touch_timeout", c.FIDO.TouchTimeout.Duration, time.Minute)
	check("session_ttl", c.FIDO.SessionTTL.Duration, 2*time.Hour)
	// Texts not written keep their defaults.
	check("ja.sms", c.Messages.JA.SMS, Default().Messages.JA.SMS)
	check("For(fr) falls back to en", c.Messages.For("fr").SMS, "{code} is your {issuer} code")
}

// allowed_regions follows default_region unless it is written.
func TestAllowedRegionsDefault(t *testing.T) {
	c, err := Parse([]byte("[policy]\ndefault_region = \"DE\"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Policy.AllowedRegions, []string{"DE"}) {
		t.Errorf("allowed_regions = %v, want [DE]", c.Policy.AllowedRegions)
	}
}

func TestLoadNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mfagate.toml")
	if err := os.WriteFile(path, []byte("[policy]\ncode_ttl = \"15m\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:2: policy.code_ttl = "15m": must be at most 10m (NIST SP 800-63B limits out-of-band codes to 10 minutes)`
	if err == nil || err.Error() != want {
		t.Fatalf("Load error = %v\nwant %s", err, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error wrapping os.ErrNotExist", err)
	}
}

// A relative token_file is found next to the configuration file, not in the
// working directory.
func TestLoadResolvesTokenFileAgainstConfigDir(t *testing.T) {
	dir := t.TempDir()
	// Group-readable is fine: the daemon may read it through its group.
	writeToken(t, filepath.Join(dir, "idp.token"), "token-for-the-idp-0123456789", 0o640)
	path := filepath.Join(dir, "mfagate.toml")
	src := "[[api.client]]\nname = \"idp\"\ntoken_file = \"idp.token\"\nroles = [\"idp\"]\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.API.Clients[0].TokenHash, sha256.Sum256([]byte("token-for-the-idp-0123456789")); got != want {
		t.Errorf("TokenHash = %x, want %x", got, want)
	}
}

func TestTokenFileProblems(t *testing.T) {
	dir := t.TempDir()
	writeToken(t, filepath.Join(dir, "world.token"), "token-readable-by-everyone-0123", 0o644)
	writeToken(t, filepath.Join(dir, "writable.token"), "token-writable-by-everyone-0123", 0o602)
	writeToken(t, filepath.Join(dir, "empty.token"), " \n\t\n", 0o600)
	writeToken(t, filepath.Join(dir, "short.token"), "abc123\n", 0o600)
	writeToken(t, filepath.Join(dir, "spaced.token"), "first-half-of-it second-half-of-it", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		want string
	}{
		{"missing.token", "missing.token does not exist"},
		{"world.token", "world.token is readable by every user (mode 0644); run: chmod o-rwx"},
		{"writable.token", "writable.token is writable by every user (mode 0602)"},
		{"empty.token", "empty.token is empty"},
		{"short.token", "short.token is 6 characters long; use at least 16"},
		{"spaced.token", "spaced.token contains white space"},
		{"adir", "adir is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := "\n[[api.client]]\nname = \"x\"\ntoken_file = \"" + tt.file + "\"\nroles = [\"idp\"]\n"
			_, err := Parse([]byte(src), dir)
			ps := Problems(err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(ps), err)
			}
			p := ps[0]
			if p.Key != "api.client[0].token_file" || p.Line != 4 || !strings.Contains(p.Msg, tt.want) {
				t.Errorf("problem = %q (key %s, line %d), want key api.client[0].token_file, line 4, containing %q", p, p.Key, p.Line, tt.want)
			}
			if strings.Contains(err.Error(), "readable-by-everyone") || strings.Contains(err.Error(), "abc123") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// The example configuration shipped in systemd/ must load: every key in it
// is known and valid, it sets every key of the schema, and the values it
// shows as defaults are the defaults. Its [[api.client]] and [[modem]]
// entries are examples, judged by validation rather than against defaults
// (there are none by default).
func TestExampleConfig(t *testing.T) {
	src, err := os.ReadFile("../systemd/mfagate.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "mfagate.toml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"idp", "kiosk", "admin"} {
		writeToken(t, filepath.Join(dir, name+".token"), name+"-example-token-0123456789abcdef", 0o400)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("the example configuration does not load:\n%v", err)
	}

	var raw map[string]any
	md, err := toml.Decode(string(src), &raw)
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, k := range md.Keys() {
		for i := 1; i <= len(k); i++ { // [[api.client]] defines api too
			defined[k[:i].String()] = true
		}
	}
	// A client takes token_sha256 or token_file, not both; the example
	// clients use token_file and its comments explain token_sha256.
	commentedOnly := map[string]string{"api.client.token_sha256": "#   token_sha256 "}
	for key := range schema {
		if defined[key] {
			continue
		}
		if c, ok := commentedOnly[key]; ok && bytes.Contains(src, []byte(c)) {
			continue
		}
		// [oidc] is off by default, so the example shows it commented out
		// (TestExampleOIDC loads it uncommented).
		if strings.HasPrefix(key, "oidc.") && bytes.Contains(src, []byte("\n#"+key[strings.LastIndex(key, ".")+1:]+" = ")) ||
			key == "oidc" && bytes.Contains(src, []byte("\n#[oidc]\n")) ||
			key == "oidc.client" && bytes.Contains(src, []byte("\n#[[oidc.client]]\n")) ||
			// [privacyidea] is off unless present, likewise commented out.
			strings.HasPrefix(key, "privacyidea.") && bytes.Contains(src, []byte("\n#"+key[strings.LastIndex(key, ".")+1:]+" = ")) ||
			key == "privacyidea" && bytes.Contains(src, []byte("\n#[privacyidea]\n")) ||
			// [radius] likewise.
			strings.HasPrefix(key, "radius.") && bytes.Contains(src, []byte("\n#"+key[strings.LastIndex(key, ".")+1:]+" = ")) ||
			key == "radius" && bytes.Contains(src, []byte("\n#[radius]\n")) ||
			key == "radius.client" && bytes.Contains(src, []byte("\n#[[radius.client]]\n")) ||
			// [selfservice] likewise.
			strings.HasPrefix(key, "selfservice.") && bytes.Contains(src, []byte("\n#"+key[strings.LastIndex(key, ".")+1:]+" = ")) ||
			key == "selfservice" && bytes.Contains(src, []byte("\n#[selfservice]\n")) ||
			// [console] likewise.
			strings.HasPrefix(key, "console.") && bytes.Contains(src, []byte("\n#"+key[strings.LastIndex(key, ".")+1:]+" = ")) ||
			key == "console" && bytes.Contains(src, []byte("\n#[console]\n")) ||
			// Old keys are listed only during a rotation.
			key == "secrets.previous_key_files" && bytes.Contains(src, []byte("\n#previous_key_files = ")) {
			continue
		}
		t.Errorf("the example does not show key %s", key)
	}

	if len(c.API.Clients) == 0 {
		t.Fatal("the example has no API client")
	}
	for _, cl := range c.API.Clients {
		if cl.TokenFile == "" {
			t.Errorf("example client %q does not use token_file", cl.Name)
		}
	}
	c.API.Clients = nil
	// The example modems are real entries, not defaults: Load has validated
	// them. They must name stable device paths, not simulators, and leave
	// out what they do not change, so that channels takes its default.
	if len(c.Modems) == 0 {
		t.Fatal("the example has no modem")
	}
	for _, m := range c.Modems {
		if _, sim := m.SimProfile(); sim || !strings.HasPrefix(m.Port, "/dev/mfagate/") {
			t.Errorf("example modem %q has port %q, want a udev symlink under /dev/mfagate/", m.ID, m.Port)
		}
	}
	if got := c.Modems[0].Channels; !reflect.DeepEqual(got, []string{ChannelSMS, ChannelVoice}) {
		t.Errorf("example modem %q channels = %q, want the default [sms voice]", c.Modems[0].ID, got)
	}
	c.Modems = nil
	want := Default()
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the example's values are not the defaults its comments claim:\n%s", encodedDiff(t, c, want))
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		tmpl string
		vars map[string]string
		want string
	}{
		{"{issuer}: code {code}, {minutes} min", map[string]string{"issuer": "X", "code": "123456", "minutes": "5"}, "X: code 123456, 5 min"},
		{"{code}{code}", map[string]string{"code": "1"}, "11"},
		{"{unknown} and {code}", map[string]string{"code": "1"}, "{unknown} and 1"},
		{"{ code } {} {", map[string]string{"code": "1"}, "{ code } {} {"},
		// A value that looks like a placeholder is not expanded again.
		{"{issuer} {code}", map[string]string{"issuer": "{code}", "code": "9"}, "{code} 9"},
		{"確認コード：{code}", map[string]string{"code": "42"}, "確認コード：42"},
	}
	for _, tt := range tests {
		if got := Render(tt.tmpl, tt.vars); got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}

func TestMessagesFor(t *testing.T) {
	m := Default().Messages
	if m.For("en").SMS != m.EN.SMS || m.For("ja").SMS != m.JA.SMS {
		t.Error("For does not pick the named language")
	}
	if m.For("").SMS != m.JA.SMS || m.For("fr").SMS != m.JA.SMS {
		t.Error("For does not fall back to default_language ja")
	}
	m.DefaultLanguage = "en"
	if m.For("de").SMS != m.EN.SMS {
		t.Error("For does not fall back to default_language en")
	}
}

func TestSMSVars(t *testing.T) {
	c := Default()
	c.Policy.CodeTTL = D(90 * time.Second)
	got := Render(c.Messages.EN.SMS, c.SMSVars("123456"))
	want := "mfagate: your sign-in code is 123456. It expires in 1 minutes. Never share it."
	if got != want {
		t.Errorf("rendered SMS = %q, want %q", got, want)
	}
	if got := Render("{seconds}", c.SMSVars("123456")); got != "90" {
		t.Errorf("{seconds} = %q, want 90", got)
	}
}

// A code that lives under a minute cannot be stated in whole minutes
// without promising time it does not have.
func TestSubMinuteTTLNeedsSeconds(t *testing.T) {
	c := Default()
	c.Policy.CodeTTL = D(45 * time.Second)
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "messages.en.sms") || !strings.Contains(err.Error(), "state {seconds} instead") {
		t.Fatalf("45s code_ttl with {minutes} texts: %v, want a problem naming messages.en.sms", err)
	}
	c = Default()
	c.Policy.CodeTTL = D(45 * time.Second)
	c.Messages.EN.SMS = "{issuer}: code {code}, valid {seconds} s."
	c.Messages.JA.SMS = "【{issuer}】確認コード：{code}（{seconds}秒間有効）"
	for _, l := range []*Language{&c.Messages.EN, &c.Messages.JA} {
		l.VoiceNumberMatch = strings.ReplaceAll(l.VoiceNumberMatch, "{minutes}", "{seconds}")
		l.VoicePound = strings.ReplaceAll(l.VoicePound, "{minutes}", "{seconds}")
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("45s code_ttl with {seconds} texts: %v", err)
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		d    time.Duration
		text string
	}{
		{5 * time.Minute, "5m"},
		{30 * time.Second, "30s"},
		{90 * time.Second, "1m30s"},
		{time.Hour, "1h"},
		{168 * time.Hour, "168h"},
		{time.Hour + time.Second, "1h0m1s"},
		{0, "0s"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		b, err := D(tt.d).MarshalText()
		if err != nil || string(b) != tt.text {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", tt.d, b, err, tt.text)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back.Duration != tt.d {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back.Duration, err, tt.d)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("300")); err == nil || !strings.Contains(err.Error(), `like "30s"`) {
		t.Errorf("UnmarshalText(300) error = %v, want a hint about units", err)
	}
	// Days, alone or before the other units.
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0d": 0, "2d30m": 48*time.Hour + 30*time.Minute} {
		if err := d.UnmarshalText([]byte(in)); err != nil || d.Duration != want {
			t.Errorf("UnmarshalText(%s) = %v, %v; want %v", in, d.Duration, err, want)
		}
	}
	for _, in := range []string{"d", "-1d", "+1d", "1.5d", "1d-1h", "1dd", "100001d", "1d 2h"} {
		if err := d.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("UnmarshalText(%s) = %v, want an error", in, d.Duration)
		}
	}
}

// An encoded configuration decodes to the same configuration.
func TestEncodeRoundTrip(t *testing.T) {
	c := Default()
	c.Policy.CodeTTL = D(90 * time.Second)
	c.API.Clients = []Client{{Name: "idp", TokenSHA256: strings.Repeat("ab", 32), Roles: []string{"idp"}}}
	c.Modems = []Modem{{ID: "ec25-1", Port: "/dev/mfagate/ec25-1", Profile: "quectel", DailyCap: 180}, {ID: "demo", Port: "sim:huawei", Channels: []string{"voice"}}}
	c.Voice.InputTimeout = D(15 * time.Second)
	c.FIDO.RPID, c.FIDO.Origin = "example.ac.jp", "https://login.example.ac.jp"
	c.FIDO.AAGUIDAllow = []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}
	c.FIDO.DevicePaths = []string{"/dev/pts/3"}
	c.FIDO.PollInterval = D(1500 * time.Millisecond)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(buf.Bytes(), "")
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip changed the configuration:\n got %+v\nwant %+v", back, c)
	}
}

// encodedDiff lists the lines of got's TOML encoding that want's lacks.
func encodedDiff(t *testing.T, got, want *Config) string {
	t.Helper()
	enc := func(c *Config) map[string]bool {
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(buf.String(), "\n") {
			lines[l] = true
		}
		return lines
	}
	g, w := enc(got), enc(want)
	var out []string
	for l := range g {
		if !w[l] {
			out = append(out, "  "+strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}

func writeToken(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to the umask
		t.Fatal(err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

// ${CREDENTIALS_DIRECTORY} names what systemd's LoadCredential= passes in.
func TestCredentialsDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "api.token"), []byte("a-token-of-sufficient-length-42"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	c, err := Parse([]byte("[secrets]\nkey_file = \"${CREDENTIALS_DIRECTORY}/secret.key\"\n"+
		"[[api.client]]\nname = \"idp\"\ntoken_file = \"${CREDENTIALS_DIRECTORY}/api.token\"\nroles = [\"idp\"]\n"), "/etc/mfagate")
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets.KeyFile != filepath.Join(dir, "secret.key") || c.API.Clients[0].TokenFile != filepath.Join(dir, "api.token") {
		t.Fatalf("not expanded: %q %q", c.Secrets.KeyFile, c.API.Clients[0].TokenFile)
	}
}
