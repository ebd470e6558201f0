package storetest

import (
	"testing"
	"time"

	"mfagate/mfa"
)

// A Temporary Access Pass keeps its hash, expiry, use and one-time flag to
// the nanosecond; its use can be recorded; ExpiredTAPs lists the passes
// whose expiry is not after the given time, oldest expiry first, and no
// other kind of method.
func testTAP(t *testing.T, s mfa.Store) {
	tap := func(id, u string, expires time.Time, oneTime bool) mfa.Method {
		return mfa.Method{ID: id, User: u, Kind: mfa.KindTAP, Label: "Temporary Access Pass", Confirmed: true,
			Secret: []byte{0xde, 0xad, 0xbe, 0xef}, CreatedAt: t0, ConfirmedAt: t0, ExpiresAt: expires, OneTime: oneTime}
	}
	a := tap("m_tap_a", "u", t0.Add(time.Hour), true)
	b := tap("m_tap_b", "v", t0.Add(10*time.Minute), false)
	app := method("m_app", "u", t0) // a TOTP method: ExpiresAt zero
	put(t, s, user("u", mfa.StateActive), user("v", mfa.StateOff), a, b, app)
	view(t, s, func(tx mfa.Tx) error {
		got, err := tx.Method(a.ID)
		if err != nil {
			return err
		}
		same(t, "one-time pass", got, a)
		got, err = tx.Method(b.ID)
		if err != nil {
			return err
		}
		same(t, "reusable pass", got, b)
		if got.OneTime || !got.UsedAt.IsZero() {
			t.Errorf("reusable unused pass read back one_time=%v used_at=%v", got.OneTime, got.UsedAt)
		}
		got, err = tx.Method(app.ID)
		if err == nil && (!got.ExpiresAt.IsZero() || got.OneTime) {
			t.Errorf("an app read back with expiry %v one_time %v", got.ExpiresAt, got.OneTime)
		}
		return err
	})

	// Use: used_at and last_used_at move on; expires_at and one_time stay.
	a.UsedAt, a.LastUsedAt = t0.Add(5*time.Minute), t0.Add(5*time.Minute)
	changed := a
	changed.ExpiresAt, changed.OneTime = t0.Add(99*time.Hour), false // not updatable
	put(t, s, changed)
	view(t, s, func(tx mfa.Tx) error {
		got, err := tx.Method(a.ID)
		if err == nil {
			same(t, "used pass", got, a)
		}
		return err
	})

	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{t0.Add(10*time.Minute - 1), nil},
		{t0.Add(10 * time.Minute), []string{b.ID}},
		{t0.Add(2 * time.Hour), []string{b.ID, a.ID}},
	} {
		view(t, s, func(tx mfa.Tx) error {
			ms, err := tx.ExpiredTAPs(tc.at, 10)
			if err == nil {
				same(t, "ExpiredTAPs at "+tc.at.String(), ids(ms), tc.want)
			}
			return err
		})
	}
	view(t, s, func(tx mfa.Tx) error {
		ms, err := tx.ExpiredTAPs(t0.Add(2*time.Hour), 1)
		if err == nil {
			same(t, "ExpiredTAPs limit 1", ids(ms), []string{b.ID})
		}
		return err
	})
}
