// Package config owns mfagate's configuration file: the TOML schema, its
// defaults, strict decoding (unknown keys and wrong types are errors that
// name the key and its line) and validation with messages an operator can act
// on. It knows nothing about HTTP, storage or modems; other packages read the
// resulting Config.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"mfagate/modem/vendor"
)

// Config is the whole configuration file.
type Config struct {
	Server   Server   `toml:"server"`
	Store    Store    `toml:"store"`
	Secrets  Secrets  `toml:"secrets"`
	API      API      `toml:"api"`
	Policy   Policy   `toml:"policy"`
	TOTP     TOTP     `toml:"totp"`
	Messages Messages `toml:"messages"`
	Modems   []Modem  `toml:"modem"` // [[modem]]
	Voice    Voice    `toml:"voice"`
	FIDO     FIDO     `toml:"fido"`
	OIDC     OIDC     `toml:"oidc"`
	// PrivacyIDEA is the privacyIDEA-compatible validate API; nil (no
	// [privacyidea] section) leaves it off.
	PrivacyIDEA *PrivacyIDEA `toml:"privacyidea"`
	// Radius is the RADIUS authentication server for VPN gateways, Citrix
	// gateways and pam_radius; nil (no [radius] section) leaves it off.
	Radius *Radius `toml:"radius"`
	// SelfService is the Security info page (/me); nil (no [selfservice]
	// section) leaves every /me route unserved.
	SelfService *SelfService `toml:"selfservice"`
	// Console is the help-desk console's OpenID Connect staff sign-in;
	// nil (no [console] section): staff use their API tokens there.
	Console *Console `toml:"console"`
}

// Server is the HTTP listener.
type Server struct {
	Listen          string   `toml:"listen"`           // "host:port" or "unix:/abs/path"
	MetricsPublic   bool     `toml:"metrics_public"`   // false: /metrics without auth to loopback/unix clients only
	ReadTimeout     Duration `toml:"read_timeout"`     // whole request, headers and body
	WriteTimeout    Duration `toml:"write_timeout"`    // must exceed LongPollMax
	IdleTimeout     Duration `toml:"idle_timeout"`     // keep-alive connections
	ShutdownTimeout Duration `toml:"shutdown_timeout"` // graceful stop
	// Node names this daemon among the nodes sharing a PostgreSQL store:
	// its claims on outbox jobs, metrics and status carry it. "" means the
	// host name.
	Node string `toml:"node"`
}

// LongPollMax is the longest time the API holds a long-poll request open;
// server.write_timeout must be longer.
const LongPollMax = 25 * time.Second

// IsUnix reports whether Listen names a unix socket, and returns its path.
func (s Server) IsUnix() (path string, ok bool) {
	const p = "unix:"
	if len(s.Listen) >= len(p) && s.Listen[:len(p)] == p {
		return s.Listen[len(p):], true
	}
	return "", false
}

// Store selects the database.
type Store struct {
	Driver       string `toml:"driver"`        // "sqlite" (default) or "postgres"
	Path         string `toml:"path"`          // SQLite file
	DSN          string `toml:"dsn"`           // PostgreSQL connection string, without a password
	PasswordFile string `toml:"password_file"` // PostgreSQL password, read from this file
	// Lease is how long a node's claim on an outbox job stands without its
	// heartbeat (every third of it) before another node may take the job over.
	Lease Duration `toml:"lease"`
	// How long finished records are kept (0: forever): challenges and sent
	// or failed outbox jobs from their creation, audit events from when
	// they happened. Housekeeping deletes older ones.
	RetentionChallenges Duration `toml:"retention_challenges"`
	RetentionOutbox     Duration `toml:"retention_outbox"`
	RetentionAudit      Duration `toml:"retention_audit"`
}

