package config

import (
	"strings"
	"testing"
	"time"
)

// oidcSrc is a valid [oidc] section with one client; lines: 1 [oidc],
// 2 issuer, 3 [[oidc.client]], 4 client_id, 5 redirect_uris, 6 hint_issuer.
func oidcSrc(issuer, extra string) string {
	return "[oidc]\nissuer = \"" + issuer + "\"\n[[oidc.client]]\nclient_id = \"app-1\"\n" +
		"redirect_uris = [\"https://login.microsoftonline.com/common/federation/externalauthprovider\"]\n" +
		"hint_issuer = \"https://login.microsoftonline.com/tid/v2.0\"\n" + extra
}

func TestOIDCValid(t *testing.T) {
	for _, issuer := range []string{
		"https://mfa.example.ac.jp",
		"https://mfa.example.ac.jp:8443/entra",
		"http://localhost:8470",
		"http://127.0.0.1:8470",
		"http://[::1]:8470",
	} {
		t.Run(issuer, func(t *testing.T) {
			c, err := Parse([]byte(oidcSrc(issuer, "")), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if !c.OIDC.Enabled() || c.OIDC.Issuer != issuer {
				t.Fatalf("issuer = %q, enabled %v", c.OIDC.Issuer, c.OIDC.Enabled())
			}
			cl := c.OIDC.Clients[0]
			if cl.UserClaim != "preferred_username" || cl.UserPattern != `^([0-9]{10})@` {
				t.Errorf("client defaults = %q %q", cl.UserClaim, cl.UserPattern)
			}
			if cl.User == nil || cl.User.FindStringSubmatch("0123456789@example.ac.jp")[1] != "0123456789" {
				t.Errorf("user pattern not compiled into User")
			}
		})
	}
	if Default().OIDC.Enabled() {
		t.Error("the OpenID provider is on by default")
	}
}

// A Config built in Go gets the client defaults from Validate.
func TestOIDCValidateDirect(t *testing.T) {
	c := Default()
	c.OIDC.Issuer = "https://mfa.example.ac.jp"
	c.OIDC.Clients = []OIDCClient{{ClientID: "a", RedirectURIs: []string{"https://x.example/cb"}, HintIssuer: "https://idp.example/v2.0"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if cl := c.OIDC.Clients[0]; cl.UserClaim != DefaultOIDCUserClaim || cl.UserPattern != DefaultOIDCUserPattern || cl.User == nil {
		t.Errorf("Validate did not set client defaults: %+v", cl)
	}
}

// Each bad [oidc] value is reported once, naming its key and line.
func TestOIDCBadValues(t *testing.T) {
	ok := "https://mfa.example.ac.jp"
	tests := []struct {
		name string
		src  string
		key  string
		line int
		msg  string
	}{
		{"issuer http", oidcSrc("http://mfa.example.ac.jp", ""), "oidc.issuer", 2, "must use https"},
		{"issuer http lookalike", oidcSrc("http://localhost.evil.example", ""), "oidc.issuer", 2, "must use https"},
		{"issuer trailing slash", oidcSrc("https://mfa.example.ac.jp/", ""), "oidc.issuer", 2, `must not end in '/' (paths such as /.well-known/openid-configuration are appended to it): write "https://mfa.example.ac.jp"`},
		{"issuer query", oidcSrc("https://mfa.example.ac.jp?x=1", ""), "oidc.issuer", 2, "must not have a query or fragment"},
		{"issuer fragment", oidcSrc("https://mfa.example.ac.jp#x", ""), "oidc.issuer", 2, "must not have a query or fragment"},
		{"issuer not url", oidcSrc("mfa.example.ac.jp", ""), "oidc.issuer", 2, "must be an https URL"},
		{"issuer ftp", oidcSrc("ftp://mfa.example.ac.jp", ""), "oidc.issuer", 2, "must be an https URL"},
		{"issuer user", oidcSrc("https://a@mfa.example.ac.jp", ""), "oidc.issuer", 2, "must not contain a user name"},
		{"issuer without clients", "[oidc]\nissuer = \"" + ok + "\"\n", "oidc.client", 1, "needs at least one [[oidc.client]]"},
		{"clients without issuer", strings.Replace(oidcSrc(ok, ""), "issuer = \""+ok+"\"\n", "", 1), "oidc.issuer", 1, "is required when [[oidc.client]] entries are configured"},
		{"publish ahead under a day", "[oidc]\nkey_publish_ahead = \"23h\"\n", "oidc.key_publish_ahead", 2, "must be at least 24h (Entra caches the provider's keys for 24 hours"},
		{"rotation short", "[oidc]\nkey_rotation = \"24h\"\n", "oidc.key_rotation", 2, "must be at least 168h"},
		{"rotation not after publish", "[oidc]\nkey_rotation = \"200h\"\nkey_publish_ahead = \"300h\"\n", "oidc.key_rotation", 2, "must be longer than oidc.key_publish_ahead (300h)"},
		{"token ttl long", "[oidc]\ntoken_ttl = \"11m\"\n", "oidc.token_ttl", 2, "must be at most 10m"},
		{"client_id empty", strings.Replace(oidcSrc(ok, ""), `"app-1"`, `""`, 1), "oidc.client[0].client_id", 4, "must be the application (client) ID"},
		{"client_id space", strings.Replace(oidcSrc(ok, ""), `"app-1"`, `"app 1"`, 1), "oidc.client[0].client_id", 4, "without spaces"},
		{"client_id twice", oidcSrc(ok, "[[oidc.client]]\nclient_id = \"app-1\"\nredirect_uris = [\"https://x.example/cb\"]\nhint_issuer = \"https://idp.example/v2.0\"\n"), "oidc.client[1].client_id", 8, "already the client_id of oidc.client[0]"},
		{"redirect_uris empty", strings.Replace(oidcSrc(ok, ""), `["https://login.microsoftonline.com/common/federation/externalauthprovider"]`, "[]", 1), "oidc.client[0].redirect_uris", 5, "must list at least one URI"},
		{"redirect_uri http", strings.Replace(oidcSrc(ok, ""), `https://login.microsoftonline.com/common`, "http://login.microsoftonline.com/common", 1), "oidc.client[0].redirect_uris[0]", 5, "must use https"},
		{"redirect_uri twice", strings.Replace(oidcSrc(ok, ""), `["https://login.microsoftonline.com/common/federation/externalauthprovider"]`, `["https://a.example/cb", "https://a.example/cb"]`, 1), "oidc.client[0].redirect_uris[1]", 5, "already listed as oidc.client[0].redirect_uris[0]"},
		{"hint_issuer missing", strings.Replace(oidcSrc(ok, ""), "hint_issuer = \"https://login.microsoftonline.com/tid/v2.0\"\n", "", 1), "oidc.client[0].hint_issuer", 3, "is required: the iss of the id_token_hint"},
		{"hint_issuer http", strings.Replace(oidcSrc(ok, ""), "hint_issuer = \"https", "hint_issuer = \"http", 1), "oidc.client[0].hint_issuer", 6, "must use https"},
		{"hint_jwks_url http", oidcSrc(ok, "hint_jwks_url = \"http://login.microsoftonline.com/keys\"\n"), "oidc.client[0].hint_jwks_url", 7, "must use https"},
		{"user_claim empty", oidcSrc(ok, "user_claim = \"\"\n"), "oidc.client[0].user_claim", 7, "must name a claim of the id_token_hint"},
		{"user_pattern empty", oidcSrc(ok, "user_pattern = \"\"\n"), "oidc.client[0].user_pattern", 7, "has 0 capture groups"},
		{"user_pattern no group", oidcSrc(ok, "user_pattern = '^[0-9]{10}@'\n"), "oidc.client[0].user_pattern", 7, "has 0 capture groups"},
		{"user_pattern two groups", oidcSrc(ok, "user_pattern = '^([0-9]{10})@(.*)$'\n"), "oidc.client[0].user_pattern", 7, "has 2 capture groups; it must be a regular expression anchored with ^"},
		{"user_pattern unanchored", oidcSrc(ok, "user_pattern = '([0-9]{10})@'\n"), "oidc.client[0].user_pattern", 7, "is not anchored with ^"},
		{"user_pattern alternation", oidcSrc(ok, "user_pattern = '^x|([0-9]{10})@'\n"), "oidc.client[0].user_pattern", 7, "is not anchored with ^"},
		{"user_pattern bad", oidcSrc(ok, "user_pattern = '^([0-9]{10}@'\n"), "oidc.client[0].user_pattern", 7, "does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), t.TempDir())
			ps := Problems(err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), err)
			}
			p := ps[0]
			if p.Key != tt.key || p.Line != tt.line || !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("got  %v\nwant key %s, line %d, message containing %q", p, tt.key, tt.line, tt.msg)
			}
		})
	}
}

