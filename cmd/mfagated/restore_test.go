package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mfagate/config"
	"mfagate/store/sqlite"
)

// Refusals that need no daemon: a PostgreSQL store, the store itself as
// the copy, and a WAL file left where the restored database would go.
func TestRestoreRefusals(t *testing.T) {
	dir := t.TempDir()
	pg := config.Default()
	pg.Store.Driver = config.DriverPostgres
	if err := restore(t.Context(), pg, filepath.Join(dir, "x.db"), false, io.Discard); err == nil || !strings.Contains(err.Error(), "pg_restore") {
		t.Errorf("postgres: %v, want a pointer to pg_restore", err)
	}

	// A database to restore from.
	src := filepath.Join(dir, "copy.db")
	db, err := sqlite.Open(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	key := filepath.Join(dir, "secret.key")
	os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600)
	cfg := config.Default()
	cfg.Secrets.KeyFile = key
	cfg.Store.Path = src
	if err := restore(t.Context(), cfg, src, true, io.Discard); err == nil || !strings.Contains(err.Error(), "is store.path itself") {
		t.Errorf("restore from store.path: %v", err)
	}

	cfg.Store.Path = filepath.Join(dir, "mfagate.db")
	os.WriteFile(cfg.Store.Path+"-wal", []byte("stale"), 0o600)
	if err := restore(t.Context(), cfg, src, false, io.Discard); err == nil || !strings.Contains(err.Error(), "-wal is left without its database") {
		t.Errorf("stale WAL: %v", err)
	}
	if _, err := os.Stat(cfg.Store.Path); err == nil {
		t.Error("a refused restore created the store")
	}
	os.Remove(cfg.Store.Path + "-wal")
	if err := restore(t.Context(), cfg, src, false, io.Discard); err != nil {
		t.Errorf("once the WAL is gone: %v", err)
	}
}