// day is 24 hours, the unit of the retention keys.
const day = 24 * time.Hour

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Secrets names the server's secret key.
type Secrets struct {
	KeyFile string `toml:"key_file"` // 32 bytes raw, 64 hex characters, or base64 of 32 bytes
	// PreviousKeyFiles are keys being rotated out: values sealed with them
	// still open, and the daemon re-seals them to key_file in the
	// background. Remove them once mfagate_secrets_sealed_with_previous
	// reads 0 and the longest challenge or pass made before has expired.
	PreviousKeyFiles []string `toml:"previous_key_files"`
}

// API lists the clients allowed to call the HTTP API.
type API struct {
	Clients []Client `toml:"client"` // [[api.client]]
}

// Client is one caller of the HTTP API, authenticated by a bearer token.
type Client struct {
	Name string `toml:"name"`
	// TokenSHA256s are the SHA-256 of the client's bearer tokens, 64 hex
	// characters each, written as one string or, during a change-over
	// from one token to the next, a list: every token listed is accepted.
	TokenSHA256s StringList `toml:"token_sha256"`
	// TokenSHA256 is one more hash, for configurations built in code;
	// Validate moves it to the front of TokenSHA256s.
	TokenSHA256 string     `toml:"-"`
	TokenFile   string     `toml:"token_file"` // file holding the token itself (surrounding space trimmed)
	Roles       []string   `toml:"roles"`      // subset of RoleIDP, RoleEnroll, RoleAdmin; at least one
	TokenHash   [32]byte   `toml:"-"`          // SHA-256 of the first token, filled by Validate
	TokenHashes [][32]byte `toml:"-"`          // SHA-256 of every token accepted, filled by Validate
}

// MaxClientTokens is how many tokens one client may hold at once: enough
// for a change-over, few enough that forgotten old tokens stand out.
const MaxClientTokens = 4

// StringList is a TOML value written either as one string or as an array
// of strings.
type StringList []string

// UnmarshalTOML accepts "a" and ["a", "b"].
func (l *StringList) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*l = StringList{x}
		return nil
	case []any:
		out := make(StringList, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("must be a string or an array of strings")
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("must be a string or an array of strings")
}

// Client roles.
const (
	RoleIDP    = "idp"    // sign-in verification: challenges and their results
	RoleEnroll = "enroll" // method registration and kiosk enrollment
	RoleAdmin  = "admin"  // operator actions: modems, MFA termination, unblocking
)

// Roles lists every role a client may hold.
var Roles = []string{RoleIDP, RoleEnroll, RoleAdmin}

// HasRole reports whether the client holds role.
func (c Client) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Policy holds the verification rules.
type Policy struct {
	CodeLength             int            `toml:"code_length"`
	CodeTTL                Duration       `toml:"code_ttl"`
	MaxAttempts            int            `toml:"max_attempts"`
	MaxConsecutiveFailures int            `toml:"max_consecutive_failures"`
	PhoneChallengesPerUser int            `toml:"phone_challenges_per_user"`
	PhoneChallengeWindow   Duration       `toml:"phone_challenge_window"`
	ActivationDelay        Duration       `toml:"activation_delay"`
	ProofMaxAge            Duration       `toml:"proof_max_age"`
	UserIDPattern          string         `toml:"user_id_pattern"`
	UserID                 *regexp.Regexp `toml:"-"` // compiled UserIDPattern, filled by Validate
	DefaultRegion          string         `toml:"default_region"`
	AllowedRegions         []string       `toml:"allowed_regions"`
	VoiceConfirmation      string         `toml:"voice_confirmation"`
	// Temporary Access Passes the help desk issues to users who lost
	// their methods.
	TAPMaxLifetime Duration `toml:"tap_max_lifetime"`
	TAPAllowedFor  []string `toml:"tap_allowed_for"` // API roles that may issue and revoke passes
	TAPSignin      bool     `toml:"tap_signin"`      // a pass may also answer sign-ins, not just proofs
}

// Voice confirmation modes.
const (
	VoiceNumberMatch = "number_match" // the callee keys the number shown on the sign-in screen, then #
	VoicePound       = "pound"        // the callee presses # to approve
)

