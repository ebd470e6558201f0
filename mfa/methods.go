package mfa

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"mfagate/phone"
)

// AddMethodRequest asks to register a method.
type AddMethodRequest struct {
	Kind     Kind
	Label    string
	Slot     Slot
	Phone    string
	Channel  Channel
	Language string
	Proof    string // an approved challenge < ProofMaxAge old, needed once MFA is on
}

// AddMethodResult is the new, unconfirmed method and what confirms it.
type AddMethodResult struct {
	Method    Method
	TOTP      *TOTPEnrollment // totp: shown once
	Challenge *Challenge      // phone: the code sent or the call placed
}

const maxLabel = 64

func checkLabel(label string, kind Kind, slot Slot) (string, error) {
	if label == "" {
		switch {
		case kind == KindTOTP:
			return "Authenticator app", nil
		case slot == SlotAlternate:
			return "Alternate phone", nil
		case slot == SlotOffice:
			return "Office phone", nil
		default:
			return "Mobile phone", nil
		}
	}
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > maxLabel {
		return "", refuse(CodeInvalidRequest, "label must be valid UTF-8 of at most %d characters", maxLabel)
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return "", refuse(CodeInvalidRequest, "label must not contain control characters")
		}
	}
	return label, nil
}

func checkLanguage(lang string) error {
	switch lang {
	case "", "ja", "en":
		return nil
	}
	return refuse(CodeInvalidRequest, "language %q is not supported; use \"ja\" or \"en\"", truncate(lang, 16))
}

// AddMethod registers a method for the user. TOTP methods come back with
// their secret, URI and QR code; phone methods come back with the challenge
// that confirms them (a code by SMS or a call).
func (s *Service) AddMethod(ctx context.Context, actor Actor, user string, req AddMethodRequest) (_ AddMethodResult, err error) {
	if err := s.checkUserID(user); err != nil {
		return AddMethodResult{}, err
	}
	defer s.auditRefusal(ctx, actor, user, "", "add_method", &err)
	switch req.Kind {
	case KindTOTP, KindPhone:
	case KindAppPassword, KindEmail:
		return AddMethodResult{}, refuse(CodeMethodNotAllowed, "%s cannot be used to verify a sign-in; register an authenticator app, a phone or a security key", req.Kind)
	case KindFIDO:
		return AddMethodResult{}, refuse(CodeUnsupportedKind, "security keys are enrolled at a kiosk (POST /v1/kiosk/sessions), not through this call")
	case KindTAP:
		return AddMethodResult{}, refuse(CodeUnsupportedKind, "a Temporary Access Pass is issued by the help desk (POST /v1/users/{user}/tap), not registered through this call")
	case "":
		return AddMethodResult{}, refuse(CodeInvalidRequest, "kind is required: \"totp\" or \"phone\"")
	default:
		return AddMethodResult{}, refuse(CodeInvalidRequest, "kind %q is unknown: use \"totp\" or \"phone\"", truncate(string(req.Kind), 32))
	}
	if err := checkLanguage(req.Language); err != nil {
		return AddMethodResult{}, err
	}
	label, err := checkLabel(req.Label, req.Kind, req.Slot)
	if err != nil {
		return AddMethodResult{}, err
	}
	if req.Kind == KindTOTP {
		if req.Slot != "" || req.Phone != "" || req.Channel != "" {
			return AddMethodResult{}, refuse(CodeInvalidRequest, "slot, phone and channel belong to phone methods, not totp")
		}
		return s.addTOTP(ctx, actor, user, label, req)
	}
	return s.addPhone(ctx, actor, user, label, req)
}

