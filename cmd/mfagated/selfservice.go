package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"mfagate/api"
	"mfagate/config"
	"mfagate/fido"
	"mfagate/selfservice"
)

// selfServiceDoor builds the Security info page [selfservice] configures,
// or nil when the section is absent: sessions and links in the shared
// store, passkeys under the [fido] policy of place "browser", and the
// OpenID Connect sign-in when oidc_issuer is set.
func selfServiceDoor(cfg *config.Config, db selfservice.Store, md *fido.Metadata) (*api.SelfService, error) {
	sc := cfg.SelfService
	if sc == nil {
		return nil, nil
	}
	wp, err := webAuthnPolicy(cfg.FIDO, config.PlaceBrowser, md)
	if err != nil {
		return nil, err
	}
	s := &api.SelfService{
		Sessions: selfservice.New(selfservice.Options{Store: db, SessionTTL: sc.SessionTTL.Duration, LinkTTL: sc.LinkTTL.Duration, Now: now}),
		Links:    sc.Links,
		Secure:   strings.HasPrefix(cfg.FIDO.Origin, "https://"),
		Passkeys: api.NewPasskeys(wp),
	}
	if sc.OIDC() {
		s.Login = selfservice.NewRP(selfservice.RPOptions{Issuer: sc.OIDCIssuer, ClientID: sc.ClientID, ClientSecret: sc.ClientSecret,
			RedirectURI: sc.RedirectURI, UserClaim: sc.UserClaim, User: sc.User, Now: now}, db)
	}
	return s, nil
}

// consoleDoor builds the console's OpenID Connect staff sign-in
// [console] configures, or nil: its sign-ins and sessions live in the
// Security info page's tables, apart by purpose and hash domain.
func consoleDoor(cfg *config.Config, db selfservice.Store) *api.Console {
	cc := cfg.Console
	if cc == nil {
		return nil
	}
	return &api.Console{
		Login: selfservice.NewRP(selfservice.RPOptions{Issuer: cc.OIDCIssuer, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret,
			RedirectURI: cc.RedirectURI, UserClaim: cc.NameClaim, Purpose: "console", Now: now}, db),
		Sessions: selfservice.NewStaffSessions(db, cc.SessionLifetime.Duration, now),
		Staff: selfservice.StaffPolicy{NameClaim: cc.NameClaim, GroupsClaim: cc.GroupsClaim,
			AdminGroup: cc.AdminGroup, HelpdeskGroup: cc.HelpdeskGroup},
		Secure: strings.HasPrefix(cc.RedirectURI, "https://"),
	}
}

// selfServiceKeep is how long expired links and sign-ins stay, so that
// opening one a little late says "expired" or "used", not "unknown".
const selfServiceKeep = time.Hour

// selfServiceHousekeeping deletes expired sessions, links and sign-ins
// until ctx ends.
func selfServiceHousekeeping(ctx context.Context, db selfservice.Store, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := db.DeleteExpiredSelfService(ctx, now().Add(-selfServiceKeep)); err != nil && ctx.Err() == nil {
				log.Warn("expired Security info page sessions not deleted", "err", err)
			} else if n > 0 {
				log.Debug("expired Security info page sessions, links and sign-ins deleted", "rows", n)
			}
		}
	}
}

// demoOrigin makes the WebAuthn origin the one a browser reports for the
// demo's listen address, http://localhost:<port>, whether or not the
// External MFA provider is on.
func demoOrigin(cfg *config.Config) {
	if _, unix := cfg.Server.IsUnix(); unix {
		return
	}
	if _, port, err := net.SplitHostPort(cfg.Server.Listen); err == nil && port != "" && port != "0" {
		cfg.FIDO.Origin = "http://localhost:" + port
	}
}
