package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mfagate/config"
	"mfagate/fido"
	"mfagate/fido/mdstest"
	"mfagate/metrics"
)

// TestMetadataFile: the daemon takes a BLOB that verifies, keeps it when the
// file is replaced by one that does not (saying so in the log and the
// metric), and takes the next good one.
func TestMetadataFile(t *testing.T) {
	dir := t.TempDir()
	s, err := mdstest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	blobPath, rootPath := filepath.Join(dir, "mds3.jwt"), filepath.Join(dir, "root.pem")
	os.WriteFile(rootPath, s.RootPEM(), 0o644)
	const aaguid = "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73"
	next := time.Now().AddDate(0, 1, 0).UTC().Truncate(24 * time.Hour)
	write := func(blob []byte) {
		t.Helper()
		if err := os.WriteFile(blobPath, blob, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(no int, name string, next time.Time) []byte {
		t.Helper()
		b, err := s.BLOB(no, next, mdstest.Entry{AAGUID: aaguid, Description: name, Statuses: []string{"FIDO_CERTIFIED_L2"}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var logs bytes.Buffer
	m := metrics.New()
	mf := newMetadataFile(m, slog.New(slog.NewTextHandler(&logs, nil)))
	write(blob(1, "Test Key 5 NFC", next))
	cfg, err := config.Parse([]byte("[fido]\nmds_file = \"mds3.jwt\"\nmds_root_file = \"root.pem\"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := mf.source(cfg.FIDO)
	if err != nil {
		t.Fatal(err)
	}
	mf.set(src)
	var id [16]byte
	copy(id[:], []byte{0x6d, 0x44, 0xba, 0x9b, 0xf6, 0xec, 0x2e, 0x49, 0xb9, 0x30, 0x0c, 0x8f, 0xe9, 0x20, 0xcb, 0x73})
	check := func(step, name string, valid float64, next time.Time) {
		t.Helper()
		if got := mf.metadata().Describe(id); got != name {
			t.Errorf("%s: model %q, want %q", step, got, name)
		}
		if got := gauge(t, m, "mfagate_fido_metadata_configured"); got != 1 {
			t.Errorf("%s: mfagate_fido_metadata_configured %v, want 1", step, got)
		}
		if got := gauge(t, m, "mfagate_fido_metadata_valid"); got != valid {
			t.Errorf("%s: mfagate_fido_metadata_valid %v, want %v", step, got, valid)
		}
		if got := gauge(t, m, "mfagate_fido_metadata_next_update_timestamp_seconds"); got != float64(next.Unix()) {
			t.Errorf("%s: next update metric %v, want %v", step, got, next.Unix())
		}
	}

	mf.load(time.Now())
	check("good BLOB", "Test Key 5 NFC", 1, next)

	write(mdstest.Tamper(blob(2, "Tampered Key", next.AddDate(0, 1, 0))))
	mf.load(time.Now())
	check("BLOB with a bad signature", "Test Key 5 NFC", 0, next)
	if !strings.Contains(logs.String(), "keeping the previous one") {
		t.Errorf("log does not say the previous BLOB is kept:\n%s", logs.String())
	}

	past := time.Now().AddDate(0, 0, -2).UTC().Truncate(24 * time.Hour)
	write(blob(3, "Test Key 5C", past))
	mf.load(time.Now())
	check("expired nextUpdate", "Test Key 5C", 1, past)
	if !strings.Contains(logs.String(), "past its nextUpdate") {
		t.Errorf("log does not warn of the expired BLOB:\n%s", logs.String())
	}

	// Without mds_file the metadata is dropped and nothing is configured,
	// so no alert fires for a gateway that reads no BLOB.
	mf.set(metadataSource{})
	mf.load(time.Now())
	if got := gauge(t, m, "mfagate_fido_metadata_configured"); got != 0 {
		t.Errorf("no mds_file: mfagate_fido_metadata_configured %v, want 0", got)
	}
	if got := mf.metadata().Describe(id); got != "" {
		t.Errorf("no mds_file: model %q still named", got)
	}
	mf.set(src)
	mf.load(time.Now())

	// The kiosk's policy shares the metadata: a reload needs no rebuild.
	kp, err := kioskPolicy(cfg.FIDO, mf.metadata())
	if err != nil || kp.WebAuthn.Metadata != mf.metadata() || kp.WebAuthn.RefuseSynced {
		t.Errorf("kiosk policy %+v, %v", kp.WebAuthn, err)
	}
}

func TestWebAuthnPolicyPlaces(t *testing.T) {
	cfg, err := config.Parse([]byte("[fido]\nrequire_attestation_for = [\"kiosk\"]\nallow_synced = false\naaguid_deny = [\"ee882879-721c-4913-9775-3dfcce97072a\"]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	k, err := webAuthnPolicy(cfg.FIDO, config.PlaceKiosk, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webAuthnPolicy(cfg.FIDO, config.PlaceBrowser, nil)
	if !k.AttestationRequired || b.AttestationRequired || !k.RefuseSynced || !b.RefuseSynced || len(k.AAGUIDDeny) != 1 {
		t.Errorf("kiosk %+v, browser %+v", k, b)
	}
	if k.Metadata != (*fido.Metadata)(nil) {
		t.Error("a policy without a metadata file points to metadata")
	}
}

// gauge reads one gauge from the registry /metrics serves.
func gauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
