package mfa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"mfagate/phone"
)

// ChallengeRequest asks for a sign-in verification.
type ChallengeRequest struct {
	Method string // "" = the default method (or any, with Kind)
	// Kind asks for a challenge any confirmed method of that kind may
	// answer, instead of one method. Only KindFIDO is possible, and only
	// with Method "": a discoverable security-key challenge, answered by
	// whichever of the user's keys the browser offers. Its Method is ""
	// until it is approved, then the key that answered.
	Kind    Kind
	Channel Channel // phone only: override the method's channel
	Purpose Purpose // "" = signin
}

// Challenge returns a challenge by ID, expired if its time has passed.
func (s *Service) Challenge(ctx context.Context, id string) (Challenge, error) {
	var c Challenge
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.Challenge(id)
		if errors.Is(err, ErrNotFound) {
			return refuse(CodeUnknownChallenge, "challenge %s does not exist", truncate(id, 40))
		}
		return err
	})
	if err == nil && !c.Status.Final() && !s.now().Before(c.ExpiresAt) {
		c.Status = StatusExpired // the sweeper persists it shortly
	}
	return c, err
}

// CreateChallenge starts a verification with the user's default method or
// the one named. Phone challenges are written to the outbox in the same
// transaction, so an accepted challenge is never lost.
func (s *Service) CreateChallenge(ctx context.Context, actor Actor, user string, req ChallengeRequest) (_ Challenge, err error) {
	if err := s.checkUserID(user); err != nil {
		return Challenge{}, err
	}
	defer s.auditRefusal(ctx, actor, user, "", "create_challenge", &err)
	switch req.Purpose {
	case "":
		req.Purpose = PurposeSignin
	case PurposeSignin, PurposeTest, PurposeProof:
	default:
		return Challenge{}, refuse(CodeInvalidRequest, "purpose %q is unknown: use \"signin\", \"test\" or \"proof\"", truncate(string(req.Purpose), 32))
	}
	switch req.Channel {
	case "", ChannelSMS, ChannelVoice:
	default:
		return Challenge{}, refuse(CodeInvalidRequest, "channel %q is unknown: use \"sms\" or \"voice\"", truncate(string(req.Channel), 32))
	}
	switch {
	case req.Kind == "":
	case req.Kind != KindFIDO:
		return Challenge{}, refuse(CodeInvalidRequest, "kind %q is not possible: only \"fido\" (any of the user's security keys) may stand for a method; otherwise name the method", truncate(string(req.Kind), 32))
	case req.Method != "":
		return Challenge{}, refuse(CodeInvalidRequest, "give method or kind, not both: kind \"fido\" lets any of the user's security keys answer, method names one")
	case req.Channel != "":
		return Challenge{}, refuse(CodeChannelNotPossible, "channel applies to phone methods only")
	}
	p := s.pol()
	now := s.now()
	var c Challenge
	err = s.update(ctx, func(tx Tx) (bool, error) {
		u, err := tx.User(user)
		if errors.Is(err, ErrNotFound) && req.Kind == KindFIDO {
			return false, refuse(CodeNoConfirmedMethod, "user %s has no confirmed security key or passkey; register one first, or name another method", user)
		}
		if errors.Is(err, ErrNotFound) {
			return false, refuse(CodeNoConfirmedMethod, "user %s has no registered method", user)
		}
		if err != nil {
			return false, err
		}
		if u.ConsecutiveFailures >= p.MaxConsecutiveFailures {
			return false, refuse(CodeUserLocked, "user %s is locked after %d consecutive failed verifications; an admin must unlock it", user, u.ConsecutiveFailures)
		}
		if req.Kind == KindFIDO {
			if _, err := s.verifier(); err != nil {
				return false, err
			}
			c, err = s.newDiscoverableChallenge(tx, user, req.Purpose, now)
			return false, err
		}
		id := req.Method
		if id == "" {
			id = u.DefaultMethod
		}
		if id == "" {
			ms, err := tx.Methods(user)
			if err != nil {
				return false, err
			}
			for _, m := range ms {
				if m.Confirmed {
					return false, refuse(CodeNoDefaultMethod, "user %s has no default method; name a method or set a default", user)
				}
			}
			return false, refuse(CodeNoConfirmedMethod, "user %s has no confirmed method", user)
		}
		m, err := userMethod(tx, user, id)
		if err != nil {
			return false, err
		}
		if !m.Confirmed {
			return false, refuse(CodeMethodNotConfirmed, "method %s is not confirmed yet", m.ID)
		}
		switch m.Kind {
		case KindTOTP:
			if req.Channel != "" {
				return false, refuse(CodeChannelNotPossible, "channel applies to phone methods only")
			}
			c = Challenge{ID: newID("c_"), User: user, Method: m.ID, Kind: KindTOTP, Purpose: req.Purpose,
				Status: StatusCreated, AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL)}
			return false, tx.PutChallenge(c)
		case KindPhone:
			channel := req.Channel
			if channel == "" {
				channel = m.Channel
			}
			c, err = s.newPhoneChallenge(tx, actor, u, m, channel, req.Purpose, now)
			return false, err
		case KindFIDO:
			if req.Channel != "" {
				return false, refuse(CodeChannelNotPossible, "channel applies to phone methods only")
			}
			if _, err := s.verifier(); err != nil {
				return false, err
			}
			c, err = s.newFIDOChallenge(tx, m, req.Purpose, now)
			return false, err
		case KindTAP:
			if req.Channel != "" {
				return false, refuse(CodeChannelNotPossible, "channel applies to phone methods only")
			}
			c, err = s.newTAPChallenge(tx, m, req.Purpose, now)
			return false, err
		default:
			return false, refuse(CodeUnsupportedKind, "verification with a %s method is not available through this call", m.Kind)
		}
	})
	if err != nil {
		return Challenge{}, err
	}
	s.obs.ChallengeCreated(c.Kind, c.Channel)
	if c.Kind == KindPhone {
		s.wake()
	}
	return c, nil
}

