// Package storetest is the conformance suite every mfa.Store backend runs
// (store/sqlite, store/postgres): the same calls must give the same answers,
// the same errors and the same transaction behaviour on each.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"mfagate/mfa"
)

// Usage is the SIM usage counter the modem pool keeps in the store.
type Usage interface {
	AddUsage(ctx context.Context, sim, day string, n int) (int, error)
	Usage(ctx context.Context, sim, day string) (int, error)
}

// Open returns a new, empty store and closes it in t.Cleanup.
type Open func(t *testing.T) mfa.Store

// conformance lists the tests Run runs.
var conformance = []struct {
	name string
	fn   func(*testing.T, mfa.Store)
}{
	{"RoundTrip", testRoundTrip},
	{"Overwrite", testOverwrite},
	{"NotFound", testNotFound},
	{"MethodsOfUser", testMethodsOfUser},
	{"MethodLastUse", testMethodLastUse},
	{"TAP", testTAP},
	{"RollbackOnError", testRollbackOnError},
	{"RollbackOnPanic", testRollbackOnPanic},
	{"ViewIsReadOnly", testViewIsReadOnly},
	{"ClaimJobOrder", testClaimJobOrder},
	{"ClaimJobFields", testClaimJobFields},
	{"RequeueSending", testRequeueSending},
	{"Nodes", testNodes},
	{"Jobs", testJobs},
	{"OneJobPerChallenge", testOneJobPerChallenge},
	{"OutboxStats", testOutboxStats},
	{"ExpiredOpenChallenges", testExpiredOpenChallenges},
	{"DueActivations", testDueActivations},
	{"CountUsers", testCountUsers},
	{"Events", testEvents},
	{"PhoneChallengeTimes", testPhoneChallengeTimes},
	{"LatestChallenge", testLatestChallenge},
	{"Ties", testTies},
	{"ConcurrentClaims", testConcurrentClaims},
	{"ConcurrentIncrements", testConcurrentIncrements},
	{"ReaderNotBlockedByWriter", testReaderNotBlocked},
	{"ViewIsSnapshot", testViewIsSnapshot},
	{"Usage", testUsage},
	{"WriteStats", testWriteStats},
	{"CountUsersTracked", testCountUsersTracked},
	{"EventsAfter", testEventsAfter},
	{"Prune", testPrune},
}

// Run runs every conformance test against stores made by open, each test
// on a fresh store. The store must also implement Usage.
func Run(t *testing.T, open Open) {
	for _, tc := range conformance {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// t0 has nanoseconds: times must survive to the nanosecond.
var t0 = time.Date(2026, 4, 1, 9, 0, 0, 123456789, time.UTC)

// update runs fn in a write transaction and fails the test on error.
func update(t *testing.T, s mfa.Store, fn func(mfa.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// view runs fn in a read transaction and fails the test on error.
func view(t *testing.T, s mfa.Store, fn func(mfa.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// put stores each value with the matching Put method in one transaction.
func put(t *testing.T, s mfa.Store, values ...any) {
	t.Helper()
	update(t, s, func(tx mfa.Tx) error {
		for _, v := range values {
			var err error
			switch v := v.(type) {
			case mfa.User:
				err = tx.PutUser(v)
			case mfa.Method:
				err = tx.PutMethod(v)
			case mfa.Challenge:
				err = tx.PutChallenge(v)
			case mfa.Job:
				err = tx.PutJob(v)
			case mfa.Event:
				err = tx.AddEvent(v)
			default:
				return fmt.Errorf("cannot store %T", v)
			}
			if err != nil {
				return fmt.Errorf("store %T: %w", v, err)
			}
		}
		return nil
	})
}

// user, method, challenge and job build minimal valid records.
func user(id string, st mfa.State) mfa.User {
	return mfa.User{ID: id, State: st, CreatedAt: t0, UpdatedAt: t0}
}

func method(id, userID string, created time.Time) mfa.Method {
	return mfa.Method{ID: id, User: userID, Kind: mfa.KindTOTP, Label: id, CreatedAt: created}
}

func challenge(id, userID, methodID string, kind mfa.Kind, created time.Time) mfa.Challenge {
	return mfa.Challenge{ID: id, User: userID, Method: methodID, Kind: kind, Purpose: mfa.PurposeSignin,
		Status: mfa.StatusCreated, AttemptsLeft: 3, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
}

func job(id string, ch mfa.Channel, prio int, expires time.Duration) mfa.Job {
	return mfa.Job{ID: id, Challenge: "c_" + id, Channel: ch, To: "+819012345678", Sealed: []byte{1}, State: mfa.JobQueued,
		Priority: prio, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(expires)}
}

// norm returns v with every time in UTC without a monotonic reading and
// every empty byte or int slice nil, so that values read back compare equal
// to what was stored when the store kept what matters.
func norm[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	normValue(rv)
	return v
}

var timeType = reflect.TypeFor[time.Time]()

func normValue(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC().Round(0)))
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			normValue(v.Field(i))
		}
	case v.Kind() == reflect.Pointer && !v.IsNil():
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		normValue(c.Elem())
		v.Set(c)
	case v.Kind() == reflect.Slice && v.Len() == 0:
		v.Set(reflect.Zero(v.Type()))
	case v.Kind() == reflect.Slice:
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			normValue(c.Index(i))
		}
		v.Set(c)
	}
}

// same reports a difference between what was stored and what came back.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s read back as\n\t%+v\nwant\n\t%+v", what, g, w)
	}
}

func ids[T any](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = reflect.ValueOf(x).FieldByName("ID").String()
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}
