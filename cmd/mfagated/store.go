package main

import (
	"context"
	"fmt"

	"mfagate/config"
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