// Channels are the ways a phone method can be reached: a voice call
// always, an SMS only on a mobile number without an extension. Other
// methods have none.
func (s *Service) Channels(m Method) []Channel {
	if m.Kind != KindPhone {
		return nil
	}
	ph, err := NormalizePhone(m.Phone, s.pol().DefaultRegion, nil)
	if err != nil || !ph.Mobile || m.Extension != "" {
		return []Channel{ChannelVoice}
	}
	return []Channel{ChannelSMS, ChannelVoice}
}

// newPhoneChallenge checks the phone rules (fraud block, rate limit, SMS
// needs a mobile) and writes the challenge with its outbox job.
func (s *Service) newPhoneChallenge(tx Tx, actor Actor, u User, m Method, channel Channel, purpose Purpose, now time.Time) (Challenge, error) {
	p := s.pol()
	if u.PhoneBlocked {
		return Challenge{}, refuse(CodePhoneBlocked, "phone verification is blocked for user %s after a fraud report; an admin must clear it", u.ID)
	}
	if channel == ChannelSMS && !slices.Contains(s.Channels(m), ChannelSMS) {
		return Challenge{}, refuse(CodeChannelNotPossible, "%s cannot receive SMS; use channel \"voice\"", phone.Mask(m.Phone))
	}
	times, err := tx.PhoneChallengeTimes(u.ID, now.Add(-p.PhoneChallengeWindow))
	if err != nil {
		return Challenge{}, err
	}
	if len(times) >= p.PhoneChallengesPerUser {
		retry := times[len(times)-p.PhoneChallengesPerUser].Add(p.PhoneChallengeWindow).Sub(now)
		e := refuse(CodeRateLimited, "user %s asked for %d phone verifications within %s; try again later or use an authenticator app", u.ID, len(times), p.PhoneChallengeWindow)
		e.RetryAfter = max(retry, time.Second)
		return Challenge{}, e
	}
	c := Challenge{ID: newID("c_"), User: u.ID, Method: m.ID, Kind: KindPhone, Channel: channel, Purpose: purpose,
		Status: StatusQueued, AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL),
		Delivery: Delivery{Status: string(JobQueued)}}
	var secret string
	if channel == ChannelSMS {
		secret = randomDigits(p.CodeLength)
		c.CodeHash = s.keys.HashCode(c.ID, secret)
	} else {
		if p.VoiceNumberMatch {
			c.NumberMatch = numberMatch()
		}
		secret = c.NumberMatch
	}
	lang := m.Language
	if lang == "" {
		lang = p.Messages.DefaultLanguage()
	}
	j := Job{ID: newID("j_"), Challenge: c.ID, Channel: channel, To: m.Phone, Extension: m.Extension,
		Language: lang, State: JobQueued, Priority: purposePriority(purpose), CreatedAt: now, UpdatedAt: now, ExpiresAt: c.ExpiresAt}
	j.Sealed = s.keys.Seal([]byte(secret), j.ID)
	if err := tx.PutChallenge(c); err != nil {
		return Challenge{}, err
	}
	if err := tx.PutJob(j); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// purposePriority orders the outbox: sign-ins first, tests last.
