package config

import (
	"strings"
	"time"
	"unicode"
)

// Console is the help-desk console's OpenID Connect staff sign-in
// (/console/login). Without a [console] section staff sign in to the
// console with their own API tokens only; with it they may also sign in
// through the institution's OpenID provider, and the groups the ID token
// lists make them help desk (role enroll) or admin. A change needs a
// restart.
type Console struct {
	// OIDCIssuer is the OpenID provider staff sign in with, exactly as
	// its discovery document and ID tokens name it.
	OIDCIssuer string `toml:"oidc_issuer"`
	// ClientID and ClientSecretFile are this gateway's registration for
	// the console at the provider (client_secret_basic).
	ClientID         string `toml:"client_id"`
	ClientSecretFile string `toml:"client_secret_file"`
	// RedirectURI is the callback registered at the provider; default
	// fido.origin + "/console/callback".
	RedirectURI string `toml:"redirect_uri"`
	// AdminGroup and HelpdeskGroup are the values of the groups claim
	// that make a staff member admin or help desk (enroll); at least one
	// is set. A member of both is admin.
	AdminGroup    string `toml:"admin_group"`
	HelpdeskGroup string `toml:"helpdesk_group"`
	// GroupsClaim names the ID token claim listing the groups (default
	// "groups"), NameClaim the one naming the staff member in the audit
	// log as staff:<name> (default "preferred_username").
	GroupsClaim string `toml:"groups_claim"`
	NameClaim   string `toml:"name_claim"`
	// SessionLifetime is how long a staff session lasts from the sign-in
	// (default 30m, 5m to 8h).
	SessionLifetime Duration `toml:"session_lifetime"`

	ClientSecret string `toml:"-"` // read from ClientSecretFile by Validate
}

// Defaults and limits of [console].
const (
	DefaultConsoleGroupsClaim     = "groups"
	DefaultConsoleNameClaim       = "preferred_username"
	DefaultConsoleSessionLifetime = 30 * time.Minute
	MinConsoleSessionLifetime     = 5 * time.Minute
	MaxConsoleSessionLifetime     = 8 * time.Hour
	ConsoleCallbackPath           = "/console/callback"
)

// check checks [console], gives its keys their defaults (origin is
// fido.origin, for redirect_uri) and fills ClientSecret.
func (c *Console) check(ck *checker, origin string) {
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultConsoleGroupsClaim
	}
	if c.NameClaim == "" {
		c.NameClaim = DefaultConsoleNameClaim
	}
	if c.SessionLifetime.Duration == 0 {
		c.SessionLifetime = D(DefaultConsoleSessionLifetime)
	}
	ck.durRange("console.session_lifetime", c.SessionLifetime, MinConsoleSessionLifetime, MaxConsoleSessionLifetime, " (a staff session acts for users without signing in again; sign in again each shift)")
	if c.OIDCIssuer == "" {
		ck.add("console.oidc_issuer", `""`, "is required in [console]: the OpenID provider staff sign in with (without [console], staff sign in to the console with their API tokens)")
	} else if msg := checkOIDCURL(c.OIDCIssuer, true); msg != "" {
		ck.add("console.oidc_issuer", q(c.OIDCIssuer), "%s", msg)
	}
	c.ClientSecret = checkOIDCClient(ck, "console", c.ClientID, c.ClientSecretFile, "is required", "this gateway's console")
	for key, v := range map[string]string{"groups_claim": c.GroupsClaim, "name_claim": c.NameClaim} {
		if !claimNameRE.MatchString(v) {
			ck.add("console."+key, q(v), "must name a claim of the ID token (letters, digits, _ . : -), like %q", map[string]string{"groups_claim": DefaultConsoleGroupsClaim, "name_claim": DefaultConsoleNameClaim}[key])
		}
	}
	for key, v := range map[string]string{"admin_group": c.AdminGroup, "helpdesk_group": c.HelpdeskGroup} {
		if len(v) > 255 || strings.ContainsFunc(v, unicode.IsControl) || v != strings.TrimSpace(v) {
			ck.add("console."+key, q(v), "must be a group as the %s claim lists it (at most 255 characters, no control characters or surrounding spaces), like an Entra group's object ID or \"/staff/helpdesk\"", c.GroupsClaim)
		}
	}
	switch {
	case c.AdminGroup == "" && c.HelpdeskGroup == "":
		ck.add("console.helpdesk_group", `""`, "set helpdesk_group or admin_group (or both): without them no staff member gets a role and every sign-in is refused")
	case c.AdminGroup == c.HelpdeskGroup:
		ck.add("console.helpdesk_group", q(c.HelpdeskGroup), "is also admin_group: give the help desk and the administrators different groups (a member of both is admin)")
	}
	checkRedirectURI(ck, "console", &c.RedirectURI, origin, ConsoleCallbackPath)
}
