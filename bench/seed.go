package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"mfagate/mfa"
	"mfagate/store/sqlite"
)

// seedUsers fills the database of a daemon's state directory with n
// users whose MFA is on, each with a confirmed authenticator app (sealed
// with the daemon's key), as an institution's store would hold them.
// It writes through store/sqlite, 1000 users a transaction: registering
// them through the API would take minutes.
func seedUsers(n int) func(dir string) error {
	return func(dir string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		raw, _ := hex.DecodeString(strings.Repeat("5a", 32)) // the key startDaemon writes
		keys, err := mfa.NewKeys(raw)
		if err != nil {
			return err
		}
		db, err := sqlite.Open(ctx, filepath.Join(dir, "mfagate.db"))
		if err != nil {
			return err
		}
		defer db.Close()
		now := time.Now().UTC()
		for first := 0; first < n; first += 1000 {
			err := db.Update(ctx, func(tx mfa.Tx) error {
				for i := first; i < min(first+1000, n); i++ {
					id := fmt.Sprintf("%010d", 3000000000+i)
					u := mfa.User{ID: id, State: mfa.StateActive, DefaultMethod: "m_" + id, CreatedAt: now, UpdatedAt: now}
					if err := tx.PutUser(u); err != nil {
						return err
					}
					m := mfa.Method{ID: "m_" + id, User: id, Kind: mfa.KindTOTP, Label: "Authenticator app", Confirmed: true,
						CreatedAt: now, ConfirmedAt: now}
					m.Secret = keys.Seal([]byte(fmt.Sprintf("seed-%020d", i)), m.ID)
					if err := tx.PutMethod(m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("seed users %d-: %w", first, err)
			}
		}
		return nil
	}
}
