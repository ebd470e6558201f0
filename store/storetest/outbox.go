package storetest

import (
	"errors"
	"testing"
	"time"

	"mfagate/mfa"
)

// claim runs one ClaimJob in its own transaction; "" when none waits.
func claim(t *testing.T, s mfa.Store, channels []mfa.Channel, modem string, now time.Time) mfa.Job {
	t.Helper()
	var j mfa.Job
	update(t, s, func(tx mfa.Tx) error {
		var err error
		j, err = tx.ClaimJob(channels, modem, now)
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

// A claimed job is sending, owned by the modem, stamped with now, and
// otherwise unchanged, in what ClaimJob returns and in the store.
func testClaimJobFields(t *testing.T, s mfa.Store) {
	j := mfa.Job{ID: "j", Challenge: "c", Channel: mfa.ChannelVoice, To: "+81312345678", Extension: "99",
		Sealed: []byte{0, 1, 2}, Language: "ja", State: mfa.JobQueued, Attempts: 1, MR: []int{5}, Reason: "retry",
		Priority: 1, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	put(t, s, j)
	now := t0.Add(7 * time.Second)
	got := claim(t, s, voice, "modem-7", now)
	want := j
	want.State, want.Modem, want.UpdatedAt = mfa.JobSending, "modem-7", now
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

// RequeueSending puts jobs left in sending back in the queue, ownerless.
func testRequeueSending(t *testing.T, s mfa.Store) {
	for _, id := range []string{"a", "b", "c"} {
		put(t, s, job(id, mfa.ChannelSMS, 0, time.Minute))
	}
	sent := job("sent", mfa.ChannelSMS, 0, time.Minute)
	sent.State, sent.Modem = mfa.JobSent, "m0"
	put(t, s, sent)
	claim(t, s, sms, "m1", t0)
	claim(t, s, sms, "m2", t0)
	count := func() int {
		var n int
		update(t, s, func(tx mfa.Tx) (err error) { n, err = tx.RequeueSending(); return err })
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("requeued %d jobs, want 2", n)
	}
	if n := count(); n != 0 {
		t.Fatalf("requeued %d jobs the second time, want 0", n)
	}
	view(t, s, func(tx mfa.Tx) error {
		js, err := tx.Jobs(mfa.JobQueued, 10)
		if len(js) != 3 {
			t.Errorf("queued after requeue: %v", ids(js))
		}
		for _, j := range js {
			if j.Modem != "" {
				t.Errorf("requeued job %s still owned by %q", j.ID, j.Modem)
			}
		}
		j, err2 := tx.Job("sent")
		if j.State != mfa.JobSent || j.Modem != "m0" {
			t.Errorf("a sent job was requeued: %+v", j)
		}
		return errors.Join(err, err2)
	})
}

// Jobs lists by state, oldest first, up to the limit.
func testJobs(t *testing.T, s mfa.Store) {
	mk := func(id string, st mfa.JobState, created time.Duration) mfa.Job {
		j := job(id, mfa.ChannelSMS, 0, time.Hour)
		j.State, j.CreatedAt = st, t0.Add(created)
		return j
	}
	put(t, s, mk("q2", mfa.JobQueued, 2), mk("s1", mfa.JobSent, 1), mk("q0", mfa.JobQueued, 0),
		mk("f3", mfa.JobFailed, 3), mk("q4", mfa.JobQueued, 4))
	tests := []struct {
		state mfa.JobState
		limit int
		want  []string
	}{
		{"", 10, []string{"q0", "s1", "q2", "f3", "q4"}},
		{"", 2, []string{"q0", "s1"}},
		{mfa.JobQueued, 10, []string{"q0", "q2", "q4"}},
		{mfa.JobQueued, 1, []string{"q0"}},
		{mfa.JobFailed, 10, []string{"f3"}},
		{mfa.JobSending, 10, []string{}},
	}
	for _, tc := range tests {
		view(t, s, func(tx mfa.Tx) error {
			js, err := tx.Jobs(tc.state, tc.limit)
			same(t, "Jobs("+string(tc.state)+")", ids(js), tc.want)
			return err
		})
	}
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
		js, err := tx.Jobs("", 10)
		same(t, "jobs", ids(js), []string{"first", "t1", "t2"})
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
