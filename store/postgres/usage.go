package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AddUsage adds n to a SIM's count for day and returns the new total. It is
// one statement in its own transaction at the server's default isolation
// (READ COMMITTED): ON CONFLICT DO UPDATE makes increments from several
// nodes add up without a retry.
func (db *DB) AddUsage(ctx context.Context, sim, day string, n int) (int, error) {
	var total int
	err := db.pool.QueryRow(ctx, `INSERT INTO sim_usage (sim, day, sent) VALUES ($1, $2, $3)
		ON CONFLICT (sim, day) DO UPDATE SET sent = sim_usage.sent + excluded.sent RETURNING sent`, sim, day, n).Scan(&total)
	if err != nil {
		return 0, fmt.Errorf("postgres: add SIM usage: %w", err)
	}
	return total, nil
}

// Usage returns a SIM's count for day.
func (db *DB) Usage(ctx context.Context, sim, day string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT sent FROM sim_usage WHERE sim = $1 AND day = $2`, sim, day).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: read SIM usage: %w", err)
	}
	return n, nil
}
