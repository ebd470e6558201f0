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
		case m.Kind == KindTAP && p.TAP.Signin: // GetUser left out a spent pass
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		if blocked > 0 {
			return v, nil, refuse(CodePhoneBlocked, "user %s's phone methods are blocked after a fraud report and no other method is registered; the help desk must clear the block", user)
		}
		return v, nil, refuse(CodeNoUsableMethod, "user %s has no confirmed method this gateway can verify", user)
	}
	// The default first, a Temporary Access Pass last (a door that picks
	// the first method never starts with it); the rest keep their order.
	rank := func(m Method) int {
		switch {
		case m.ID == v.User.DefaultMethod:
			return 0
		case m.Kind == KindTAP:
			return 2
		}
		return 1
	}
	slices.SortStableFunc(out, func(a, b Method) int { return rank(a) - rank(b) })
	return v, out, nil
}

// CodeSignIn is a sign-in with an authenticator-app code in one call
// (POST /v1/users/{user}/verify, privacyIDEA's /validate/check).
type CodeSignIn struct {
	Code string
	// Method names one of the user's authenticator apps; "" tries each
	// confirmed one, the default first.
	Method string
	// Purpose is PurposeSignin ("" too) or PurposeTest (the kiosk's and
	// the Security info page's "try signing in").
	Purpose Purpose
}

// SignIn signs a user in with an authenticator-app code in one call and
// one write transaction: the code is checked against the named app or
// each of the user's confirmed apps, and the answer is a challenge,
// approved, left on record as the challenges API would have left it. A
// wrong code costs one attempt, on a new challenge of the named app, else
// the default app (else the oldest), left on record as failed; the
// consecutive-failure lock, the refusal of a time step already accepted
// and the audit are those of CreateChallenge and Verify. Like
// CreateChallenge it does not look at the user's MFA state: the front door
// decides whether MFA applies. A named method that is not one of the
// user's is refused with unknown_method, one of another kind with
// wrong_verification_kind, one not confirmed yet with method_not_confirmed,
// all changing nothing.
func (s *Service) SignIn(ctx context.Context, actor Actor, user string, req CodeSignIn) (Challenge, error) {
	op := "signin_with_code"
	if req.Purpose == PurposeTest {
		op = "test_signin_with_code"
	}
	return s.verifyCode(ctx, actor, user, nil, req, op)
}

// SignInWithCode is SignIn with the user's apps and purpose signin, for
// front doors whose clients send the code with the user name
// (privacyIDEA's /validate/check). A Temporary Access Pass typed instead
// of a code is checked against the user's pass when [policy] tap_signin
// allows it.
func (s *Service) SignInWithCode(ctx context.Context, actor Actor, user, code string) (Challenge, error) {
	return s.SignIn(ctx, actor, user, CodeSignIn{Code: code})
}

// maxOffered bounds the challenges one VerifyCode call may name.
const maxOffered = 16

// VerifyCode answers a door that offered the user several methods at once
// (privacyIDEA's challenge transaction): the code challenges in offered,
// IDs of this user's challenges (may be empty), and the user's confirmed
// authenticator apps. The rule is one code, one attempt, whichever offered
// method it answers: the code approves the first open SMS challenge of
// offered whose code it is, else the first authenticator app whose current
// code it is (the default app first), on that app's open challenge in
// offered or on a new one. A code that answers none costs exactly one
// failed attempt, on the first open code challenge of offered, else on a
// new challenge of the default authenticator app. Everything else is as in
// CreateChallenge and Verify: the consecutive-failure lock, the code
// format, the refusal of an app's time step already accepted, the audit.
// Voice calls and security keys in offered are not answered by a code and
// are passed over. It refuses with unknown_challenge, changing nothing,
// when an offered ID is not a challenge of this user, and with
// no_confirmed_method when nothing offered can take a code. It runs in
// one write transaction.
func (s *Service) VerifyCode(ctx context.Context, actor Actor, user string, offered []string, code string) (Challenge, error) {
	return s.verifyCode(ctx, actor, user, offered, CodeSignIn{Code: code}, "verify_code")
}

