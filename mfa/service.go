package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync/atomic"
	"time"
)

// Policy is the part of the configuration the domain rules read. It can be
// replaced at run time (configuration reload) with SetPolicy.
type Policy struct {
	CodeLength             int
	CodeTTL                time.Duration
	MaxAttempts            int
	MaxConsecutiveFailures int
	PhoneChallengesPerUser int
	PhoneChallengeWindow   time.Duration
	ActivationDelay        time.Duration
	ProofMaxAge            time.Duration
	UserID                 *regexp.Regexp
	DefaultRegion          string
	AllowedRegions         []string
	VoiceNumberMatch       bool // false: a plain # approves (the guide's behaviour)
	TOTP                   TOTPParams
	Messages               Messages
	TAP                    TAPPolicy
}

// Messages renders the text of SMS codes and voice prompts.
type Messages interface {
	SMS(lang string, vars map[string]string) string
	Voice(lang string, numberMatch bool, vars map[string]string) string
	DefaultLanguage() string
}

// Actor is who asks: the API client's name and whether it has the admin role.
type Actor struct {
	Name  string
	Admin bool
	// Reason is why staff acted (removing a method, terminating MFA,
	// unlocking); it is recorded in the audit event's detail.
	Reason string
	// From is the client address of a staff member acting for a user
	// (the API's peer address); it is recorded in the audit detail of
	// staff actions with the reason. "" when unknown (a unix socket).
	From string
}

// withReason appends the actor's reason and client address to the
// audit detail of a staff action, cleaned as other outside text in the
// audit log is.
func withReason(detail string, a Actor) string {
	add := func(s string) {
		if detail == "" {
			detail = s
		} else {
			detail += "; " + s
		}
	}
	if a.Reason != "" {
		add("reason: " + cleanDetail(a.Reason))
	}
	if a.From != "" {
		add("from: " + cleanDetail(a.From))
	}
	return detail
}

// Sender is the phone delivery seam, implemented by the modem pool. The
// service writes jobs to the durable outbox and wakes the sender; the sender
// claims them with Service.Claim and reports what happened with Service.Report.
type Sender interface {
	// Wake tells the sender that jobs wait in the outbox. It must not block.
	Wake()
}

// Observer receives domain events for metrics. Labels carry no user data.
type Observer interface {
	ChallengeCreated(kind Kind, channel Channel)
	ChallengeFinished(kind Kind, channel Channel, status Status)
	VerificationFailed(kind Kind, channel Channel)
	FraudReported()
}

// Options configure a Service.
type Options struct {
	Store    Store
	Keys     *Keys
	Policy   Policy
	Sender   Sender           // nil: phone jobs wait in the outbox until a sender is attached
	Observer Observer         // nil: no metrics
	Logger   *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	// Node names this daemon among the nodes sharing the store; its claims
	// on outbox jobs carry it ("": "local", for a store no other node uses).
	Node string
	// Lease is how long a claim on an outbox job stands without a
	// heartbeat renewing it (0: DefaultLease).
	Lease time.Duration
}

// DefaultLease is how long a node's claim on an outbox job outlives its
// last heartbeat before another node may take the job over.
const DefaultLease = 30 * time.Second

// Service applies the domain rules on top of a Store.
type Service struct {
	store    Store
	keys     *Keys
	policy   atomic.Pointer[Policy]
	sender   atomic.Pointer[senderBox]
	webauthn atomic.Pointer[webauthnBox]
	obs      Observer
	log      *slog.Logger
	now      func() time.Time
	watch    watcher
	node     string
	lease    time.Duration
}

type senderBox struct{ s Sender }

// New returns a Service. It validates nothing about the store's content;
// call Recover once at start-up to requeue interrupted deliveries.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Keys == nil {
		return nil, errors.New("mfa: a store and keys are required")
	}
	if o.Node == "" {
		o.Node = "local"
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Lease < time.Second {
		return nil, fmt.Errorf("mfa: a lease of %s is too short to renew; use at least 1s", o.Lease)
	}
	if err := o.Policy.check(); err != nil {
		return nil, err
	}
	s := &Service{store: o.Store, keys: o.Keys, obs: o.Observer, log: o.Logger, now: o.Now, node: o.Node, lease: o.Lease}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	p := o.Policy
	s.policy.Store(&p)
	if o.Sender != nil {
		s.SetSender(o.Sender)
	}
	return s, nil
}

func (p *Policy) check() error {
	switch {
	case p.UserID == nil:
		return errors.New("mfa: policy needs a user ID pattern")
	case p.Messages == nil:
		return errors.New("mfa: policy needs message templates")
	case p.CodeLength < 6 || p.CodeTTL <= 0 || p.MaxAttempts < 1 || p.MaxConsecutiveFailures < 1:
		return errors.New("mfa: policy has impossible code settings")
	case p.TOTP.Period < time.Second || p.TOTP.Issuer == "":
		return errors.New("mfa: policy has impossible TOTP settings")
	case p.TAP.MaxLifetime != 0 && (p.TAP.MaxLifetime < MinTAPLifetime || p.TAP.MaxLifetime > MaxTAPLifetime):
		return fmt.Errorf("mfa: a Temporary Access Pass lifetime of at most %s is impossible: use %s to %s", p.TAP.MaxLifetime, MinTAPLifetime, MaxTAPLifetime)
	}
	return nil
}