func (s *Service) addTOTP(ctx context.Context, actor Actor, user, label string, req AddMethodRequest) (AddMethodResult, error) {
	p := s.pol()
	now := s.now()
	seed, enr, err := newTOTP(p.TOTP, user)
	if err != nil {
		return AddMethodResult{}, err
	}
	m := Method{ID: newID("m_"), User: user, Kind: KindTOTP, Label: label, Language: req.Language, CreatedAt: now}
	m.Secret = s.keys.Seal(seed, m.ID)
	err = s.update(ctx, func(tx Tx) (bool, error) {
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		if err := s.requireProof(tx, actor, u, req.Proof); err != nil {
			return false, err
		}
		if err := s.putUser(tx, u); err != nil {
			return false, err
		}
		if err := tx.PutMethod(m); err != nil {
			return false, err
		}
		return false, s.event(tx, Event{User: user, Type: EventMethodAdded, Actor: actor.Name, Method: m.ID, Detail: "totp"})
	})
	if err != nil {
		return AddMethodResult{}, err
	}
	return AddMethodResult{Method: m, TOTP: &enr}, nil
}

func (s *Service) addPhone(ctx context.Context, actor Actor, user, label string, req AddMethodRequest) (AddMethodResult, error) {
	now := s.now()
	m, err := s.phoneMethod(user, label, req, now)
	if err != nil {
		return AddMethodResult{}, err
	}
	channel := m.Channel
	var ch Challenge
	err = s.update(ctx, func(tx Tx) (bool, error) {
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		if err := s.requireProof(tx, actor, u, req.Proof); err != nil {
			return false, err
		}
		if err := s.placePhone(tx, actor, &u, m); err != nil {
			return false, err
		}
		ch, err = s.newPhoneChallenge(tx, actor, u, m, channel, PurposeConfirm, now)
		return false, err
	})
	if err != nil {
		return AddMethodResult{}, err
	}
	s.obs.ChallengeCreated(ch.Kind, ch.Channel)
	s.wake()
	return AddMethodResult{Method: m, Challenge: &ch}, nil
}

// phoneMethod checks a phone registration (slot, channel, number) and
// builds its unconfirmed method.
func (s *Service) phoneMethod(user, label string, req AddMethodRequest, now time.Time) (Method, error) {
	p := s.pol()
	switch req.Slot {
	case SlotMobile, SlotAlternate, SlotOffice:
	case "":
		return Method{}, refuse(CodeInvalidRequest, "slot is required for a phone: \"mobile\", \"alternate\" or \"office\"")
	default:
		return Method{}, refuse(CodeInvalidRequest, "slot %q is unknown: use \"mobile\", \"alternate\" or \"office\"", truncate(string(req.Slot), 32))
	}
	channel := req.Channel
	switch channel {
	case "":
		channel = ChannelSMS
	case ChannelSMS, ChannelVoice:
	default:
		return Method{}, refuse(CodeInvalidRequest, "channel %q is unknown: use \"sms\" or \"voice\"", truncate(string(channel), 32))
	}
	ph, err := NormalizePhone(req.Phone, p.DefaultRegion, p.AllowedRegions)
	if err != nil {
		return Method{}, err
	}
	if ph.Extension != "" && req.Slot != SlotOffice {
		return Method{}, refuse(CodeInvalidRequest, "only an office phone may carry an extension")
	}
	if channel == ChannelSMS && (!ph.Mobile || ph.Extension != "") {
		return Method{}, refuse(CodeNotMobile, "%s cannot receive SMS (not a mobile number); use channel \"voice\" for a landline", phone.Mask(ph.E164))
	}
	return Method{ID: newID("m_"), User: user, Kind: KindPhone, Label: label, Slot: req.Slot, Channel: channel,
		Phone: ph.E164, Extension: ph.Extension, Language: req.Language, CreatedAt: now}, nil
}

// placePhone stores the unconfirmed phone m in its slot, replacing an
// unconfirmed registration there; a confirmed phone in the slot refuses.
func (s *Service) placePhone(tx Tx, actor Actor, u *User, m Method) error {
	ms, err := tx.Methods(m.User)
	if err != nil {
		return err
	}
	for _, old := range ms {
		if old.Kind != KindPhone || old.Slot != m.Slot {
			continue
		}
		if old.Confirmed {
			return refuse(CodeSlotTaken, "the %s slot already holds %s; remove that phone first or use another slot", m.Slot, phone.Mask(old.Phone))
		}
		// An unconfirmed registration in the slot is replaced.
		if err := tx.DeleteMethod(old.ID); err != nil {
			return err
		}
	}
	if err := s.putUser(tx, *u); err != nil {
		return err
	}
	if err := tx.PutMethod(m); err != nil {
		return err
	}
	return s.event(tx, Event{User: m.User, Type: EventMethodAdded, Actor: actor.Name, Method: m.ID,
		Detail: "phone " + string(m.Slot) + " " + string(m.Channel) + " " + phone.Mask(m.Phone)})
}

