package postgres

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"mfagate/mfa"
)

type note struct{ topic, payload string }

// The triggers notify at commit: a job entering the queue on the outbox
// topic (with its channel), a changed challenge on the challenge topic
// (with its ID); nothing for a rolled-back transaction or a job leaving the
// queue. Listen starts with a resync.
func TestListen(t *testing.T) {
	db := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	notes := make(chan note, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.Listen(ctx, slog.New(slog.DiscardHandler), func(topic, payload string) { notes <- note{topic, payload} })
	}()
	next := func() note {
		t.Helper()
		select {
		case n := <-notes:
			return n
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
			return note{}
		}
	}
	none := func(what string) {
		t.Helper()
		select {
		case n := <-notes:
			t.Fatalf("%s notified %+v", what, n)
		case <-time.After(300 * time.Millisecond):
		}
	}
	if n := next(); n.topic != TopicResync {
		t.Fatalf("first call: %+v, want the resync", n)
	}
	now := time.Unix(1_800_000_000, 0)
	c := mfa.Challenge{ID: "c_1", User: "u", Method: "m", Kind: mfa.KindPhone, Channel: mfa.ChannelVoice, Purpose: mfa.PurposeSignin,
		Status: mfa.StatusQueued, AttemptsLeft: 3, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	j := mfa.Job{ID: "j_1", Challenge: "c_1", Channel: mfa.ChannelVoice, To: "+819012345678", Sealed: []byte{1},
		State: mfa.JobQueued, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Minute)}
	rolledBack := errors.New("roll back")
	if err := db.Update(ctx, func(tx mfa.Tx) error {
		if err := tx.PutChallenge(c); err != nil {
			return err
		}
		if err := tx.PutJob(j); err != nil {
			return err
		}
		return rolledBack
	}); !errors.Is(err, rolledBack) {
		t.Fatal(err)
	}
	none("a rolled-back transaction")
	if err := db.Update(ctx, func(tx mfa.Tx) error { return errors.Join(tx.PutChallenge(c), tx.PutJob(j)) }); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != (note{TopicOutbox, "voice"}) {
		t.Fatalf("a queued job: %+v", n)
	}
	none("a new challenge") // long polls wait only on existing ones
	if err := db.Update(ctx, func(tx mfa.Tx) error {
		_, err := tx.ClaimJob(mfa.JobClaim{Channels: []mfa.Channel{mfa.ChannelVoice}, Modem: "m1", Node: "n1", Now: now, LeaseUntil: now.Add(time.Minute)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	none("a claim")
	c.Status = mfa.StatusCalling
	if err := db.Update(ctx, func(tx mfa.Tx) error { return tx.PutChallenge(c) }); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != (note{TopicChallenge, "c_1"}) {
		t.Fatalf("a changed challenge: %+v", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return when its context ended")
	}
}
