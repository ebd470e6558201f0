package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"mfagate/mfa"
)

// lease is the claim lease the suite's claims ask for.
const lease = 30 * time.Second

// claim runs one ClaimJob for a modem of node "n1" in its own transaction;
// "" when none waits.
func claim(t *testing.T, s mfa.Store, channels []mfa.Channel, modem string, now time.Time) mfa.Job {
	t.Helper()
	return claimOn(t, s, channels, modem, "n1", now)
}

// claimOn is claim for a modem of the given node.
func claimOn(t *testing.T, s mfa.Store, channels []mfa.Channel, modem, node string, now time.Time) mfa.Job {
	t.Helper()
	var j mfa.Job
	update(t, s, func(tx mfa.Tx) error {
		var err error
		j, err = tx.ClaimJob(mfa.JobClaim{Channels: channels, Modem: modem, Node: node, Now: now, LeaseUntil: now.Add(lease)})
		if errors.Is(err, mfa.ErrNotFound) {
			j = mfa.Job{}
			return nil
		}
		return err
	})
	return j
}

var (
	sms   = []mfa.Channel{mfa.ChannelSMS}
	voice = []mfa.Channel{mfa.ChannelVoice}
	both  = []mfa.Channel{mfa.ChannelSMS, mfa.ChannelVoice}
)

// ClaimJob hands out the most urgent job first: lowest priority number,
// then earliest expiry; only for the asked channels; pinned jobs only to
// their modem; never a job that is not queued.
func testClaimJobOrder(t *testing.T, s mfa.Store) {
	pinned := func(j mfa.Job, modem string) mfa.Job { j.Challenge, j.Pinned = "", modem; return j }
	state := func(j mfa.Job, st mfa.JobState) mfa.Job { j.State = st; return j }
	put(t, s,
		job("test-late", mfa.ChannelSMS, 2, 9*time.Minute),
		job("signin-late", mfa.ChannelSMS, 0, 4*time.Minute),
		job("signin-soon", mfa.ChannelSMS, 0, 3*time.Minute),
		job("voice-late", mfa.ChannelVoice, 0, 5*time.Minute),
		job("voice-soon", mfa.ChannelVoice, 1, time.Minute),
		pinned(job("pinned-m2", mfa.ChannelSMS, 0, time.Second), "m2"),
		pinned(job("pinned-m1", mfa.ChannelSMS, 3, time.Minute), "m1"),
		state(job("sending", mfa.ChannelSMS, 0, 0), mfa.JobSending),
		state(job("sent", mfa.ChannelSMS, 0, 0), mfa.JobSent),
		state(job("failed", mfa.ChannelSMS, 0, 0), mfa.JobFailed),
	)
	steps := []struct {
		channels []mfa.Channel
		modem    string
		want     string
	}{
		{nil, "m1", ""},
		{[]mfa.Channel{}, "m1", ""},
		{voice, "m1", "voice-late"},
		{sms, "m1", "signin-soon"},
		{sms, "m2", "pinned-m2"},
		{sms, "m1", "signin-late"},
		{both, "m1", "voice-soon"},
		{sms, "m2", "test-late"},
		{voice, "m2", ""},
		{sms, "m2", ""},
		{both, "m1", "pinned-m1"},
		{both, "m1", ""},
	}
	for i, st := range steps {
		got := claim(t, s, st.channels, st.modem, t0.Add(time.Duration(i)*time.Second))
		if got.ID != st.want {
			t.Fatalf("step %d: %s claiming %v got %q, want %q", i, st.modem, st.channels, got.ID, st.want)
		}
	}
}

