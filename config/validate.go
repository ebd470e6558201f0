package config

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Validate checks every value and returns all problems at once, joined with
// errors.Join (each a *Problem, in field order, without line numbers: Parse
// and Load add those). On the way it fills Policy.UserID and each client's
// TokenHash, from token_sha256 or by reading token_file (a relative
// token_file is relative to the working directory here; Parse resolves it
// against the configuration file's directory first). It also gives each
// modem with nil Channels or zero Baud the defaults, and each modem on a
// "sim:<profile>" port without a Profile that profile. It fills
// FIDO.AAGUIDs from fido.aaguid_allow and FIDO.AAGUIDsDenied from
// fido.aaguid_deny, reads fido.trusted_ca_file and fido.mds_root_file and
// checks that fido.mds_file can be read (its signature is checked when the
// daemon loads it, at start and at every mds_refresh) (a relative path is relative to the working directory, as for token_file).
func (c *Config) Validate() error {
	for i := range c.Modems {
		c.Modems[i].setDefaults()
	}
	for i := range c.OIDC.Clients {
		c.OIDC.Clients[i].setDefaults()
	}
	return joinProblems(c.problems())
}

// checker collects problems.
type checker struct{ ps []*Problem }

func (ck *checker) add(key, value, format string, args ...any) {
	ck.ps = append(ck.ps, &Problem{Key: key, Value: value, Msg: fmt.Sprintf(format, args...)})
}

func q(s string) string { return shorten(strconv.Quote(s)) }

func qd(d Duration) string { return strconv.Quote(d.String()) }

func (ck *checker) intRange(key string, v, lo, hi int, why string) {
	if v < lo || v > hi {
		ck.add(key, strconv.Itoa(v), "must be from %d to %d%s", lo, hi, why)
	}
}

func (ck *checker) durRange(key string, d Duration, lo, hi time.Duration, why string) {
	switch {
	case d.Duration < lo && lo == 0:
		ck.add(key, qd(d), "must not be negative")
	case d.Duration < lo:
		ck.add(key, qd(d), "must be at least %s%s", formatDuration(lo), why)
	case d.Duration > hi:
		ck.add(key, qd(d), "must be at most %s%s", formatDuration(hi), why)
	}
}

func (c *Config) problems() []*Problem {
	ck := &checker{}
	c.Server.check(ck)
	c.Store.check(ck)
	if c.Secrets.KeyFile == "" {
		ck.add("secrets.key_file", `""`, "must name the file holding the 32-byte server key (default %q)", Default().Secrets.KeyFile)
	}
	c.Secrets.checkPrevious(ck)
	c.checkClients(ck)
	c.Policy.check(ck)
	c.TOTP.check(ck)
	c.checkMessages(ck)
	c.checkModems(ck)
	c.Voice.check(ck)
	c.FIDO.check(ck)
	c.OIDC.check(ck)
	if c.PrivacyIDEA != nil {
		c.PrivacyIDEA.check(ck)
	}
	if c.Radius != nil {
		c.Radius.check(ck, c.Messages.DefaultLanguage)
	}
	if c.SelfService != nil {
		c.SelfService.check(ck, c.FIDO.Origin)
	}
	if c.Console != nil {
		c.Console.check(ck, c.FIDO.Origin)
	}
	return ck.ps
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func (s Server) check(ck *checker) {
	const listenHelp = `must be "host:port" (like "127.0.0.1:8470" or "[::1]:8470") or "unix:" and an absolute socket path (like "unix:/run/mfagate/api.sock")`
	if path, ok := s.IsUnix(); ok {
		switch {
		case !filepath.IsAbs(path):
			ck.add("server.listen", q(s.Listen), "the socket path must be absolute, like \"unix:/run/mfagate/api.sock\"")
		case len(path) > 107:
			ck.add("server.listen", q(s.Listen), "the socket path is %d bytes long; unix sockets allow at most 107", len(path))
		}
	} else if host, port, err := net.SplitHostPort(s.Listen); err != nil {
		ck.add("server.listen", q(s.Listen), listenHelp)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		ck.add("server.listen", q(s.Listen), "the port must be a number from 1 to 65535")
	} else if host != "" && net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
		ck.add("server.listen", q(s.Listen), "%q is neither an IP address nor a host name; %s", host, listenHelp)
	}
	ck.durRange("server.read_timeout", s.ReadTimeout, time.Second, 10*time.Minute, "")
	if s.WriteTimeout.Duration <= LongPollMax {
		ck.add("server.write_timeout", qd(s.WriteTimeout), "must be longer than %s, the longest long-poll request (default %s)", formatDuration(LongPollMax), Default().Server.WriteTimeout)
	} else {
		ck.durRange("server.write_timeout", s.WriteTimeout, 0, 10*time.Minute, "")
	}
	ck.durRange("server.idle_timeout", s.IdleTimeout, time.Second, time.Hour, "")
	ck.durRange("server.shutdown_timeout", s.ShutdownTimeout, time.Second, 10*time.Minute, "")
	if s.Node != "" && !nodeRE.MatchString(s.Node) {
		ck.add("server.node", q(s.Node), "must be 1 to 63 letters, digits, '.', '_' or '-' (default: the host name)")
	}
}

// nodeRE is what a node name may look like: it shows in metrics labels,
// logs and status pages.
var nodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// minRetention is the shortest retention a [store] retention_* key takes.
const minRetention = 24 * time.Hour

