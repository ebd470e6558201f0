package sqlite

import (
	"context"

	"mfagate/store"
)

// AddUsage adds n to a SIM's count for day and returns the new total.
func (db *DB) AddUsage(ctx context.Context, sim, day string, n int) (int, error) {
	return store.AddUsage(db.writer(ctx), sim, day, n)
}

// Usage returns a SIM's count for day.
func (db *DB) Usage(ctx context.Context, sim, day string) (int, error) {
	return store.Usage(&conn{ctx: ctx, q: db.r}, sim, day)
}