func purposePriority(p Purpose) int {
	switch p {
	case PurposeSignin:
		return 0
	case PurposeProof, PurposeConfirm:
		return 1
	}
	return 2
}

func (s *Service) checkCodeFormat(code string, length int) error {
	if !isDigits(code) || len(code) != length {
		return refuse(CodeInvalidCodeFormat, "the code must be exactly %d digits", length)
	}
	return nil
}

// Verify checks a code for a TOTP or SMS challenge, or the pass for a
// Temporary Access Pass challenge.
func (s *Service) Verify(ctx context.Context, actor Actor, id, code string) (_ Challenge, err error) {
	defer s.auditRefusal(ctx, actor, "", "", "verify", &err)
	now := s.now()
	var out Challenge
	var changed bool
	err = s.update(ctx, func(tx Tx) (bool, error) {
		c, err := tx.Challenge(id)
		if errors.Is(err, ErrNotFound) {
			return false, refuse(CodeUnknownChallenge, "challenge %s does not exist", truncate(id, 40))
		}
		if err != nil {
			return false, err
		}
		if c.Kind == KindPhone && c.Channel == ChannelVoice {
			return false, refuse(CodeWrongVerification, "a voice challenge is confirmed on the phone keypad; poll GET /v1/challenges/%s for the result", c.ID)
		}
		if c.Kind != KindTOTP && c.Kind != KindPhone && c.Kind != KindTAP {
			return false, refuse(CodeWrongVerification, "a %s challenge is verified with a security key's answer (\"webauthn\"), not a code", c.Kind)
		}
		c, keep, err := s.checkCode(tx, actor, c, code, now)
		out, changed = c, keep || err == nil
		return keep, err
	})
	if changed {
		s.finished(out)
	}
	s.observeFailure(out, err)
	var e *Error
	if errors.As(err, &e) && e.Challenge == nil && out.ID != "" {
		e.Challenge = &out
	}
	return out, err
}

// observeFailure counts a wrong code or a security-key answer that did not
// verify, once the refusal that records it has committed (a store may run
// a transaction more than once).
func (s *Service) observeFailure(c Challenge, err error) {
	switch CodeOf(err) {
	case CodeInvalidCode, CodeInvalidAssertion:
		s.obs.VerificationFailed(c.Kind, c.Channel)
	}
}

