package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"mfagate/mfa"
)

// Every field of every record comes back as stored.
func testRoundTrip(t *testing.T, s mfa.Store) {
	jst := time.FixedZone("JST", 9*3600)
	users := []mfa.User{
		{ID: "0123456789", State: mfa.StatePending, ActivatesAt: t0.Add(time.Hour), LastTestSigninAt: t0.Add(-time.Hour),
			LastMethodChangeAt: t0.Add(-2 * time.Hour), DefaultMethod: "m_phone", ConsecutiveFailures: 3, PhoneBlocked: true,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Second)},
		{ID: "zero-times", State: mfa.StateOff, CreatedAt: t0, UpdatedAt: t0},
		{ID: "other-zone", State: mfa.StateActive, ActivatesAt: t0.In(jst), CreatedAt: t0.In(jst), UpdatedAt: t0.In(jst)},
		{ID: "ユーザー", State: mfa.StateActive, DefaultMethod: "m_fido", CreatedAt: t0, UpdatedAt: t0},
	}
	methods := []mfa.Method{
		{ID: "m_phone", User: users[0].ID, Kind: mfa.KindPhone, Label: "office", Confirmed: true, Slot: mfa.SlotOffice,
			Channel: mfa.ChannelVoice, Phone: "+81312345678", Extension: "1234", Language: "ja", CreatedAt: t0,
			ConfirmedAt: t0.Add(time.Minute)},
		{ID: "m_totp", User: users[0].ID, Kind: mfa.KindTOTP, Label: "app", Confirmed: true, Secret: []byte{0, 1, 2, 0xff},
			LastStep: 59_000_000_123, CreatedAt: t0.Add(time.Second), ConfirmedAt: t0.Add(2 * time.Second),
			LastUsedAt: t0.Add(3 * time.Second).In(jst)},
		{ID: "m_unconfirmed", User: users[0].ID, Kind: mfa.KindPhone, Label: "mobile", Slot: mfa.SlotMobile,
			Channel: mfa.ChannelSMS, Phone: "+819012345678", Language: "en", CreatedAt: t0.Add(2 * time.Second)},
		{ID: "m_fido", User: users[3].ID, Kind: mfa.KindFIDO, Label: "key", Confirmed: true, CreatedAt: t0, ConfirmedAt: t0,
			LastUsedAt: t0.Add(time.Hour),
			FIDO: &mfa.FIDOCredential{ID: []byte{9, 8, 7, 0}, PublicKey: []byte{0xa5, 1, 2, 3, 0x26},
				AAGUID: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, SignCount: 4_000_000_000,
				AttestationFormat: "packed", AttestationObject: []byte{0xa3, 0x63}, ClientDataJSON: []byte(`{"type":"webauthn.create"}`)}},
		{ID: "m_fido_none", User: users[3].ID, Kind: mfa.KindFIDO, Label: "no attestation", CreatedAt: t0.Add(time.Second),
			FIDO: &mfa.FIDOCredential{ID: []byte{1}, PublicKey: []byte{2}, AAGUID: make([]byte, 16), AttestationFormat: "none"}},
	}
	challenges := []mfa.Challenge{
		{ID: "c_sms", User: users[0].ID, Method: "m_unconfirmed", Kind: mfa.KindPhone, Channel: mfa.ChannelSMS,
			Purpose: mfa.PurposeConfirm, Status: mfa.StatusDelivered, Reason: "r", CodeHash: []byte{3, 0, 4},
			AttemptsLeft: 5, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
			Delivery: mfa.Delivery{Modem: "modem-a", Attempts: 2, Status: "delivered", Reason: "ok"}},
		{ID: "c_voice", User: users[0].ID, Method: "m_phone", Kind: mfa.KindPhone, Channel: mfa.ChannelVoice,
			Purpose: mfa.PurposeTest, Status: mfa.StatusDenied, Reason: "wrong_number", NumberMatch: "42", AttemptsLeft: 0,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute), FinishedAt: t0.Add(30 * time.Second)},
		{ID: "c_fido", User: users[3].ID, Method: "m_fido", Kind: mfa.KindFIDO, Purpose: mfa.PurposeSignin,
			Status: mfa.StatusCreated, WebAuthn: []byte{0, 0xfe, 0xed, 0}, AttemptsLeft: 1, CreatedAt: t0.In(jst),
			ExpiresAt: t0.Add(2 * time.Minute)},
		{ID: "c_discoverable", User: users[3].ID, Kind: mfa.KindFIDO, Purpose: mfa.PurposeSignin,
			Status: mfa.StatusCreated, WebAuthn: []byte{1, 2}, AttemptsLeft: 5, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Minute)},
		{ID: "c_redeemed", User: users[0].ID, Method: "m_phone", Kind: mfa.KindPhone, Channel: mfa.ChannelVoice,
			Purpose: mfa.PurposeSignin, Status: mfa.StatusApproved, NumberMatch: "17", AttemptsLeft: 5, CreatedAt: t0,
			ExpiresAt: t0.Add(5 * time.Minute), FinishedAt: t0.Add(20 * time.Second), RedeemedAt: t0.Add(21 * time.Second).In(jst)},
	}
	jobs := []mfa.Job{
		{ID: "j_sms", Challenge: "c_sms", Channel: mfa.ChannelSMS, To: "+819012345678", Sealed: []byte{4, 0, 5},
			Language: "en", State: mfa.JobSent, Modem: "modem-a", Attempts: 2, MR: []int{7, 8, 255}, Reason: "r",
			Priority: 1, CreatedAt: t0, UpdatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(5 * time.Minute)},
		{ID: "j_voice", Challenge: "c_voice", Channel: mfa.ChannelVoice, To: "+81312345678", Extension: "1234",
			Sealed: []byte("42"), Language: "ja", State: mfa.JobQueued, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Minute)},
		{ID: "j_test_a", Channel: mfa.ChannelSMS, To: "+819011112222", Sealed: []byte{6}, State: mfa.JobQueued,
			Priority: 3, Pinned: "modem-a", CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)},
		{ID: "j_test_b", Channel: mfa.ChannelSMS, To: "+819011112222", Sealed: []byte{7}, State: mfa.JobFailed,
			Reason: "no_carrier", MR: []int{0}, Priority: 3, Pinned: "modem-b", CreatedAt: t0, UpdatedAt: t0,
			ExpiresAt: t0.Add(10 * time.Minute)},
	}
	var values []any
	for _, v := range users {
		values = append(values, v)
	}
	for _, v := range methods {
		values = append(values, v)
	}
	for _, v := range challenges {
		values = append(values, v)
	}
	for _, v := range jobs {
		values = append(values, v)
	}
	put(t, s, values...)

	view(t, s, func(tx mfa.Tx) error {
		for _, want := range users {
			got, err := tx.User(want.ID)
			if err != nil {
				t.Errorf("user %s: %v", want.ID, err)
			}
			same(t, "user "+want.ID, got, want)
		}
		for _, want := range methods {
			got, err := tx.Method(want.ID)
			if err != nil {
				t.Errorf("method %s: %v", want.ID, err)
			}
			same(t, "method "+want.ID, got, want)
			if (got.FIDO == nil) != (want.FIDO == nil) {
				t.Errorf("method %s: FIDO credential %v, want %v", want.ID, got.FIDO, want.FIDO)
			}
		}
		for _, want := range challenges {
			got, err := tx.Challenge(want.ID)
			if err != nil {
				t.Errorf("challenge %s: %v", want.ID, err)
			}
			same(t, "challenge "+want.ID, got, want)
		}
		for _, want := range jobs {
			got, err := tx.Job(want.ID)
			if err != nil {
				t.Errorf("job %s: %v", want.ID, err)
			}
			same(t, "job "+want.ID, got, want)
			if want.Challenge != "" {
				got, err := tx.JobForChallenge(want.Challenge)
				if err != nil || got.ID != want.ID {
					t.Errorf("job for challenge %s = %s, %v; want %s", want.Challenge, got.ID, err, want.ID)
				}
			}
		}
		return nil
	})
}

