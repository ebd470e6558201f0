package mfa

import (
	"context"
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
