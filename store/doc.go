// Package store holds what the persistence backends share. The interfaces
// they implement are declared by their consumers (mfa.Store); each backend
// lives in its own directory: store/sqlite (embedded, the default) and, for
// several gateway nodes, store/postgres.
package store