// Storing a record again changes what may change and keeps what may not.
func testOverwrite(t *testing.T, s mfa.Store) {
	u := mfa.User{ID: "u", State: mfa.StatePending, ActivatesAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0}
	m := mfa.Method{ID: "m", User: "u", Kind: mfa.KindFIDO, Label: "key", CreatedAt: t0,
		FIDO: &mfa.FIDOCredential{ID: []byte{1}, PublicKey: []byte{2}, AAGUID: make([]byte, 16), SignCount: 1, AttestationFormat: "none"}}
	c := challenge("c", "u", "m", mfa.KindPhone, t0)
	c.Channel, c.CodeHash = mfa.ChannelSMS, []byte{1}
	j := job("j", mfa.ChannelSMS, 0, time.Minute)
	j.Challenge = "c"
	put(t, s, u, m, c, j)

	u2 := u
	u2.State, u2.ActivatesAt, u2.LastTestSigninAt, u2.LastMethodChangeAt = mfa.StateActive, time.Time{}, t0.Add(time.Minute), t0.Add(2*time.Minute)
	u2.DefaultMethod, u2.ConsecutiveFailures, u2.PhoneBlocked, u2.UpdatedAt = "m", 2, true, t0.Add(time.Hour)
	u2.CreatedAt = t0.Add(time.Hour) // a record's creation time is kept
	m2 := m
	f := *m.FIDO
	f.SignCount = 7
	m2.FIDO = &f
	m2.Label, m2.Confirmed, m2.ConfirmedAt, m2.LastStep, m2.Secret = "renamed", true, t0.Add(time.Minute), 5, []byte{9}
	m2.LastUsedAt = t0.Add(3 * time.Minute)
	c2 := c
	c2.Status, c2.Reason, c2.AttemptsLeft, c2.FinishedAt = mfa.StatusApproved, "ok", 1, t0.Add(time.Minute)
	c2.RedeemedAt = t0.Add(2 * time.Minute)
	c2.Delivery = mfa.Delivery{Modem: "a", Attempts: 1, Status: "sent", Reason: "x"}
	j2 := j
	j2.State, j2.Modem, j2.Attempts, j2.MR, j2.Reason, j2.UpdatedAt = mfa.JobSent, "a", 1, []int{3, 4}, "sent", t0.Add(time.Minute)
	put(t, s, u2, m2, c2, j2)

	u2.CreatedAt = u.CreatedAt
	view(t, s, func(tx mfa.Tx) error {
		gu, err1 := tx.User("u")
		gm, err2 := tx.Method("m")
		gc, err3 := tx.Challenge("c")
		gj, err4 := tx.Job("j")
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		same(t, "overwritten user", gu, u2)
		same(t, "overwritten method", gm, m2)
		same(t, "overwritten challenge", gc, c2)
		same(t, "overwritten job", gj, j2)
		return nil
	})
	// And back again: a job's message references can be cleared.
	j2.MR = nil
	put(t, s, j2)
	view(t, s, func(tx mfa.Tx) error {
		gj, err := tx.Job("j")
		if err == nil && len(gj.MR) != 0 {
			t.Errorf("message references after clearing = %v", gj.MR)
		}
		return err
	})
}

