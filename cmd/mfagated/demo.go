package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mfagate/config"
	"mfagate/mfa"
	"mfagate/oidc"
)

// demoState is the self-contained set-up of -demo.
type demoState struct {
	cfg          *config.Config
	dir          string
	tokenPath    string
	token        string
	idpTokenPath string        // the IdP's token: roles idp and enroll, bound by the proof rule
	entra        *entraStandIn // the Entra stand-in, when the demo serves External MFA
}

// withOIDC turns on the External MFA provider on the demo's listen
// address, with the Entra stand-in unless hintIssuer names another.
func (d *demoState) withOIDC(cfg *config.Config, hintIssuer, redirectURI string) error {
	// The Security info page and the kiosk page need the browser's
	// origin, with or without the External MFA provider.
	demoOrigin(cfg)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := demoOIDC(cfg, hintIssuer, redirectURI); err != nil || !cfg.OIDC.Enabled() {
		return err
	}
	e, err := newEntraStandIn(cfg.OIDC.Issuer)
	if err != nil {
		return err
	}
	d.entra = e
	return nil
}

// prepareDemo builds the demo's configuration in dir (a new temporary
// directory when empty), generating the secret key, an admin token and an
// identity provider's token on first use and reusing them afterwards.
func prepareDemo(dir string) (*demoState, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "mfagate-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: create state directory: %w", err)
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: state directory: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, "secret.key")
	if err := writeIfMissing(keyPath, []byte(hex.EncodeToString(mfa.GenerateKey())+"\n")); err != nil {
		return nil, err
	}
	tokenPath := filepath.Join(dir, "admin.token")
	b := make([]byte, 24)
	rand.Read(b)
	if err := writeIfMissing(tokenPath, []byte("mfa_"+hex.EncodeToString(b)+"\n")); err != nil {
		return nil, err
	}
	token, err := os.ReadFile(tokenPath)
	if err != nil {
		return nil, fmt.Errorf("demo: read admin token: %w", err)
	}
	// An identity provider's client has the roles idp and enroll, and,
	// unlike an admin, is held to the proof rule once MFA is on: the
	// README's walkthrough shows the rule with this token.
	idpTokenPath := filepath.Join(dir, "idp.token")
	rand.Read(b)
	if err := writeIfMissing(idpTokenPath, []byte("mfa_"+hex.EncodeToString(b)+"\n")); err != nil {
		return nil, err
	}
	idpToken, err := os.ReadFile(idpTokenPath)
	if err != nil {
		return nil, fmt.Errorf("demo: read IdP token: %w", err)
	}
	piPassword := filepath.Join(dir, "privacyidea.password")
	rand.Read(b)
	if err := writeIfMissing(piPassword, []byte(hex.EncodeToString(b)+"\n")); err != nil {
		return nil, err
	}
	radiusSecret := filepath.Join(dir, "radius-demo-vpn.secret")
	rand.Read(b[:16])
	if err := writeIfMissing(radiusSecret, []byte(hex.EncodeToString(b[:16])+"\n")); err != nil {
		return nil, err
	}
	sshSecret := filepath.Join(dir, "radius-demo-ssh.secret")
	rand.Read(b[:16])
	if err := writeIfMissing(sshSecret, []byte(hex.EncodeToString(b[:16])+"\n")); err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(dir, "mfagate.db")
	cfg.Secrets.KeyFile = keyPath
	cfg.Policy.ActivationDelay = config.D(time.Minute) // see MFA become active while trying the demo
	// The demo's kiosk page is served by the daemon itself on loopback.
	cfg.FIDO.RPID = "localhost"
	cfg.FIDO.Origin = "http://localhost"
	cfg.Modems = []config.Modem{
		{ID: "sim-quectel", Port: "sim:quectel", DailyCap: 180},
		{ID: "sim-simcom", Port: "sim:simcom", DailyCap: 180},
	}
	cfg.API.Clients = []config.Client{{
		Name:        "demo-admin",
		TokenSHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(strings.TrimSpace(string(token))))),
		Roles:       []string{config.RoleAdmin},
	}, {
		Name:        demoIDPClient,
		TokenSHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(strings.TrimSpace(string(idpToken))))),
		Roles:       []string{config.RoleIDP, config.RoleEnroll},
	}}
	// The privacyIDEA-compatible routes, for this host's plugins.
	cfg.PrivacyIDEA = &config.PrivacyIDEA{ServiceAccount: demoServiceAccount, PasswordFile: piPassword, Trigger: "push",
		ResponseKeyFile: filepath.Join(dir, "privacyidea-response.pem")}
	// RADIUS for gateways on this host; another port when 1812 is taken.
	// demo-vpn (radclient, VPN gateways) must sign its requests with
	// Message-Authenticator. demo-ssh, from 127.0.0.2, need not: Debian
	// 12's pam_radius_auth (2.0) sends none, so SSH through it can be
	// tried; the daemon warns about such a client, as it should.
	cfg.Radius = &config.Radius{Listen: "127.0.0.1:1812", Trigger: "push", Clients: []config.RadiusClient{{
		Name: demoRadiusClient, Address: "127.0.0.1/32", SecretFile: radiusSecret, RequireMessageAuthenticator: true,
		Timeout: config.D(config.DefaultRadiusTimeout)}, {
		Name: demoSSHClient, Address: "127.0.0.2/32", SecretFile: sshSecret, RequireMessageAuthenticator: false,
		Timeout: config.D(config.DefaultRadiusTimeout)}}}
	// The Security info page, reached by one-time links the admin token
	// can ask for (POST /v1/users/{user}/selfservice-links).
	cfg.SelfService = &config.SelfService{Links: true}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo: built-in configuration: %w", err)
	}
	return &demoState{cfg: cfg, dir: dir, tokenPath: tokenPath, token: strings.TrimSpace(string(token)), idpTokenPath: idpTokenPath}, nil
}

