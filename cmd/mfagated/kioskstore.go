package main

import (
	"mfagate/kiosk"
	"mfagate/store/postgres"
	"mfagate/store/sqlite"
)

// Both backends keep kiosk sessions, so that a session opened through one
// node is served by any node of the same database, and outlives a restart.
var (
	_ kiosk.SessionStore = (*sqlite.DB)(nil)
	_ kiosk.SessionStore = (*postgres.DB)(nil)
)

// kioskStore is where the kiosk keeps its sessions: the store, when its
// backend can (nil, in memory only, otherwise).
func kioskStore(db database) kiosk.SessionStore {
	s, _ := db.(kiosk.SessionStore)
	return s
}
