package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"mfagate/config"
	"mfagate/device"
	"mfagate/device/softkey"
	"mfagate/fido"
	"mfagate/kiosk"
)

// kioskPolicy turns the [fido] section into the kiosk's policy.
func kioskPolicy(f config.FIDO, md *fido.Metadata) (kiosk.Policy, error) {
	wp, err := webAuthnPolicy(f, config.PlaceKiosk, md)
	p := kiosk.Policy{
		WebAuthn:     wp,
		MinPINLength: f.MinPINLength, RequireResidentKey: f.RequireResidentKey,
		SessionTTL: f.SessionTTL.Duration, TouchTimeout: f.TouchTimeout.Duration,
	}
	return p, err
}

// webAuthnPolicy turns the [fido] section into the verification policy of
// registrations at place (config.PlaceKiosk, config.PlaceBrowser): the
// same checks everywhere but for require_attestation_for.
func webAuthnPolicy(f config.FIDO, place string, md *fido.Metadata) (fido.Policy, error) {
	p := fido.Policy{RPID: f.RPID, RPName: f.RPName, Origin: f.Origin, AAGUIDAllow: f.AAGUIDs, AAGUIDDeny: f.AAGUIDsDenied,
		AttestationRequired: f.AttestationRequiredFor(place), RefuseSynced: !f.AllowSynced, Metadata: md,
		UserVerification: f.UserVerification}
	if f.TrustedCAFile != "" {
		roots, err := readCerts(f.TrustedCAFile, "fido.trusted_ca_file")
		if err != nil {
			return p, err
		}
		p.TrustedRoots = roots
	}
	return p, nil
}

func readCerts(path, key string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", key, path, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// startKeys starts key discovery and, for the demo, a software security
// key whose state persists in the demo directory.
func startKeys(ctx context.Context, cfg *config.Config, demoDir string, log *slog.Logger) (*device.Watcher, func(), error) {
	paths := append([]string(nil), cfg.FIDO.DevicePaths...)
	stop := func() {}
	if demoDir != "" {
		k, err := softkey.Start(ctx, softkey.Options{StateFile: filepath.Join(demoDir, "softkey.json"),
			Link: filepath.Join(demoDir, "softkey"), TouchDelay: 800 * time.Millisecond, ResetWindow: -1,
			Logger: log.With("component", "softkey")})
		if err != nil {
			return nil, nil, fmt.Errorf("start the demo's software key: %w", err)
		}
		stop = func() { k.Close() }
		paths = append(paths, filepath.Join(demoDir, "softkey"))
	}
	// The watcher owns the keys the kiosk uses, so their calls wait for
	// the touch as long as the kiosk's policy says.
	w := device.NewWatcher(paths, cfg.FIDO.PollInterval.Duration, device.WithLogger(log.With("component", "keys")),
		device.WithTimeout(cfg.FIDO.TouchTimeout.Duration))
	return w, stop, nil
}
