package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
)

// Radius is the RADIUS authentication server (RFC 2865) that VPN
// concentrators, Citrix/NetScaler gateways and SSH through pam_radius ask
// for the second factor. It is on when the [radius] section is present.
// A change needs a restart.
type Radius struct {
	// Listen is the UDP "host:port" to serve, like "127.0.0.1:1812".
	Listen string `toml:"listen"`
	// Language is the language of the Reply-Message texts for a user whose
	// method names none: "ja" or "en" (default messages.default_language).
	Language string `toml:"language"`
	// MFAOff decides what users whose MFA is off or pending get: "reject"
	// (the default) or "accept".
	MFAOff string `toml:"mfa_off"`
	// Trigger is a User-Password that, like an empty one, asks for a
	// challenge instead of being checked as a code ("": only empty).
	Trigger string         `toml:"trigger"`
	Clients []RadiusClient `toml:"client"` // [[radius.client]]
}

// RadiusClient is one RADIUS client (a NAS: VPN gateway, Citrix gateway,
// pam_radius host), known by its source network and shared secret. Parse
// gives an entry that leaves out require_message_authenticator or timeout
// the default; in a Config built in Go, set them (false and 0 are values).
type RadiusClient struct {
	// Name names the client in logs, metrics and the audit actor
	// "radius:<name>".
	Name string `toml:"name"`
	// Address is the network (CIDR) the client's requests come from; an
	// address may belong to one client only.
	Address string `toml:"address"`
	// SecretFile holds the shared secret (at least 16 characters; not
	// readable by group or others).
	SecretFile string `toml:"secret_file"`
	// RequireMessageAuthenticator drops requests without a valid
	// Message-Authenticator (RFC 3579 §3.2), the Blast-RADIUS defence.
	// Default true.
	RequireMessageAuthenticator bool `toml:"require_message_authenticator"`
	// Mode is "second_factor" (the gateway checked the password; the
	// default) or "proxy" (an upstream RADIUS server checks it first).
	Mode string `toml:"mode"`
	// Upstream and UpstreamSecretFile are the first-factor server of proxy
	// mode ("host:port", its shared secret); only with mode = "proxy".
	Upstream           string `toml:"upstream"`
	UpstreamSecretFile string `toml:"upstream_secret_file"`
	// Timeout is how long a request that starts a voice call may wait for
	// the call to be confirmed before it is answered with a challenge
	// instead. Default DefaultRadiusTimeout; 0 answers with the challenge
	// at once.
	Timeout Duration `toml:"timeout"`
	// FilterID and Class are sent in every Access-Accept to this client
	// (Filter-Id, RFC 2865 §5.11; Class, §5.25), so the gateway can map the
	// user to a group or policy. "": not sent.
	FilterID string `toml:"filter_id"`
	Class    string `toml:"class"`

	Network        netip.Prefix `toml:"-"` // parsed Address, filled by Validate
	Secret         []byte       `toml:"-"` // the shared secret, filled by Validate
	UpstreamSecret []byte       `toml:"-"` // proxy mode: the upstream's secret, filled by Validate
}

// Values of [[radius.client]] mode.
const (
	RadiusSecondFactor = "second_factor"
	RadiusProxy        = "proxy"
)

// DefaultRadiusTimeout is how long a request that starts a voice call
// waits for its confirmation when [[radius.client]] timeout is not set. It
// is below the 5 s most gateways wait for an answer before they retransmit
// or give up, so the gateway always hears back (with the challenge when
// the call is not confirmed yet). A call takes longer than that to ring,
// be answered and keyed, so with the default the user gets the challenge
// and confirms with an empty answer; a gateway set to wait longer (vendors
// of call- and push-based MFA advise 60 s) can raise it to a few seconds
// below its own timeout, and a confirmed call then answers at once.
const DefaultRadiusTimeout = 4 * time.Second