// Getters of missing rows answer mfa.ErrNotFound; lists answer nothing.
func testNotFound(t *testing.T, s mfa.Store) {
	put(t, s, user("u", mfa.StateActive), method("m", "u", t0), challenge("c", "u", "m", mfa.KindTOTP, t0))
	tests := []struct {
		name string
		call func(mfa.Tx) error
	}{
		{"User", func(tx mfa.Tx) error { _, err := tx.User("nobody"); return err }},
		{"Method", func(tx mfa.Tx) error { _, err := tx.Method("nothing"); return err }},
		{"Challenge", func(tx mfa.Tx) error { _, err := tx.Challenge("nothing"); return err }},
		{"Job", func(tx mfa.Tx) error { _, err := tx.Job("nothing"); return err }},
		{"JobForChallenge", func(tx mfa.Tx) error { _, err := tx.JobForChallenge("c"); return err }},
		{"JobForNoChallenge", func(tx mfa.Tx) error { _, err := tx.JobForChallenge(""); return err }},
		{"LatestChallengeOtherPurpose", func(tx mfa.Tx) error { _, err := tx.LatestChallenge("m", mfa.PurposeTest); return err }},
		{"LatestChallengeOtherMethod", func(tx mfa.Tx) error { _, err := tx.LatestChallenge("x", mfa.PurposeSignin); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			view(t, s, func(tx mfa.Tx) error {
				wantErr(t, tc.name, tc.call(tx), mfa.ErrNotFound)
				return nil
			})
		})
	}
	t.Run("Lists", func(t *testing.T) {
		view(t, s, func(tx mfa.Tx) error {
			ms, err := tx.Methods("nobody")
			if err != nil || len(ms) != 0 {
				t.Errorf("Methods(nobody) = %v, %v", ms, err)
			}
			js, err := tx.Jobs(mfa.JobFilter{Limit: 10})
			if err != nil || len(js) != 0 {
				t.Errorf("Jobs on an empty outbox = %v, %v", js, err)
			}
			es, err := tx.Events(mfa.EventFilter{Limit: 10})
			if err != nil || len(es) != 0 {
				t.Errorf("Events on an empty log = %v, %v", es, err)
			}
			return nil
		})
	})
	t.Run("DeleteMethod", func(t *testing.T) {
		update(t, s, func(tx mfa.Tx) error {
			return errors.Join(tx.DeleteMethod("m"), tx.DeleteMethod("never-existed"))
		})
		view(t, s, func(tx mfa.Tx) error {
			_, err := tx.Method("m")
			wantErr(t, "deleted method", err, mfa.ErrNotFound)
			return nil
		})
	})
}