// TTLMinutes is the code lifetime in whole minutes as messages state it
// ({minutes}): rounded down, never promising more time than there is.
// Validate refuses {minutes} with a code_ttl under a minute; {seconds}
// states such a lifetime.
func (p Policy) TTLMinutes() int {
	return int(p.CodeTTL.Duration / time.Minute)
}

// TTLSeconds is the code lifetime in whole seconds ({seconds}).
func (p Policy) TTLSeconds() int {
	return int(p.CodeTTL.Duration / time.Second)
}

// TOTP holds the authenticator-app parameters.
type TOTP struct {
	Issuer string   `toml:"issuer"` // shown in the app; goes into the otpauth label
	Digits int      `toml:"digits"`
	Period Duration `toml:"period"`
	Skew   int      `toml:"skew"` // time steps accepted either side of now
}

// Messages holds the texts sent to users, per language.
type Messages struct {
	DefaultLanguage string   `toml:"default_language"`
	JA              Language `toml:"ja"`
	EN              Language `toml:"en"`
}

// Language holds the texts of one language. Templates use the placeholders
// {code}, {minutes}, {seconds}, {issuer} and {number}; see Render.
type Language struct {
	SMS              string `toml:"sms"`                // one SMS segment; must contain {code}
	VoiceNumberMatch string `toml:"voice_number_match"` // call prompt when voice_confirmation = "number_match"
	VoicePound       string `toml:"voice_pound"`        // call prompt when voice_confirmation = "pound"
}

// Languages lists the supported message languages.
var Languages = []string{"ja", "en"}

// For returns the texts of lang ("ja" or "en"); any other value gives the
// default language's texts.
func (m Messages) For(lang string) Language {
	switch lang {
	case "ja":
		return m.JA
	case "en":
		return m.EN
	}
	if m.DefaultLanguage == "en" {
		return m.EN
	}
	return m.JA
}

// Modem is one GSM/LTE modem, or a simulated one. Parse sets Channels and
// Baud of an entry that leaves them out; in a Config built in Go, nil
// Channels and zero Baud mean the defaults, and Validate sets them.
type Modem struct {
	ID       string   `toml:"id"`        // names the modem in logs, metrics and the admin API; unique
	Port     string   `toml:"port"`      // absolute device path (ideally a udev symlink such as /dev/mfagate/ec25-1), or "sim:<profile>"
	Profile  string   `toml:"profile"`   // one of ModemProfiles; for a "sim:" port empty means the simulated profile, which Validate fills in
	Channels []string `toml:"channels"`  // subset of ChannelSMS, ChannelVoice; default both
	DailyCap int      `toml:"daily_cap"` // SMS per SIM per day; 0: no cap
	Baud     int      `toml:"baud"`      // serial speed; default 115200
}

// SimProfile reports whether Port is "sim:<profile>", an in-process
// simulated modem, and returns the profile.
func (m Modem) SimProfile() (string, bool) {
	if p, ok := strings.CutPrefix(m.Port, simPrefix); ok {
		return p, true
	}
	return "", false
}

const simPrefix = "sim:"

// ModemProfiles lists the supported modem profiles (the driver and the
// simulator support the same).
var ModemProfiles = vendor.Names

// Modem channels.
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
)

// modemChannels lists every channel, in the order of the default.
var modemChannels = []string{ChannelSMS, ChannelVoice}

