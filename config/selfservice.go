package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
)

// SelfService is the Security info page (/me), where users manage their
// own methods and passkeys. It is on when the [selfservice] section is
// present; users reach it by a one-time link an identity provider asks for
// (links) or by signing in with OpenID Connect (oidc_issuer), or both. A
// change needs a restart.
type SelfService struct {
	// OIDCIssuer is the OpenID provider users sign in to the page with
	// (Entra ID, Keycloak, Shibboleth IdP's OP plugin), exactly as its
	// discovery document and ID tokens name it; "" leaves the sign-in off.
	OIDCIssuer string `toml:"oidc_issuer"`
	// ClientID and ClientSecretFile are this gateway's registration at
	// the provider (client_secret_basic at the token endpoint).
	ClientID         string `toml:"client_id"`
	ClientSecretFile string `toml:"client_secret_file"`
	// UserClaim names the ID token claim that names the user (default
	// "preferred_username"), UserPattern the regular expression, anchored
	// with ^ and with one capture group, that yields the user ID from it
	// (default as [[oidc.client]]'s).
	UserClaim   string `toml:"user_claim"`
	UserPattern string `toml:"user_pattern"`
	// RedirectURI is the callback registered at the provider; default
	// fido.origin + "/me/callback".
	RedirectURI string `toml:"redirect_uri"`
	// Links turns on POST /v1/users/{user}/selfservice-links and
	// /me/link/…; Parse gives a section that leaves it out true. In a
	// Config built in Go, set it.
	Links bool `toml:"links"`
	// SessionTTL is how long a page session lasts (default 15m, at most 1h).
	SessionTTL Duration `toml:"session_ttl"`
	// LinkTTL is how long a one-time link may wait to be opened (default 1m).
	LinkTTL Duration `toml:"link_ttl"`

	User         *regexp.Regexp `toml:"-"` // compiled UserPattern, filled by Validate
	ClientSecret string         `toml:"-"` // read from ClientSecretFile by Validate
}

// Defaults and limits of [selfservice].
const (
	DefaultSelfServiceSessionTTL = 15 * time.Minute
	MaxSelfServiceSessionTTL     = time.Hour
	DefaultSelfServiceLinkTTL    = time.Minute
	SelfServiceCallbackPath      = "/me/callback"
)

// OIDC reports whether users may sign in to the page with OpenID Connect.
func (s *SelfService) OIDC() bool { return s != nil && s.OIDCIssuer != "" }

// selfServiceDefaults sets links of a [selfservice] section that does not
// write it.
func selfServiceDefaults(cfg *Config, data []byte) {
	if cfg.SelfService == nil {
		return
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return
	}
	s, _ := raw["selfservice"].(map[string]any)
	if _, ok := s["links"]; !ok {
		cfg.SelfService.Links = true
	}
}