func (s Store) check(ck *checker) {
	ck.durRange("store.lease", s.Lease, 3*time.Second, 10*time.Minute,
		"a job held by a node that died waits this long before another node sends it")
	for _, r := range []struct {
		key  string
		d    Duration
		what string
	}{
		{"store.retention_challenges", s.RetentionChallenges, "an identity provider reads a finished sign-in back, and rate limits look back, for up to a day"},
		{"store.retention_outbox", s.RetentionOutbox, "the outbox is how an operator finds out why an SMS did not arrive"},
		{"store.retention_audit", s.RetentionAudit, "the audit log is how staff find out who changed what"},
	} {
		switch {
		case r.d.Duration < 0:
			ck.add(r.key, qd(r.d), "must not be negative (0 keeps the records forever)")
		case r.d.Duration > 0 && r.d.Duration < minRetention:
			ck.add(r.key, qd(r.d), "must be 0 (keep forever) or at least 1d: %s", r.what)
		}
	}
	switch s.Driver {
	case DriverSQLite:
		if s.Path == "" {
			ck.add("store.path", `""`, "must name the SQLite database file (default %q)", Default().Store.Path)
		}
	case DriverPostgres:
		if strings.TrimSpace(s.DSN) == "" {
			ck.add("store.dsn", `""`, "must name the PostgreSQL database, like \"host=db.example.ac.jp dbname=mfagate user=mfagate\" (store.driver is \"postgres\")")
		} else if dsnHasPassword(s.DSN) {
			ck.add("store.dsn", "(not shown)", "must not contain a password: put it in the file store.password_file names")
		}
		if s.PasswordFile != "" {
			if fi, err := os.Stat(s.PasswordFile); err != nil {
				ck.add("store.password_file", q(s.PasswordFile), "cannot be read: %v", err)
			} else if fi.Mode().Perm()&0o004 != 0 {
				ck.add("store.password_file", q(s.PasswordFile), "is readable by every user: chmod o-r it")
			}
		}
	default:
		ck.add("store.driver", q(s.Driver), "must be \"sqlite\" or \"postgres\"")
	}
}

// dsnHasPassword reports whether a PostgreSQL connection string carries a
// password (URL user:password@ or a password= key).
func dsnHasPassword(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		_, set := u.User.Password()
		return set || u.Query().Has("password")
	}
	for _, f := range strings.Fields(dsn) {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == "password" {
			return true
		}
	}
	return false
}

var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// minTokenLen is the shortest bearer token accepted from a token file.
const minTokenLen = 16

func (c *Config) checkClients(ck *checker) {
	names := map[string]string{}    // name → key of the client that has it
	hashes := map[[32]byte]string{} // token hash → key of the client that has it
	for i := range c.API.Clients {
		cl := &c.API.Clients[i]
		cl.TokenHash = [32]byte{} // never keep a hash from an earlier, different token
		key := fmt.Sprintf("api.client[%d]", i)
		switch {
		case !clientNameRE.MatchString(cl.Name):
			ck.add(key+".name", q(cl.Name), "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the client in logs and metrics)")
		case names[cl.Name] != "":
			ck.add(key+".name", q(cl.Name), "is already the name of %s; client names must be unique", names[cl.Name])
		default:
			names[cl.Name] = key
		}

		cl.TokenHashes = nil
		// A hash given in code joins the list, so that the configuration
		// encodes to TOML as it was validated.
		if cl.TokenSHA256 != "" {
			cl.TokenSHA256s = append(StringList{cl.TokenSHA256}, cl.TokenSHA256s...)
			cl.TokenSHA256 = ""
		}
		sums := cl.TokenSHA256s
		switch {
		case len(sums) > 0 && cl.TokenFile != "":
			ck.add(key, "", "has both token_sha256 and token_file; give exactly one (during a token change-over, list the hashes of both tokens in token_sha256)")
		case len(sums) == 0 && cl.TokenFile == "":
			ck.add(key, "", "needs token_sha256 (the SHA-256 of its token, 64 hex characters) or token_file (a file holding the token)")
		case len(sums) > MaxClientTokens:
			ck.add(key+".token_sha256", "", "lists %d hashes; at most %d tokens are accepted per client at once: remove the tokens no longer in use", len(sums), MaxClientTokens)
		case len(sums) > 0:
			for j, sum := range sums {
				hk := key + ".token_sha256"
				if len(cl.TokenSHA256s) > 1 {
					hk = fmt.Sprintf("%s[%d]", hk, j)
				}
				b, err := hex.DecodeString(sum)
				if err != nil || len(b) != sha256.Size {
					// The value is a hash, not a token, but it is not shown anyway.
					ck.add(hk, "", "must be 64 hex characters (the SHA-256 of the token, as printed by sha256sum or mfagatectl token new); got %d characters", len(sum))
					continue
				}
				var h [32]byte
				copy(h[:], b)
				if slices.Contains(cl.TokenHashes, h) {
					ck.add(hk, "", "repeats a hash listed before it; list each token once")
					continue
				}
				cl.TokenHashes = append(cl.TokenHashes, h)
			}
		default:
			if h, msg := hashTokenFile(cl.TokenFile); msg != "" {
				ck.add(key+".token_file", q(cl.TokenFile), "%s", msg)
			} else {
				cl.TokenHashes = append(cl.TokenHashes, h)
			}
		}
		if len(cl.TokenHashes) > 0 {
			cl.TokenHash = cl.TokenHashes[0]
		}
		for _, h := range cl.TokenHashes {
			if other, dup := hashes[h]; dup && other != key {
				ck.add(key, "", "has the same token as %s; each client needs its own token", other)
			} else {
				hashes[h] = key
			}
		}

		if len(cl.Roles) == 0 {
			ck.add(key+".roles", formatValue(toAny(cl.Roles)), "must list at least one of %s", quoteList(Roles))
		}
		seen := map[string]bool{}
		for j, r := range cl.Roles {
			rk := fmt.Sprintf("%s.roles[%d]", key, j)
			switch {
			case !slices.Contains(Roles, r):
				ck.add(rk, q(r), "is not a role; roles are %s", quoteList(Roles))
			case seen[r]:
				ck.add(rk, q(r), "is listed twice")
			}
			seen[r] = true
		}
	}
}

var modemIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

const portHelp = `must be an absolute device path (ideally a udev symlink like /dev/mfagate/<id>) or "sim:<profile>"`

