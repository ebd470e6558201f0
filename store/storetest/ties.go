package storetest

import (
	"testing"

	"mfagate/mfa"
)

// Ties: records stored under one fixed clock tie on the time a query orders
// by; they come back in ID order (newest first: highest ID first), whatever
// order they were stored in, so that every backend and every node that
// shares one answers alike. The stored order, b c a, is neither ID order
// nor its reverse, so neither insertion order nor its reverse passes.
func testTies(t *testing.T, s mfa.Store) {
	stored := []string{"b", "c", "a"}
	var values []any
	for _, id := range stored {
		u := user("u-"+id, mfa.StatePending)
		u.ActivatesAt = t0
		c := challenge("c-"+id, "u", "m", mfa.KindPhone, t0)
		j := job("j-"+id, mfa.ChannelSMS, 1, 0)
		values = append(values, u, c, j)
	}
	put(t, s, values...)
	want := func(prefix string) []string { return []string{prefix + "a", prefix + "b", prefix + "c"} }
	view(t, s, func(tx mfa.Tx) error {
		us, err := tx.DueActivations(t0, 10)
		same(t, "DueActivations of users due at one instant", ids(us), want("u-"))
		if err != nil {
			return err
		}
		cs, err := tx.ExpiredOpenChallenges(t0.Add(lease*100), 10)
		same(t, "ExpiredOpenChallenges expiring at one instant", ids(cs), want("c-"))
		if err != nil {
			return err
		}
		c, err := tx.LatestChallenge("m", mfa.PurposeSignin)
		same(t, "LatestChallenge of challenges created at one instant", c.ID, "c-c")
		if err != nil {
			return err
		}
		for _, st := range []mfa.JobState{"", mfa.JobQueued} {
			js, err := tx.Jobs(mfa.JobFilter{State: st, Limit: 10})
			same(t, "Jobs("+string(st)+") created at one instant (newest first)", ids(js), []string{"j-c", "j-b", "j-a"})
			if err != nil {
				return err
			}
		}
		return nil
	})
	var claimed []string
	for range stored {
		claimed = append(claimed, claim(t, s, sms, "m", t0).ID)
	}
	same(t, "claims of jobs of one priority and expiry", claimed, want("j-"))
}
