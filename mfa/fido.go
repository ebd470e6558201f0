package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// WebAuthn checks security-key assertions (implemented with package fido,
// configured with the relying party of the [fido] section).
type WebAuthn interface {
	// AssertionOptions is the PublicKeyCredentialRequestOptions object a
	// browser needs to sign in with one of the allowed credentials.
	AssertionOptions(challenge []byte, allow [][]byte) json.RawMessage
	// VerifyAssertion checks a browser's AuthenticationResponseJSON.
	VerifyAssertion(cred FIDOCredential, challenge, responseJSON []byte) (uint32, error)
	// AssertionIdentity reads the credential ID and the user handle (nil
	// when absent) of a browser's AuthenticationResponseJSON, without
	// verifying anything: a discoverable challenge needs them to find
	// which key answered.
	AssertionIdentity(responseJSON []byte) (credentialID, userHandle []byte, err error)
	// VerifyRawAssertion checks an assertion taken at the kiosk.
	VerifyRawAssertion(cred FIDOCredential, challenge, clientDataJSON, authData, signature []byte) (uint32, error)
	// CounterRegressed reports whether err means the sign counter went
	// backwards (a cloned key, possibly).
	CounterRegressed(err error) bool
}

// SetWebAuthn attaches the security-key verifier; without one, security
// keys can be enrolled but not used to sign in.
func (s *Service) SetWebAuthn(w WebAuthn) { s.webauthn.Store(&webauthnBox{w}) }

type webauthnBox struct{ w WebAuthn }

func (s *Service) verifier() (WebAuthn, error) {
	if b := s.webauthn.Load(); b != nil {
		return b.w, nil
	}
	return nil, refuse(CodeUnsupportedKind, "security-key verification is not configured on this gateway")
}

// FIDORegistration is a verified security-key registration made at a kiosk.
type FIDORegistration struct {
	Label      string
	Credential FIDOCredential
	Proof      string
}

// AuditEnrollmentFailed records a security-key enrollment that did not
// finish (wrong PIN, no touch, attestation refused, cancelled), with who
// ran it. reason is a short description without the PIN; it is cut to 200
// characters.
func (s *Service) AuditEnrollmentFailed(ctx context.Context, actor Actor, user, reason string) error {
	if err := s.checkUserID(user); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		return s.event(tx, Event{User: user, Type: EventEnrollmentFailed, Actor: actor.Name, Detail: cleanDetail(reason)})
	})
}

// AuditExternalSignin records how a front door's sign-in ended (an
// External MFA answer sent to Entra, a request it refused), with the door's
// actor. user and challenge may be empty when the request named none that
// could be trusted. detail is a short "key=value" description without a
// code, token or phone number; it is cut to 200 characters.
func (s *Service) AuditExternalSignin(ctx context.Context, actor Actor, user, challenge, detail string) error {
	if user != "" {
		if err := s.checkUserID(user); err != nil {
			user = ""
		}
	}
	return s.store.Update(ctx, func(tx Tx) error {
		return s.event(tx, Event{User: user, Type: EventExternalSignin, Actor: actor.Name, Challenge: challenge, Detail: cleanDetail(detail)})
	})
}

// cleanDetail makes outside text fit an audit detail: valid UTF-8 without
// control characters, at most 200 characters.
func cleanDetail(s string) string {
	clean := []rune(strings.ToValidUTF8(s, "?"))
	clean = clean[:min(len(clean), 200)]
	for i, r := range clean {
		if unicode.IsControl(r) {
			clean[i] = ' '
		}
	}
	return string(clean)
}

// RegisterFIDO stores a security key as a confirmed method. A key never
// becomes the default; when it is the user's only method the user record
// warns that another method must be added.
func (s *Service) RegisterFIDO(ctx context.Context, actor Actor, user string, r FIDORegistration) (_ Method, err error) {
	if err := s.checkUserID(user); err != nil {
		return Method{}, err
	}
	defer s.auditRefusal(ctx, actor, user, "", "register_fido", &err)
	label := r.Label
	if label == "" {
		label = "Security key"
	}
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > maxLabel {
		return Method{}, refuse(CodeInvalidRequest, "label must be valid UTF-8 of at most %d characters", maxLabel)
	}
	c := r.Credential
	if len(c.ID) == 0 || len(c.PublicKey) == 0 || len(c.AAGUID) != 16 {
		return Method{}, refuse(CodeInvalidRequest, "the registration lacks a credential ID, public key or AAGUID")
	}
	now := s.now()
	m := Method{ID: newID("m_"), User: user, Kind: KindFIDO, Label: label, Confirmed: true, FIDO: &c, CreatedAt: now, ConfirmedAt: now}
	err = s.update(ctx, func(tx Tx) (bool, error) {
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		if err := s.requireProof(tx, actor, u, r.Proof); err != nil {
			return false, err
		}
		ms, err := tx.Methods(user)
		if err != nil {
			return false, err
		}
		for _, o := range ms {
			if o.FIDO != nil && bytes.Equal(o.FIDO.ID, c.ID) {
				return false, refuse(CodeSlotTaken, "this security key is already registered for the user as %s", o.ID)
			}
		}
		u.LastMethodChangeAt = now
		if err := s.putUser(tx, u); err != nil {
			return false, err
		}
		if err := tx.PutMethod(m); err != nil {
			return false, err
		}
		detail := fmt.Sprintf("fido aaguid=%x format=%s", c.AAGUID, c.AttestationFormat)
		if err := s.event(tx, Event{User: user, Type: EventMethodAdded, Actor: actor.Name, Method: m.ID, Detail: detail}); err != nil {
			return false, err
		}
		return false, s.event(tx, Event{User: user, Type: EventMethodConfirmed, Actor: actor.Name, Method: m.ID, Detail: "fido"})
	})
	return m, err
}