// baudRates are the serial speeds a modem may be driven at.
var baudRates = []int{9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

const (
	defaultBaud = 115200
	maxDailyCap = 10000
)

// Voice configures phone calls.
type Voice struct {
	RingTimeout  Duration `toml:"ring_timeout"`  // how long a call may ring before it counts as no answer
	InputTimeout Duration `toml:"input_timeout"` // how long to wait for the callee's keys after the prompt and after each key
	// Recorded prompts stored on the modems (AT+QPSND / AT+CCMXPLAY file
	// names). Module speech engines speak English only: without a Japanese
	// recording, calls in Japanese fall back to the English prompt.
	PromptFileJA string `toml:"prompt_file_ja"`
	PromptFileEN string `toml:"prompt_file_en"`
}

// FIDO configures security keys: the WebAuthn relying party, the kiosk's
// enrollment policy and where keys are found.
type FIDO struct {
	RPID               string     `toml:"rp_id"`                // registrable domain name: lower case, no scheme, port or path
	RPName             string     `toml:"rp_name"`              // shown by browsers and some keys; 1 to 64 characters
	Origin             string     `toml:"origin"`               // "https://<host>[:port]" with host rp_id or a subdomain of it; "http://localhost[:port]" for testing
	MinPINLength       int        `toml:"min_pin_length"`       // shortest PIN the kiosk lets a user set: 4 to 63 (CTAP2)
	RequireResidentKey bool       `toml:"require_resident_key"` // enroll discoverable credentials only
	UserVerification   string     `toml:"user_verification"`    // UVRequired, UVPreferred or UVDiscouraged
	AAGUIDAllow        []string   `toml:"aaguid_allow"`         // authenticator models allowed, as UUIDs; empty: any
	AAGUIDs            [][16]byte `toml:"-"`                    // parsed AAGUIDAllow, filled by Validate; nil when any model is allowed
	AAGUIDDeny         []string   `toml:"aaguid_deny"`          // authenticator models refused, as UUIDs
	AAGUIDsDenied      [][16]byte `toml:"-"`                    // parsed AAGUIDDeny, filled by Validate
	Attestation        string     `toml:"attestation"`          // AttestationOptional or AttestationRequired (a synonym for require_attestation_for = ["kiosk", "browser"])
	// RequireAttestationFor lists where keys must present a certificate
	// attestation: PlaceKiosk, PlaceBrowser.
	RequireAttestationFor []string `toml:"require_attestation_for"`
	// AllowSynced accepts passkeys that can be synced between devices
	// (backup eligible) or carry no attestation, as synced passkeys do.
	AllowSynced   bool   `toml:"allow_synced"`
	TrustedCAFile string `toml:"trusted_ca_file"` // PEM attestation root certificates; optional
	// MDSFile is a FIDO Metadata Service (MDS3) BLOB as downloaded from
	// https://mds3.fidoalliance.org/, re-read every MDSRefresh; optional.
	MDSFile      string   `toml:"mds_file"`
	MDSRootFile  string   `toml:"mds_root_file"` // PEM root the BLOB chains to; empty: the FIDO Alliance's production root (go-webauthn's metadata.ProductionMDSRoot)
	MDSRefresh   Duration `toml:"mds_refresh"`   // how often mds_file is re-read
	DevicePaths  []string `toml:"device_paths"`  // absolute device paths polled besides libfido2's enumeration
	PollInterval Duration `toml:"poll_interval"` // how often keys are looked for (hot-plug)
	TouchTimeout Duration `toml:"touch_timeout"` // how long the kiosk waits for a touch
	SessionTTL   Duration `toml:"session_ttl"`   // how long a kiosk enrollment session lives
}

// User verification requirements (WebAuthn UserVerificationRequirement).
const (
	UVRequired    = "required"
	UVPreferred   = "preferred"
	UVDiscouraged = "discouraged"
)

// userVerifications lists the user verification requirements.
var userVerifications = []string{UVRequired, UVPreferred, UVDiscouraged}

// Attestation policies.
const (
	AttestationOptional = "optional" // keys without (verifiable) attestation are enrolled too
	AttestationRequired = "required" // keys must present attestation; with trusted_ca_file, chained to one of its roots
)

// Places where security keys and passkeys are registered, for
// require_attestation_for.
const (
	PlaceKiosk   = "kiosk"   // the enrollment kiosk, over USB
	PlaceBrowser = "browser" // the user's own browser (Security info page)
)

// AttestationRequiredFor reports whether registrations at place (PlaceKiosk,
// PlaceBrowser) must present a certificate attestation: place is listed in
// require_attestation_for, or attestation = "required".
func (f FIDO) AttestationRequiredFor(place string) bool {
	return f.Attestation == AttestationRequired || slices.Contains(f.RequireAttestationFor, place)
}

// UserVerificationRequired reports whether every ceremony must verify the
// user (PIN or biometrics) and not merely test presence.
func (f FIDO) UserVerificationRequired() bool { return f.UserVerification == UVRequired }

// Default texts.
const (
	defaultSMSEN         = "{issuer}: your sign-in code is {code}. It expires in {minutes} minutes. Never share it."
	defaultNumberMatchEN = "This is {issuer}. Someone is signing in to your account. To approve, enter the number shown on the sign-in screen, then press the pound key. If this was not you, press zero, then pound."
	defaultPoundEN       = "This is {issuer}. Someone is signing in to your account. To approve, press the pound key. If this was not you, press zero, then pound."
	defaultSMSJA         = "【{issuer}】確認コード：{code}（{minutes}分間有効）。他人に教えないでください。"
	defaultNumberMatchJA = "こちらは{issuer}です。お使いのアカウントへのサインインが試みられています。承認する場合は、サインイン画面に表示されている番号を入力し、続けてシャープを押してください。お心当たりがない場合は、ゼロを押してから、シャープを押してください。"
	defaultPoundJA       = "こちらは{issuer}です。お使いのアカウントへのサインインが試みられています。承認する場合は、シャープを押してください。お心当たりがない場合は、ゼロを押してから、シャープを押してください。"
)

// Default returns a configuration with every default set and no API clients.
func Default() *Config {
	return &Config{
		Server: Server{
			Listen:          "127.0.0.1:8470",
			ReadTimeout:     D(10 * time.Second),
			WriteTimeout:    D(40 * time.Second),
			IdleTimeout:     D(120 * time.Second),
			ShutdownTimeout: D(15 * time.Second),
		},
		Store: Store{Driver: DriverSQLite, Path: "/var/lib/mfagate/mfagate.db", Lease: D(30 * time.Second),
			RetentionChallenges: D(30 * day), RetentionOutbox: D(30 * day), RetentionAudit: D(400 * day)},
		Secrets: Secrets{KeyFile: "/etc/mfagate/secret.key"},
		Policy: Policy{
			CodeLength:             6,
			CodeTTL:                D(5 * time.Minute),
			MaxAttempts:            5,
			MaxConsecutiveFailures: 100,
			PhoneChallengesPerUser: 5,
			PhoneChallengeWindow:   D(15 * time.Minute),
			ActivationDelay:        D(40 * time.Minute),
			ProofMaxAge:            D(10 * time.Minute),
			UserIDPattern:          `^[0-9]{10}$`,
			DefaultRegion:          "JP",
			AllowedRegions:         []string{"JP"},
			VoiceConfirmation:      VoiceNumberMatch,
			TAPMaxLifetime:         D(8 * time.Hour),
			TAPAllowedFor:          []string{"enroll", "admin"},
		},
		TOTP: TOTP{Issuer: "mfagate", Digits: 6, Period: D(30 * time.Second), Skew: 1},
		Messages: Messages{
			DefaultLanguage: "ja",
			JA:              Language{SMS: defaultSMSJA, VoiceNumberMatch: defaultNumberMatchJA, VoicePound: defaultPoundJA},
			EN:              Language{SMS: defaultSMSEN, VoiceNumberMatch: defaultNumberMatchEN, VoicePound: defaultPoundEN},
		},
		Voice: Voice{RingTimeout: D(30 * time.Second), InputTimeout: D(20 * time.Second)},
		FIDO: FIDO{
			RPID:                  "localhost",
			RPName:                "mfagate",
			Origin:                "https://localhost",
			MinPINLength:          6,
			UserVerification:      UVRequired,
			AAGUIDAllow:           []string{},
			AAGUIDDeny:            []string{},
			Attestation:           AttestationOptional,
			AllowSynced:           true,
			MDSRefresh:            D(24 * time.Hour),
			RequireAttestationFor: []string{},
			DevicePaths:           []string{},
			PollInterval:          D(time.Second),
			TouchTimeout:          D(30 * time.Second),
			SessionTTL:            D(15 * time.Minute),
		},
		OIDC: OIDC{
			KeyRotation:     D(90 * 24 * time.Hour),
			KeyPublishAhead: D(48 * time.Hour),
			TokenTTL:        D(5 * time.Minute),
		},
	}
}

// setDefaults gives the modem the defaults of the keys it leaves zero.
func (m *Modem) setDefaults() {
	if m.Channels == nil {
		m.Channels = slices.Clone(modemChannels)
	}
	if m.Baud == 0 {
		m.Baud = defaultBaud
	}
}

// Load reads the configuration file at path and parses it with Parse,
// resolving relative paths in it against the file's directory. Problems name
// the file and line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(data, filepath.Dir(abs), path)
}