// putUser stores u, stamping its update time.
func (s *Service) putUser(tx Tx, u User) error {
	u.UpdatedAt = s.now()
	return tx.PutUser(u)
}

// requireProof enforces that, once MFA is on, method changes are made by
// someone who just verified with an existing method. Admins are exempt.
func (s *Service) requireProof(tx Tx, actor Actor, u User, proof string) error {
	if actor.Admin || u.EffectiveState(s.now()) == StateOff {
		return nil
	}
	if proof == "" {
		return refuse(CodeProofRequired, "MFA is on for this user: verify with an existing method (a challenge with purpose \"proof\") and pass its ID as proof")
	}
	c, err := tx.Challenge(proof)
	if errors.Is(err, ErrNotFound) || (err == nil && c.User != u.ID) {
		return refuse(CodeProofRequired, "proof %s is not a challenge of this user", truncate(proof, 40))
	}
	if err != nil {
		return err
	}
	maxAge := s.pol().ProofMaxAge
	switch {
	case c.Status != StatusApproved || c.Purpose == PurposeConfirm:
		return refuse(CodeProofRequired, "proof %s was not approved; verify it first", c.ID)
	case s.now().Sub(c.FinishedAt) > maxAge:
		return refuse(CodeProofRequired, "proof %s was approved more than %s ago; verify again", c.ID, maxAge)
	}
	return nil
}

// ConfirmRequest confirms a method with a code (totp, sms) or an approved
// challenge (voice).
type ConfirmRequest struct {
	Code      string
	Challenge string
}

// ConfirmMethod confirms a registered method. The first confirmed method
// that can be a default becomes the default.
func (s *Service) ConfirmMethod(ctx context.Context, actor Actor, user, methodID string, req ConfirmRequest) (_ Method, err error) {
	if err := s.checkUserID(user); err != nil {
		return Method{}, err
	}
	defer s.auditRefusal(ctx, actor, user, truncate(methodID, 40), "confirm_method", &err)
	if (req.Code == "") == (req.Challenge == "") {
		return Method{}, refuse(CodeInvalidRequest, "give exactly one of code (authenticator app, SMS) or challenge (an approved voice call)")
	}
	now := s.now()
	var out Method
	var finished *Challenge
	err = s.update(ctx, func(tx Tx) (bool, error) {
		m, err := userMethod(tx, user, methodID)
		if err != nil {
			return false, err
		}
		if m.Confirmed {
			// Approving a confirmation challenge (an answered call, or the
			// SMS code given to verify) already confirmed the method.
			if c, err := tx.Challenge(req.Challenge); req.Challenge != "" && err == nil &&
				c.Method == m.ID && c.Purpose == PurposeConfirm && c.Status == StatusApproved {
				out = m
				return false, nil
			}
			return false, refuse(CodeAlreadyConfirmed, "method %s is already confirmed", m.ID)
		}
		switch {
		case m.Kind == KindTOTP && req.Code != "":
			if err := s.checkCodeFormat(req.Code, s.pol().TOTP.Digits); err != nil {
				return false, err
			}
			seed, err := s.keys.Open(m.Secret, m.ID)
			if err != nil {
				return false, err
			}
			step, ok := matchTOTP(s.pol().TOTP, seed, req.Code, now)
			if !ok {
				if err := s.event(tx, Event{User: user, Type: EventVerifyFailed, Actor: actor.Name, Method: m.ID, Detail: "confirm: wrong code"}); err != nil {
					return false, err
				}
				return true, refuse(CodeInvalidCode, "the code does not match: check the device clock and enter the code the app shows now")
			}
			m.LastStep = step
			return false, s.confirm(tx, actor, m, now)
		case m.Kind == KindPhone && req.Code != "":
			c, err := tx.LatestChallenge(m.ID, PurposeConfirm)
			if errors.Is(err, ErrNotFound) {
				return false, refuse(CodeUnknownChallenge, "no confirmation challenge exists for method %s; register the phone again", m.ID)
			}
			if err != nil {
				return false, err
			}
			if c.Channel != ChannelSMS {
				return false, refuse(CodeWrongVerification, "this phone was confirmed by a call; pass the approved call's challenge ID instead of a code")
			}
			c, keep, err := s.checkCode(tx, actor, c, req.Code, now)
			finished = &c
			if err != nil {
				return keep, err
			}
			out, err = tx.Method(m.ID)
			return false, err
		case req.Challenge != "":
			c, err := tx.Challenge(req.Challenge)
			if errors.Is(err, ErrNotFound) || (err == nil && (c.Method != m.ID || c.Purpose != PurposeConfirm)) {
				return false, refuse(CodeUnknownChallenge, "challenge %s is not the confirmation of method %s", truncate(req.Challenge, 40), m.ID)
			}
			if err != nil {
				return false, err
			}
			if c.Status != StatusApproved {
				return false, refuse(CodeChallengeNotApproved, "challenge %s is %s, not approved; wait for the call to be answered and confirmed", c.ID, c.Status)
			}
			return false, s.confirm(tx, actor, m, now)
		default:
			return false, refuse(CodeWrongVerification, "a %s method is confirmed with a code", m.Kind)
		}
	})
	if finished != nil {
		s.finished(*finished)
		s.observeFailure(*finished, err)
	}
	if err != nil {
		return Method{}, err
	}
	if out.ID == "" {
		return s.method(ctx, methodID)
	}
	return out, nil
}

