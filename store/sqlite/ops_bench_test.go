package sqlite

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"mfagate/mfa"
)

// opsUsers is the size of the store the operations benchmarks work on: a
// university's users, each with an authenticator app.
const opsUsers = 20000

// seedApps stores n users with a TOTP app each, sealed with keys.
func seedApps(b *testing.B, db *DB, keys *mfa.Keys, n int) {
	b.Helper()
	for first := 0; first < n; first += 1000 {
		err := db.Update(b.Context(), func(tx mfa.Tx) error {
			for i := first; i < min(first+1000, n); i++ {
				id := fmt.Sprintf("%010d", 3000000000+i)
				if err := tx.PutUser(mfa.User{ID: id, State: mfa.StateActive, CreatedAt: t0, UpdatedAt: t0}); err != nil {
					return err
				}
				m := mfa.Method{ID: "m_" + id, User: id, Kind: mfa.KindTOTP, Label: "app", Confirmed: true, CreatedAt: t0, ConfirmedAt: t0}
				m.Secret = keys.Seal([]byte(fmt.Sprintf("seed-%020d", i)), m.ID)
				if err := tx.PutMethod(m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackup streams a consistent copy of a store of opsUsers users.
func BenchmarkBackup(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{1}, mfa.KeySize))
	seedApps(b, db, keys, opsUsers)
	for b.Loop() {
		if err := db.BackupTo(b.Context(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	fi, _ := os.Stat(db.Path())
	b.ReportMetric(float64(fi.Size())/1e6, "db_MB")
}

// BenchmarkReseal re-seals the apps of opsUsers users from key A to key B
// in the daemon's batches (100 a transaction, no pause): the time a
// rotation's background pass takes, less its pauses.
func BenchmarkReseal(b *testing.B) {
	rawA, rawB := bytes.Repeat([]byte{1}, mfa.KeySize), bytes.Repeat([]byte{2}, mfa.KeySize)
	a, _ := mfa.NewKeys(rawA)
	ring, _ := mfa.NewKeyRing(rawB, rawA)
	back, _ := mfa.NewKeyRing(rawA, rawB) // moves them back, for the next round
	pol := mfa.Policy{CodeLength: 6, CodeTTL: time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), TOTP: mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: benchMessages{}}
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	seedApps(b, db, a, opsUsers)
	fwd, _ := mfa.New(mfa.Options{Store: db, Keys: ring, Policy: pol})
	rev, _ := mfa.New(mfa.Options{Store: db, Keys: back, Policy: pol})
	for i := 0; b.Loop(); i++ {
		svc := fwd
		if i%2 == 1 {
			svc = rev
		}
		p, err := svc.Reseal(b.Context(), 100, 0, nil)
		if err != nil || p.Resealed != opsUsers {
			b.Fatalf("%+v, %v", p, err)
		}
	}
	b.ReportMetric(float64(opsUsers), "values/op")
}

type benchMessages struct{}

func (benchMessages) SMS(string, map[string]string) string         { return "" }
func (benchMessages) Voice(string, bool, map[string]string) string { return "" }
func (benchMessages) DefaultLanguage() string                      { return "en" }
