package storetest

import (
	"fmt"
	"testing"
	"time"

	"mfagate/mfa"
)

// ExpiredOpenChallenges finds non-final challenges expired by t, soonest
// expired first, up to the limit.
func testExpiredOpenChallenges(t *testing.T, s mfa.Store) {
	mk := func(id string, st mfa.Status, expires time.Duration) mfa.Challenge {
		c := challenge(id, "u", "m", mfa.KindPhone, t0.Add(-time.Hour))
		c.Status, c.ExpiresAt = st, t0.Add(expires)
		return c
	}
	var values []any
	for i, st := range []mfa.Status{mfa.StatusApproved, mfa.StatusDenied, mfa.StatusExpired, mfa.StatusFailed,
		mfa.StatusLocked, mfa.StatusNoAnswer, mfa.StatusBusy} {
		values = append(values, mk("final-"+string(st), st, -time.Duration(i+1)*time.Minute))
	}
	values = append(values,
		mk("sent-2m", mfa.StatusSent, -2*time.Minute), mk("created-3m", mfa.StatusCreated, -3*time.Minute),
		mk("calling-at-t", mfa.StatusCalling, 0), mk("queued-1m", mfa.StatusQueued, -time.Minute),
		mk("sending-1ns", mfa.StatusSending, -time.Nanosecond), mk("answered", mfa.StatusAnswered, -4*time.Minute),
		mk("delivered", mfa.StatusDelivered, -5*time.Minute), mk("created-later", mfa.StatusCreated, time.Nanosecond))
	put(t, s, values...)
	tests := []struct {
		at    time.Time
		limit int
		want  []string
	}{
		{t0, 100, []string{"delivered", "answered", "created-3m", "sent-2m", "queued-1m", "sending-1ns", "calling-at-t"}},
		{t0, 2, []string{"delivered", "answered"}},
		{t0.Add(-2 * time.Minute), 100, []string{"delivered", "answered", "created-3m", "sent-2m"}},
		{t0.Add(-time.Hour), 100, []string{}},
		{t0.Add(time.Nanosecond), 100, []string{"delivered", "answered", "created-3m", "sent-2m", "queued-1m", "sending-1ns",
			"calling-at-t", "created-later"}},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			cs, err := tx.ExpiredOpenChallenges(tc.at, tc.limit)
			same(t, fmt.Sprintf("ExpiredOpenChallenges(%v, %d)", tc.at.Sub(t0), tc.limit), ids(cs), tc.want)
			return err
		})
	}
}

// DueActivations finds pending users whose activation time has come,
// earliest first, up to the limit.
func testDueActivations(t *testing.T, s mfa.Store) {
	mk := func(id string, st mfa.State, at time.Duration) mfa.User {
		u := user(id, st)
		u.ActivatesAt = t0.Add(at)
		return u
	}
	put(t, s, mk("due-1h", mfa.StatePending, -time.Hour), mk("due-now", mfa.StatePending, 0),
		mk("due-1m", mfa.StatePending, -time.Minute), mk("later", mfa.StatePending, time.Nanosecond),
		mk("active", mfa.StateActive, -2*time.Hour), mk("off", mfa.StateOff, -2*time.Hour))
	tests := []struct {
		at    time.Time
		limit int
		want  []string
	}{
		{t0, 10, []string{"due-1h", "due-1m", "due-now"}},
		{t0, 1, []string{"due-1h"}},
		{t0.Add(-time.Minute), 10, []string{"due-1h", "due-1m"}},
		{t0.Add(-2 * time.Hour), 10, []string{}},
		{t0.Add(time.Nanosecond), 10, []string{"due-1h", "due-1m", "due-now", "later"}},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			us, err := tx.DueActivations(tc.at, tc.limit)
			same(t, fmt.Sprintf("DueActivations(%v, %d)", tc.at.Sub(t0), tc.limit), ids(us), tc.want)
			for _, u := range us {
				if u.ActivatesAt.IsZero() || u.CreatedAt.IsZero() {
					t.Errorf("due user %s read back incompletely: %+v", u.ID, u)
				}
			}
			return err
		})
	}
}

// CountUsers counts by stored state and always names the three states.
func testCountUsers(t *testing.T, s mfa.Store) {
	count := func() map[mfa.State]int {
		var m map[mfa.State]int
		view(t, s, func(tx mfa.Tx) (err error) { m, err = tx.CountUsers(); return err })
		return m
	}
	same(t, "counts of no users", count(), map[mfa.State]int{mfa.StateOff: 0, mfa.StatePending: 0, mfa.StateActive: 0})
	put(t, s, user("a", mfa.StateActive), user("b", mfa.StateActive), user("c", mfa.StatePending), user("d", mfa.StateActive))
	same(t, "counts", count(), map[mfa.State]int{mfa.StateOff: 0, mfa.StatePending: 1, mfa.StateActive: 3})
}

