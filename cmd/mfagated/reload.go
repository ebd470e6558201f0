package main

import (
	"log/slog"
	"reflect"
	"time"

	"mfagate/api"
	"mfagate/config"
	"mfagate/fido"
	"mfagate/kiosk"
	"mfagate/metrics"
	"mfagate/mfa"
)

// reloadConfig applies a re-read configuration (SIGHUP). What can change
// safely takes effect at once: API clients, /metrics access, the policy and
// message templates, the [fido] policy and its metadata file. Listener, store, key and modems need a restart; a
// change there is logged and otherwise ignored. On any error the running
// configuration stays as it was.
func reloadConfig(cur *config.Config, load func() (*config.Config, error), svc *mfa.Service, srv *api.Server, k *kiosk.Kiosk, md *metadataFile, m *metrics.Metrics, log *slog.Logger) *config.Config {
	if load == nil {
		log.Info("reload: the demo has no configuration file; nothing to reload")
		return cur
	}
	next, err := load()
	var kp kiosk.Policy
	if err == nil {
		kp, err = kioskPolicy(next.FIDO, md.metadata())
	}
	var wp fido.Policy
	if err == nil {
		wp, err = webAuthnPolicy(next.FIDO, config.PlaceBrowser, md.metadata())
	}
	var src metadataSource
	if err == nil {
		src, err = md.source(next.FIDO)
	}
	if err == nil {
		err = svc.SetPolicy(policyFrom(next))
	}
	if err != nil {
		m.ConfigLoaded(false, time.Now())
		log.Error("reload failed; keeping the running configuration", "err", err)
		return cur
	}
	srv.SetClients(clientsFrom(next))
	k.SetPolicy(kp)
	srv.SetPasskeyPolicy(wp)
	md.use(src) // mds_file may name another file, or the same one replaced
	srv.SetMetricsPublic(next.Server.MetricsPublic)
	for name, same := range map[string]bool{
		"server.listen": cur.Server.Listen == next.Server.Listen,
		"store":         cur.Store == next.Store,
		"secrets":       reflect.DeepEqual(cur.Secrets, next.Secrets),
		"modem":         reflect.DeepEqual(cur.Modems, next.Modems),
		"voice":         cur.Voice == next.Voice,
		"oidc":          oidcSame(cur.OIDC, next.OIDC),
		"privacyidea":   reflect.DeepEqual(cur.PrivacyIDEA, next.PrivacyIDEA),
		"radius":        radiusSame(cur.Radius, next.Radius),
		"selfservice":   selfServiceSame(cur.SelfService, next.SelfService),
		"console":       reflect.DeepEqual(cur.Console, next.Console),
		"fido.device_paths and poll_interval": reflect.DeepEqual(cur.FIDO.DevicePaths, next.FIDO.DevicePaths) &&
			cur.FIDO.PollInterval == next.FIDO.PollInterval,
	} {
		if !same {
			log.Warn("reload: this part changed but takes effect only after a restart", "section", name)
		}
	}
	m.ConfigLoaded(true, time.Now())
	log.Info("configuration reloaded", "clients", len(next.API.Clients))
	// Keep what did not take effect, so the next reload compares against
	// what is really running.
	next.Server.Listen, next.Store, next.Secrets, next.Modems, next.Voice = cur.Server.Listen, cur.Store, cur.Secrets, cur.Modems, cur.Voice
	next.OIDC, next.PrivacyIDEA, next.Radius, next.SelfService, next.Console = cur.OIDC, cur.PrivacyIDEA, cur.Radius, cur.SelfService, cur.Console
	return next
}

// selfServiceSame reports whether two [selfservice] sections are the
// same (the page is built at start; a change needs a restart).
func selfServiceSame(a, b *config.SelfService) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.User, y.User = nil, nil // compiled from UserPattern, compared there
	return reflect.DeepEqual(x, y)
}

// radiusSame reports whether two [radius] sections are the same, the
// secrets included (a rotated secret needs a restart too).
func radiusSame(a, b *config.Radius) bool { return reflect.DeepEqual(a, b) }
