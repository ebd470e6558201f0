package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"

	"mfagate/api"
	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/pi"
)

// privacyIDEADoor builds the privacyIDEA-compatible routes when
// [privacyidea] is configured, loading (or creating) the response key.
func privacyIDEADoor(cfg *config.Config, svc *mfa.Service, keys *mfa.Keys, m *metrics.Metrics, log *slog.Logger) ([]api.Mount, error) {
	c := cfg.PrivacyIDEA
	if c == nil {
		return nil, nil
	}
	var signer *pi.Signer
	if c.ResponseSignature != config.SignatureNone {
		s, created, err := pi.LoadOrCreateSigner(c.ResponseKeyFile)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("created the privacyIDEA response key; give plugins that verify responses its public key",
				"file", c.ResponseKeyFile, "public_key_sha256", publicKeyFingerprint(s))
		}
		signer = s
	}
	door, err := pi.New(pi.Options{Service: svc, Keys: keys, Signer: signer, Config: *c, Metrics: m, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("privacyidea: %w", err)
	}
	var mounts []api.Mount
	for _, p := range door.Routes() {
		mounts = append(mounts, api.Mount{Pattern: p, Handler: door.Handler()})
	}
	log.Info("privacyIDEA-compatible routes served", "allow", c.Allow, "service_account", c.ServiceAccount != "", "mfa_off", c.MFAOff,
		"response_signature", c.ResponseSignature)
	return mounts, nil
}

// publicKeyFingerprint is the SHA-256 of the DER public key, as
// `openssl pkey -pubin -outform DER | sha256sum` prints it.
func publicKeyFingerprint(s *pi.Signer) string {
	b, _ := pem.Decode(s.PublicKeyPEM())
	if b == nil {
		return ""
	}
	if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
		return ""
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:])
}