func (s *Service) method(ctx context.Context, id string) (Method, error) {
	var m Method
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		m, err = tx.Method(id)
		return err
	})
	return m, err
}

// confirm marks m confirmed, makes it the default when the user has none,
// and records the method change.
func (s *Service) confirm(tx Tx, actor Actor, m Method, now time.Time) error {
	m.Confirmed = true
	m.ConfirmedAt = now
	if err := tx.PutMethod(m); err != nil {
		return err
	}
	u, err := loadUser(tx, m.User, now)
	if err != nil {
		return err
	}
	u.LastMethodChangeAt = now
	if u.DefaultMethod == "" && m.Kind != KindFIDO {
		u.DefaultMethod = m.ID
	}
	if err := s.putUser(tx, u); err != nil {
		return err
	}
	return s.event(tx, Event{User: m.User, Type: EventMethodConfirmed, Actor: actor.Name, Method: m.ID, Detail: string(m.Kind)})
}

func userMethod(tx Tx, user, id string) (Method, error) {
	m, err := tx.Method(id)
	if errors.Is(err, ErrNotFound) || (err == nil && m.User != user) {
		return Method{}, refuse(CodeUnknownMethod, "user %s has no method %s", user, truncate(id, 40))
	}
	return m, err
}

// RenameMethod changes a method's label. The label follows the rules of
// registration (valid UTF-8, at most 64 characters, no control
// characters); surrounding spaces are trimmed and an empty label is
// refused. A label does not verify anyone, so no proof is needed even
// once MFA is on.
func (s *Service) RenameMethod(ctx context.Context, actor Actor, user, methodID, label string) (_ Method, err error) {
	if err := s.checkUserID(user); err != nil {
		return Method{}, err
	}
	defer s.auditRefusal(ctx, actor, user, truncate(methodID, 40), "rename_method", &err)
	label = strings.TrimSpace(label)
	if label == "" {
		return Method{}, refuse(CodeInvalidRequest, "label is required: a name of 1 to %d characters the user recognises the method by", maxLabel)
	}
	// The kind only chooses a default for an empty label, refused above.
	if label, err = checkLabel(label, "", ""); err != nil {
		return Method{}, err
	}
	var out Method
	err = s.update(ctx, func(tx Tx) (bool, error) {
		m, err := userMethod(tx, user, methodID)
		if err != nil {
			return false, err
		}
		out = m
		if m.Label == label {
			return false, nil
		}
		m.Label = label
		if err := tx.PutMethod(m); err != nil {
			return false, err
		}
		out = m
		// The labels stay out of the record: a user may write a phone
		// number into one.
		return false, s.event(tx, Event{User: user, Type: EventMethodRenamed, Actor: actor.Name, Method: m.ID, Detail: string(m.Kind)})
	})
	if err != nil {
		return Method{}, err
	}
	return out, nil
}