// A claimed job is sending, owned by the modem and its node with the
// lease asked for, stamped with now, and otherwise unchanged, in what
// ClaimJob returns and in the store.
func testClaimJobFields(t *testing.T, s mfa.Store) {
	j := mfa.Job{ID: "j", Challenge: "c", Channel: mfa.ChannelVoice, To: "+81312345678", Extension: "99",
		Sealed: []byte{0, 1, 2}, Language: "ja", State: mfa.JobQueued, Attempts: 1, MR: []int{5}, Reason: "retry",
		Priority: 1, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	put(t, s, j)
	now := t0.Add(7 * time.Second)
	got := claim(t, s, voice, "modem-7", now)
	want := j
	want.State, want.Modem, want.Node, want.UpdatedAt, want.LeaseUntil = mfa.JobSending, "modem-7", "n1", now, now.Add(lease)
	same(t, "claimed job", got, want)
	view(t, s, func(tx mfa.Tx) error {
		stored, err := tx.Job("j")
		same(t, "claimed job in the store", stored, want)
		return err
	})
	if again := claim(t, s, voice, "modem-8", now); again.ID != "" {
		t.Errorf("a sending job was claimed again: %+v", again)
	}
}

// RequeueSending puts back in the queue, ownerless, the jobs the named
// node held and those whose lease ran out; RenewLeases extends only the
// listed jobs the node still sends.
func testRequeueSending(t *testing.T, s mfa.Store) {
	for _, id := range []string{"a", "b", "c", "d"} {
		put(t, s, job(id, mfa.ChannelSMS, 0, time.Minute))
	}
	sent := job("sent", mfa.ChannelSMS, 0, time.Minute)
	sent.State, sent.Modem, sent.Node = mfa.JobSent, "m0", "n1"
	put(t, s, sent)
	a := claimOn(t, s, sms, "m1", "n1", t0)                     // lease to t0+30s
	b := claimOn(t, s, sms, "m2", "n2", t0)                     // lease to t0+30s, renewed below
	c := claimOn(t, s, sms, "m3", "n2", t0.Add(20*time.Second)) // lease to t0+50s
	if a.ID == "" || b.ID == "" || c.ID == "" {
		t.Fatalf("claims: %q %q %q", a.ID, b.ID, c.ID)
	}
	requeue := func(node string, now time.Time) int {
		var n int
		update(t, s, func(tx mfa.Tx) (err error) { n, err = tx.RequeueSending(node, now); return err })
		return n
	}
	if n := requeue("n1", t0.Add(10*time.Second)); n != 1 {
		t.Fatalf("node n1 restarting requeued %d jobs, want its 1", n)
	}
	var renewed int
	update(t, s, func(tx mfa.Tx) (err error) {
		renewed, err = tx.RenewLeases("n2", []string{a.ID, b.ID, "missing"}, t0.Add(60*time.Second))
		return err
	})
	if renewed != 1 {
		t.Fatalf("renewed %d leases, want 1 (%s: the other listed jobs are not n2's)", renewed, b.ID)
	}
	if n := requeue("", t0.Add(55*time.Second)); n != 1 {
		t.Fatalf("at t0+55s requeued %d jobs, want 1 (%s, whose lease ended at t0+50s)", n, c.ID)
	}
	if n := requeue("", t0.Add(55*time.Second)); n != 0 {
		t.Fatalf("requeued %d jobs the second time, want 0", n)
	}
	view(t, s, func(tx mfa.Tx) error {
		js, err := tx.Jobs(mfa.JobFilter{State: mfa.JobQueued, Limit: 10})
		if len(js) != 3 {
			t.Errorf("queued after requeue: %v", ids(js))
		}
		for _, j := range js {
			if j.Modem != "" || j.Node != "" || !j.LeaseUntil.IsZero() {
				t.Errorf("requeued job %s still held: modem %q node %q lease %v", j.ID, j.Modem, j.Node, j.LeaseUntil)
			}
		}
		held, err2 := tx.Job(b.ID)
		if held.State != mfa.JobSending || held.Node != "n2" || !held.LeaseUntil.Equal(t0.Add(60*time.Second)) {
			t.Errorf("the renewed job: %+v", held)
		}
		j, err3 := tx.Job("sent")
		if j.State != mfa.JobSent || j.Modem != "m0" {
			t.Errorf("a sent job was requeued: %+v", j)
		}
		return errors.Join(err, err2, err3)
	})
}

// PutNode records heartbeats; Nodes lists them by ID with the jobs each
// holds.
func testNodes(t *testing.T, s mfa.Store) {
	view(t, s, func(tx mfa.Tx) error {
		ns, err := tx.Nodes()
		if len(ns) != 0 {
			t.Errorf("nodes of an empty store: %+v", ns)
		}
		return err
	})
	put(t, s, job("a", mfa.ChannelSMS, 0, time.Minute), job("b", mfa.ChannelSMS, 0, time.Minute))
	claimOn(t, s, sms, "m1", "node-b", t0)
	modems := []mfa.NodeModem{{Name: "m1", State: "ready", Channels: []mfa.Channel{mfa.ChannelSMS, mfa.ChannelVoice}}}
	b := mfa.Node{ID: "node-b", Version: "1.0", StartedAt: t0, SeenAt: t0.Add(time.Second), Modems: modems}
	a := mfa.Node{ID: "node-a", Version: "1.0", StartedAt: t0, SeenAt: t0}
	update(t, s, func(tx mfa.Tx) error { return errors.Join(tx.PutNode(b), tx.PutNode(a)) })
	a.SeenAt, a.Version = t0.Add(10*time.Second), "1.1"
	update(t, s, func(tx mfa.Tx) error { return tx.PutNode(a) })
	view(t, s, func(tx mfa.Tx) error {
		ns, err := tx.Nodes()
		b.Sending = 1
		same(t, "nodes", ns, []mfa.Node{a, b})
		return err
	})
}

// Jobs lists by state, newest first, a page at a time before or after a
// cursor job, up to the limit.
func testJobs(t *testing.T, s mfa.Store) {
	mk := func(id string, st mfa.JobState, created time.Duration) mfa.Job {
		j := job(id, mfa.ChannelSMS, 0, time.Hour)
		j.State, j.CreatedAt = st, t0.Add(created)
		return j
	}
	// q4b ties with q4 on its creation time: the ID orders them.
	put(t, s, mk("q2", mfa.JobQueued, 2), mk("s1", mfa.JobSent, 1), mk("q0", mfa.JobQueued, 0),
		mk("f3", mfa.JobFailed, 3), mk("q4b", mfa.JobQueued, 4), mk("q4", mfa.JobQueued, 4))
	tests := []struct {
		f    mfa.JobFilter
		want []string
	}{
		{mfa.JobFilter{Limit: 10}, []string{"q4b", "q4", "f3", "q2", "s1", "q0"}},
		{mfa.JobFilter{Limit: 2}, []string{"q4b", "q4"}},
		{mfa.JobFilter{Before: "q4", Limit: 2}, []string{"f3", "q2"}},
		{mfa.JobFilter{Before: "q4b", Limit: 2}, []string{"q4", "f3"}},
		{mfa.JobFilter{Before: "q0", Limit: 2}, []string{}},
		{mfa.JobFilter{After: "q2", Limit: 2}, []string{"q4", "f3"}},
		{mfa.JobFilter{After: "q2", Limit: 10}, []string{"q4b", "q4", "f3"}},
		{mfa.JobFilter{After: "q4b", Limit: 10}, []string{}},
		{mfa.JobFilter{State: mfa.JobQueued, Limit: 10}, []string{"q4b", "q4", "q2", "q0"}},
		{mfa.JobFilter{State: mfa.JobQueued, Limit: 1}, []string{"q4b"}},
		{mfa.JobFilter{State: mfa.JobQueued, Before: "q4", Limit: 10}, []string{"q2", "q0"}},
		{mfa.JobFilter{State: mfa.JobQueued, After: "q0", Limit: 2}, []string{"q4", "q2"}},
		// A cursor of another state still places the page.
		{mfa.JobFilter{State: mfa.JobQueued, Before: "f3", Limit: 10}, []string{"q2", "q0"}},
		{mfa.JobFilter{State: mfa.JobFailed, Limit: 10}, []string{"f3"}},
		{mfa.JobFilter{State: mfa.JobSending, Limit: 10}, []string{}},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			js, err := tx.Jobs(tc.f)
			same(t, fmt.Sprintf("Jobs(%+v)", tc.f), ids(js), tc.want)
			return err
		})
	}
	view(t, s, func(tx mfa.Tx) error {
		for _, f := range []mfa.JobFilter{{Before: "nope", Limit: 1}, {After: "nope", Limit: 1}} {
			if js, err := tx.Jobs(f); !errors.Is(err, mfa.ErrNotFound) {
				t.Errorf("Jobs(%+v) with an unknown cursor = %v, %v; want ErrNotFound", f, ids(js), err)
			}
		}
		return nil
	})
}

