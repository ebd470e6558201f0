package mfa_test

import (
	"errors"
	"testing"

	"mfagate/mfa"
	"mfagate/mfa/mfatest"
)

// A modem sending back to back records each SMS's outcome and claims its
// next job in one commit; with nothing left the outcome is still
// recorded; an outcome that cannot be recorded claims nothing.
func TestHandover(t *testing.T) {
	svc, db, _ := newSQLiteService(t)
	svc.SetSender(mfatest.NewSender("m1"))
	ctx, staff := t.Context(), mfa.Actor{Name: "kiosk"}
	for _, u := range []string{"0000000001", "0000000002", "0000000003"} {
		if _, err := svc.AddMethod(ctx, staff, u, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotMobile, Phone: "090-1234-5678"}); err != nil {
			t.Fatal(err)
		}
	}
	sms := []mfa.Channel{mfa.ChannelSMS}
	first, err := svc.Claim(ctx, "m1", sms)
	if err != nil {
		t.Fatal(err)
	}
	state := func(id string) mfa.JobState {
		t.Helper()
		j, err := svc.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return j.State
	}
	c0, _ := db.WriteStats()
	second, err := svc.Handover(ctx, "m1", sms, first.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{1}})
	if err != nil || second.Job == "" || second.Job == first.Job {
		t.Fatalf("handover: %+v %v", second, err)
	}
	if c, _ := db.WriteStats(); c-c0 != 1 {
		t.Fatalf("a handover committed %d times", c-c0)
	}
	if state(first.Job) != mfa.JobSent || state(second.Job) != mfa.JobSending {
		t.Fatalf("after the handover: %s %s", state(first.Job), state(second.Job))
	}
	if c, err := svc.Challenge(ctx, first.Challenge); err != nil || c.Status != mfa.StatusSent {
		t.Fatalf("the first job's challenge: %+v %v", c, err)
	}

	// A report that cannot be recorded: nothing is claimed.
	if _, err := svc.Handover(ctx, "m1", sms, "j_nothere", mfa.Outcome{Kind: mfa.OutcomeSent}); err == nil || errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("handover of an unknown job: %v", err)
	}
	third, err := svc.Handover(ctx, "m1", sms, second.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{2}})
	if err != nil || state(second.Job) != mfa.JobSent {
		t.Fatalf("handover after a refused one: %+v %v", third, err)
	}
	// The last one: recorded, and nothing waits.
	if _, err := svc.Handover(ctx, "m1", sms, third.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{3}}); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("handover with nothing queued: %v", err)
	}
	if state(third.Job) != mfa.JobSent {
		t.Fatalf("the last outcome was not recorded: %s", state(third.Job))
	}
}