// checkModems checks the [[modem]] entries. It does not look for the
// devices: the daemon waits for a port that is absent (a modem unplugged or
// not yet enumerated).
func (c *Config) checkModems(ck *checker) {
	ids := map[string]string{}   // id → key of the modem that has it
	ports := map[string]string{} // cleaned device path → key of the modem that has it
	for i := range c.Modems {
		m := &c.Modems[i]
		key := fmt.Sprintf("modem[%d]", i)
		switch {
		case !modemIDRE.MatchString(m.ID):
			ck.add(key+".id", q(m.ID), "must be 1 to 32 letters, digits, '_' or '-', starting with a letter or digit (it names the modem in logs, metrics and the admin API)")
		case ids[m.ID] != "":
			ck.add(key+".id", q(m.ID), "is already the id of %s; modem ids must be unique", ids[m.ID])
		default:
			ids[m.ID] = key
		}

		sim, isSim := m.SimProfile()
		simOK := isSim && slices.Contains(ModemProfiles, sim)
		switch {
		case m.Port == "":
			ck.add(key+".port", `""`, "is required; it %s", portHelp)
		case isSim && !simOK:
			ck.add(key+".port", q(m.Port), "%q is not a modem profile; a simulated modem is \"sim:\" and one of %s", sim, quoteList(ModemProfiles))
		case isSim:
			// Each "sim:" entry runs a simulator of its own, so two may
			// share a port name.
		case !filepath.IsAbs(m.Port):
			ck.add(key+".port", q(m.Port), portHelp)
		default:
			p := filepath.Clean(m.Port)
			if other := ports[p]; other != "" {
				ck.add(key+".port", q(m.Port), "is already the port of %s; each modem needs a port of its own", other)
			} else {
				ports[p] = key
			}
		}

		switch {
		case simOK && m.Profile == "":
			m.Profile = sim
		case simOK && m.Profile != sim:
			ck.add(key+".profile", q(m.Profile), "must be %q, the profile port %q simulates, or be left out", sim, m.Port)
		case m.Profile == "" && !isSim:
			ck.add(key+".profile", `""`, "is required for a device port: one of %s", quoteList(ModemProfiles))
		case m.Profile != "" && !slices.Contains(ModemProfiles, m.Profile):
			ck.add(key+".profile", q(m.Profile), "is not a modem profile; profiles are %s", quoteList(ModemProfiles))
		}

		if len(m.Channels) == 0 {
			ck.add(key+".channels", "[]", "must list at least one of %s", quoteList(modemChannels))
		}
		seen := map[string]bool{}
		for j, ch := range m.Channels {
			ck2 := fmt.Sprintf("%s.channels[%d]", key, j)
			switch {
			case !slices.Contains(modemChannels, ch):
				ck.add(ck2, q(ch), "is not a channel; channels are %s", quoteList(modemChannels))
			case seen[ch]:
				ck.add(ck2, q(ch), "is listed twice")
			}
			seen[ch] = true
		}

		switch {
		case m.DailyCap < 0 || m.DailyCap > maxDailyCap:
			ck.intRange(key+".daily_cap", m.DailyCap, 0, maxDailyCap, " SMS per day; 0 means no cap")
		case m.DailyCap > 0 && len(m.Channels) > 0 && !seen[ChannelSMS]:
			ck.add(key+".daily_cap", strconv.Itoa(m.DailyCap), "counts SMS, but this modem has no \"sms\" channel; add \"sms\" to channels or leave daily_cap out")
		}

		if !slices.Contains(baudRates, m.Baud) {
			rates := make([]string, len(baudRates))
			for j, r := range baudRates {
				rates[j] = strconv.Itoa(r)
			}
			ck.add(key+".baud", strconv.Itoa(m.Baud), "must be one of %s (default %d)", strings.Join(rates, ", "), defaultBaud)
		}
	}
}

func (v Voice) check(ck *checker) {
	ck.durRange("voice.ring_timeout", v.RingTimeout, 5*time.Second, 2*time.Minute, " (how long a call may ring before it counts as no answer)")
	ck.durRange("voice.input_timeout", v.InputTimeout, 5*time.Second, 2*time.Minute, " (how long to wait for the callee's keys)")
	for key, f := range map[string]string{"voice.prompt_file_ja": v.PromptFileJA, "voice.prompt_file_en": v.PromptFileEN} {
		if len(f) > 100 || strings.ContainsAny(f, "\"\r\n") {
			ck.add(key, q(f), "must be a file name on the modem (like \"UFS:prompt_ja.wav\" or \"c:/prompt_ja.amr\"), at most 100 characters, without quotes or line breaks")
		}
	}
}

const domainHelp = `must be a domain name in lower case (an internationalized one in its xn-- form), without scheme, port or path, like "login.example.ac.jp"`

var domainLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkDomain returns what is wrong with a domain name as WebAuthn takes it
// (lower-case ASCII labels, not an IP address), or "".
func checkDomain(name string) string {
	switch {
	case name == "":
		return "is empty; it " + domainHelp
	case net.ParseIP(strings.Trim(name, "[]")) != nil:
		return "must be a domain name, not an IP address (WebAuthn does not accept IP addresses)"
	case len(name) > 253:
		return fmt.Sprintf("is %d bytes long; a domain name has at most 253", len(name))
	case name != strings.ToLower(name) && checkDomain(strings.ToLower(name)) == "":
		return fmt.Sprintf("must be in lower case, as browsers compare it: write %q", strings.ToLower(name))
	}
	for _, l := range strings.Split(name, ".") {
		if !domainLabelRE.MatchString(l) {
			return domainHelp
		}
	}
	return ""
}

// checkRPID returns what is wrong with a relying party ID, or "".
func checkRPID(id string) string {
	if strings.Contains(id, "://") {
		if u, err := url.Parse(id); err == nil && u.Hostname() != "" {
			return fmt.Sprintf("is a URL; write only its host name: %q", strings.ToLower(u.Hostname()))
		}
		return domainHelp
	}
	if strings.ContainsAny(id, ":/") && net.ParseIP(strings.Trim(id, "[]")) == nil {
		return "must not contain a port or path; it " + domainHelp
	}
	if msg := checkDomain(id); msg != "" {
		return msg
	}
	if !strings.Contains(id, ".") && id != "localhost" {
		return `is a single label, which is not a registrable domain; use the identity provider's domain name, like "login.example.ac.jp" ("localhost" only for testing)`
	}
	return ""
}

