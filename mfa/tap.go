package mfa

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// A Temporary Access Pass (kind tap) is a time-limited passcode the help
// desk issues to a user who lost their methods, modelled on Entra ID's
// (lifetime 10 minutes to 30 days, optionally one-time, one per user). It
// verifies like any method through a challenge: as a proof, so that the
// user can register new methods once MFA is on, and as a sign-in only
// where [policy] tap_signin allows. It is never the default, never counts
// as one of the user's lasting methods (Method.Usable), never answers a
// test sign-in, and drops out of the user's methods once it expired or,
// one-time, was used. The pass is shown once and kept only as a keyed
// hash bound to the method's ID.

// TAPPolicy is how Temporary Access Passes are issued and used.
type TAPPolicy struct {
	// MaxLifetime bounds the lifetime staff may give a pass (0:
	// DefaultTAPMaxLifetime).
	MaxLifetime time.Duration
	// AllowedFor names the API roles that may issue and revoke passes;
	// the API enforces it (see Service.TAPPolicy). Empty: nobody.
	AllowedFor []string
	// Signin lets a pass answer sign-in challenges (the challenge API,
	// the privacyIDEA routes, RADIUS). Off, a pass is only a proof.
	Signin bool
}

// Lifetimes of a pass. The bounds are Entra ID's.
const (
	MinTAPLifetime        = 10 * time.Minute
	MaxTAPLifetime        = 30 * 24 * time.Hour
	DefaultTAPMaxLifetime = 8 * time.Hour
	DefaultTAPLifetime    = time.Hour
)

// TAPLength is the number of characters of a pass, not counting the
// hyphens it is shown with (about 55 random bits).
const TAPLength = 12

// tapAlphabet has no look-alikes: no 0/O, 1/I/L, 2/Z, 5/S, 8/B, and one
// case only (input is taken in either).
const tapAlphabet = "34679ACDEFGHJKMNPQRTUVWXY"

// tapGroup is how many characters a pass shows between hyphens.
const tapGroup = 4

// TAPRequest asks for a pass.
type TAPRequest struct {
	Lifetime time.Duration // 0: DefaultTAPLifetime, or the maximum when that is shorter
	OneTime  bool          // used up by its first successful verification
}

// TAPResult is the new pass: its method and the pass itself, which
// exists nowhere else and must be shown once.
type TAPResult struct {
	Method Method
	Pass   string // grouped by hyphens, like "7KQ4-MX9P-R3TD"
}

// newTAP returns a fresh pass, grouped for reading.
func newTAP() string {
	n := big.NewInt(int64(len(tapAlphabet)))
	var b strings.Builder
	for i := range TAPLength {
		if i > 0 && i%tapGroup == 0 {
			b.WriteByte('-')
		}
		d, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		b.WriteByte(tapAlphabet[d.Int64()])
	}
	return b.String()
}

// ParseTAP reads a pass as a person types it: either case, with or
// without the hyphens or spaces it is shown with. It returns the pass in
// its canonical form (upper case, no separators), which is what is
// hashed, or a refusal that says what is wrong.
func ParseTAP(s string) (string, error) {
	if len(s) > 4*TAPLength {
		return "", refuse(CodeInvalidCodeFormat, "a Temporary Access Pass has %d letters and digits; this is far longer", TAPLength)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(tapAlphabet, c) < 0 {
			return "", refuse(CodeInvalidCodeFormat, "a Temporary Access Pass has only the letters and digits %s (no 0, 1, 2, 5, 8, B, I, L, O, S or Z)", tapAlphabet)
		}
		b.WriteByte(c)
	}
	if b.Len() != TAPLength {
		return "", refuse(CodeInvalidCodeFormat, "a Temporary Access Pass has %d letters and digits (hyphens and spaces aside), not %d", TAPLength, b.Len())
	}
	return b.String(), nil
}

// looksLikeTAP reports whether a code a sign-in door received has the form
// of a pass rather than of a numeric code.
func looksLikeTAP(code string) bool {
	_, err := ParseTAP(code)
	return err == nil
}

// TAPPolicy returns the pass policy in force, with the default maximum
// filled in; the API reads AllowedFor from it.
func (s *Service) TAPPolicy() TAPPolicy {
	p := s.pol().TAP
	p.AllowedFor = slices.Clone(p.AllowedFor)
	if p.MaxLifetime == 0 {
		p.MaxLifetime = DefaultTAPMaxLifetime
	}
	return p
}