// RemoveMethod deletes a method. Once MFA is on, the user needs a proof and
// cannot remove their last usable method; an admin can do both.
func (s *Service) RemoveMethod(ctx context.Context, actor Actor, user, methodID, proof string) (err error) {
	if err := s.checkUserID(user); err != nil {
		return err
	}
	defer s.auditRefusal(ctx, actor, user, truncate(methodID, 40), "remove_method", &err)
	now := s.now()
	return s.update(ctx, func(tx Tx) (bool, error) {
		m, err := userMethod(tx, user, methodID)
		if err != nil {
			return false, err
		}
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		if err := s.requireProof(tx, actor, u, proof); err != nil {
			return false, err
		}
		ms, err := tx.Methods(user)
		if err != nil {
			return false, err
		}
		rest := slices.DeleteFunc(slices.Clone(ms), func(o Method) bool { return o.ID == m.ID })
		usableLeft := slices.ContainsFunc(rest, Method.Usable)
		if m.Usable() && !usableLeft && u.EffectiveState(now) != StateOff && !actor.Admin {
			return false, refuse(CodeLastMethod, "this is the user's last usable method and MFA is on: register another method first (losing every method locks the account); only an admin can remove it")
		}
		if err := tx.DeleteMethod(m.ID); err != nil {
			return false, err
		}
		if m.Usable() { // a pass leaving changes none of the lasting methods
			u.LastMethodChangeAt = now
		}
		if u.DefaultMethod == m.ID {
			u.DefaultMethod = ""
			for _, o := range rest {
				if o.Usable() && o.Kind != KindFIDO {
					u.DefaultMethod = o.ID
					break
				}
			}
		}
		if err := s.putUser(tx, u); err != nil {
			return false, err
		}
		return false, s.event(tx, Event{User: user, Type: EventMethodRemoved, Actor: actor.Name, Method: m.ID, Detail: withReason(string(m.Kind), actor)})
	})
}

// userChange runs fn on the user's record in a write transaction. When fn
// returns an event, the changed record is stored and the event recorded;
// nil means nothing changed. It answers with the user as it then stands.
func (s *Service) userChange(ctx context.Context, user string, fn func(tx Tx, u *User, now time.Time) (*Event, error)) (UserView, error) {
	if err := s.checkUserID(user); err != nil {
		return UserView{}, err
	}
	now := s.now()
	err := s.update(ctx, func(tx Tx) (bool, error) {
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		e, err := fn(tx, &u, now)
		if err != nil || e == nil {
			return false, err
		}
		if err := s.putUser(tx, u); err != nil {
			return false, err
		}
		e.User = user
		return false, s.event(tx, *e)
	})
	if err != nil {
		return UserView{}, err
	}
	return s.GetUser(ctx, user)
}

// SetDefault makes a confirmed method other than a security key the default.
func (s *Service) SetDefault(ctx context.Context, actor Actor, user, methodID string) (_ UserView, err error) {
	defer s.auditRefusal(ctx, actor, user, "", "set_default", &err)
	return s.userChange(ctx, user, func(tx Tx, u *User, _ time.Time) (*Event, error) {
		m, err := userMethod(tx, user, methodID)
		if err != nil {
			return nil, err
		}
		if m.Kind == KindTAP {
			return nil, refuse(CodeTAPCannotBeDefault, "a Temporary Access Pass is never the default method: it stands in for lost methods only until it expires")
		}
		if m.Kind == KindFIDO {
			return nil, refuse(CodeFIDOCannotBeDefault, "a security key cannot be the default method (some systems cannot use it); choose an authenticator app or a phone")
		}
		if !m.Confirmed {
			return nil, refuse(CodeMethodNotConfirmed, "method %s is not confirmed yet; confirm it first", m.ID)
		}
		if u.DefaultMethod == m.ID {
			return nil, nil
		}
		u.DefaultMethod = m.ID
		return &Event{Type: EventDefaultChanged, Actor: actor.Name, Method: m.ID, Detail: withReason("", actor)}, nil
	})
}