// Parse decodes a TOML configuration over Default(), strictly: a syntax error
// is a *SyntaxError, and unknown keys, values of the wrong type and values
// Validate refuses are *Problem values joined together, sorted by line.
// Relative paths in the file (api.client.token_file, store.path,
// secrets.key_file, fido.trusted_ca_file, mds_file, mds_root_file) are made absolute against baseDir
// before validation, and token files and the CA file are read (see
// Validate).
//
// policy.allowed_regions defaults to [policy.default_region].
func Parse(data []byte, baseDir string) (*Config, error) {
	return parse(data, baseDir, "")
}

func parse(data []byte, baseDir, file string) (*Config, error) {
	cfg := Default()
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) && len(md.Keys()) == 0 {
			return nil, newSyntaxError(pe, data, file)
		}
		// A value of the wrong type. The library stops at the first one;
		// check every key ourselves so that all of them are reported.
		ps := typeProblems(data, md)
		if len(ps) == 0 {
			if file != "" {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			return nil, err
		}
		return nil, locate(ps, data, file)
	}
	ps := unknownKeys(md, data, true)
	modemDefaults(cfg, data)
	oidcClientDefaults(cfg, data)
	radiusClientDefaults(cfg, data)
	selfServiceDefaults(cfg, data)
	if !md.IsDefined("policy", "allowed_regions") {
		cfg.Policy.AllowedRegions = []string{cfg.Policy.DefaultRegion}
	}
	cfg.resolvePaths(baseDir)
	ps = append(ps, cfg.problems()...)
	if len(ps) > 0 {
		return nil, locate(ps, data, file)
	}
	return cfg, nil
}

