package store

import (
	"database/sql"
	"errors"
)

// AddUsage adds n to a SIM's count for day and returns the new total. ON
// CONFLICT DO UPDATE makes increments from several nodes add up without a
// retry.
func AddUsage(c Conn, sim, day string, n int) (int, error) {
	var total int
	err := c.QueryRow(`INSERT INTO sim_usage (sim, day, sent) VALUES (?, ?, ?)
		ON CONFLICT (sim, day) DO UPDATE SET sent = sim_usage.sent + excluded.sent RETURNING sent`, sim, day, n).Scan(&total)
	return total, c.Err("add SIM usage", err)
}

// Usage returns a SIM's count for day, 0 when it has none.
func Usage(c Conn, sim, day string) (int, error) {
	var n int
	err := c.QueryRow(`SELECT sent FROM sim_usage WHERE sim = ? AND day = ?`, sim, day).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, c.Err("read SIM usage", err)
}