// newFIDOChallenge creates a security-key challenge with fresh WebAuthn
// challenge bytes, for the key m or, with m.ID "", for any confirmed key of
// m.User (a discoverable challenge).
func (s *Service) newFIDOChallenge(tx Tx, m Method, purpose Purpose, now time.Time) (Challenge, error) {
	if m.ID != "" && m.FIDO == nil {
		return Challenge{}, fmt.Errorf("method %s has no credential", m.ID)
	}
	wc := make([]byte, 32)
	if _, err := rand.Read(wc); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	p := s.pol()
	c := Challenge{ID: newID("c_"), User: m.User, Method: m.ID, Kind: KindFIDO, Purpose: purpose, Status: StatusCreated,
		AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL), WebAuthn: wc}
	return c, tx.PutChallenge(c)
}

// newDiscoverableChallenge creates a security-key challenge that any of
// the user's confirmed keys may answer.
func (s *Service) newDiscoverableChallenge(tx Tx, user string, purpose Purpose, now time.Time) (Challenge, error) {
	ms, err := tx.Methods(user)
	if err != nil {
		return Challenge{}, err
	}
	if !slices.ContainsFunc(ms, func(m Method) bool { return m.Kind == KindFIDO && m.Confirmed && m.FIDO != nil }) {
		return Challenge{}, refuse(CodeNoConfirmedMethod, "user %s has no confirmed security key or passkey; register one first, or name another method", user)
	}
	return s.newFIDOChallenge(tx, Method{User: user}, purpose, now)
}

// AssertionOptions returns the browser request options of a security-key
// challenge (nil for other kinds). A discoverable challenge's options name
// no credential: an empty allowCredentials lets the browser offer any
// passkey of this relying party (WebAuthn L3 §5.5, §7.2 step 1).
func (s *Service) AssertionOptions(ctx context.Context, c Challenge) (json.RawMessage, error) {
	if c.Kind != KindFIDO {
		return nil, nil
	}
	w, err := s.verifier()
	if err != nil {
		return nil, err
	}
	if c.Method == "" {
		return w.AssertionOptions(c.WebAuthn, nil), nil
	}
	m, err := s.method(ctx, c.Method)
	if err != nil || m.FIDO == nil {
		return nil, fmt.Errorf("credential of challenge %s: %w", c.ID, err)
	}
	return w.AssertionOptions(c.WebAuthn, [][]byte{m.FIDO.ID}), nil
}

// FIDOAssertion is a security-key answer to a challenge: a browser's
// AuthenticationResponseJSON, or the raw parts of a kiosk assertion.
type FIDOAssertion struct {
	ResponseJSON   []byte
	ClientDataJSON []byte
	AuthData       []byte
	Signature      []byte
}