// checkOrigin returns what is wrong with a WebAuthn origin, or "". If rpID
// is valid, the origin's host must be it or a subdomain of it.
func checkOrigin(origin, rpID string, rpOK bool) string {
	const help = `must be "https://" and a host name, with a port only if it is not 443, like "https://login.example.ac.jp"`
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return help
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return help
	case u.User != nil:
		return "must not contain a user name; it " + help
	case u.Scheme == "http" && strings.ToLower(host) != "localhost":
		return `must use https; plain http is allowed only for "http://localhost", for testing`
	case u.Port() == "" && strings.HasSuffix(u.Host, ":"),
		port != "" && !isPort(port):
		return "the port must be a number from 1 to 65535"
	}
	if msg := checkDomain(host); msg != "" {
		return "the host " + msg
	}
	canon := u.Scheme + "://" + strings.ToLower(host)
	if n, _ := strconv.Atoi(port); port != "" && !(u.Scheme == "https" && n == 443 || u.Scheme == "http" && n == 80) {
		canon += ":" + strconv.Itoa(n)
	}
	if origin != canon {
		return fmt.Sprintf("is not written as browsers send it (scheme, host and a port other than the default; no path): write %q", canon)
	}
	if rpOK && host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Sprintf("the origin's host must be fido.rp_id (%q) or a subdomain of it (WebAuthn)", rpID)
	}
	return ""
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// parseUUID parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in either case.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	b, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if err != nil {
		return u, false
	}
	copy(u[:], b)
	return u, true
}

// check checks [fido] and fills AAGUIDs and AAGUIDsDenied. It reads trusted_ca_file but
// does not look for device_paths: keys come and go (hot-plug), and a
// software key's pty exists only while it runs.
func (f *FIDO) check(ck *checker) {
	rpMsg := checkRPID(f.RPID)
	if rpMsg != "" {
		ck.add("fido.rp_id", q(f.RPID), "%s", rpMsg)
	}
	switch {
	case strings.TrimSpace(f.RPName) == "":
		ck.add("fido.rp_name", q(f.RPName), "must name the service, as browsers and security keys show it (default %q)", Default().FIDO.RPName)
	case strings.ContainsFunc(f.RPName, unicode.IsControl):
		ck.add("fido.rp_name", q(f.RPName), "must not contain control characters")
	case utf8.RuneCountInString(f.RPName) > 64:
		ck.add("fido.rp_name", q(f.RPName), "is %d characters long; use at most 64", utf8.RuneCountInString(f.RPName))
	}
	if msg := checkOrigin(f.Origin, f.RPID, rpMsg == ""); msg != "" {
		ck.add("fido.origin", q(f.Origin), "%s", msg)
	}
	ck.intRange("fido.min_pin_length", f.MinPINLength, 4, 63, " (CTAP2 PINs are 4 to 63 bytes)")
	if !slices.Contains(userVerifications, f.UserVerification) {
		ck.add("fido.user_verification", q(f.UserVerification), "must be %q (a PIN or fingerprint at every use), %q or %q", UVRequired, UVPreferred, UVDiscouraged)
	}

	// Never keep models of an earlier list.
	f.AAGUIDs = checkAAGUIDs(ck, "fido.aaguid_allow", f.AAGUIDAllow)
	f.AAGUIDsDenied = checkAAGUIDs(ck, "fido.aaguid_deny", f.AAGUIDDeny)
	for i, s := range f.AAGUIDDeny {
		if u, ok := parseUUID(s); ok {
			if j := slices.Index(f.AAGUIDs, u); j >= 0 {
				ck.add(fmt.Sprintf("fido.aaguid_deny[%d]", i), q(s), "is also in fido.aaguid_allow (%q); a model cannot be both allowed and denied", f.AAGUIDAllow[j])
			}
		}
	}

	if f.Attestation != AttestationOptional && f.Attestation != AttestationRequired {
		ck.add("fido.attestation", q(f.Attestation), "must be %q (keys without attestation are enrolled too) or %q (the same as require_attestation_for = [%q, %q])", AttestationOptional, AttestationRequired, PlaceKiosk, PlaceBrowser)
	}
	for i, p := range f.RequireAttestationFor {
		key := fmt.Sprintf("fido.require_attestation_for[%d]", i)
		switch j := slices.Index(f.RequireAttestationFor, p); {
		case p != PlaceKiosk && p != PlaceBrowser:
			ck.add(key, q(p), "must be %q (keys enrolled at the kiosk) or %q (passkeys registered from the user's browser)", PlaceKiosk, PlaceBrowser)
		case j < i:
			ck.add(key, q(p), "is already listed as fido.require_attestation_for[%d]", j)
		}
	}
	if f.MDSFile != "" {
		if msg := checkReadable(f.MDSFile, "metadata BLOB file"); msg != "" {
			ck.add("fido.mds_file", q(f.MDSFile), "%s", msg)
		}
	}
	if f.MDSRootFile != "" {
		switch {
		case f.MDSFile == "":
			ck.add("fido.mds_root_file", q(f.MDSRootFile), "is set but fido.mds_file is not; the root verifies the metadata BLOB in mds_file")
		default:
			if msg := checkCAFile(f.MDSRootFile); msg != "" {
				ck.add("fido.mds_root_file", q(f.MDSRootFile), "%s", msg)
			} else if n := countCerts(f.MDSRootFile); n != 1 {
				ck.add("fido.mds_root_file", q(f.MDSRootFile), "holds %d certificates; it must hold the one root the metadata BLOB chains to", n)
			}
		}
	}
	ck.durRange("fido.mds_refresh", f.MDSRefresh, time.Minute, 31*24*time.Hour, " (how often mds_file is re-read; the FIDO Alliance publishes about monthly)")
	if f.TrustedCAFile != "" {
		if msg := checkCAFile(f.TrustedCAFile); msg != "" {
			ck.add("fido.trusted_ca_file", q(f.TrustedCAFile), "%s", msg)
		}
	}

	paths := map[string]int{}
	for i, p := range f.DevicePaths {
		key := fmt.Sprintf("fido.device_paths[%d]", i)
		if !filepath.IsAbs(p) {
			ck.add(key, q(p), `must be an absolute device path, like "/dev/hidraw3" or a software key's pty`)
			continue
		}
		c := filepath.Clean(p)
		if j, dup := paths[c]; dup {
			ck.add(key, q(p), "is already listed as fido.device_paths[%d]", j)
			continue
		}
		paths[c] = i
	}

	ck.durRange("fido.poll_interval", f.PollInterval, 200*time.Millisecond, 10*time.Second, " (how often keys are looked for)")
	ck.durRange("fido.touch_timeout", f.TouchTimeout, 5*time.Second, 2*time.Minute, " (how long the kiosk waits for a touch)")
	ck.durRange("fido.session_ttl", f.SessionTTL, time.Minute, 2*time.Hour, " (how long a kiosk enrollment session lives)")
}

