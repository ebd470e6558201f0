package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"mfagate/api"
	"mfagate/config"
	"mfagate/mfa"
	"mfagate/oidc"
)

// oidcStore is what the External MFA provider keeps in the store: signing
// keys and flows, shared by every node of one database.
type oidcStore interface {
	oidc.KeyStore
	oidc.FlowStore
}

// oidcProvider builds the External MFA provider [oidc] configures, or nil
// when the section is absent.
func oidcProvider(ctx context.Context, cfg *config.Config, db database, keys *mfa.Keys, log *slog.Logger) (*api.OIDC, error) {
	if !cfg.OIDC.Enabled() {
		return nil, nil
	}
	o := cfg.OIDC
	km := oidc.NewKeyManager(db, keys, oidc.KeyOptions{Rotation: o.KeyRotation.Duration, PublishAhead: o.KeyPublishAhead.Duration,
		TokenTTL: o.TokenTTL.Duration, Now: now, Log: log})
	// The first node to start generates the first key; the others find it.
	if err := km.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("oidc: signing keys: %w", err)
	}
	return &api.OIDC{
		Issuer:  o.Issuer,
		Clients: oidc.NewClients(o),
		Hints:   oidc.NewHintVerifier(oidc.HintOptions{Now: now, Log: log}),
		Keys:    km,
		Flows:   db,
		Minter:  &oidc.Minter{Issuer: o.Issuer, Keys: km, TokenTTL: o.TokenTTL.Duration},
		Now:     now,
	}, nil
}

// oidcHousekeeping rotates the signing keys on schedule and deletes
// expired flows until ctx ends.
func oidcHousekeeping(ctx context.Context, p *api.OIDC, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.Keys.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("OIDC signing keys not refreshed", "err", err)
			}
			if n, err := p.Flows.DeleteExpiredFlows(ctx, now()); err != nil && ctx.Err() == nil {
				log.Warn("expired OIDC flows not deleted", "err", err)
			} else if n > 0 {
				log.Debug("expired OIDC flows deleted", "flows", n)
			}
		}
	}
}

// oidcSame reports whether two [oidc] sections are the same (the provider
// is built at start; a change needs a restart).
func oidcSame(a, b config.OIDC) bool {
	strip := func(o config.OIDC) config.OIDC {
		o.Clients = slices.Clone(o.Clients)
		for i := range o.Clients {
			o.Clients[i].User = nil // compiled from UserPattern, compared there
		}
		return o
	}
	return reflect.DeepEqual(strip(a), strip(b))
}
