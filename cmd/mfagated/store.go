package main

import (
	"context"
	"fmt"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/modem"
	"mfagate/selfservice"
	"mfagate/store/postgres"
	"mfagate/store/sqlite"
)

// database is what the daemon needs from a store backend: the domain's
// store, the modems' SIM usage counters, the External MFA provider's keys
// and flows, the Security info page's sessions, and Close.
type database interface {
	mfa.Store
	modem.Usage
	oidcStore
	selfservice.Store
	Close() error
}

// openStore opens the backend [store] selects.
func openStore(ctx context.Context, s config.Store) (database, error) {
	switch s.Driver {
	case config.DriverPostgres:
		return postgres.Open(ctx, s.DSN, s.PasswordFile)
	case config.DriverSQLite, "":
		return sqlite.Open(ctx, s.Path)
	}
	return nil, fmt.Errorf("store.driver %q is not a known store", s.Driver)
}

// watchStore exports the store's write counters.
func watchStore(m *metrics.Metrics, db database) {
	switch db := db.(type) {
	case *sqlite.DB:
		m.WatchStore(func() uint64 { c, _ := db.WriteStats(); return c }, func() uint64 { _, f := db.WriteStats(); return f })
	case *postgres.DB:
		m.WatchStore(func() uint64 { c, _ := db.WriteStats(); return c }, nil)
	}
}