// checkCode applies one code attempt to c. keep reports whether the
// transaction must commit although a refusal is returned (an attempt was
// used up, or the challenge expired).
func (s *Service) checkCode(tx Tx, actor Actor, c Challenge, code string, now time.Time) (Challenge, bool, error) {
	p := s.pol()
	if c.Status.Final() {
		return c, false, finalRefusal(c)
	}
	if !now.Before(c.ExpiresAt) {
		c, err := s.end(tx, actorSystem, c, StatusExpired, "ttl", now)
		if err != nil {
			return c, false, err
		}
		return c, true, finalRefusal(c)
	}
	u, err := loadUser(tx, c.User, now)
	if err != nil {
		return c, false, err
	}
	if u.ConsecutiveFailures >= p.MaxConsecutiveFailures {
		return c, false, refuse(CodeUserLocked, "user %s is locked after %d consecutive failed verifications; an admin must unlock it", u.ID, u.ConsecutiveFailures)
	}
	var ok bool
	var m Method
	var step int64
	switch c.Kind {
	case KindTAP:
		if c.Purpose == PurposeSignin && !p.TAP.Signin {
			return c, false, errTAPSigninOff() // turned off since the challenge began
		}
		m, ok, err = s.checkTAP(tx, c, code, now)
		if err != nil {
			return c, false, err
		}
	case KindTOTP:
		if err := s.checkCodeFormat(code, p.TOTP.Digits); err != nil {
			return c, false, err
		}
		m, err = tx.Method(c.Method)
		if err != nil {
			return c, false, fmt.Errorf("load method of challenge: %w", err)
		}
		seed, err := s.keys.Open(m.Secret, m.ID)
		if err != nil {
			return c, false, err
		}
		step, ok = matchTOTP(p.TOTP, seed, code, now)
		if ok && step <= m.LastStep {
			if err := s.event(tx, Event{User: c.User, Type: EventVerifyFailed, Actor: actor.Name, Method: c.Method, Challenge: c.ID,
				Detail: "replayed code"}); err != nil {
				return c, false, err
			}
			e := refuse(CodeReplayedCode, "this code was already used; wait for the app to show the next one")
			e.Challenge = &c
			return c, true, e
		}
	default:
		if err := s.checkCodeFormat(code, p.CodeLength); err != nil {
			return c, false, err
		}
		ok = s.keys.CodeMatches(c.ID, code, c.CodeHash)
	}
	if ok {
		if c.Kind == KindTOTP {
			m.LastStep = step
			if err := tx.PutMethod(m); err != nil {
				return c, false, err
			}
		}
		if c.Kind == KindTAP {
			if err := s.useTAP(tx, actor, m, c, now); err != nil {
				return c, false, err
			}
		}
		c, err = s.approve(tx, actor, c, u, now)
		return c, false, err
	}
	c.AttemptsLeft--
	u.ConsecutiveFailures++
	if err := s.putUser(tx, u); err != nil {
		return c, false, err
	}
	if err := s.event(tx, Event{User: c.User, Type: EventVerifyFailed, Actor: actor.Name, Method: c.Method, Challenge: c.ID,
		Detail: fmt.Sprintf("attempts_left=%d", c.AttemptsLeft)}); err != nil {
		return c, false, err
	}
	if c.AttemptsLeft <= 0 {
		c.AttemptsLeft = 0
		c, err = s.end(tx, actor.Name, c, StatusLocked, "too_many_attempts", now)
		if err != nil {
			return c, false, err
		}
	} else if err := tx.PutChallenge(c); err != nil {
		return c, false, err
	}
	what := "code"
	if c.Kind == KindTAP {
		what = "pass"
	}
	e := refuse(CodeInvalidCode, "the %s is wrong; %d attempts left", what, c.AttemptsLeft)
	left := c.AttemptsLeft
	e.AttemptsLeft = &left
	e.Challenge = &c
	if c.Status == StatusLocked {
		e.Message = "the " + what + " is wrong and no attempts are left: the challenge is locked; start a new one"
	}
	return c, true, e
}

