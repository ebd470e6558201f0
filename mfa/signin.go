package mfa

import (
	"context"
	"errors"
	"slices"
)

// SigninMethods is what a front door that lets the user choose how to verify
// (the External MFA sign-in page) may offer: the user's confirmed methods
// that can answer a sign-in now, the default first. Phone methods are left
// out while a fraud report blocks the user's phone, and security keys when
// this gateway has no WebAuthn verifier. It refuses with mfa_off when the
// user has not applied for MFA, user_locked after too many consecutive
// failures, phone_blocked when the fraud block left nothing, and
// no_usable_method when there is nothing else to offer. CreateChallenge
// still checks every rule again when the user picks one.
func (s *Service) SigninMethods(ctx context.Context, user string) (UserView, []Method, error) {
	v, err := s.GetUser(ctx, user)
	if err != nil {
		return UserView{}, nil, err
	}
	p := s.pol()
	switch {
	case v.State == StateOff:
		return v, nil, refuse(CodeMFAOff, "user %s has not applied for MFA: register methods and apply for MFA first", user)
	case v.User.ConsecutiveFailures >= p.MaxConsecutiveFailures:
		return v, nil, refuse(CodeUserLocked, "user %s is locked after %d consecutive failed verifications; the help desk must unlock it", user, v.User.ConsecutiveFailures)
	}
	_, keysErr := s.verifier()
	var out []Method
	blocked := 0
	for _, m := range v.Methods {
		switch {
		case !m.Confirmed:
		case m.Kind == KindPhone && v.User.PhoneBlocked:
			blocked++
		case m.Kind == KindFIDO && keysErr != nil:
		case m.Kind == KindTOTP, m.Kind == KindPhone, m.Kind == KindFIDO:
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		if blocked > 0 {
			return v, nil, refuse(CodePhoneBlocked, "user %s's phone methods are blocked after a fraud report and no other method is registered; the help desk must clear the block", user)
		}
		return v, nil, refuse(CodeNoUsableMethod, "user %s has no confirmed method this gateway can verify", user)
	}
	// The default first; the rest keep their stored order.
	slices.SortStableFunc(out, func(a, b Method) int {
		switch {
		case a.ID == v.User.DefaultMethod:
			return -1
		case b.ID == v.User.DefaultMethod:
			return 1
		}
		return 0
	})
	return v, out, nil
}

// SignInWithCode signs a user in with an authenticator-app code in one
// call, for front doors whose clients send the code with the user name
// (privacyIDEA's /validate/check). It applies exactly the rules of
// CreateChallenge followed by Verify (consecutive-failure lock, code format,
// replay of an accepted time step, the attempt counted on a wrong code) in
// one write transaction, so a sign-in costs one durable commit. The code is
// checked against the user's default method when that is an authenticator
// app, else against their oldest confirmed one; a wrong code leaves a
// failed challenge on record, as Verify would.
func (s *Service) SignInWithCode(ctx context.Context, actor Actor, user, code string) (_ Challenge, err error) {
	if err := s.checkUserID(user); err != nil {
		return Challenge{}, err
	}
	defer s.auditRefusal(ctx, actor, user, "", "signin_with_code", &err)
	p := s.pol()
	now := s.now()
	var out Challenge
	var changed bool
	err = s.update(ctx, func(tx Tx) (bool, error) {
		out, changed = Challenge{}, false // a store may run this again
		u, err := tx.User(user)
		if errors.Is(err, ErrNotFound) {
			return false, refuse(CodeNoConfirmedMethod, "user %s has no registered method", user)
		}
		if err != nil {
			return false, err
		}
		if u.ConsecutiveFailures >= p.MaxConsecutiveFailures {
			return false, refuse(CodeUserLocked, "user %s is locked after %d consecutive failed verifications; an admin must unlock it", user, u.ConsecutiveFailures)
		}
		ms, err := tx.Methods(user)
		if err != nil {
			return false, err
		}
		var m *Method
		for i := range ms {
			if ms[i].Kind != KindTOTP || !ms[i].Confirmed {
				continue
			}
			if m == nil || ms[i].ID == u.DefaultMethod {
				m = &ms[i]
			}
		}
		if m == nil {
			return false, refuse(CodeNoConfirmedMethod, "user %s has no confirmed authenticator app", user)
		}
		c := Challenge{ID: newID("c_"), User: user, Method: m.ID, Kind: KindTOTP, Purpose: PurposeSignin,
			Status: StatusCreated, AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL)}
		if err := tx.PutChallenge(c); err != nil {
			return false, err
		}
		c, keep, err := s.checkCode(tx, actor, c, code, now)
		out, changed = c, keep || err == nil
		return keep, err
	})
	if changed {
		s.obs.ChallengeCreated(KindTOTP, "")
		s.finished(out)
	}
	s.observeFailure(out, err)
	var e *Error
	if errors.As(err, &e) && e.Challenge == nil && out.ID != "" {
		e.Challenge = &out
	}
	return out, err
}