// VerifyFIDO checks a security-key assertion for a challenge. A sign
// counter that went backwards denies the challenge and is audited: the key
// may have been cloned.
func (s *Service) VerifyFIDO(ctx context.Context, actor Actor, id string, a FIDOAssertion) (_ Challenge, err error) {
	defer s.auditRefusal(ctx, actor, "", "", "verify_fido", &err)
	w, err := s.verifier()
	if err != nil {
		return Challenge{}, err
	}
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
		out = c
		if c.Kind != KindFIDO {
			return false, refuse(CodeWrongVerification, "a %s challenge is not verified with a security key", c.Kind)
		}
		if c.Status.Final() {
			return false, finalRefusal(c)
		}
		if !now.Before(c.ExpiresAt) {
			out, err = s.end(tx, actorSystem, c, StatusExpired, "ttl", now)
			if err != nil {
				return false, err
			}
			changed = true
			return true, finalRefusal(out)
		}
		u, err := loadUser(tx, c.User, now)
		if err != nil {
			return false, err
		}
		if u.ConsecutiveFailures >= s.pol().MaxConsecutiveFailures {
			return false, refuse(CodeUserLocked, "user %s is locked after %d consecutive failed verifications; an admin must unlock it", u.ID, u.ConsecutiveFailures)
		}
		var m Method
		var verr error // the answer does not verify: one failed attempt
		if c.Method == "" {
			if a.ResponseJSON == nil {
				return false, refuse(CodeWrongVerification, "challenge %s may be answered by any of the user's security keys: it needs a browser's answer (webauthn), which names the key", c.ID)
			}
			if m, verr, err = s.answeringKey(tx, w, c.User, a.ResponseJSON); err != nil {
				return false, err
			}
		} else if m, err = tx.Method(c.Method); err != nil || m.FIDO == nil {
			return false, fmt.Errorf("credential of challenge %s: %w", c.ID, err)
		}
		var count uint32
		switch {
		case verr != nil:
		case a.ResponseJSON != nil:
			count, verr = w.VerifyAssertion(*m.FIDO, c.WebAuthn, a.ResponseJSON)
		default:
			count, verr = w.VerifyRawAssertion(*m.FIDO, c.WebAuthn, a.ClientDataJSON, a.AuthData, a.Signature)
		}
		changed = true
		switch {
		case verr == nil:
			m.FIDO.SignCount = count
			if err := tx.PutMethod(m); err != nil {
				return false, err
			}
			c.Method = m.ID // a discoverable challenge: the key that answered
			out, err = s.approve(tx, actor, c, u, now)
			return false, err
		case w.CounterRegressed(verr):
			if err := s.event(tx, Event{User: c.User, Type: EventCounterRegressed, Actor: actor.Name, Method: m.ID, Challenge: c.ID,
				Detail: fmt.Sprintf("stored %d: the key may have been cloned", m.FIDO.SignCount)}); err != nil {
				return false, err
			}
			out, err = s.end(tx, actor.Name, c, StatusDenied, "sign_counter_regressed", now)
			if err != nil {
				return false, err
			}
			return true, &Error{Code: CodeCounterRegressed, Message: "the security key's signature counter went backwards; it may have been cloned, so the sign-in is denied", Challenge: &out}
		default:
			c.AttemptsLeft--
			u.ConsecutiveFailures++
			if err := s.putUser(tx, u); err != nil {
				return false, err
			}
			if err := s.event(tx, Event{User: c.User, Type: EventVerifyFailed, Actor: actor.Name, Method: m.ID, Challenge: c.ID,
				Detail: truncate(verr.Error(), 200)}); err != nil {
				return false, err
			}
			if c.AttemptsLeft <= 0 {
				c.AttemptsLeft = 0
				c, err = s.end(tx, actor.Name, c, StatusLocked, "too_many_attempts", now)
			} else {
				err = tx.PutChallenge(c)
			}
			if err != nil {
				return false, err
			}
			out = c
			left := c.AttemptsLeft
			return true, &Error{Code: CodeInvalidAssertion, Message: "the security key's answer does not verify: " + verr.Error(), AttemptsLeft: &left, Challenge: &out}
		}
	})
	if changed {
		s.finished(out)
	}
	s.observeFailure(out, err)
	return out, err
}

// answeringKey finds which of user's confirmed security keys answered a
// discoverable challenge, by the credential ID of the browser's response
// (WebAuthn L3 §7.2 step 5), and checks that the response's user handle,
// when it carries one, is this user's: the user handle every registration
// here uses is the user ID's bytes (§7.2 step 6). A response it cannot
// read, a credential that is not one of the user's keys (unknown, or
// another user's) and a user handle of someone else come back as verr, a
// failed attempt; err is a store failure.
func (s *Service) answeringKey(tx Tx, w WebAuthn, user string, responseJSON []byte) (_ Method, verr, err error) {
	credID, handle, verr := w.AssertionIdentity(responseJSON)
	if verr != nil {
		return Method{}, verr, nil
	}
	if handle != nil && !bytes.Equal(handle, []byte(user)) {
		return Method{}, fmt.Errorf("the passkey answered for another account: its user handle is not user %s's", user), nil
	}
	ms, err := tx.Methods(user)
	if err != nil {
		return Method{}, nil, err
	}
	for _, m := range ms {
		if m.Kind == KindFIDO && m.Confirmed && m.FIDO != nil && bytes.Equal(m.FIDO.ID, credID) {
			return m, nil, nil
		}
	}
	return Method{}, fmt.Errorf("the passkey used (credential %s) is not one of user %s's registered security keys", shortCredential(credID), user), nil
}

// shortCredential names a credential ID in messages: base64url, cut to 16
// characters.
func shortCredential(id []byte) string {
	s := base64.RawURLEncoding.EncodeToString(id)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// Method returns one of a user's methods.
func (s *Service) Method(ctx context.Context, user, id string) (Method, error) {
	if err := s.checkUserID(user); err != nil {
		return Method{}, err
	}
	var m Method
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		m, err = userMethod(tx, user, id)
		return err
	})
	return m, err
}