func (s *Service) verifyCode(ctx context.Context, actor Actor, user string, offered []string, req CodeSignIn, op string) (_ Challenge, err error) {
	if err := s.checkUserID(user); err != nil {
		return Challenge{}, err
	}
	defer s.auditRefusal(ctx, actor, user, truncate(req.Method, 40), op, &err)
	code, purpose := req.Code, req.Purpose
	switch purpose {
	case "":
		purpose = PurposeSignin
	case PurposeSignin, PurposeTest:
	default:
		return Challenge{}, refuse(CodeInvalidRequest, "purpose %q is not possible here: use \"signin\" (the default) or \"test\"", truncate(string(purpose), 32))
	}
	if len(offered) > maxOffered {
		return Challenge{}, refuse(CodeInvalidRequest, "%d challenges offered; at most %d are answered by one code", len(offered), maxOffered)
	}
	p := s.pol()
	now := s.now()
	var out Challenge
	var changed bool
	var createdKind Kind // the kind of the challenge made for the code, "" when none
	err = s.update(ctx, func(tx Tx) (bool, error) {
		out, changed, createdKind = Challenge{}, false, "" // a store may run this again
		// The offered SMS and TOTP challenges, in the order offered.
		var codes []Challenge
		for _, id := range offered {
			c, err := tx.Challenge(id)
			if errors.Is(err, ErrNotFound) || (err == nil && c.User != user) {
				return false, refuse(CodeUnknownChallenge, "challenge %s does not exist", truncate(id, 40))
			}
			if err != nil {
				return false, err
			}
			isCode := c.Kind == KindTOTP || c.Kind == KindPhone && c.Channel == ChannelSMS || c.Kind == KindTAP
			if isCode && !slices.ContainsFunc(codes, func(o Challenge) bool { return o.ID == c.ID }) {
				codes = append(codes, c)
			}
		}
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
		var apps []Method // confirmed authenticator apps, the default first
		var tap *Method   // the user's Temporary Access Pass
		for _, m := range ms {
			if req.Method != "" && m.ID != req.Method {
				continue
			}
			if m.Kind == KindTOTP && m.Confirmed {
				apps = append(apps, m)
			}
			if m.Kind == KindTAP && req.Method == "" && purpose == PurposeSignin {
				tap = &m
			}
		}
		if req.Method != "" && len(apps) == 0 {
			i := slices.IndexFunc(ms, func(m Method) bool { return m.ID == req.Method })
			switch {
			case i < 0:
				return false, refuse(CodeUnknownMethod, "user %s has no method %s", user, truncate(req.Method, 40))
			case ms[i].Kind != KindTOTP:
				return false, refuse(CodeWrongVerification, "method %s is a %s method; a code sign-in answers an authenticator app (kind totp): create a challenge for it instead", ms[i].ID, ms[i].Kind)
			default:
				return false, refuse(CodeMethodNotConfirmed, "method %s is not confirmed yet", ms[i].ID)
			}
		}
		// A pass typed where a code is asked for: refused without a look
		// at it unless passes may sign in (then it is checked, a wrong one
		// costing an attempt like a wrong code).
		passLike := looksLikeTAP(code)
		if passLike && tap != nil && !p.TAP.Signin {
			return false, errTAPSigninOff()
		}
		slices.SortStableFunc(apps, func(a, b Method) int {
			switch {
			case a.ID == u.DefaultMethod:
				return -1
			case b.ID == u.DefaultMethod:
				return 1
			}
			return 0
		})
		open := func(c Challenge) bool { return !c.Status.Final() && now.Before(c.ExpiresAt) }
		fits := func(k Kind) bool {
			if k == KindTAP {
				return passLike
			}
			length := p.CodeLength
			if k == KindTOTP {
				length = p.TOTP.Digits
			}
			return len(code) == length && isDigits(code)
		}
		// A new app challenge is written once, by checkCode's outcome
		// (approved, or an attempt used), not first as created and then
		// again: one row write per sign-in.
		fresh := false
		newTOTP := func(m Method) (Challenge, error) {
			c := Challenge{ID: newID("c_"), User: user, Method: m.ID, Kind: KindTOTP, Purpose: purpose,
				Status: StatusCreated, AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL)}
			createdKind, fresh = KindTOTP, true
			return c, nil
		}

		newTAPChallenge := func(m Method) (Challenge, error) {
			// Checked again, with the pass's state, by checkCode.
			c := Challenge{ID: newID("c_"), User: user, Method: m.ID, Kind: KindTAP, Purpose: purpose,
				Status: StatusCreated, AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL)}
			createdKind = KindTAP
			return c, tx.PutChallenge(c)
		}

		// Which offered method does the code answer? Nothing is counted yet.
		target, found := Challenge{}, false
		for _, c := range codes {
			if c.Kind == KindPhone && open(c) && fits(KindPhone) && s.keys.CodeMatches(c.ID, code, c.CodeHash) {
				target, found = c, true
				break
			}
		}
		for i := 0; !found && fits(KindTOTP) && i < len(apps); i++ {
			seed, err := s.keys.Open(apps[i].Secret, apps[i].ID)
			if err != nil {
				return false, err
			}
			if _, ok := matchTOTP(p.TOTP, seed, code, now); !ok {
				continue
			}
			found = true
			if j := slices.IndexFunc(codes, func(c Challenge) bool { return c.Method == apps[i].ID && open(c) }); j >= 0 {
				target = codes[j]
			} else if target, err = newTOTP(apps[i]); err != nil {
				return false, err
			}
		}

		if !found && passLike && tap != nil {
			// A pass answers only the user's one pass; a wrong one is
			// counted on it, so it is the target either way.
			if j := slices.IndexFunc(codes, func(c Challenge) bool { return c.Method == tap.ID && open(c) }); j >= 0 {
				target = codes[j]
			} else if target, err = newTAPChallenge(*tap); err != nil {
				return false, err
			}
			found = true
		}

		// None: the one attempt is counted on the first open code challenge
		// the code could have answered, else on the default app.
		if !found {
			pick := func(ok func(Challenge) bool) bool {
				j := slices.IndexFunc(codes, ok)
				if j >= 0 {
					target, found = codes[j], true
				}
				return found
			}
			switch {
			case pick(func(c Challenge) bool { return open(c) && fits(c.Kind) }):
			case len(apps) > 0 && fits(KindTOTP):
			case pick(open):
			case len(apps) > 0:
			case pick(func(Challenge) bool { return true }): // ended: its final refusal
			default:
				if len(offered) > 0 {
					return false, refuse(CodeNoConfirmedMethod, "none of the challenges offered takes a code (a call is confirmed on the phone keypad) and user %s has no confirmed authenticator app", user)
				}
				return false, refuse(CodeNoConfirmedMethod, "user %s has no confirmed authenticator app", user)
			}
			if !found {
				if target, err = newTOTP(apps[0]); err != nil {
					return false, err
				}
			}
		}
		c, keep, err := s.checkCode(tx, actor, target, code, now)
		if fresh && keep && CodeOf(err) == CodeReplayedCode {
			// The one outcome checkCode does not write: the replay's
			// audit names the challenge, which stays on record.
			if err := tx.PutChallenge(c); err != nil {
				return false, err
			}
		}
		out, changed = c, keep || err == nil
		return keep, err
	})
	if changed {
		if createdKind != "" {
			s.obs.ChallengeCreated(createdKind, "")
		}
		s.finished(out)
	}
	s.observeFailure(out, err)
	var e *Error
	if errors.As(err, &e) && e.Challenge == nil && out.ID != "" {
		e.Challenge = &out
	}
	return out, err
}