// SetPolicy replaces the policy, for example after a configuration reload.
func (s *Service) SetPolicy(p Policy) error {
	if err := p.check(); err != nil {
		return err
	}
	s.policy.Store(&p)
	return nil
}

// SetSender attaches the phone delivery seam and wakes it for waiting jobs.
func (s *Service) SetSender(snd Sender) {
	s.sender.Store(&senderBox{snd})
	snd.Wake()
}

func (s *Service) wake() {
	if b := s.sender.Load(); b != nil {
		b.s.Wake()
	}
}

func (s *Service) pol() *Policy { return s.policy.Load() }

func (s *Service) checkUserID(id string) error {
	if len(id) > 256 || !s.pol().UserID.MatchString(id) {
		return refuse(CodeInvalidUserID, "user %q does not match the configured user ID pattern %s", truncate(id, 64), s.pol().UserID)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// UserView is a user with their methods, as the API shows it.
type UserView struct {
	User     User
	State    State
	Methods  []Method
	Warnings []string
}

// Warnings the user record can carry.
const (
	WarningSingleMethod    = "single_method"
	WarningNoDefaultMethod = "no_default_method"
	WarningPhoneBlocked    = "phone_blocked"
	WarningLocked          = "locked"
)

func (s *Service) view(u User, methods []Method) UserView {
	now := s.now()
	// A Temporary Access Pass that expired or was used up is gone for the
	// user even before the sweeper deletes it.
	methods = slices.DeleteFunc(methods, func(m Method) bool { return m.Kind == KindTAP && !tapLive(m, now) })
	v := UserView{User: u, State: u.EffectiveState(now), Methods: methods}
	confirmed := 0
	for _, m := range methods {
		if m.Usable() {
			confirmed++
		}
	}
	if confirmed == 1 {
		v.Warnings = append(v.Warnings, WarningSingleMethod)
	}
	if confirmed > 0 && u.DefaultMethod == "" {
		v.Warnings = append(v.Warnings, WarningNoDefaultMethod)
	}
	if u.PhoneBlocked {
		v.Warnings = append(v.Warnings, WarningPhoneBlocked)
	}
	if u.ConsecutiveFailures >= s.pol().MaxConsecutiveFailures {
		v.Warnings = append(v.Warnings, WarningLocked)
	}
	return v
}

// loadUser returns the stored user, or a fresh record in state off.
func loadUser(tx Tx, id string, now time.Time) (User, error) {
	u, err := tx.User(id)
	if errors.Is(err, ErrNotFound) {
		return User{ID: id, State: StateOff, CreatedAt: now}, nil
	}
	return u, err
}

// GetUser returns a user's MFA state and methods. A user who never
// registered anything is returned in state off with no methods.
func (s *Service) GetUser(ctx context.Context, id string) (UserView, error) {
	if err := s.checkUserID(id); err != nil {
		return UserView{}, err
	}
	var v UserView
	err := s.store.View(ctx, func(tx Tx) error {
		u, err := loadUser(tx, id, s.now())
		if err != nil {
			return err
		}
		ms, err := tx.Methods(id)
		if err != nil {
			return err
		}
		v = s.view(u, ms)
		return nil
	})
	return v, err
}

// update runs fn in a write transaction. fn may return a refusal together
// with state it wants kept (a wrong code still costs an attempt): when keep
// is true the transaction commits and the refusal is returned after it.
func (s *Service) update(ctx context.Context, fn func(tx Tx) (keep bool, err error)) error {
	var refusal error
	err := s.store.Update(ctx, func(tx Tx) error {
		refusal = nil // a store may run fn again after a conflict
		keep, err := fn(tx)
		if err != nil && keep {
			// A kept refusal committed the audit event that records it.
			var e *Error
			if errors.As(err, &e) {
				e.audited = true
			}
			refusal = err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return refusal
}

// auditRefusal records a refused request in the audit log with who asked,
// unless the refusing transaction already did (a wrong code). It runs
// deferred with the request's error; other errors are not refusals and are
// left alone. user and challenge may be empty when the request named none
// that exists.
func (s *Service) auditRefusal(ctx context.Context, actor Actor, user, method, op string, errp *error) {
	var e *Error
	if !errors.As(*errp, &e) || e.audited {
		return
	}
	ev := Event{User: user, Type: EventRequestRefused, Actor: actor.Name, Method: method, Detail: op + ": " + string(e.Code)}
	if e.Challenge != nil {
		ev.User, ev.Method, ev.Challenge = e.Challenge.User, e.Challenge.Method, e.Challenge.ID
	}
	err := s.store.Update(context.WithoutCancel(ctx), func(tx Tx) error { return s.event(tx, ev) })
	if err != nil {
		s.log.Warn("refusal not audited", "op", op, "code", e.Code, "err", err)
		return
	}
	e.audited = true
}

func (s *Service) event(tx Tx, e Event) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	if err := tx.AddEvent(e); err != nil {
		return fmt.Errorf("record %s event: %w", e.Type, err)
	}
	return nil
}

type nopObserver struct{}

func (nopObserver) ChallengeCreated(Kind, Channel)          {}
func (nopObserver) ChallengeFinished(Kind, Channel, Status) {}
func (nopObserver) VerificationFailed(Kind, Channel)        {}
func (nopObserver) FraudReported()                          {}