// checkAAGUIDs parses a list of AAGUIDs, reporting malformed and repeated
// ones under key.
func checkAAGUIDs(ck *checker, key string, list []string) [][16]byte {
	var out [][16]byte
	seen := map[[16]byte]int{}
	for i, s := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		u, ok := parseUUID(s)
		if !ok {
			ck.add(k, q(s), `must be an AAGUID, a UUID like "cb69481e-8ff7-4039-93ec-0a2729a154a8" (it names a security key model)`)
			continue
		}
		if j, dup := seen[u]; dup {
			ck.add(k, q(s), "is already listed as %s[%d]", key, j)
			continue
		}
		seen[u] = i
		out = append(out, u)
	}
	return out
}

// checkReadable returns what keeps a regular file from being read, or "".
func checkReadable(path, what string) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s %s does not exist", what, path)
	case err != nil:
		return fmt.Sprintf("cannot read %s: %v", what, err)
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("%s %s is not a regular file", what, path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("cannot read %s: %v", what, err)
	}
	fh.Close()
	return ""
}

// countCerts counts the PEM blocks of a file checkCAFile accepted.
func countCerts(path string) int {
	data, _ := os.ReadFile(path)
	n := 0
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return n
		}
		n++
	}
}

// checkCAFile returns what is wrong with a file of PEM attestation root
// certificates, or "". The message names the file.
func checkCAFile(path string) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("CA file %s does not exist", path)
	case err != nil:
		return fmt.Sprintf("cannot read CA file: %v", err)
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("CA file %s is not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("cannot read CA file: %v", err)
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Sprintf("CA file %s holds a %q block; it must hold only certificates (\"-----BEGIN CERTIFICATE-----\")", path, b.Type)
		}
		n++
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Sprintf("certificate %d in CA file %s does not parse: %v", n, path, err)
		}
	}
	if n == 0 {
		return fmt.Sprintf("CA file %s holds no certificate; it must hold PEM certificates (\"-----BEGIN CERTIFICATE-----\")", path)
	}
	return ""
}

// hashTokenFile reads a token file and returns the SHA-256 of the trimmed
// token, or a message saying what is wrong with the file. The message never
// contains the token.
func hashTokenFile(path string) ([32]byte, string) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return [32]byte{}, fmt.Sprintf("token file %s does not exist", path)
	case err != nil:
		return [32]byte{}, fmt.Sprintf("cannot read token file: %v", err)
	case !fi.Mode().IsRegular():
		return [32]byte{}, fmt.Sprintf("token file %s is not a regular file", path)
	case fi.Mode().Perm()&0o004 != 0:
		return [32]byte{}, fmt.Sprintf("token file %s is readable by every user (mode %04o); run: chmod o-rwx %s", path, fi.Mode().Perm(), path)
	case fi.Mode().Perm()&0o002 != 0:
		return [32]byte{}, fmt.Sprintf("token file %s is writable by every user (mode %04o), so anyone could replace the token; run: chmod o-rwx %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, fmt.Sprintf("cannot read token file: %v", err)
	}
	tok := strings.TrimSpace(string(data))
	switch {
	case tok == "":
		return [32]byte{}, fmt.Sprintf("token file %s is empty", path)
	case len(tok) < minTokenLen:
		return [32]byte{}, fmt.Sprintf("the token in %s is %d characters long; use at least %d (for example the output of: openssl rand -hex 32)", path, len(tok), minTokenLen)
	case strings.ContainsFunc(tok, unicode.IsSpace):
		return [32]byte{}, fmt.Sprintf("the token in %s contains white space; a bearer token is one word", path)
	}
	return sha256.Sum256([]byte(tok)), ""
}

func quoteList(xs []string) string {
	qs := make([]string, len(xs))
	for i, x := range xs {
		qs[i] = strconv.Quote(x)
	}
	return strings.Join(qs, ", ")
}

const minCodeTTL = 30 * time.Second

const nistOOB = " (NIST SP 800-63B limits out-of-band codes to 10 minutes)"

func (p *Policy) check(ck *checker) {
	ck.intRange("policy.code_length", p.CodeLength, 6, 10, " digits (NIST SP 800-63B asks for at least 6)")
	ck.durRange("policy.code_ttl", p.CodeTTL, minCodeTTL, 10*time.Minute, nistOOB)
	ck.intRange("policy.max_attempts", p.MaxAttempts, 1, 10, " wrong codes per challenge")
	ck.intRange("policy.max_consecutive_failures", p.MaxConsecutiveFailures, 1, 100, " (NIST SP 800-63B allows at most 100 consecutive failures per account)")
	ck.intRange("policy.phone_challenges_per_user", p.PhoneChallengesPerUser, 1, 100, " per policy.phone_challenge_window")
	ck.durRange("policy.phone_challenge_window", p.PhoneChallengeWindow, time.Minute, 24*time.Hour, "")
	ck.durRange("policy.activation_delay", p.ActivationDelay, 0, 7*24*time.Hour, " (7 days)")
	ck.durRange("policy.proof_max_age", p.ProofMaxAge, time.Minute, 10*time.Minute, " (a proof is a verification at most 10 minutes old)")

	p.UserID = nil
	if msg := checkUserIDPattern(p.UserIDPattern); msg != "" {
		ck.add("policy.user_id_pattern", q(p.UserIDPattern), "%s", msg)
	} else {
		p.UserID = regexp.MustCompile(p.UserIDPattern)
	}

	regions := phonenumbers.GetSupportedRegions()
	regionMsg := func(r string) string {
		if up := strings.ToUpper(r); up != r && regions[up] {
			return fmt.Sprintf("region codes are upper case: write %q", up)
		}
		return `must be a two-letter ISO 3166 region code that libphonenumber knows, like "JP" or "US"`
	}
	if !regions[p.DefaultRegion] {
		ck.add("policy.default_region", q(p.DefaultRegion), "%s", regionMsg(p.DefaultRegion))
	}
	if len(p.AllowedRegions) == 0 {
		ck.add("policy.allowed_regions", "[]", "must list at least one region, like [%q]", p.DefaultRegion)
	}
	seen := map[string]bool{}
	for i, r := range p.AllowedRegions {
		key := fmt.Sprintf("policy.allowed_regions[%d]", i)
		switch {
		case !regions[r]:
			if r != p.DefaultRegion { // already reported
				ck.add(key, q(r), "%s", regionMsg(r))
			}
		case seen[r]:
			ck.add(key, q(r), "is listed twice")
		}
		seen[r] = true
	}
	if regions[p.DefaultRegion] && len(p.AllowedRegions) > 0 && !seen[p.DefaultRegion] {
		ck.add("policy.allowed_regions", formatValue(toAny(p.AllowedRegions)), "must include policy.default_region %q, the region of numbers written without a country code", p.DefaultRegion)
	}

	if p.VoiceConfirmation != VoiceNumberMatch && p.VoiceConfirmation != VoicePound {
		ck.add("policy.voice_confirmation", q(p.VoiceConfirmation), "must be %q (the callee keys the number shown on the sign-in screen) or %q (the callee presses #)", VoiceNumberMatch, VoicePound)
	}
	p.checkTAP(ck)
}