// radiusClientDefaults sets require_message_authenticator and timeout of
// each [[radius.client]] entry that does not write them, as modemDefaults
// does for modems.
func radiusClientDefaults(cfg *Config, data []byte) {
	if cfg.Radius == nil || len(cfg.Radius.Clients) == 0 {
		return
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return
	}
	r, _ := raw["radius"].(map[string]any)
	elems, _ := tableElems(r["client"])
	for i := range cfg.Radius.Clients {
		var e map[string]any
		if i < len(elems) {
			e = elems[i]
		}
		c := &cfg.Radius.Clients[i]
		if _, ok := e["require_message_authenticator"]; !ok {
			c.RequireMessageAuthenticator = true
		}
		if _, ok := e["timeout"]; !ok {
			c.Timeout = D(DefaultRadiusTimeout)
		}
	}
}

// minRadiusSecret is the shortest shared secret accepted. RFC 2865 §3 asks
// for at least 16 octets; the secret is all that stands between an
// attacker and the MD5 of the User-Password hiding.
const minRadiusSecret = 16

// maxRadiusSecret is the longest: gateways accept 64 to 128 characters.
const maxRadiusSecret = 128

var radiusNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// check checks [radius], gives language, mfa_off and each client's mode
// their defaults, and fills each client's Network and secrets.
func (r *Radius) check(ck *checker, defaultLanguage string) {
	if msg := checkUDPAddr(r.Listen); msg != "" {
		ck.add("radius.listen", q(r.Listen), "%s", msg)
	}
	switch {
	case r.Language == "":
		r.Language = defaultLanguage
	case !slices.Contains(Languages, r.Language):
		ck.add("radius.language", q(r.Language), "must be one of %s (default: messages.default_language)", quoteList(Languages))
	}
	switch r.MFAOff {
	case "":
		r.MFAOff = MFAOffReject
	case MFAOffReject, MFAOffAccept:
	default:
		ck.add("radius.mfa_off", q(r.MFAOff), `must be "reject" (users without MFA get Access-Reject, the default) or "accept" (they get Access-Accept)`)
	}
	if r.Trigger != "" && (len(r.Trigger) > 64 || strings.ContainsFunc(r.Trigger, unicode.IsSpace) || isAllDigits(r.Trigger)) {
		ck.add("radius.trigger", q(r.Trigger), "must be one word of at most 64 characters that is not all digits (it must never look like a code or a method number), or be left out")
	}
	if len(r.Clients) == 0 {
		ck.add("radius.client", "", "needs at least one [[radius.client]] entry (a gateway allowed to ask, with its address and secret_file)")
	}
	names := map[string]int{}
	for i := range r.Clients {
		c := &r.Clients[i]
		key := fmt.Sprintf("radius.client[%d]", i)
		switch j, dup := names[c.Name]; {
		case !radiusNameRE.MatchString(c.Name) || c.Name == "unknown":
			ck.add(key+".name", q(c.Name), `must be 1 to 63 letters, digits, '.', '_' or '-' (it names the client in logs, metrics and the audit log), and not "unknown"`)
		case dup:
			ck.add(key+".name", q(c.Name), "is already the name of radius.client[%d]; each client needs its own", j)
		default:
			names[c.Name] = i
		}
		c.Network = netip.Prefix{}
		if n, err := netip.ParsePrefix(strings.TrimSpace(c.Address)); err != nil {
			ck.add(key+".address", q(c.Address), `must be the network the client's requests come from in CIDR notation, like "192.0.2.7/32" or "10.1.2.0/24"`)
		} else if n != n.Masked() {
			ck.add(key+".address", q(c.Address), "has host bits set; write the network as %q", n.Masked().String())
		} else {
			c.Network = n
			for j := range r.Clients[:i] {
				if o := r.Clients[j].Network; o.IsValid() && o.Overlaps(n) {
					ck.add(key+".address", q(c.Address), "overlaps radius.client[%d].address %q; an address must name one client, so that it has one secret", j, o.String())
					break
				}
			}
		}
		if c.SecretFile == "" {
			ck.add(key+".secret_file", `""`, "is required: a file holding the secret shared with this client (at least %d characters, for example the output of: openssl rand -hex 16)", minRadiusSecret)
		} else if s, msg := readRadiusSecret(c.SecretFile); msg != "" {
			ck.add(key+".secret_file", q(c.SecretFile), "%s", msg)
		} else {
			c.Secret = s
		}
		switch c.Mode {
		case "":
			c.Mode = RadiusSecondFactor
		case RadiusSecondFactor, RadiusProxy:
		default:
			ck.add(key+".mode", q(c.Mode), `must be "second_factor" (the gateway checked the password; the default) or "proxy" (an upstream RADIUS server checks it first)`)
		}
		switch {
		case c.Mode == RadiusProxy:
			if c.Upstream == "" {
				ck.add(key+".upstream", `""`, `is required with mode = "proxy": the "host:port" of the RADIUS server that checks the password, like "10.0.0.5:1812"`)
			} else if msg := checkUDPAddr(c.Upstream); msg != "" {
				ck.add(key+".upstream", q(c.Upstream), "%s", msg)
			}
			if c.UpstreamSecretFile == "" {
				ck.add(key+".upstream_secret_file", `""`, `is required with mode = "proxy": a file holding the secret shared with the upstream server`)
			} else if s, msg := readRadiusSecret(c.UpstreamSecretFile); msg != "" {
				ck.add(key+".upstream_secret_file", q(c.UpstreamSecretFile), "%s", msg)
			} else {
				c.UpstreamSecret = s
			}
		case c.Upstream != "":
			ck.add(key+".upstream", q(c.Upstream), `is only for mode = "proxy"; remove it or set mode = "proxy"`)
		case c.UpstreamSecretFile != "":
			ck.add(key+".upstream_secret_file", q(c.UpstreamSecretFile), `is only for mode = "proxy"; remove it or set mode = "proxy"`)
		}
		ck.durRange(key+".timeout", c.Timeout, 0, 2*time.Minute, " (how long a request that starts a voice call waits for its confirmation; keep it below the gateway's own RADIUS timeout)")
		for _, a := range []struct{ name, v string }{{"filter_id", c.FilterID}, {"class", c.Class}} {
			if len(a.v) > 253 {
				ck.add(key+"."+a.name, q(a.v), "is %d bytes long; a RADIUS attribute holds at most 253", len(a.v))
			} else if strings.ContainsFunc(a.v, unicode.IsControl) {
				ck.add(key+"."+a.name, q(a.v), "contains control characters; write it as plain text")
			}
		}
	}
}

