package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mfagate/api"
	"mfagate/config"
	"mfagate/kiosk"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/store/sqlite"
)

// A changed [radius] on SIGHUP is named in a warning and left as it runs:
// the listener and the clients' secrets are the running server's until a
// restart.
func TestReloadRadiusNeedsRestart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret.key"), bytes.Repeat([]byte("ab"), 32), 0o600)
	os.WriteFile(filepath.Join(dir, "vpn.secret"), []byte("vpn-secret-0123456789\n"), 0o600)
	file := func(addr string) string {
		return "[store]\npath = \"" + filepath.Join(dir, "db") + "\"\n[secrets]\nkey_file = \"secret.key\"\n" +
			"[radius]\nlisten = \"127.0.0.1:1812\"\n[[radius.client]]\nname = \"vpn\"\naddress = \"" + addr + "\"\nsecret_file = \"vpn.secret\"\n"
	}
	cur, err := config.Parse([]byte(file("192.0.2.7/32")), dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "mfagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := mfa.LoadKeys(cur.Secrets.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	svc, err := mfa.New(mfa.Options{Store: db, Keys: keys, Policy: policyFrom(cur), Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Options{Service: svc, Clients: clientsFrom(cur), Metrics: m})
	k := kiosk.New(kiosk.Options{Service: svc})
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	same := reloadConfig(cur, func() (*config.Config, error) { return config.Parse([]byte(file("192.0.2.7/32")), dir) }, svc, srv, k, nil, m, log)
	if strings.Contains(logs.String(), "section=radius") {
		t.Errorf("an unchanged [radius] is reported as changed:\n%s", logs.String())
	}
	next := reloadConfig(same, func() (*config.Config, error) { return config.Parse([]byte(file("192.0.2.8/32")), dir) }, svc, srv, k, nil, m, log)
	if !strings.Contains(logs.String(), "takes effect only after a restart") || !strings.Contains(logs.String(), "section=radius") {
		t.Errorf("a changed [radius] is not reported as needing a restart:\n%s", logs.String())
	}
	if next.Radius.Clients[0].Address != "192.0.2.7/32" {
		t.Errorf("the reloaded configuration shows [radius] as changed (%s) though the server still runs the old one", next.Radius.Clients[0].Address)
	}
}