// The example's commented-out [oidc] section loads once uncommented, and
// the values it shows are the defaults.
func TestExampleOIDC(t *testing.T) {
	section := exampleSection(t, "oidc")
	c, err := Parse([]byte(strings.Join(section, "\n")), t.TempDir())
	if err != nil {
		t.Fatalf("the example's [oidc] section does not load uncommented:\n%v\n%s", err, strings.Join(section, "\n"))
	}
	d := Default().OIDC
	if c.OIDC.KeyRotation != d.KeyRotation || c.OIDC.KeyPublishAhead != d.KeyPublishAhead || c.OIDC.TokenTTL != d.TokenTTL {
		t.Errorf("example [oidc] durations %v %v %v are not the defaults %v %v %v",
			c.OIDC.KeyRotation, c.OIDC.KeyPublishAhead, c.OIDC.TokenTTL, d.KeyRotation, d.KeyPublishAhead, d.TokenTTL)
	}
	if len(c.OIDC.Clients) != 1 {
		t.Fatalf("example has %d oidc clients, want 1", len(c.OIDC.Clients))
	}
	cl := c.OIDC.Clients[0]
	if cl.UserClaim != DefaultOIDCUserClaim || cl.UserPattern != DefaultOIDCUserPattern {
		t.Errorf("example client shows user_claim %q, user_pattern %q; the defaults are %q, %q", cl.UserClaim, cl.UserPattern, DefaultOIDCUserClaim, DefaultOIDCUserPattern)
	}
	if want := 90 * 24 * time.Hour; d.KeyRotation.Duration != want {
		t.Errorf("default key_rotation = %v, want %v", d.KeyRotation, want)
	}
}