// checkUDPAddr checks a "host:port" with a numeric host (RADIUS binds and
// sends to addresses, not names) and returns what is wrong, or "".
func checkUDPAddr(addr string) string {
	const help = `must be "address:port", like "127.0.0.1:1812", "[::1]:1812" or ":1812" (every address)`
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return help
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "the port must be a number from 1 to 65535 (RADIUS authentication is 1812)"
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Sprintf("%q is not an IP address; %s", host, help)
		}
	}
	return ""
}

// readRadiusSecret reads a shared-secret file and returns the secret
// (surrounding white space trimmed), or a message saying what is wrong
// with the file. The message never contains the secret.
func readRadiusSecret(path string) ([]byte, string) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Sprintf("secret file %s does not exist", path)
	case err != nil:
		return nil, fmt.Sprintf("cannot read secret file: %v", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Sprintf("secret file %s is not a regular file", path)
	case fi.Mode().Perm()&0o066 != 0:
		return nil, fmt.Sprintf("secret file %s is open to group or other users (mode %04o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Sprintf("cannot read secret file: %v", err)
	}
	s := strings.TrimSpace(string(data))
	switch {
	case s == "":
		return nil, fmt.Sprintf("secret file %s is empty", path)
	case len(s) < minRadiusSecret:
		return nil, fmt.Sprintf("the secret in %s is %d characters long; use at least %d (for example the output of: openssl rand -hex 16)", path, len(s), minRadiusSecret)
	case len(s) > maxRadiusSecret:
		return nil, fmt.Sprintf("the secret in %s is %d characters long; gateways accept at most %d", path, len(s), maxRadiusSecret)
	case strings.ContainsFunc(s, unicode.IsControl):
		return nil, fmt.Sprintf("the secret in %s contains control characters; write it on one line", path)
	}
	return []byte(s), ""
}