// Methods lists one user's methods, oldest first.
func testMethodsOfUser(t *testing.T, s mfa.Store) {
	put(t, s, user("a", mfa.StateActive), user("b", mfa.StateActive),
		method("a3", "a", t0.Add(3*time.Second)), method("a1", "a", t0.Add(time.Second)),
		method("b1", "b", t0), method("a2", "a", t0.Add(2*time.Second)))
	view(t, s, func(tx mfa.Tx) error {
		ms, err := tx.Methods("a")
		if err != nil {
			return err
		}
		same(t, "methods of a", ids(ms), []string{"a1", "a2", "a3"})
		return nil
	})
}

var errBoom = errors.New("boom")

// A failed Update leaves nothing behind and returns fn's error, and the
// store goes on working.
func testRollbackOnError(t *testing.T, s mfa.Store) {
	put(t, s, user("kept", mfa.StateOff))
	err := s.Update(t.Context(), func(tx mfa.Tx) error {
		u := user("kept", mfa.StateActive)
		c := challenge("c", "new", "m", mfa.KindTOTP, t0)
		j := job("j", mfa.ChannelSMS, 0, time.Minute)
		if err := errors.Join(tx.PutUser(u), tx.PutUser(user("new", mfa.StateActive)), tx.PutMethod(method("m", "new", t0)),
			tx.PutChallenge(c), tx.PutJob(j), tx.AddEvent(mfa.Event{At: t0, User: "new", Type: "x"})); err != nil {
			return err
		}
		return errBoom
	})
	wantErr(t, "update that failed", err, errBoom)

	// A statement the store refuses (a method of an unknown user violates
	// the foreign key) fails the whole transaction too.
	err = s.Update(t.Context(), func(tx mfa.Tx) error {
		if err := tx.PutUser(user("also-new", mfa.StateActive)); err != nil {
			return err
		}
		return tx.PutMethod(method("orphan", "nobody", t0))
	})
	if err == nil {
		t.Error("a method of a user without a record was stored")
	}

	view(t, s, func(tx mfa.Tx) error {
		u, err := tx.User("kept")
		if err != nil || u.State != mfa.StateOff {
			t.Errorf("user changed by a rolled-back update: %+v %v", u, err)
		}
		for _, id := range []string{"new", "also-new"} {
			_, err = tx.User(id)
			wantErr(t, "user "+id+" of a rolled-back update", err, mfa.ErrNotFound)
		}
		_, err = tx.Method("m")
		wantErr(t, "method of a rolled-back update", err, mfa.ErrNotFound)
		_, err = tx.Challenge("c")
		wantErr(t, "challenge of a rolled-back update", err, mfa.ErrNotFound)
		_, err = tx.Job("j")
		wantErr(t, "job of a rolled-back update", err, mfa.ErrNotFound)
		es, err := tx.Events(mfa.EventFilter{Limit: 10})
		if err != nil || len(es) != 0 {
			t.Errorf("events of a rolled-back update: %v %v", es, err)
		}
		return nil
	})
	put(t, s, user("after", mfa.StateOff))
}