// A challenge has at most one job; test messages have none and may be many.
func testOneJobPerChallenge(t *testing.T, s mfa.Store) {
	put(t, s, job("first", mfa.ChannelSMS, 0, time.Minute))
	second := job("second", mfa.ChannelSMS, 0, time.Minute)
	second.Challenge = "c_first"
	err := s.Update(t.Context(), func(tx mfa.Tx) error { return tx.PutJob(second) })
	if err == nil {
		t.Error("a second job for the same challenge was stored")
	}
	t1, t2 := job("t1", mfa.ChannelSMS, 3, time.Minute), job("t2", mfa.ChannelSMS, 3, time.Minute)
	t1.Challenge, t1.Pinned, t2.Challenge, t2.Pinned = "", "m1", "", "m1"
	put(t, s, t1, t2)
	view(t, s, func(tx mfa.Tx) error {
		j, err := tx.JobForChallenge("c_first")
		if err != nil || j.ID != "first" {
			t.Errorf("job for c_first = %q, %v", j.ID, err)
		}
		js, err := tx.Jobs(mfa.JobFilter{Limit: 10})
		same(t, "jobs", ids(js), []string{"t2", "t1", "first"})
		return err
	})
}

// OutboxStats counts queued and sending jobs and dates the oldest queued.
func testOutboxStats(t *testing.T, s mfa.Store) {
	stats := func() mfa.OutboxStats {
		var st mfa.OutboxStats
		view(t, s, func(tx mfa.Tx) (err error) { st, err = tx.OutboxStats(); return err })
		return st
	}
	same(t, "stats of an empty outbox", stats(), mfa.OutboxStats{})
	mk := func(id string, st mfa.JobState, created time.Duration) mfa.Job {
		j := job(id, mfa.ChannelSMS, 0, time.Hour)
		j.State, j.CreatedAt = st, t0.Add(created)
		return j
	}
	put(t, s, mk("sending-oldest", mfa.JobSending, -time.Hour), mk("sent", mfa.JobSent, -2*time.Hour),
		mk("failed", mfa.JobFailed, -3*time.Hour), mk("q1", mfa.JobQueued, time.Minute), mk("q0", mfa.JobQueued, time.Second),
		mk("q2", mfa.JobQueued, 2*time.Minute))
	same(t, "stats", stats(), mfa.OutboxStats{Queued: 3, Sending: 1, Oldest: t0.Add(time.Second)})
	for range 3 {
		claim(t, s, sms, "m", t0)
	}
	same(t, "stats with nothing queued", stats(), mfa.OutboxStats{Sending: 4})
}