// Redeem answers a sign-in with an approved challenge, for a front door
// that has only the challenge's ID to go on (privacyIDEA's finalisation of
// a challenge approved on the phone: the transaction ID with an empty
// pass). An approval answers one sign-in: the first Redeem marks the
// challenge redeemed and any later one is refused with challenge_redeemed.
// An approval must be redeemed promptly: one older than the code lifetime
// (policy CodeTTL) is refused as expired. Only sign-in challenges are
// redeemed. A challenge that does not exist or is another user's is
// refused alike with unknown_challenge; one not answered yet with
// challenge_pending (ask again later); one that ended other than approved
// with its final refusal (challenge_expired, challenge_locked,
// challenge_finished). It runs in one write transaction, so of concurrent
// calls exactly one succeeds.
func (s *Service) Redeem(ctx context.Context, actor Actor, user, id string) (_ Challenge, err error) {
	if err := s.checkUserID(user); err != nil {
		return Challenge{}, err
	}
	defer s.auditRefusal(ctx, actor, user, "", "redeem", &err)
	p := s.pol()
	now := s.now()
	var out Challenge
	var ended bool
	err = s.update(ctx, func(tx Tx) (bool, error) {
		out, ended = Challenge{}, false // a store may run this again
		c, err := tx.Challenge(id)
		if errors.Is(err, ErrNotFound) || (err == nil && c.User != user) {
			return false, refuse(CodeUnknownChallenge, "challenge %s does not exist", truncate(id, 40))
		}
		if err != nil {
			return false, err
		}
		out = c
		refusal := func(code Code, format string, args ...any) error {
			e := refuse(code, format, args...)
			e.Challenge = &c
			return e
		}
		if c.Purpose != PurposeSignin {
			return false, refusal(CodeWrongVerification, "challenge %s is a %s challenge; only a sign-in challenge answers a sign-in", c.ID, c.Purpose)
		}
		if !c.Status.Final() {
			if now.Before(c.ExpiresAt) {
				return false, refusal(CodeChallengePending, "challenge %s is %s and not answered yet; ask again once the user has approved it", c.ID, c.Status)
			}
			c, err = s.end(tx, actorSystem, c, StatusExpired, "ttl", now)
			out, ended = c, true
			if err != nil {
				return false, err
			}
			return true, finalRefusal(c)
		}
		switch {
		case c.Status == StatusExpired:
			return false, refusal(CodeChallengeExpired, "challenge %s expired before it was answered; start a new one", c.ID)
		case c.Status == StatusLocked:
			return false, refusal(CodeChallengeLocked, "challenge %s is locked after too many wrong codes; start a new one", c.ID)
		case c.Status != StatusApproved:
			return false, refusal(CodeChallengeFinished, "challenge %s ended %s, not approved; start a new one", c.ID, c.Status)
		case !c.RedeemedAt.IsZero():
			return false, refusal(CodeChallengeRedeemed, "challenge %s was already used to sign in; an approval answers one sign-in", c.ID)
		case !now.Before(c.FinishedAt.Add(p.CodeTTL)):
			return false, refusal(CodeChallengeExpired, "challenge %s was approved more than %s ago; an approval must be used promptly: start a new one", c.ID, p.CodeTTL)
		}
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		if u.ConsecutiveFailures >= p.MaxConsecutiveFailures {
			return false, refusal(CodeUserLocked, "user %s is locked after %d consecutive failed verifications; an admin must unlock it", user, u.ConsecutiveFailures)
		}
		c.RedeemedAt = now
		if err := tx.PutChallenge(c); err != nil {
			return false, err
		}
		out = c
		return false, s.event(tx, Event{User: user, Type: EventChallengeRedeemed, Actor: actor.Name, Method: c.Method, Challenge: c.ID})
	})
	if ended {
		s.finished(out)
	}
	if err != nil {
		return out, err
	}
	s.watch.notify(out.ID)
	return out, nil
}

// Retire uses up the challenges a front door offered together once one of
// them answered the sign-in: each of user's challenges among ids that is
// not yet redeemed is marked redeemed, so a call confirmed later (or an
// approval of another offer) cannot answer a second sign-in through
// Redeem. A challenge still open stays open (a call in progress ends as it
// would); only its approval no longer counts. IDs of other users and
// unknown IDs are skipped.
func (s *Service) Retire(ctx context.Context, user string, ids []string) error {
	now := s.now()
	return s.update(ctx, func(tx Tx) (bool, error) {
		for _, id := range ids {
			c, err := tx.Challenge(id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return false, err
			}
			if c.User != user || !c.RedeemedAt.IsZero() {
				continue
			}
			c.RedeemedAt = now
			if err := tx.PutChallenge(c); err != nil {
				return false, err
			}
		}
		return false, nil
	})
}

// CheckUserID checks a user ID against [policy] user_id_pattern, for
// front doors that must tell a malformed ID from an unknown user.
func (s *Service) CheckUserID(id string) error { return s.checkUserID(id) }
