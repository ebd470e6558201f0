// Package store holds what the persistence backends share. The interfaces
// they implement are declared by their consumers (mfa.Store); each backend
// lives in its own directory: store/sqlite (embedded, the default) and, for
// several gateway nodes, store/postgres.
//
// The SQL is written once, here: Tx implements mfa.Tx, and the kiosk,
// usage and migration functions run on a backend's Conn, with a Dialect
// for what the two spell differently. A backend keeps its connections,
// transactions, schema files and the statements only it has.
package store

import "time"

// Both backends store times as Unix nanoseconds, 0 for the zero time.

// Nanos is t as stored.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Time is a stored time read back, in UTC.
func Time(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