// modemDefaults sets channels and baud of each [[modem]] entry that does not
// write them. Default() cannot: it has no entries, and the decoder creates
// each one from zero. Keys that are written, even as 0 or [], are left for
// validation to judge.
func modemDefaults(cfg *Config, data []byte) {
	if len(cfg.Modems) == 0 {
		return
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return
	}
	elems, _ := tableElems(raw["modem"])
	for i := range cfg.Modems {
		var e map[string]any
		if i < len(elems) {
			e = elems[i]
		}
		m := &cfg.Modems[i]
		if _, ok := e["channels"]; !ok {
			m.Channels = slices.Clone(modemChannels)
		}
		if _, ok := e["baud"]; !ok {
			m.Baud = defaultBaud
		}
	}
}

// resolvePaths makes relative file paths absolute against baseDir.
func (c *Config) resolvePaths(baseDir string) {
	abs := func(p string) string {
		p = expandCredentials(p)
		if p == "" || filepath.IsAbs(p) || baseDir == "" {
			return p
		}
		return filepath.Join(baseDir, p)
	}
	if c.Store.Path != ":memory:" {
		c.Store.Path = abs(c.Store.Path)
	}
	c.Secrets.KeyFile = abs(c.Secrets.KeyFile)
	for i, f := range c.Secrets.PreviousKeyFiles {
		c.Secrets.PreviousKeyFiles[i] = abs(f)
	}
	c.Store.PasswordFile = abs(c.Store.PasswordFile)
	for i := range c.API.Clients {
		c.API.Clients[i].TokenFile = abs(c.API.Clients[i].TokenFile)
	}
	c.FIDO.TrustedCAFile = abs(c.FIDO.TrustedCAFile)
	c.FIDO.MDSFile = abs(c.FIDO.MDSFile)
	c.FIDO.MDSRootFile = abs(c.FIDO.MDSRootFile)
	if c.PrivacyIDEA != nil {
		c.PrivacyIDEA.PasswordFile = abs(c.PrivacyIDEA.PasswordFile)
		c.PrivacyIDEA.ResponseKeyFile = abs(c.PrivacyIDEA.ResponseKeyFile)
	}
	if c.SelfService != nil {
		c.SelfService.ClientSecretFile = abs(c.SelfService.ClientSecretFile)
	}
	if c.Console != nil {
		c.Console.ClientSecretFile = abs(c.Console.ClientSecretFile)
	}
	if c.Radius != nil {
		for i := range c.Radius.Clients {
			cl := &c.Radius.Clients[i]
			cl.SecretFile, cl.UpstreamSecretFile = abs(cl.SecretFile), abs(cl.UpstreamSecretFile)
		}
	}
}

