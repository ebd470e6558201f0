package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mfagate/mfa"
)

func benchChallenge(id string) mfa.Challenge {
	return mfa.Challenge{ID: id, User: "0123456789", Method: "m_1", Kind: mfa.KindTOTP, Purpose: mfa.PurposeSignin,
		Status: mfa.StatusCreated, AttemptsLeft: 5, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
}

// BenchmarkSignInWrites runs the writes of a TOTP sign-in with a wrong
// code, as two Updates: store a new challenge; then count the failure on
// the user, audit it and store the challenge's remaining attempts.
// Sequential: every Update is a batch of one.
func BenchmarkSignInWrites(b *testing.B) {
	benchSignInWrites(b, false)
}

// BenchmarkSignInWritesParallel is the same from 16 goroutines at once, so
// that Updates share COMMITs.
func BenchmarkSignInWritesParallel(b *testing.B) {
	benchSignInWrites(b, true)
}

func benchSignInWrites(b *testing.B, parallel bool) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	u := mfa.User{ID: "0123456789", State: mfa.StateActive, CreatedAt: t0, UpdatedAt: t0}
	if err := db.Update(b.Context(), func(tx mfa.Tx) error { return tx.PutUser(u) }); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	op := func() error {
		c := benchChallenge(fmt.Sprintf("c_%016x", uint64(n.Add(1))*0x9e3779b97f4a7c15))
		if err := db.Update(b.Context(), func(tx mfa.Tx) error {
			if _, err := tx.User(u.ID); err != nil {
				return err
			}
			return tx.PutChallenge(c)
		}); err != nil {
			return err
		}
		return db.Update(b.Context(), func(tx mfa.Tx) error {
			c, err := tx.Challenge(c.ID)
			if err != nil {
				return err
			}
			u, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			u.ConsecutiveFailures++
			c.AttemptsLeft--
			if err := tx.PutUser(u); err != nil {
				return err
			}
			if err := tx.AddEvent(mfa.Event{At: t0, User: u.ID, Type: "verify_failed", Challenge: c.ID, Detail: "attempts_left=4"}); err != nil {
				return err
			}
			return tx.PutChallenge(c)
		})
	}
	b.ReportAllocs()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// cpuTime is the process's CPU time, user and system: unlike ns/op, its
// change per operation does not depend on what else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