// Events lists newest first, by user, page by page.
func testEvents(t *testing.T, s mfa.Store) {
	var want []mfa.Event
	for i := range 7 {
		u := "alice"
		if i%3 == 1 {
			u = "bob"
		}
		e := mfa.Event{At: t0.Add(time.Duration(i) * time.Nanosecond), User: u, Type: fmt.Sprintf("type-%d", i),
			Actor: "admin", Method: fmt.Sprintf("m%d", i), Challenge: fmt.Sprintf("c%d", i), Detail: "détail ✓"}
		put(t, s, e)
		want = append([]mfa.Event{e}, want...) // newest first
	}
	// A system event without a user.
	put(t, s, mfa.Event{At: t0.Add(time.Hour), Type: "system"})
	var all []mfa.Event
	view(t, s, func(tx mfa.Tx) (err error) { all, err = tx.Events(mfa.EventFilter{Limit: 100}); return err })
	if len(all) != 8 || all[0].Type != "system" || all[0].User != "" {
		t.Fatalf("all events = %+v", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID || all[i].ID <= 0 {
			t.Fatalf("event IDs not positive and newest first: %d after %d", all[i].ID, all[i-1].ID)
		}
		w := want[i-1]
		w.ID = all[i].ID
		same(t, "event", all[i], w)
	}
	typesOf := func(es []mfa.Event) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Type
		}
		return out
	}
	tests := []struct {
		name string
		f    mfa.EventFilter
		want []string
	}{
		{"newest", mfa.EventFilter{Limit: 3}, []string{"system", "type-6", "type-5"}},
		{"alice", mfa.EventFilter{User: "alice", Limit: 100}, []string{"type-6", "type-5", "type-3", "type-2", "type-0"}},
		{"bob", mfa.EventFilter{User: "bob", Limit: 100}, []string{"type-4", "type-1"}},
		{"nobody", mfa.EventFilter{User: "nobody", Limit: 100}, []string{}},
		{"page 2", mfa.EventFilter{BeforeID: all[2].ID, Limit: 3}, []string{"type-4", "type-3", "type-2"}},
		{"alice page 2", mfa.EventFilter{User: "alice", BeforeID: all[3].ID, Limit: 2}, []string{"type-3", "type-2"}},
		{"last page", mfa.EventFilter{BeforeID: all[6].ID, Limit: 3}, []string{"type-0"}},
		{"past the end", mfa.EventFilter{BeforeID: all[7].ID, Limit: 3}, []string{}},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			es, err := tx.Events(tc.f)
			same(t, "events "+tc.name, typesOf(es), tc.want)
			return err
		})
	}
}

// PhoneChallengeTimes lists one user's phone challenges created after
// since, oldest first.
func testPhoneChallengeTimes(t *testing.T, s mfa.Store) {
	put(t, s,
		challenge("p3", "u", "m", mfa.KindPhone, t0.Add(3*time.Second)),
		challenge("p1", "u", "m", mfa.KindPhone, t0.Add(time.Second)),
		challenge("p0", "u", "m", mfa.KindPhone, t0),
		challenge("p2", "u", "m", mfa.KindPhone, t0.Add(2*time.Second)),
		challenge("totp", "u", "m", mfa.KindTOTP, t0.Add(time.Second)),
		challenge("fido", "u", "m", mfa.KindFIDO, t0.Add(time.Second)),
		challenge("other", "v", "m", mfa.KindPhone, t0.Add(time.Second)),
	)
	tests := []struct {
		user  string
		since time.Time
		want  []time.Time
	}{
		{"u", t0.Add(-time.Second), []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}},
		{"u", t0, []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}},
		{"u", t0.Add(3 * time.Second), []time.Time{}},
		{"v", time.Time{}, []time.Time{t0.Add(time.Second)}},
		{"w", time.Time{}, []time.Time{}},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			ts, err := tx.PhoneChallengeTimes(tc.user, tc.since)
			same(t, fmt.Sprintf("PhoneChallengeTimes(%s, %v)", tc.user, tc.since), ts, tc.want)
			return err
		})
	}
}

// LatestChallenge is the newest of a method's challenges with a purpose.
func testLatestChallenge(t *testing.T, s mfa.Store) {
	mk := func(id, m string, p mfa.Purpose, created time.Duration) mfa.Challenge {
		c := challenge(id, "u", m, mfa.KindPhone, t0.Add(created))
		c.Purpose = p
		return c
	}
	put(t, s, mk("old", "m", mfa.PurposeConfirm, 0), mk("new", "m", mfa.PurposeConfirm, time.Minute),
		mk("mid", "m", mfa.PurposeConfirm, time.Second), mk("test-newest", "m", mfa.PurposeTest, time.Hour),
		mk("other-method", "n", mfa.PurposeConfirm, 2*time.Hour))
	tests := []struct {
		method string
		p      mfa.Purpose
		want   string
	}{
		{"m", mfa.PurposeConfirm, "new"},
		{"m", mfa.PurposeTest, "test-newest"},
		{"n", mfa.PurposeConfirm, "other-method"},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			c, err := tx.LatestChallenge(tc.method, tc.p)
			if err != nil || c.ID != tc.want {
				t.Errorf("LatestChallenge(%s, %s) = %q, %v; want %q", tc.method, tc.p, c.ID, err, tc.want)
			}
			return nil
		})
	}
}
