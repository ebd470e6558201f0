package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// AddUsage adds n to a SIM's count for day and returns the new total.
func (db *DB) AddUsage(ctx context.Context, sim, day string, n int) (int, error) {
	var total int
	err := db.w.QueryRowContext(ctx, `INSERT INTO sim_usage (sim, day, sent) VALUES (?, ?, ?)
		ON CONFLICT (sim, day) DO UPDATE SET sent = sent + excluded.sent RETURNING sent`, sim, day, n).Scan(&total)
	if err != nil {
		return 0, fmt.Errorf("sqlite: add SIM usage: %w", err)
	}
	return total, nil
}

// Usage returns a SIM's count for day.
func (db *DB) Usage(ctx context.Context, sim, day string) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT sent FROM sim_usage WHERE sim = ? AND day = ?`, sim, day).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: read SIM usage: %w", err)
	}
	return n, nil
}