// expandCredentials replaces a leading ${CREDENTIALS_DIRECTORY} with the
// directory systemd passes to a service started with LoadCredential=, so
// that secrets.key_file and token files can name credentials. No other
// variable is expanded.
func expandCredentials(p string) string {
	const v = "${CREDENTIALS_DIRECTORY}"
	if rest, ok := strings.CutPrefix(p, v); ok {
		if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			return filepath.Join(dir, rest)
		}
	}
	return p
}

// locate fills in file and line of each problem and joins them.
func locate(ps []*Problem, data []byte, file string) error {
	ki := indexKeys(data)
	for _, p := range ps {
		p.File = file
		if p.Line == 0 {
			p.Line = ki.line(p.Key)
		}
	}
	return joinProblems(ps)
}

// OIDC makes mfagate an OpenID provider for Microsoft Entra ID's External
// MFA. It is off while Issuer is empty.
type OIDC struct {
	// Issuer is the provider's identifier and base URL, exactly as Entra
	// compares it with the discovery document and the tokens' iss: https,
	// no trailing slash ("http://localhost…" and loopback IPs for tests).
	Issuer string `toml:"issuer"`
	// KeyRotation is how long one signing key signs before the next one
	// takes over.
	KeyRotation Duration `toml:"key_rotation"`
	// KeyPublishAhead is how long a new key is published in the JWKS before
	// it signs: Entra caches provider metadata for 24 hours.
	KeyPublishAhead Duration `toml:"key_publish_ahead"`
	// TokenTTL is the lifetime of the id_tokens sent back to Entra.
	TokenTTL Duration     `toml:"token_ttl"`
	Clients  []OIDCClient `toml:"client"` // [[oidc.client]]
}

// Enabled reports whether the OpenID provider is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// OIDCClient is one relying party of the OpenID provider: for Entra, the
// application registered for External MFA. Parse gives an entry that leaves
// out user_claim or user_pattern the default; in a Config built in Go, empty
// means the default, and Validate sets it.
type OIDCClient struct {
	ClientID     string   `toml:"client_id"`     // the application (client) ID Entra sends as client_id
	RedirectURIs []string `toml:"redirect_uris"` // where answers may be posted; compared exactly
	// HintIssuer is the iss of the id_token_hint, for Entra
	// "https://login.microsoftonline.com/<tenant-id>/v2.0"; its keys come
	// from HintIssuer + "/.well-known/openid-configuration".
	HintIssuer  string `toml:"hint_issuer"`
	HintJWKSURL string `toml:"hint_jwks_url"` // optional: the hint issuer's JWKS, skipping discovery
	UserClaim   string `toml:"user_claim"`    // the hint claim naming the user (default "preferred_username")
	// UserPattern is a regular expression anchored with ^ and with exactly
	// one capture group, which yields the mfagate user ID from UserClaim.
	UserPattern string         `toml:"user_pattern"`
	User        *regexp.Regexp `toml:"-"` // compiled UserPattern, filled by Validate
}