// A panic in fn rolls back and does not leave the store unable to write.
func testRollbackOnPanic(t *testing.T, s mfa.Store) {
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Errorf("recovered %v, want the panic of fn", r)
			}
		}()
		s.Update(t.Context(), func(tx mfa.Tx) error {
			if err := tx.PutUser(user("u", mfa.StateActive)); err != nil {
				return err
			}
			panic(errBoom)
		})
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := s.Update(ctx, func(tx mfa.Tx) error { return tx.PutUser(user("v", mfa.StateOff)) })
	if err != nil {
		t.Fatalf("write after a panicking update: %v", err)
	}
	view(t, s, func(tx mfa.Tx) error {
		_, err := tx.User("u")
		wantErr(t, "user written before the panic", err, mfa.ErrNotFound)
		return nil
	})
}

// View cannot write.
func testViewIsReadOnly(t *testing.T, s mfa.Store) {
	err := s.View(t.Context(), func(tx mfa.Tx) error { return tx.PutUser(user("u", mfa.StateActive)) })
	if err == nil {
		t.Error("View stored a user")
	}
	view(t, s, func(tx mfa.Tx) error {
		_, err := tx.User("u")
		wantErr(t, "user written in View", err, mfa.ErrNotFound)
		return nil
	})
}

// A method's last use is stored and can be moved on; a discoverable
// security-key challenge is stored without a method and gets the one that
// answered it when approved.
func testMethodLastUse(t *testing.T, s mfa.Store) {
	m := mfa.Method{ID: "m_key", User: "u", Kind: mfa.KindFIDO, Label: "key", Confirmed: true, CreatedAt: t0, ConfirmedAt: t0,
		FIDO: &mfa.FIDOCredential{ID: []byte{1}, PublicKey: []byte{2}, AAGUID: make([]byte, 16), AttestationFormat: "none"}}
	c := challenge("c_any", "u", "", mfa.KindFIDO, t0)
	c.WebAuthn = []byte{7, 7}
	put(t, s, user("u", mfa.StateActive), m, c)
	view(t, s, func(tx mfa.Tx) error {
		gm, err := tx.Method("m_key")
		if err != nil {
			return err
		}
		if !gm.LastUsedAt.IsZero() {
			t.Errorf("never-used method read back with last use %v", gm.LastUsedAt)
		}
		gc, err := tx.Challenge("c_any")
		if err == nil && gc.Method != "" {
			t.Errorf("discoverable challenge read back with method %q", gc.Method)
		}
		return err
	})
	for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(time.Hour)} {
		m.LastUsedAt = at
		c.Method, c.Status, c.FinishedAt = m.ID, mfa.StatusApproved, at
		put(t, s, m, c)
		view(t, s, func(tx mfa.Tx) error {
			gm, err := tx.Method("m_key")
			if err != nil {
				return err
			}
			if !gm.LastUsedAt.Equal(at) || gm.LastUsedAt.Location() != time.UTC {
				t.Errorf("last use read back as %v, want %v in UTC", gm.LastUsedAt, at)
			}
			ms, err := tx.Methods("u")
			if err != nil || len(ms) != 1 || !ms[0].LastUsedAt.Equal(at) {
				t.Errorf("Methods(u) = %+v, %v; want the last use %v", ms, err, at)
			}
			gc, err := tx.Challenge("c_any")
			if err == nil && gc.Method != m.ID {
				t.Errorf("approved discoverable challenge has method %q, want %q", gc.Method, m.ID)
			}
			return err
		})
	}
}