// demoIDPClient is the API client name of the demo's idp.token.
const demoIDPClient = "demo-idp-client"

// demoURLFile, in the state directory, holds the address the running demo
// answers at, for mfagatectl -demo-dir and for scripts
// ($(cat .demo/demo.url)). It is removed when the demo stops.
const demoURLFile = "demo.url"

// listenURL is the URL of the address ln listens on: the port the kernel
// chose when the configuration asked for port 0.
func listenURL(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}

// publishURL writes demo.url; the returned function removes it.
func (d *demoState) publishURL(url string) (func(), error) {
	path := filepath.Join(d.dir, demoURLFile)
	if err := os.WriteFile(path, []byte(url+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("demo: write %s: %w", path, err)
	}
	return func() { os.Remove(path) }, nil
}

func writeIfMissing(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return f.Close()
}

// demoServiceAccount is the account the demo's privacyIDEA routes accept
// at /auth; its password is privacyidea.password in the state directory.
const demoServiceAccount = "demo-idp"

func (d *demoState) privacyIDEALine(url string) string {
	if d.cfg.PrivacyIDEA == nil || strings.HasPrefix(url, "unix:") {
		return ""
	}
	return fmt.Sprintf("privacyIDEA plugins: server URL %s (validate API at %s/validate/check;\n  service account %s, password in %s; response key %s/privacyidea/response-key.pem)\n\n",
		url, url, demoServiceAccount, d.cfg.PrivacyIDEA.PasswordFile, url)
}

func (d *demoState) oidcLine() string {
	if d.entra == nil {
		return ""
	}
	return fmt.Sprintf("External MFA (Microsoft Entra ID's part played by a stand-in): %s%s/\n  (a user needs MFA applied and a confirmed method; the provider's discovery is %s%s)\n\n",
		d.entra.base, demoEntraPath, d.entra.base, oidc.DiscoveryPath)
}

func (d *demoState) selfServiceLine(url string) string {
	if d.cfg.SelfService == nil || strings.HasPrefix(url, "unix:") {
		return ""
	}
	return fmt.Sprintf("Security info page: ask for a one-time link, then open %s<url> in a browser:\n  curl -s -X POST -H \"Authorization: Bearer $(cat %s)\" -d '{}' %s/v1/users/0123456789/selfservice-links\n\n",
		strings.Replace(url, "127.0.0.1", "localhost", 1), d.tokenPath, url)
}

// announce prints what a person needs to try the demo.
func (d *demoState) announce(w io.Writer, url string) {
	fmt.Fprintf(w, `
mfagate demo is running.
  API:          %s   (API document: %s/v1/openapi.json; also in %s)
  state:        %s
  admin token:  %s
                (demo only: also in %s, mode 0600)
  IdP token:    in %s (roles idp and enroll: held to the proof rule once MFA is on)

Try it (mfagatectl reads the demo's address and admin token with -demo-dir; -as idp picks the IdP token):
  go run ./cmd/mfagatectl -demo-dir %s user add-totp 0123456789
  go run ./cmd/mfagatectl -demo-dir %s challenge 0123456789 -purpose test -verify
  go run ./cmd/mfagatectl -demo-dir %s mfa apply 0123456789

%s%s%s%sStop it with Ctrl-C; the state directory keeps the data for the next -demo -state-dir %s.
`, url, url, filepath.Join(d.dir, demoURLFile), d.dir, d.token, d.tokenPath, d.idpTokenPath, d.dir, d.dir, d.dir, d.oidcLine(), d.selfServiceLine(url), d.privacyIDEALine(url), d.radiusLine(), d.dir)
}