// Defaults of [[oidc.client]] keys.
const (
	DefaultOIDCUserClaim   = "preferred_username"
	DefaultOIDCUserPattern = `^([0-9]{10})@`
)

func (c *OIDCClient) setDefaults() {
	if c.UserClaim == "" {
		c.UserClaim = DefaultOIDCUserClaim
	}
	if c.UserPattern == "" {
		c.UserPattern = DefaultOIDCUserPattern
	}
}

// oidcClientDefaults sets user_claim and user_pattern of each
// [[oidc.client]] entry that does not write them, as modemDefaults does for
// modems: a key written as "" is left for validation to refuse.
func oidcClientDefaults(cfg *Config, data []byte) {
	if len(cfg.OIDC.Clients) == 0 {
		return
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return
	}
	o, _ := raw["oidc"].(map[string]any)
	elems, _ := tableElems(o["client"])
	for i := range cfg.OIDC.Clients {
		var e map[string]any
		if i < len(elems) {
			e = elems[i]
		}
		c := &cfg.OIDC.Clients[i]
		if _, ok := e["user_claim"]; !ok {
			c.UserClaim = DefaultOIDCUserClaim
		}
		if _, ok := e["user_pattern"]; !ok {
			c.UserPattern = DefaultOIDCUserPattern
		}
	}
}

// PrivacyIDEA answers privacyIDEA's validate API (/validate/check,
// /validate/triggerchallenge, /validate/polltransaction, /auth), so that the
// identity-provider plugins written for privacyIDEA can use mfagate. It is
// on when the [privacyidea] section is present.
type PrivacyIDEA struct {
	// Allow lists the networks (CIDRs) whose clients may call the API;
	// empty means loopback only (Validate fills in DefaultPrivacyIDEAAllow).
	Allow []string `toml:"allow"`
	// Realm, when set, is the only realm a request may name; requests
	// without a realm are accepted.
	Realm string `toml:"realm"`
	// ServiceAccount and PasswordFile are the credentials /auth accepts for
	// the routes privacyIDEA protects (/validate/triggerchallenge); both or
	// neither.
	ServiceAccount string `toml:"service_account"`
	PasswordFile   string `toml:"password_file"`
	// Trigger is a pass value that, like an empty pass, asks for a
	// challenge instead of being checked as a code ("": only empty).
	Trigger string `toml:"trigger"`
	// MFAOff decides what users whose MFA is off or pending get: "reject"
	// (the default) or "accept" (privacyIDEA's passthru policy).
	MFAOff string `toml:"mfa_off"`
	// ResponseKeyFile is the RSA key that signs every response, as
	// privacyIDEA signs them; the daemon creates it (mode 0600) when the
	// file does not exist. Default DefaultPrivacyIDEAResponseKey.
	ResponseKeyFile string `toml:"response_key_file"`
	// ResponseSignature is how answers are signed: "rsa_sha256_pss"
	// (privacyIDEA's scheme, the default) or "none" (privacyIDEA's
	// PI_NO_RESPONSE_SIGN), which saves the signature's CPU on every
	// answer where no plugin checks it.
	ResponseSignature string `toml:"response_signature"`

	Networks     []netip.Prefix `toml:"-"` // parsed Allow, filled by Validate
	PasswordHash [32]byte       `toml:"-"` // SHA-256 of the password, filled by Validate
}

// DefaultPrivacyIDEAAllow is who may call the privacyIDEA API when
// [privacyidea] allow is not set: this host only.
var DefaultPrivacyIDEAAllow = []string{"127.0.0.0/8", "::1/128"}

// DefaultPrivacyIDEAResponseKey is where the response-signing key is kept
// when [privacyidea] response_key_file is not set: the state directory.
const DefaultPrivacyIDEAResponseKey = "/var/lib/mfagate/privacyidea-response.pem"

// Values of [privacyidea] response_signature.
const (
	SignatureRSAPSS = "rsa_sha256_pss"
	SignatureNone   = "none"
)

// Values of [privacyidea] mfa_off.
const (
	MFAOffReject = "reject"
	MFAOffAccept = "accept"
)