func finalRefusal(c Challenge) error {
	switch c.Status {
	case StatusExpired:
		return &Error{Code: CodeChallengeExpired, Message: "the challenge expired; start a new one", Challenge: &c}
	case StatusLocked:
		return &Error{Code: CodeChallengeLocked, Message: "the challenge is locked after too many wrong codes; start a new one", Challenge: &c}
	}
	return &Error{Code: CodeChallengeFinished, Message: fmt.Sprintf("the challenge is already %s; a code is accepted only once", c.Status), Challenge: &c}
}

// approve finishes c as approved. A confirmation challenge confirms its
// method. Only a test sign-in (purpose test) is the user's "last test
// sign-in", the one applying for MFA needs after a method change: a real
// sign-in or a proof shows the method works but is not the user trying
// it on purpose, and the pages show the date as the user's own check.
func (s *Service) approve(tx Tx, actor Actor, c Challenge, u User, now time.Time) (Challenge, error) {
	c.Status = StatusApproved
	c.FinishedAt = now
	if err := tx.PutChallenge(c); err != nil {
		return c, err
	}
	u.ConsecutiveFailures = 0
	// A pass is not a method the user keeps: it never stands for the
	// test sign-in that applying for MFA needs.
	if c.Purpose == PurposeTest && c.Kind != KindTAP {
		u.LastTestSigninAt = now
	}
	if err := s.putUser(tx, u); err != nil {
		return c, err
	}
	if err := s.event(tx, Event{User: c.User, Type: EventChallengeApproved, Actor: actor.Name, Method: c.Method, Challenge: c.ID, Detail: string(c.Purpose)}); err != nil {
		return c, err
	}
	if c.Purpose != PurposeConfirm {
		if err := touchMethod(tx, c.Method, now); err != nil {
			return c, err
		}
	}
	if c.Purpose == PurposeConfirm {
		m, err := tx.Method(c.Method)
		if errors.Is(err, ErrNotFound) {
			return c, nil // the registration was replaced meanwhile
		}
		if err != nil {
			return c, err
		}
		if !m.Confirmed {
			return c, s.confirm(tx, actor, m, now)
		}
	}
	if c.Purpose == PurposeTest {
		return c, s.event(tx, Event{User: c.User, Type: EventTestSignin, Actor: actor.Name, Method: c.Method, Challenge: c.ID})
	}
	return c, nil
}

// touchMethod records that method id answered a challenge at now. A
// method removed meanwhile is passed over.
func touchMethod(tx Tx, id string, now time.Time) error {
	m, err := tx.Method(id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	m.LastUsedAt = now
	return tx.PutMethod(m)
}

// end moves c to a final status other than approved and drops its queued job.
// actor is who ended it: the client whose code or answer did, the callee
// ("phone"), the modem that failed to deliver, or mfagate itself on expiry.
func (s *Service) end(tx Tx, actor string, c Challenge, status Status, reason string, now time.Time) (Challenge, error) {
	c.Status = status
	c.Reason = reason
	c.FinishedAt = now
	if c.Kind == KindPhone {
		j, err := tx.JobForChallenge(c.ID)
		if err == nil && j.State == JobQueued {
			j.State = JobFailed
			j.Reason = "challenge_" + string(status)
			j.UpdatedAt = now
			if err := tx.PutJob(j); err != nil {
				return c, err
			}
			c.Delivery.Status = string(JobFailed)
			c.Delivery.Reason = j.Reason
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return c, err
		}
	}
	if err := tx.PutChallenge(c); err != nil {
		return c, err
	}
	typ := map[Status]string{StatusExpired: EventChallengeExpired, StatusLocked: EventChallengeLocked,
		StatusDenied: EventChallengeDenied}[status]
	if typ == "" {
		typ = EventChallengeFailed
	}
	return c, s.event(tx, Event{User: c.User, Type: typ, Actor: actor, Method: c.Method, Challenge: c.ID, Detail: reason})
}

// finished tells metrics and long-polling readers that c changed.
func (s *Service) finished(c Challenge) {
	if c.Status.Final() {
		s.obs.ChallengeFinished(c.Kind, c.Channel, c.Status)
	}
	s.watch.notify(c.ID)
}