// checkTAP checks the Temporary Access Pass keys. The lifetime bounds are
// Entra ID's (10 minutes to 30 days).
func (p *Policy) checkTAP(ck *checker) {
	ck.durRange("policy.tap_max_lifetime", p.TAPMaxLifetime, 10*time.Minute, 30*24*time.Hour, " (a Temporary Access Pass lives 10 minutes to 30 days)")
	seen := map[string]bool{}
	for i, r := range p.TAPAllowedFor {
		key := fmt.Sprintf("policy.tap_allowed_for[%d]", i)
		switch {
		case r == "idp":
			ck.add(key, q(r), `may not issue passes: an "idp" client verifies sign-ins, and one that could also issue passes would verify its own; list "enroll" (the help desk) or "admin"`)
		case r != "enroll" && r != "admin":
			ck.add(key, q(r), `is not a role that may issue passes; use "enroll" or "admin" (an empty list lets nobody issue them)`)
		case seen[r]:
			ck.add(key, q(r), "is listed twice")
		}
		seen[r] = true
	}
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// checkUserIDPattern returns what is wrong with a user ID pattern, or "".
// The pattern must be anchored at both ends as a whole: `^a|b$` is not,
// since it matches any ID that merely contains "b" at its end.
func checkUserIDPattern(pat string) string {
	const help = "must be a regular expression anchored with ^ at the start and $ at the end, like `^[0-9]{10}$`"
	if pat == "" {
		return help
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return fmt.Sprintf("does not compile (%v); it %s", err, help)
	}
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	anchored := re.Op == syntax.OpConcat && len(re.Sub) >= 2 &&
		re.Sub[0].Op == syntax.OpBeginText && re.Sub[len(re.Sub)-1].Op == syntax.OpEndText
	if !anchored {
		if strings.HasPrefix(pat, "(?m)") || strings.Contains(pat, "(?m") {
			return "must not use multi-line mode (?m), where ^ and $ match at line breaks; it " + help
		}
		return "is not anchored as a whole; it " + help + " (wrap alternatives: `^(a|b)$`)"
	}
	if regexp.MustCompile(pat).MatchString("") {
		return "matches an empty user ID; require at least one character"
	}
	return ""
}

func (t *TOTP) check(ck *checker) {
	switch {
	case strings.TrimSpace(t.Issuer) == "":
		ck.add("totp.issuer", q(t.Issuer), "must name the service, as authenticator apps show it (default %q)", Default().TOTP.Issuer)
	case strings.Contains(t.Issuer, ":"):
		ck.add("totp.issuer", q(t.Issuer), "must not contain ':', which separates issuer and account in the otpauth label")
	case strings.ContainsFunc(t.Issuer, unicode.IsControl):
		ck.add("totp.issuer", q(t.Issuer), "must not contain control characters")
	case len(t.Issuer) > 64:
		ck.add("totp.issuer", q(t.Issuer), "is %d bytes long; use at most 64", len(t.Issuer))
	}
	if t.Digits != 6 && t.Digits != 8 {
		ck.add("totp.digits", strconv.Itoa(t.Digits), "must be 6 or 8 (what authenticator apps support)")
	}
	switch {
	case t.Period.Duration%time.Second != 0:
		ck.add("totp.period", qd(t.Period), "must be a whole number of seconds")
	default:
		ck.durRange("totp.period", t.Period, 15*time.Second, 2*time.Minute, " (NIST SP 800-63B: the code must change at least every 2 minutes)")
	}
	ck.intRange("totp.skew", t.Skew, 0, 2, " time steps either side of now")
}

// Placeholders each template may use; the first listed is required.
var (
	smsVars         = []string{"code", "minutes", "seconds", "issuer"}
	voiceMatchVars  = []string{"issuer", "minutes", "seconds"}
	voicePoundVars  = []string{"issuer", "minutes", "seconds"}
	numberWhySpoken = "the callee must read the number from the sign-in screen; a call that speaks it proves nothing"
)

func (c *Config) checkMessages(ck *checker) {
	m := c.Messages
	if !slices.Contains(Languages, m.DefaultLanguage) {
		ck.add("messages.default_language", q(m.DefaultLanguage), "must be one of %s", quoteList(Languages))
	}
	codeLen := min(max(c.Policy.CodeLength, 6), 10)
	vars := c.SMSVars(strings.Repeat("0", codeLen))
	for _, lang := range Languages {
		l := m.For(lang)
		base := "messages." + lang
		checkTemplate(ck, base+".sms", l.SMS, smsVars, "code", "")
		checkTemplate(ck, base+".voice_number_match", l.VoiceNumberMatch, voiceMatchVars, "", numberWhySpoken)
		checkTemplate(ck, base+".voice_pound", l.VoicePound, voicePoundVars, "", "there is no number to enter in this mode")
		// "1 minutes" would promise more time than a 30 s code has.
		if ttl := c.Policy.CodeTTL.Duration; ttl >= minCodeTTL && ttl < time.Minute {
			for _, t := range []struct{ key, tmpl string }{{".sms", l.SMS}, {".voice_number_match", l.VoiceNumberMatch}, {".voice_pound", l.VoicePound}} {
				if strings.Contains(t.tmpl, "{minutes}") {
					ck.add(base+t.key, q(t.tmpl), "states {minutes}, but policy.code_ttl = %s is under a minute: state {seconds} instead", ttl)
				}
			}
		}
		if strings.Contains(l.SMS, "{code}") {
			text := Render(l.SMS, vars)
			if size, limit, r := smsSize(text); size > limit {
				enc := fmt.Sprintf("%d GSM-7 septets", size)
				if r != 0 {
					enc = fmt.Sprintf("%d UCS-2 characters (%q is not in the GSM-7 alphabet)", size, r)
				}
				ck.add(base+".sms", q(l.SMS), "with a %d-digit code, the issuer %q and %s minutes it is %s, more than the %d that fit in one SMS; shorten it",
					codeLen, c.TOTP.Issuer, vars["minutes"], enc, limit)
			}
		}
	}
}

// checkTemplate checks a template's placeholders against the allowed ones.
func checkTemplate(ck *checker, key, tmpl string, allowed []string, required, numberWhy string) {
	if strings.TrimSpace(tmpl) == "" {
		ck.add(key, q(tmpl), "must not be empty")
		return
	}
	var list []string
	for _, a := range allowed {
		list = append(list, "{"+a+"}")
	}
	for _, name := range placeholders(tmpl) {
		switch {
		case slices.Contains(allowed, name):
		case name == "number" && numberWhy != "":
			ck.add(key, q(tmpl), "must not use {number}: %s", numberWhy)
		default:
			ck.add(key, q(tmpl), "unknown placeholder {%s}; this text may use %s", name, strings.Join(list, ", "))
		}
	}
	if required != "" && !strings.Contains(tmpl, "{"+required+"}") {
		ck.add(key, q(tmpl), "must contain {%s}", required)
	}
}

// checkOIDCURL returns what is wrong with a URL the OpenID provider serves or
// fetches, or "": https, or plain http to a loopback host for tests; no
// query, fragment or user name, and no trailing slash (paths are appended).
func checkOIDCURL(raw string, trailingSlashOK bool) string {
	const help = `must be an https URL, like "https://mfa.example.ac.jp" (plain http only to localhost or a loopback address, for testing)`
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return help
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	loopback := strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
	switch {
	case u.Scheme == "http" && !loopback:
		return `must use https; plain http is allowed only to localhost, 127.0.0.1 or [::1], for testing`
	case u.Scheme != "https" && u.Scheme != "http":
		return help
	case u.User != nil:
		return "must not contain a user name; it " + help
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a query or fragment; it " + help
	case u.Port() != "" && !isPort(u.Port()), u.Port() == "" && strings.HasSuffix(u.Host, ":"):
		return "the port must be a number from 1 to 65535"
	case !trailingSlashOK && strings.HasSuffix(u.Path, "/"):
		return fmt.Sprintf("must not end in '/' (paths such as /.well-known/openid-configuration are appended to it): write %q", strings.TrimRight(raw, "/"))
	}
	return ""
}

var oidcClientIDRE = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
var claimNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// check checks [oidc] and fills each client's User. Its durations are checked
// even while the provider is off, so that turning it on finds no surprise.
func (o *OIDC) check(ck *checker) {
	if o.Issuer != "" {
		if msg := checkOIDCURL(o.Issuer, false); msg != "" {
			ck.add("oidc.issuer", q(o.Issuer), "%s", msg)
		}
	} else if len(o.Clients) > 0 {
		ck.add("oidc.issuer", `""`, `is required when [[oidc.client]] entries are configured: the provider's https URL, like "https://mfa.example.ac.jp"`)
	}
	if o.Issuer != "" && len(o.Clients) == 0 {
		ck.add("oidc.client", "", "needs at least one [[oidc.client]] entry (the Entra application that calls the provider)")
	}
	// Entra refreshes its copy of the provider's keys every 24 hours
	// (External MFA provider reference, "Provider metadata caching").
	ck.durRange("oidc.key_publish_ahead", o.KeyPublishAhead, 24*time.Hour, 30*24*time.Hour,
		" (Entra caches the provider's keys for 24 hours, so a new key must be published at least that long before it signs)")
	switch {
	case o.KeyRotation.Duration < 7*24*time.Hour || o.KeyRotation.Duration > 2*365*24*time.Hour:
		ck.durRange("oidc.key_rotation", o.KeyRotation, 7*24*time.Hour, 2*365*24*time.Hour, " (how long one signing key signs)")
	case o.KeyRotation.Duration <= o.KeyPublishAhead.Duration:
		ck.add("oidc.key_rotation", qd(o.KeyRotation), "must be longer than oidc.key_publish_ahead (%s): each key is published that long before it signs", o.KeyPublishAhead)
	}
	ck.durRange("oidc.token_ttl", o.TokenTTL, time.Minute, 10*time.Minute, " (Entra abandons a sign-in about 10 minutes after sending the user to the provider)")

	ids := map[string]string{}
	for i := range o.Clients {
		c := &o.Clients[i]
		key := fmt.Sprintf("oidc.client[%d]", i)
		switch {
		case !oidcClientIDRE.MatchString(c.ClientID):
			ck.add(key+".client_id", q(c.ClientID), "must be the application (client) ID Entra sends, 1 to 255 printable characters without spaces, like \"600b719b-3766-4dc5-95a6-3c4a8dc31885\"")
		case ids[c.ClientID] != "":
			ck.add(key+".client_id", q(c.ClientID), "is already the client_id of %s; client IDs must be unique", ids[c.ClientID])
		default:
			ids[c.ClientID] = key
		}

		if len(c.RedirectURIs) == 0 {
			ck.add(key+".redirect_uris", "[]", `must list at least one URI answers may be posted to; for Entra (global Azure) "https://login.microsoftonline.com/common/federation/externalauthprovider"`)
		}
		seen := map[string]int{}
		for j, r := range c.RedirectURIs {
			rk := fmt.Sprintf("%s.redirect_uris[%d]", key, j)
			if msg := checkOIDCURL(r, true); msg != "" {
				ck.add(rk, q(r), "%s", msg)
			} else if k, dup := seen[r]; dup {
				ck.add(rk, q(r), "is already listed as %s.redirect_uris[%d]", key, k)
			} else {
				seen[r] = j
			}
		}

		if c.HintIssuer == "" {
			ck.add(key+".hint_issuer", `""`, `is required: the iss of the id_token_hint, for Entra "https://login.microsoftonline.com/<tenant-id>/v2.0"`)
		} else if msg := checkOIDCURL(c.HintIssuer, true); msg != "" {
			ck.add(key+".hint_issuer", q(c.HintIssuer), "%s", msg)
		}
		if c.HintJWKSURL != "" {
			if msg := checkOIDCURL(c.HintJWKSURL, true); msg != "" {
				ck.add(key+".hint_jwks_url", q(c.HintJWKSURL), "%s", msg)
			}
		}
		if !claimNameRE.MatchString(c.UserClaim) {
			ck.add(key+".user_claim", q(c.UserClaim), "must name a claim of the id_token_hint, like %q (default) or \"email\"", DefaultOIDCUserClaim)
		}
		c.User = nil
		if msg := checkOIDCUserPattern(c.UserPattern); msg != "" {
			ck.add(key+".user_pattern", q(c.UserPattern), "%s", msg)
		} else {
			c.User = regexp.MustCompile(c.UserPattern)
		}
	}
}

// checkOIDCUserPattern returns what is wrong with a user_pattern, or "". It
// must be anchored at the start, or "x0123456789@…" would yield a user too.
func checkOIDCUserPattern(pat string) string {
	const help = "must be a regular expression anchored with ^, with exactly one capture group that yields the mfagate user ID, like `^([0-9]{10})@` (default)"
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return fmt.Sprintf("does not compile (%v); it %s", err, help)
	}
	if n := re.MaxCap(); n != 1 {
		return fmt.Sprintf("has %d capture groups; it %s (use (?:…) for groups that capture nothing)", n, help)
	}
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	if !(re.Op == syntax.OpConcat && len(re.Sub) > 0 && re.Sub[0].Op == syntax.OpBeginText) {
		return "is not anchored with ^ at the start; it " + help
	}
	return ""
}

var piAccountRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// check checks [privacyidea], gives allow and mfa_off their defaults, and
// fills Networks and PasswordHash.
func (p *PrivacyIDEA) check(ck *checker) {
	if len(p.Allow) == 0 {
		p.Allow = slices.Clone(DefaultPrivacyIDEAAllow)
	}
	p.Networks = p.Networks[:0]
	for i, a := range p.Allow {
		n, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			ck.add(fmt.Sprintf("privacyidea.allow[%d]", i), q(a), `must be a network in CIDR notation, like "10.1.2.0/24", "192.0.2.7/32" or "::1/128"`)
			continue
		}
		if n != n.Masked() {
			ck.add(fmt.Sprintf("privacyidea.allow[%d]", i), q(a), "has host bits set; write the network as %q", n.Masked().String())
			continue
		}
		p.Networks = append(p.Networks, n)
	}
	if p.Realm != "" && !claimNameRE.MatchString(p.Realm) {
		ck.add("privacyidea.realm", q(p.Realm), "must be 1 to 64 letters, digits, '_', '.', ':' or '-' (the realm the plugins send), or be left out")
	}
	switch {
	case p.ServiceAccount == "" && p.PasswordFile != "":
		ck.add("privacyidea.service_account", `""`, "is required with privacyidea.password_file: the user name the plugins send to /auth")
	case p.ServiceAccount != "" && p.PasswordFile == "":
		ck.add("privacyidea.password_file", `""`, "is required with privacyidea.service_account: a file holding the service account's password (at least %d characters)", minTokenLen)
	case p.ServiceAccount != "":
		if !piAccountRE.MatchString(p.ServiceAccount) {
			ck.add("privacyidea.service_account", q(p.ServiceAccount), "must be 1 to 64 letters, digits, '_', '.', '@' or '-'")
		}
		if h, msg := hashTokenFile(p.PasswordFile); msg != "" {
			ck.add("privacyidea.password_file", q(p.PasswordFile), "%s", strings.Replace(msg, "token", "password", -1))
		} else {
			p.PasswordHash = h
		}
	}
	if p.Trigger != "" && (len(p.Trigger) > 64 || strings.ContainsFunc(p.Trigger, unicode.IsSpace) || isAllDigits(p.Trigger)) {
		ck.add("privacyidea.trigger", q(p.Trigger), "must be one word of at most 64 characters that is not all digits (it must never look like a code), or be left out")
	}
	if p.ResponseKeyFile == "" {
		p.ResponseKeyFile = DefaultPrivacyIDEAResponseKey
	}
	switch p.ResponseSignature {
	case "":
		p.ResponseSignature = SignatureRSAPSS
	case SignatureRSAPSS, SignatureNone:
	default:
		ck.add("privacyidea.response_signature", q(p.ResponseSignature), `must be "rsa_sha256_pss" (answers signed as privacyIDEA signs them, the default) or "none" (unsigned, for plugins that do not check signatures)`)
	}
	switch p.MFAOff {
	case "":
		p.MFAOff = MFAOffReject
	case MFAOffReject, MFAOffAccept:
	default:
		ck.add("privacyidea.mfa_off", q(p.MFAOff), `must be "reject" (users without MFA are refused, the default) or "accept" (they pass, like privacyIDEA's passthru policy)`)
	}
}

func isAllDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// checkPrevious checks the names of the keys being rotated out; their
// contents are checked where the daemon reads them (they must be keys,
// readable, and differ from key_file's).
func (s Secrets) checkPrevious(ck *checker) {
	seen := map[string]int{}
	for i, f := range s.PreviousKeyFiles {
		key := fmt.Sprintf("secrets.previous_key_files[%d]", i)
		switch j, dup := seen[f]; {
		case f == "":
			ck.add(key, `""`, "must name the file of a key being rotated out")
		case f == s.KeyFile:
			ck.add(key, q(f), "is secrets.key_file itself; list here only the old keys, and give the new one as key_file")
		case dup:
			ck.add(key, q(f), "repeats secrets.previous_key_files[%d]", j)
		default:
			seen[f] = i
		}
	}
	if len(s.PreviousKeyFiles) > MaxPreviousKeys {
		ck.add("secrets.previous_key_files", "", "lists %d files; at most %d keys may be rotated out at once: let a re-seal finish and drop the oldest", len(s.PreviousKeyFiles), MaxPreviousKeys)
	}
}

// MaxPreviousKeys bounds secrets.previous_key_files: every value that does
// not open with key_file is tried with each of them.
const MaxPreviousKeys = 3