// tapLive reports whether m is a pass that can still verify at now.
func tapLive(m Method, now time.Time) bool {
	return m.Kind == KindTAP && now.Before(m.ExpiresAt) && (!m.OneTime || m.UsedAt.IsZero())
}

// tapRefusal says why the pass m cannot verify at now, nil when it can.
func tapRefusal(m Method, now time.Time) error {
	switch {
	case m.OneTime && !m.UsedAt.IsZero():
		return refuse(CodeTAPUsed, "this Temporary Access Pass was used at %s and was good for one use only; the help desk can issue a new one", m.UsedAt.UTC().Format(time.RFC3339))
	case !now.Before(m.ExpiresAt):
		return refuse(CodeTAPExpired, "this Temporary Access Pass expired at %s; the help desk can issue a new one", m.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// errTAPGone refuses a challenge whose pass no longer exists.
func errTAPGone() error {
	return refuse(CodeTAPExpired, "this Temporary Access Pass no longer exists (it expired, or the help desk revoked or replaced it); ask for a new one")
}

// IssueTAP gives user a new Temporary Access Pass, replacing the one they
// had. The lifetime must lie between MinTAPLifetime and the policy's
// maximum. Who may issue is the API's to decide (TAPPolicy.AllowedFor).
func (s *Service) IssueTAP(ctx context.Context, actor Actor, user string, req TAPRequest) (_ TAPResult, err error) {
	if err := s.checkUserID(user); err != nil {
		return TAPResult{}, err
	}
	defer s.auditRefusal(ctx, actor, user, "", "issue_tap", &err)
	maxLife := s.TAPPolicy().MaxLifetime
	life := req.Lifetime
	if life == 0 {
		life = min(DefaultTAPLifetime, maxLife)
	}
	switch {
	case life < MinTAPLifetime:
		return TAPResult{}, refuse(CodeInvalidRequest, "lifetime %s is too short: a Temporary Access Pass lives from %s to %s ([policy] tap_max_lifetime)", fmtDur(life), fmtDur(MinTAPLifetime), fmtDur(maxLife))
	case life > maxLife:
		return TAPResult{}, refuse(CodeInvalidRequest, "lifetime %s is too long: a Temporary Access Pass lives from %s to %s ([policy] tap_max_lifetime)", fmtDur(life), fmtDur(MinTAPLifetime), fmtDur(maxLife))
	}
	now := s.now()
	pass := newTAP()
	canon, _ := ParseTAP(pass)
	m := Method{ID: newID("m_"), User: user, Kind: KindTAP, Label: "Temporary Access Pass", Confirmed: true,
		CreatedAt: now, ConfirmedAt: now, ExpiresAt: now.Add(life), OneTime: req.OneTime}
	m.Secret = s.keys.HashCode(m.ID, canon)
	err = s.update(ctx, func(tx Tx) (bool, error) {
		u, err := loadUser(tx, user, now)
		if err != nil {
			return false, err
		}
		if err := s.putUser(tx, u); err != nil {
			return false, err
		}
		ms, err := tx.Methods(user)
		if err != nil {
			return false, err
		}
		detail := fmt.Sprintf("lifetime=%s one_time=%t expires=%s", fmtDur(life), m.OneTime, m.ExpiresAt.UTC().Format(time.RFC3339))
		for _, old := range ms {
			if old.Kind != KindTAP {
				continue
			}
			if err := tx.DeleteMethod(old.ID); err != nil {
				return false, err
			}
			if err := s.event(tx, Event{User: user, Type: EventTAPRevoked, Actor: actor.Name, Method: old.ID, Detail: "replaced by " + m.ID}); err != nil {
				return false, err
			}
			detail += " replaces=" + old.ID
		}
		if err := tx.PutMethod(m); err != nil {
			return false, err
		}
		return false, s.event(tx, Event{User: user, Type: EventTAPIssued, Actor: actor.Name, Method: m.ID, Detail: withReason(detail, actor)})
	})
	if err != nil {
		return TAPResult{}, err
	}
	return TAPResult{Method: m, Pass: pass}, nil
}

// RevokeTAP withdraws user's Temporary Access Pass, refusing with no_tap
// when they have none.
func (s *Service) RevokeTAP(ctx context.Context, actor Actor, user string) (err error) {
	if err := s.checkUserID(user); err != nil {
		return err
	}
	defer s.auditRefusal(ctx, actor, user, "", "revoke_tap", &err)
	return s.update(ctx, func(tx Tx) (bool, error) {
		ms, err := tx.Methods(user)
		if err != nil {
			return false, err
		}
		found := false
		for _, m := range ms {
			if m.Kind != KindTAP {
				continue
			}
			found = true
			if err := tx.DeleteMethod(m.ID); err != nil {
				return false, err
			}
			if err := s.event(tx, Event{User: user, Type: EventTAPRevoked, Actor: actor.Name, Method: m.ID, Detail: withReason("revoked", actor)}); err != nil {
				return false, err
			}
		}
		if !found {
			return false, refuse(CodeNoTAP, "user %s has no Temporary Access Pass", user)
		}
		return false, nil
	})
}

// newTAPChallenge starts a challenge the pass m answers, refusing what the
// policy does not let a pass do.
func (s *Service) newTAPChallenge(tx Tx, m Method, purpose Purpose, now time.Time) (Challenge, error) {
	p := s.pol()
	switch {
	case purpose == PurposeTest:
		return Challenge{}, refuse(CodeWrongVerification, "a Temporary Access Pass cannot answer a test sign-in: the test before applying for MFA must use a method the user keeps")
	case purpose == PurposeSignin && !p.TAP.Signin:
		return Challenge{}, errTAPSigninOff()
	}
	if err := tapRefusal(m, now); err != nil {
		return Challenge{}, err
	}
	c := Challenge{ID: newID("c_"), User: m.User, Method: m.ID, Kind: KindTAP, Purpose: purpose,
		Status: StatusCreated, AttemptsLeft: p.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL)}
	return c, tx.PutChallenge(c)
}

func errTAPSigninOff() error {
	return refuse(CodeTAPSigninOff, "a Temporary Access Pass is not accepted for sign-in here ([policy] tap_signin = false): use it as a proof to register a new method")
}

// checkTAP matches a pass against the pass of challenge c. It returns the
// pass's method, whether it matched, and a refusal that ends the attempt
// without counting it (malformed, or a pass that can no longer verify).
func (s *Service) checkTAP(tx Tx, c Challenge, code string, now time.Time) (Method, bool, error) {
	canon, err := ParseTAP(code)
	if err != nil {
		return Method{}, false, err
	}
	m, err := tx.Method(c.Method)
	if errors.Is(err, ErrNotFound) {
		return Method{}, false, errTAPGone()
	}
	if err != nil {
		return Method{}, false, fmt.Errorf("load pass of challenge: %w", err)
	}
	if err := tapRefusal(m, now); err != nil {
		return m, false, err
	}
	return m, s.keys.CodeMatches(m.ID, canon, m.Secret), nil
}

// useTAP records that the pass m answered challenge c: a one-time pass is
// used up.
func (s *Service) useTAP(tx Tx, actor Actor, m Method, c Challenge, now time.Time) error {
	if m.OneTime {
		m.UsedAt = now
	}
	m.LastUsedAt = now
	if err := tx.PutMethod(m); err != nil {
		return err
	}
	return s.event(tx, Event{User: m.User, Type: EventTAPUsed, Actor: actor.Name, Method: m.ID, Challenge: c.ID,
		Detail: fmt.Sprintf("purpose=%s one_time=%t", c.Purpose, m.OneTime)})
}

// sweepTAPs removes the passes whose time ended, audited as expired.
func (s *Service) sweepTAPs(tx Tx, now time.Time) error {
	ms, err := tx.ExpiredTAPs(now, 500)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := tx.DeleteMethod(m.ID); err != nil {
			return err
		}
		detail := "unused"
		if !m.UsedAt.IsZero() {
			detail = "used"
		} else if !m.LastUsedAt.IsZero() {
			detail = "used (reusable)"
		}
		if err := s.event(tx, Event{User: m.User, Type: EventTAPExpired, Actor: actorSystem, Method: m.ID, Detail: detail}); err != nil {
			return err
		}
	}
	return nil
}

// fmtDur writes a duration as people write it: "8h", "10m", "1h30m".
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