// ApplyMFA turns MFA on: the user goes pending and becomes active after the
// activation delay. It needs a confirmed method and a successful test
// sign-in after the last method change. Applying again changes nothing.
func (s *Service) ApplyMFA(ctx context.Context, actor Actor, user string) (_ UserView, err error) {
	defer s.auditRefusal(ctx, actor, user, "", "apply_mfa", &err)
	return s.userChange(ctx, user, func(tx Tx, u *User, now time.Time) (*Event, error) {
		if u.EffectiveState(now) != StateOff {
			return nil, nil
		}
		ms, err := tx.Methods(user)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ms, Method.Usable) {
			return nil, refuse(CodeNoConfirmedMethod, "register and confirm at least one method first")
		}
		if u.LastTestSigninAt.IsZero() || u.LastTestSigninAt.Before(u.LastMethodChangeAt) {
			return nil, refuse(CodeNoTestSignin, "try signing in (a challenge with purpose \"test\") after the last method change before applying for MFA")
		}
		delay := s.pol().ActivationDelay
		u.State, u.ActivatesAt = StatePending, now.Add(delay)
		if delay == 0 {
			u.State = StateActive
		}
		return &Event{Type: EventMFAApplied, Actor: actor.Name, Detail: "activates " + u.ActivatesAt.UTC().Format(time.RFC3339)}, nil
	})
}

// TerminateMFA turns MFA off. Only an admin may: users cannot turn it off
// themselves. Methods are kept.
func (s *Service) TerminateMFA(ctx context.Context, actor Actor, user string) (_ UserView, err error) {
	defer s.auditRefusal(ctx, actor, user, "", "terminate_mfa", &err)
	if !actor.Admin {
		return UserView{}, refuse(CodeInvalidRequest, "only an admin can terminate MFA use")
	}
	return s.userChange(ctx, user, func(_ Tx, u *User, _ time.Time) (*Event, error) {
		if u.State == StateOff || u.State == "" {
			return nil, nil
		}
		u.State, u.ActivatesAt = StateOff, time.Time{}
		return &Event{Type: EventMFATerminated, Actor: actor.Name, Detail: withReason("", actor)}, nil
	})
}

// Unlock clears a user's consecutive-failure lock and fraud block (admin).
func (s *Service) Unlock(ctx context.Context, actor Actor, user string) (_ UserView, err error) {
	defer s.auditRefusal(ctx, actor, user, "", "unlock", &err)
	return s.userChange(ctx, user, func(_ Tx, u *User, _ time.Time) (*Event, error) {
		if u.ConsecutiveFailures == 0 && !u.PhoneBlocked {
			return nil, nil
		}
		u.ConsecutiveFailures, u.PhoneBlocked = 0, false
		return &Event{Type: EventUserUnlocked, Actor: actor.Name, Detail: withReason("", actor)}, nil
	})
}

// Events lists audit events, newest first.
func (s *Service) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	if f.User != "" {
		if err := s.checkUserID(f.User); err != nil {
			return nil, err
		}
	}
	if f.BeforeID < 0 || f.AfterID < 0 {
		return nil, refuse(CodeInvalidCursor, "before and after are event IDs, positive whole numbers")
	}
	if f.BeforeID > 0 && f.AfterID > 0 {
		return nil, refuse(CodeInvalidCursor, "give before or after, not both: before pages to older events, after to newer ones")
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []Event
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Events(f)
		return err
	})
	return out, err
}
