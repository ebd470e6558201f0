package mfa

import (
	"context"
	"unicode/utf8"
)

// EventEnrollFailed records a security-key enrollment that ended without a
// stored key (refused request, wrong PIN, no touch, cancelled…).
const EventEnrollFailed = "enrollment_failed"

// maxEnrollReason bounds the reason stored with a failed enrollment.
const maxEnrollReason = 200

// EnrollmentFailed audits a failed security-key enrollment for user, by
// actor, with reason: a short code or sentence chosen by the caller, never
// a PIN.
func (s *Service) EnrollmentFailed(ctx context.Context, actor Actor, user, reason string) error {
	if err := s.checkUserID(user); err != nil {
		return err
	}
	if !utf8.ValidString(reason) {
		reason = "invalid reason"
	}
	if r := []rune(reason); len(r) > maxEnrollReason {
		reason = string(r[:maxEnrollReason])
	}
	return s.update(ctx, func(tx Tx) (bool, error) {
		return false, s.event(tx, Event{User: user, Type: EventEnrollFailed, Actor: actor.Name, Detail: reason})
	})
}

// CodeLengths returns how many digits a one-time code sent by SMS or voice
// and a TOTP code have under the current policy, for pages that size their
// inputs.
func (s *Service) CodeLengths() (code, totp int) {
	p := s.pol()
	return p.CodeLength, p.TOTP.Digits
}