// check checks [selfservice], gives its keys their defaults (origin is
// fido.origin, for redirect_uri) and fills User and ClientSecret.
func (s *SelfService) check(ck *checker, origin string) {
	if s.SessionTTL.Duration == 0 {
		s.SessionTTL = D(DefaultSelfServiceSessionTTL)
	}
	if s.LinkTTL.Duration == 0 {
		s.LinkTTL = D(DefaultSelfServiceLinkTTL)
	}
	ck.durRange("selfservice.session_ttl", s.SessionTTL, time.Minute, MaxSelfServiceSessionTTL, " (a page session is signed in without asking again)")
	ck.durRange("selfservice.link_ttl", s.LinkTTL, 10*time.Second, 15*time.Minute, " (a one-time link is opened right after the identity provider hands it out)")
	if s.UserClaim == "" {
		s.UserClaim = DefaultOIDCUserClaim
	}
	if s.UserPattern == "" {
		s.UserPattern = DefaultOIDCUserPattern
	}
	if s.OIDCIssuer == "" {
		for key, v := range map[string]string{"client_id": s.ClientID, "client_secret_file": s.ClientSecretFile, "redirect_uri": s.RedirectURI} {
			if v != "" {
				ck.add("selfservice."+key, q(v), "is only for the OpenID Connect sign-in: set selfservice.oidc_issuer too, or remove it")
			}
		}
		if !s.Links {
			ck.add("selfservice.links", "false", "leaves the page without a way in: set links = true or selfservice.oidc_issuer (or remove [selfservice])")
		}
		return
	}
	if msg := checkOIDCURL(s.OIDCIssuer, true); msg != "" {
		ck.add("selfservice.oidc_issuer", q(s.OIDCIssuer), "%s", msg)
	}
	s.ClientSecret = checkOIDCClient(ck, "selfservice", s.ClientID, s.ClientSecretFile, "is required with oidc_issuer", "this gateway")
	if !claimNameRE.MatchString(s.UserClaim) {
		ck.add("selfservice.user_claim", q(s.UserClaim), "must name a claim of the ID token, like %q (default) or \"email\"", DefaultOIDCUserClaim)
	}
	if msg := checkOIDCUserPattern(s.UserPattern); msg != "" {
		ck.add("selfservice.user_pattern", q(s.UserPattern), "%s", msg)
	} else {
		s.User = regexp.MustCompile(s.UserPattern)
	}
	checkRedirectURI(ck, "selfservice", &s.RedirectURI, origin, SelfServiceCallbackPath)
}

// readClientSecret reads an OAuth client secret file: a regular file not
// open to group or others, one line.
func readClientSecret(path string) (string, string) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Sprintf("secret file %s does not exist", path)
	case err != nil:
		return "", fmt.Sprintf("cannot read secret file: %v", err)
	case !fi.Mode().IsRegular():
		return "", fmt.Sprintf("secret file %s is not a regular file", path)
	case fi.Mode().Perm()&0o066 != 0:
		return "", fmt.Sprintf("secret file %s is open to group or other users (mode %04o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Sprintf("cannot read secret file: %v", err)
	}
	sec := strings.TrimSpace(string(data))
	switch {
	case sec == "":
		return "", fmt.Sprintf("secret file %s is empty", path)
	case len(sec) > 1024:
		return "", fmt.Sprintf("the secret in %s is %d characters long; client secrets are at most 1024", path, len(sec))
	case strings.ContainsFunc(sec, unicode.IsControl):
		return "", fmt.Sprintf("the secret in %s contains control characters; write it on one line", path)
	}
	return sec, ""
}

// checkOIDCClient checks the client ID and client secret file of a relying
// party of the OpenID provider, in table; required says why they are
// needed and whom the provider registered ("this gateway", or its
// console). It returns the secret read from the file ("" when refused).
func checkOIDCClient(ck *checker, table, clientID, secretFile, required, whom string) string {
	if !oidcClientIDRE.MatchString(clientID) {
		ck.add(table+".client_id", q(clientID), "%s: the client ID the provider gave %s (1 to 255 printable ASCII characters)", required, whom)
	}
	if secretFile == "" {
		ck.add(table+".client_secret_file", `""`, "%s: a file holding the client secret the provider gave %s (chmod 600)", required, whom)
		return ""
	}
	sec, msg := readClientSecret(secretFile)
	if msg != "" {
		ck.add(table+".client_secret_file", q(secretFile), "%s", msg)
	}
	return sec
}

// checkRedirectURI checks table's redirect_uri, the gateway's callback at
// path, or sets it to origin + path when it is empty.
func checkRedirectURI(ck *checker, table string, uri *string, origin, path string) {
	if *uri == "" {
		*uri = strings.TrimRight(origin, "/") + path
		return
	}
	u, err := url.Parse(*uri)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		ck.add(table+".redirect_uri", q(*uri), `must be the absolute URL of this gateway's %s, like "https://mfa.example.ac.jp%s" (default fido.origin + "%s")`, path, path, path)
	case u.Path != path || u.RawQuery != "" || u.Fragment != "":
		ck.add(table+".redirect_uri", q(*uri), "must end in the path %s, where the gateway takes the provider's answer, with no query or fragment", path)
	}
}
