// Package kiosk runs security-key enrollment at a kiosk: sessions opened
// for one user by staff or the identity provider, keys found on the kiosk's
// USB ports (package device), the PIN set or entered, the credential made
// with a clientDataJSON the gateway builds, its attestation verified
// (package fido) and the key stored as the user's method (package mfa). It
// also takes kiosk sign-in assertions for security-key challenges.
//
// Sessions live in memory, and, given a SessionStore, also in the database
// the gateway nodes share: a session opened through one node is then served
// by any other (the kiosk's own node runs the key operations, the others
// follow its progress), and survives a restart. Without a store a restart
// ends the sessions, and the kiosk page then says so.
package kiosk

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mfagate/device"
	"mfagate/fido"
	"mfagate/mfa"
)

// Service is the part of the domain the kiosk uses (*mfa.Service).
type Service interface {
	GetUser(ctx context.Context, id string) (mfa.UserView, error)
	Method(ctx context.Context, user, id string) (mfa.Method, error)
	Challenge(ctx context.Context, id string) (mfa.Challenge, error)
	RegisterFIDO(ctx context.Context, actor mfa.Actor, user string, r mfa.FIDORegistration) (mfa.Method, error)
	VerifyFIDO(ctx context.Context, actor mfa.Actor, id string, a mfa.FIDOAssertion) (mfa.Challenge, error)
	AuditEnrollmentFailed(ctx context.Context, actor mfa.Actor, user, reason string) error
}

// Key is what the kiosk needs from one security key (*device.Key). The key
// list owns it for as long as the key is plugged in: it closes it when the
// key is unplugged or the daemon stops, which cancels the calls in flight
// and waits for them. The kiosk never closes a key.
type Key interface {
	Info(ctx context.Context) (device.Info, error)
	SetPIN(ctx context.Context, pin string) error
	ChangePIN(ctx context.Context, old, new string) error
	MakeCredential(ctx context.Context, req device.MakeCredentialRequest) (device.Registration, error)
	GetAssertion(ctx context.Context, req device.AssertionRequest) (device.Assertion, error)
	io.Closer
}

// Keys lists the security keys present and lends them out (WatcherKeys).
type Keys interface {
	Devices() []device.Info
	// Key returns the key listed at path; false when none is.
	Key(path string) (Key, bool)
}

// WatcherKeys is the key list of a *device.Watcher, which owns the keys.
func WatcherKeys(w *device.Watcher) Keys { return watcherKeys{w} }

type watcherKeys struct{ *device.Watcher }

func (w watcherKeys) Key(path string) (Key, bool) {
	k, ok := w.Watcher.Key(path)
	if !ok {
		return nil, false // not a typed nil in the interface
	}
	return k, true
}

// Observer counts enrollments for metrics.
type Observer interface {
	Enrollment(result string)
}

// Policy is the reloadable part of the kiosk's configuration.
type Policy struct {
	WebAuthn           fido.Policy
	MinPINLength       int
	RequireResidentKey bool
	SessionTTL         time.Duration
	TouchTimeout       time.Duration
}

// Options configure a Kiosk.
type Options struct {
	Service  Service
	Keys     Keys
	Policy   Policy
	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
	// Store shares the sessions between the nodes of one database; nil
	// keeps them in this process only.
	Store SessionStore
	// Node names this gateway node in the session records; default the
	// host name.
	Node string
}

// Kiosk holds the open sessions.
type Kiosk struct {
	svc    Service
	keys   Keys
	obs    Observer
	log    *slog.Logger
	now    func() time.Time
	policy atomic.Pointer[Policy]
	store  SessionStore // nil: sessions live in this process only
	node   string

	mu       sync.Mutex
	sessions map[string]*entry
	ops      sync.WaitGroup
	ctx      context.Context    // ends operations when the kiosk stops
	stop     context.CancelFunc // ends ctx; called once Run's context has ended
}

// entry is this node's copy of a session. With a store, the copy of a
// session whose operation runs elsewhere is re-read before it is served
// (Get, Subscribe, begin) and, while someone subscribes, on every tick.
type entry struct {
	s       Session
	subs    []chan Session
	op      string    // the operation this node runs in the session; "" when none
	fence   time.Time // op's changes are not shared after this (see set)
	updated time.Time // when the session last changed, on whichever node
	// stop cancels op's context, and done is closed once op has ended;
	// both nil when op is "". abandoned says Cancel or End stopped it.
	stop      context.CancelFunc
	done      chan struct{}
	abandoned bool
}

// State is where a session's current operation stands.
type State string

// Session states of API.md.
const (
	StateReady      State = "ready"           // opened; no operation yet
	StateWaitingKey State = "waiting_for_key" // insert the key
	StateNeedPIN    State = "need_pin"        // enter (or set) the PIN and try again
	StateTouchKey   State = "touch_key"       // touch the key
	StateDone       State = "done"            // the operation succeeded
	StateFailed     State = "failed"          // it failed; the message says why
	StateExpired    State = "expired"         // the session is over (timed out or ended)
)

// Session is one user's visit to the kiosk.
type Session struct {
	ID           string
	User         string
	Actor        string
	Proof        string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	State        State
	Message      string
	Operation    string // the current or last operation's ID
	Kind         string // "enroll" or "assert"
	Method       *mfa.Method
	Challenge    *mfa.Challenge
	PINRetries   int // -1 when unknown
	MinPINLength int
	Seq          int // increases with every change
}

// Errors of the kiosk API.
var (
	ErrUnknownSession = errors.New("no such kiosk session")
	ErrExpired        = errors.New("the kiosk session has expired; open a new one")
	ErrBusy           = errors.New("an operation is still running in this session; wait for it to finish")
	ErrBadRequest     = errors.New("invalid kiosk request")
	ErrUnknownDevice  = errors.New("no security key is plugged in at this device path")
	ErrElsewhere      = errors.New("the operation runs on another gateway node")
)

// PINTooShortError refuses a PIN shorter than the key or the policy
// accepts, before any operation starts.
type PINTooShortError struct {
	MinLength int
	New       bool // the PIN to set; false: the key's current PIN
}

func (e *PINTooShortError) Error() string {
	if e.New {
		return fmt.Sprintf("the new PIN is too short: choose one of at least %d characters", e.MinLength)
	}
	return fmt.Sprintf("the PIN is too short: this key's PIN has at least %d characters", e.MinLength)
}

// New returns a kiosk; Run starts its housekeeping.
func New(o Options) *Kiosk {
	k := &Kiosk{svc: o.Service, keys: o.Keys, obs: o.Observer, log: o.Logger, now: o.Now,
		store: o.Store, node: o.Node, sessions: map[string]*entry{}}
	// The kiosk's own context, not Run's: an operation may begin before the
	// goroutine running Run has started, and it must still end with Run.
	k.ctx, k.stop = context.WithCancel(context.Background())
	if k.node == "" {
		k.node, _ = os.Hostname()
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.obs == nil {
		k.obs = nopObserver{}
	}
	k.SetPolicy(o.Policy)
	return k
}

type nopObserver struct{}

func (nopObserver) Enrollment(string) {}

// SetPolicy replaces the policy (configuration reload).
func (k *Kiosk) SetPolicy(p Policy) {
	if p.SessionTTL <= 0 {
		p.SessionTTL = 15 * time.Minute
	}
	if p.TouchTimeout <= 0 {
		p.TouchTimeout = 30 * time.Second
	}
	if p.MinPINLength < 4 {
		p.MinPINLength = 4
	}
	k.policy.Store(&p)
}

func (k *Kiosk) pol() *Policy { return k.policy.Load() }

// tick is the housekeeping period: sessions expire, and subscribers see
// the progress other nodes make, within a tick.
const tick = 250 * time.Millisecond

// purgeEvery is how often, in ticks, the records of long-ended sessions are
// deleted.
const purgeEvery = int(time.Minute / tick)

// Run expires sessions, follows the progress of sessions other nodes run
// and deletes old records until ctx ends, then ends the running operations,
// also those begun before Run was called, and waits for them.
func (k *Kiosk) Run(ctx context.Context) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			k.stop()
			k.ops.Wait()
			return
		case <-t.C:
			k.expire()
			k.follow(ctx)
			if n%purgeEvery == 0 {
				k.purge(ctx)
			}
		}
	}
}

func (k *Kiosk) expire() {
	now := k.now()
	var ended []Session
	k.mu.Lock()
	for id, e := range k.sessions {
		if !now.After(e.s.ExpiresAt) {
			continue
		}
		if e.s.State != StateExpired {
			e.s.State, e.s.Message = StateExpired, "This session has ended. Ask for a new one to continue."
			e.s.Seq++
			ended = append(ended, e.s)
		}
		k.publishLocked(e)
		for _, c := range e.subs {
			close(c)
		}
		e.subs = nil
		// The ended session is kept, like its record, so that it answers
		// ErrExpired rather than ErrUnknownSession, with or without a store.
		if now.After(e.s.ExpiresAt.Add(keepEnded)) {
			delete(k.sessions, id)
		}
	}
	k.mu.Unlock()
	// Every node holding a copy says so; the first write wins, the others
	// find it there. A node without a copy still answers "expired" from
	// the record's expiry time.
	for _, s := range ended {
		k.save(s, now)
	}
}

var idEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + strings.ToLower(idEnc.EncodeToString(b))
}

// Open starts a session for user. The user must exist as far as the
// domain is concerned (a valid ID); once MFA is on, proof names an
// approved challenge, checked when the key is stored.
func (k *Kiosk) Open(ctx context.Context, actor mfa.Actor, user, proof string) (Session, error) {
	if _, err := k.svc.GetUser(ctx, user); err != nil {
		return Session{}, err
	}
	now := k.now()
	p := k.pol()
	s := Session{ID: newID("e_"), User: user, Actor: actor.Name, Proof: proof, CreatedAt: now, ExpiresAt: now.Add(p.SessionTTL),
		State: StateReady, Message: "Insert your security key.", PINRetries: -1, MinPINLength: p.MinPINLength}
	if k.store != nil {
		// The kiosk page may reach another node: no session unless it can
		// find it there.
		if _, err := k.put(ctx, s, now); err != nil {
			return Session{}, err
		}
	}
	k.mu.Lock()
	k.sessions[s.ID] = &entry{s: s, updated: now}
	k.mu.Unlock()
	return s, nil
}

// Get returns a session.
func (k *Kiosk) Get(ctx context.Context, id string) (Session, error) {
	ctx, cancel := storeContext(ctx)
	defer cancel()
	e, err := k.hold(ctx, id)
	if err != nil {
		return Session{}, err
	}
	defer k.mu.Unlock()
	if ended(e.s, k.now()) {
		return Session{}, ErrExpired
	}
	return e.s, nil
}

// ended reports whether a session is over: timed out, or ended by End.
func ended(s Session, now time.Time) bool {
	return s.State == StateExpired || now.After(s.ExpiresAt)
}

// hold brings this node's copy of a session up to date and returns its
// entry with k.mu locked. A session that expired here between the two (the
// housekeeping tick dropped it) is looked up once more: its record says it
// expired.
func (k *Kiosk) hold(ctx context.Context, id string) (*entry, error) {
	for try := 0; ; try++ {
		if err := k.sync(ctx, id); err != nil {
			return nil, err
		}
		k.mu.Lock()
		if e, ok := k.sessions[id]; ok {
			return e, nil
		}
		k.mu.Unlock()
		if try == 1 || k.store == nil {
			return nil, ErrUnknownSession
		}
	}
}

// Subscribe returns a channel that receives the session after every change
// (the current state first) and is closed when the session ends or ctx does.
func (k *Kiosk) Subscribe(ctx context.Context, id string) (<-chan Session, error) {
	sctx, cancel := storeContext(ctx)
	e, err := k.hold(sctx, id)
	cancel()
	if err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	if ended(e.s, k.now()) {
		return nil, ErrExpired
	}
	ch := make(chan Session, 16)
	ch <- e.s
	e.subs = append(e.subs, ch)
	go func() {
		<-ctx.Done()
		k.mu.Lock()
		defer k.mu.Unlock()
		if e, ok := k.sessions[id]; ok {
			for i, c := range e.subs {
				if c == ch {
					e.subs = append(e.subs[:i], e.subs[i+1:]...)
					close(ch)
					break
				}
			}
		}
	}()
	return ch, nil
}

// publishLocked sends the session to subscribers; a slow one misses
// intermediate states, never the latest (it is re-read on the next send).
func (k *Kiosk) publishLocked(e *entry) {
	for _, c := range e.subs {
		select {
		case c <- e.s:
		default:
			select { // drop the oldest, keep the newest
			case <-c:
			default:
			}
			select {
			case c <- e.s:
			default:
			}
		}
	}
}

// set changes a session this node runs an operation in, and shares the
// change. An operation that outlived its bound (this process was stopped
// for a while) no longer shares its changes: another node may have taken
// the session over (busyLocked), and they must not overwrite its own.
func (k *Kiosk) set(id string, f func(s *Session)) {
	now := k.now()
	k.mu.Lock()
	e, ok := k.sessions[id]
	if !ok {
		k.mu.Unlock()
		return
	}
	f(&e.s)
	e.s.Seq++
	e.updated = now
	s, overdue := e.s, !e.fence.IsZero() && now.After(e.fence)
	k.publishLocked(e)
	k.mu.Unlock()
	if overdue {
		k.log.Warn("kiosk operation outlived its bound; its result is not shared with the other nodes", "user", s.User, "state", s.State)
		return
	}
	k.save(s, now)
}

// Devices lists the keys present.
func (k *Kiosk) Devices() []device.Info {
	if k.keys == nil {
		return nil
	}
	return k.keys.Devices()
}

// EnrollRequest asks to register the key at Device.
type EnrollRequest struct {
	Device string
	PIN    string // the key's PIN, or the PIN to set on a key that has none
	NewPIN string // optional: change the PIN first (or set it, on a key without one)
	Label  string
}

// AssertRequest asks the key at Device to answer a security-key challenge.
type AssertRequest struct {
	Device    string
	PIN       string
	Challenge string
}

// begin marks a session busy with a new operation run by this node. With a
// store, the session is first brought up to date, and the operation starts
// only if this node's write of the change wins: of two nodes starting one
// at the same time, the other answers ErrBusy.
//
// The operation's context is returned: it ends with the kiosk (Run's
// context), at the operation's bound, or on Cancel or End, not with ctx,
// which is the request's.
func (k *Kiosk) begin(ctx context.Context, id, kind string) (Session, string, context.Context, error) {
	ctx, cancel := storeContext(ctx)
	defer cancel()
	e, err := k.hold(ctx, id)
	if err != nil {
		return Session{}, "", nil, err
	}
	now := k.now()
	if ended(e.s, now) {
		k.mu.Unlock()
		return Session{}, "", nil, ErrExpired
	}
	if k.busyLocked(e, now) {
		k.mu.Unlock()
		return Session{}, "", nil, ErrBusy
	}
	op := newID("o_")
	opCtx, stop := context.WithTimeout(k.ctx, k.pol().TouchTimeout+time.Minute)
	s := e.s
	s.Operation, s.Kind, s.State, s.Message = op, kind, StateWaitingKey, "Insert your security key."
	s.Method, s.Challenge = nil, nil
	s.Seq++
	e.op = op // holds the session on this node while the store decides
	e.fence = now.Add(k.opLimit() - 15*time.Second)
	e.stop, e.done, e.abandoned = stop, make(chan struct{}), false
	k.mu.Unlock()
	if k.store != nil {
		won, err := k.put(ctx, s, now)
		if err != nil {
			// The database is away: the kiosk still works on this node.
			k.log.Warn("kiosk session not shared with the other nodes", "err", err)
		} else if !won {
			// Another node began an operation or expired the session.
			k.finish(id, op)
			if err := k.sync(ctx, id); err != nil {
				return Session{}, "", nil, err
			}
			if k.now().After(s.ExpiresAt) {
				return Session{}, "", nil, ErrExpired
			}
			return Session{}, "", nil, ErrBusy
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s.Seq > e.s.Seq {
		e.s, e.updated = s, now
		k.publishLocked(e)
	}
	k.ops.Add(1)
	return s, op, opCtx, nil
}

// finish ends this node's hold on a session after operation op.
func (k *Kiosk) finish(id, op string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.sessions[id]; ok && e.op == op {
		e.stop()
		close(e.done)
		e.op, e.fence, e.stop, e.done = "", time.Time{}, nil, nil
	}
}

// abandonedOp reports whether Cancel or End stopped the session's
// operation op.
func (k *Kiosk) abandonedOp(id, op string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.sessions[id]
	return ok && e.op == op && e.abandoned
}

// Cancel abandons the operation this node runs in the session: the key's
// pending call is cancelled, and once it has returned the session is ready
// for another try. Without an operation it changes nothing.
func (k *Kiosk) Cancel(ctx context.Context, id string) (Session, error) {
	if err := k.stopOp(ctx, id); err != nil {
		return Session{}, err
	}
	return k.Get(ctx, id)
}

// stopOp cancels the session's operation and waits for it to end.
func (k *Kiosk) stopOp(ctx context.Context, id string) error {
	sctx, cancel := storeContext(ctx)
	e, err := k.hold(sctx, id)
	cancel()
	if err != nil {
		return err
	}
	if e.op == "" {
		elsewhere := busy(e.s.State) && k.busyLocked(e, k.now())
		k.mu.Unlock()
		if elsewhere {
			return fmt.Errorf("%w: stop it on the node the key is plugged into", ErrElsewhere)
		}
		return nil
	}
	e.abandoned = true
	e.stop()
	done := e.done
	k.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kiosk: waiting for the cancelled operation: %w", ctx.Err())
	}
}

// End ends a session before it times out (the person at the kiosk is
// done): a running operation is cancelled first. The session then answers
// ErrExpired, on every node.
func (k *Kiosk) End(ctx context.Context, id string) error {
	if err := k.stopOp(ctx, id); err != nil && !errors.Is(err, ErrElsewhere) {
		return err
	}
	now := k.now()
	k.mu.Lock()
	e, ok := k.sessions[id]
	if !ok {
		k.mu.Unlock()
		return ErrUnknownSession
	}
	if ended(e.s, now) {
		k.mu.Unlock()
		return ErrExpired
	}
	e.s.State, e.s.Message = StateExpired, "This session has ended. Ask for a new one to continue."
	e.s.ExpiresAt = now
	e.s.Seq++
	e.updated = now
	s := e.s
	k.publishLocked(e)
	for _, c := range e.subs {
		close(c)
	}
	e.subs = nil
	k.mu.Unlock()
	k.save(s, now)
	k.log.Info("kiosk session ended", "user", s.User)
	return nil
}

// Enroll starts registering a key; progress shows in the session. A
// device that is not listed, or a PIN shorter than the key and the policy
// accept, is refused before anything starts (ErrUnknownDevice,
// *PINTooShortError), and the refusal is audited.
func (k *Kiosk) Enroll(ctx context.Context, actor mfa.Actor, id string, r EnrollRequest) (string, error) {
	if r.Device == "" {
		return "", fmt.Errorf("%w: device is required: a path from GET /v1/kiosk/devices", ErrBadRequest)
	}
	if r.PIN == "" && r.NewPIN == "" {
		return "", fmt.Errorf("%w: pin is required: the key's PIN, or the PIN to set on a new key", ErrBadRequest)
	}
	s, err := k.idle(ctx, id)
	if err != nil {
		return "", err
	}
	info, ok := k.device(r.Device)
	if !ok {
		k.refuse(ctx, actor, s.User, "unknown_device")
		return "", fmt.Errorf("%w: %s; choose one from GET /v1/kiosk/devices", ErrUnknownDevice, r.Device)
	}
	if err := k.checkPINs(info, r); err != nil {
		k.refuse(ctx, actor, s.User, "pin_too_short")
		return "", err
	}
	s, op, opCtx, err := k.begin(ctx, id, "enroll")
	if err != nil {
		return "", err
	}
	go func() {
		defer k.ops.Done()
		defer k.finish(id, op)
		k.enroll(opCtx, actor, s, op, r)
	}()
	return op, nil
}

// idle returns a session in which an operation may begin: a busy one
// answers ErrBusy before the request is checked against this node's keys.
// begin decides for good.
func (k *Kiosk) idle(ctx context.Context, id string) (Session, error) {
	sctx, cancel := storeContext(ctx)
	defer cancel()
	e, err := k.hold(sctx, id)
	if err != nil {
		return Session{}, err
	}
	defer k.mu.Unlock()
	now := k.now()
	switch {
	case ended(e.s, now):
		return Session{}, ErrExpired
	case k.busyLocked(e, now):
		return Session{}, ErrBusy
	}
	return e.s, nil
}

// device returns the listed key at path.
func (k *Kiosk) device(path string) (device.Info, bool) {
	for _, d := range k.Devices() {
		if d.Path == path {
			return d, true
		}
	}
	return device.Info{}, false
}

// checkPINs refuses PINs that cannot work on the key as listed: a PIN to
// set shorter than the key's and the policy's minimum, or a current PIN
// shorter than the key's own minimum.
func (k *Kiosk) checkPINs(info device.Info, r EnrollRequest) error {
	newMin := max(k.pol().MinPINLength, info.MinPINLength)
	short := func(pin string, n int) bool { return pin != "" && len([]rune(pin)) < n }
	switch {
	case !info.PINSet && r.NewPIN == "" && short(r.PIN, newMin):
		return &PINTooShortError{MinLength: newMin, New: true}
	case short(r.NewPIN, newMin):
		return &PINTooShortError{MinLength: newMin, New: true}
	case info.PINSet && short(r.PIN, info.MinPINLength):
		return &PINTooShortError{MinLength: info.MinPINLength}
	}
	return nil
}

// refuse counts and audits an enrollment refused before it started.
func (k *Kiosk) refuse(ctx context.Context, actor mfa.Actor, user, reason string) {
	k.obs.Enrollment("failed")
	k.audit(ctx, actor, user, reason)
}

// audit records a failed enrollment. It outlives the request or operation
// that failed: a cancelled one is audited too.
func (k *Kiosk) audit(ctx context.Context, actor mfa.Actor, user, reason string) {
	ctx, cancel := storeContext(context.WithoutCancel(ctx))
	defer cancel()
	if err := k.svc.AuditEnrollmentFailed(ctx, actor, user, reason); err != nil {
		k.log.Warn("failed enrollment not audited", "user", user, "reason", reason, "err", err)
	}
}

// Assert starts a kiosk sign-in with a key for a security-key challenge.
func (k *Kiosk) Assert(ctx context.Context, actor mfa.Actor, id string, r AssertRequest) (string, error) {
	if r.Device == "" || r.Challenge == "" {
		return "", fmt.Errorf("%w: device and challenge are required", ErrBadRequest)
	}
	if _, err := k.idle(ctx, id); err != nil {
		return "", err
	}
	if _, ok := k.device(r.Device); !ok {
		return "", fmt.Errorf("%w: %s; choose one from GET /v1/kiosk/devices", ErrUnknownDevice, r.Device)
	}
	s, op, opCtx, err := k.begin(ctx, id, "assert")
	if err != nil {
		return "", err
	}
	go func() {
		defer k.ops.Done()
		defer k.finish(id, op)
		k.assert(opCtx, actor, s, op, r)
	}()
	return op, nil
}

// key returns the key at path, still plugged in, and its Info.
func (k *Kiosk) key(ctx context.Context, path string) (Key, device.Info, error) {
	if k.keys == nil {
		return nil, device.Info{}, fmt.Errorf("no key at %s: %w", path, device.ErrRemoved)
	}
	a, ok := k.keys.Key(path)
	if !ok {
		return nil, device.Info{}, fmt.Errorf("no key at %s: %w", path, device.ErrRemoved)
	}
	info, err := a.Info(ctx)
	return a, info, err
}

func (k *Kiosk) fail(id string, state State, msg string, retries int) {
	k.set(id, func(s *Session) {
		s.State, s.Message = state, msg
		if retries >= 0 {
			s.PINRetries = retries
		}
	})
}

// infoUpdater is implemented by key lists that take fresher Info
// (*device.Watcher).
type infoUpdater interface{ Update(device.Info) }

// refresh re-reads a key after an operation that may have changed its PIN
// state, so that the device list shows it.
func (k *Kiosk) refresh(a Key) {
	u, ok := k.keys.(infoUpdater)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if info, err := a.Info(ctx); err == nil {
		u.Update(info)
	}
}

func (k *Kiosk) enroll(ctx context.Context, actor mfa.Actor, s Session, op string, r EnrollRequest) {
	p := k.pol()
	// The key list is refreshed, the result counted and audited before the
	// result shows: whoever sees it finds all three up to date.
	var key Key
	fail := func(reason string, state State, msg string, retries int) {
		if key != nil {
			k.refresh(key)
		}
		k.obs.Enrollment("failed")
		if k.abandonedOp(s.ID, op) {
			reason, state, msg = "cancelled", StateReady, "Cancelled. Insert your security key to start again."
		}
		k.audit(ctx, actor, s.User, reason)
		k.fail(s.ID, state, msg, retries)
	}
	failErr := func(err error, minLen int) {
		state, msg, retries := explain(err, minLen)
		fail(reasonOf(err), state, msg, retries)
	}
	a, info, err := k.key(ctx, r.Device)
	if err != nil {
		failErr(err, p.MinPINLength)
		return
	}
	key = a
	pin := r.PIN
	minLen := max(p.MinPINLength, info.MinPINLength)
	switch {
	case !info.PINSet:
		newPIN := r.NewPIN
		if newPIN == "" {
			newPIN = r.PIN
		}
		// The key may have changed since Enroll checked the PIN against
		// the listed Info.
		if msg := pinProblem(newPIN, minLen); msg != "" {
			fail("pin_too_short", StateNeedPIN, "This key has no PIN yet. "+msg, -1)
			return
		}
		if err := a.SetPIN(ctx, newPIN); err != nil {
			failErr(err, minLen)
			return
		}
		pin = newPIN
	case r.NewPIN != "":
		if msg := pinProblem(r.NewPIN, minLen); msg != "" {
			fail("pin_too_short", StateNeedPIN, "The new PIN is not accepted. "+msg, -1)
			return
		}
		if err := a.ChangePIN(ctx, r.PIN, r.NewPIN); err != nil {
			failErr(err, minLen)
			return
		}
		pin = r.NewPIN
	}
	k.set(s.ID, func(x *Session) { x.State, x.Message = StateTouchKey, "Touch your security key." })
	challenge := fido.NewChallenge()
	cdj, hash := fido.ClientData(fido.TypeCreate, challenge, p.WebAuthn.Origin)
	reg, err := a.MakeCredential(ctx, device.MakeCredentialRequest{
		ClientDataHash: hash[:], RPID: p.WebAuthn.RPID, RPName: p.WebAuthn.RPName,
		UserID: []byte(s.User), UserName: s.User, DisplayName: s.User,
		ResidentKey: p.RequireResidentKey, UserVerification: true, PIN: pin,
	})
	if err != nil {
		failErr(err, minLen)
		return
	}
	cred, err := fido.VerifyRegistration(p.WebAuthn, challenge, cdj, reg.AttestationObject)
	if err != nil {
		k.log.Warn("security key registration refused", "user", s.User, "err", err)
		fail("attestation_refused", StateFailed, "This security key cannot be registered here: "+err.Error(), -1)
		return
	}
	m, err := k.svc.RegisterFIDO(ctx, actor, s.User, mfa.FIDORegistration{Label: r.Label, Proof: s.Proof, Credential: mfa.FIDOCredential{
		ID: cred.ID, PublicKey: cred.PublicKey, AAGUID: cred.AAGUID[:], SignCount: cred.SignCount,
		AttestationFormat: cred.AttestationFormat, AttestationObject: reg.AttestationObject, ClientDataJSON: cdj,
	}})
	if err != nil {
		// RegisterFIDO audits its own refusals; this says the kiosk gave up.
		fail("not_stored", StateFailed, "The key could not be saved: "+err.Error(), -1)
		return
	}
	k.refresh(a)
	k.obs.Enrollment("done")
	k.log.Info("security key enrolled", "user", s.User, "method", m.ID, "aaguid", fido.FormatAAGUID(cred.AAGUID))
	k.set(s.ID, func(x *Session) {
		x.State, x.Message, x.Method = StateDone, "Your security key is registered.", &m
	})
}

func (k *Kiosk) assert(ctx context.Context, actor mfa.Actor, s Session, op string, r AssertRequest) {
	p := k.pol()
	fail := func(state State, msg string, retries int) {
		if k.abandonedOp(s.ID, op) {
			state, msg = StateReady, "Cancelled. Insert your security key to start again."
		}
		k.fail(s.ID, state, msg, retries)
	}
	c, err := k.svc.Challenge(ctx, r.Challenge)
	if err != nil || c.User != s.User || c.Kind != mfa.KindFIDO {
		k.fail(s.ID, StateFailed, "That is not a security-key challenge of this user.", -1)
		return
	}
	m, err := k.svc.Method(ctx, s.User, c.Method)
	if err != nil || m.FIDO == nil {
		k.fail(s.ID, StateFailed, "The challenge's security key is no longer registered.", -1)
		return
	}
	a, _, err := k.key(ctx, r.Device)
	if err != nil {
		fail(explain(err, p.MinPINLength))
		return
	}
	k.set(s.ID, func(x *Session) { x.State, x.Message = StateTouchKey, "Touch your security key." })
	cdj, hash := fido.ClientData(fido.TypeGet, c.WebAuthn, p.WebAuthn.Origin)
	as, err := a.GetAssertion(ctx, device.AssertionRequest{ClientDataHash: hash[:], RPID: p.WebAuthn.RPID,
		AllowList: [][]byte{m.FIDO.ID}, PIN: r.PIN, UserVerification: true})
	if err != nil {
		fail(explain(err, p.MinPINLength))
		return
	}
	c, err = k.svc.VerifyFIDO(ctx, actor, c.ID, mfa.FIDOAssertion{ClientDataJSON: cdj, AuthData: as.AuthData, Signature: as.Signature})
	if err != nil {
		k.set(s.ID, func(x *Session) {
			x.State, x.Message, x.Challenge = StateFailed, "The sign-in was not accepted: "+err.Error(), &c
		})
		return
	}
	k.set(s.ID, func(x *Session) {
		x.State, x.Message, x.Challenge = StateDone, "Signed in with your security key.", &c
	})
}

// pinProblem says what is wrong with a PIN to set, in words for the person
// at the kiosk; "" when it is acceptable.
func pinProblem(pin string, minLen int) string {
	n := len([]rune(pin))
	switch {
	case n < minLen:
		return fmt.Sprintf("Choose a PIN of at least %d characters.", minLen)
	case len(pin) > 63:
		return "Choose a PIN of at most 63 characters."
	}
	return ""
}

// reasonOf names a device error in the audit record of a failed
// enrollment.
func reasonOf(err error) string {
	var pe *device.PINError
	if errors.As(err, &pe) {
		return fmt.Sprintf("wrong_pin (%d tries left)", pe.RetriesLeft)
	}
	for _, r := range []struct {
		err    error
		reason string
	}{
		{device.ErrPINBlocked, "pin_blocked"}, {device.ErrPINAuthBlocked, "pin_auth_blocked"},
		{device.ErrPINRequired, "pin_required"}, {device.ErrPINPolicy, "pin_policy"},
		{device.ErrNoTouch, "no_touch"}, {device.ErrRemoved, "key_removed"}, {device.ErrNotFIDO2, "not_fido2"},
		{device.ErrExcluded, "already_registered"}, {device.ErrPINNotSet, "pin_not_set"},
		{device.ErrNoResponse, "no_response"}, {device.ErrKeyFull, "key_full"}, {device.ErrUnsupported, "unsupported"},
		{device.ErrNotAllowed, "not_allowed"}, {device.ErrCancelled, "cancelled"},
		{context.Canceled, "cancelled"}, {context.DeadlineExceeded, "timed_out"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "key_error"
}

// explain turns a device error into the session state and a message that
// says what to do next.
func explain(err error, minLen int) (State, string, int) {
	var pe *device.PINError
	switch {
	case errors.As(err, &pe):
		return StateNeedPIN, fmt.Sprintf("Wrong PIN. %d tries left before the key locks. Enter the PIN again.", pe.RetriesLeft), pe.RetriesLeft
	case errors.Is(err, device.ErrPINBlocked):
		return StateFailed, "This key's PIN is blocked. The key must be reset before it can be used (this erases it).", 0
	case errors.Is(err, device.ErrPINAuthBlocked):
		return StateNeedPIN, "Too many wrong PINs in a row. Remove the key, insert it again, then enter the PIN.", -1
	case errors.Is(err, device.ErrPINRequired):
		return StateNeedPIN, "This key has a PIN. Enter it.", -1
	case errors.Is(err, device.ErrPINPolicy):
		return StateNeedPIN, fmt.Sprintf("The key does not accept this PIN. Choose one of at least %d characters.", minLen), -1
	case errors.Is(err, device.ErrNoTouch):
		return StateFailed, "The key was not touched in time. Try again and touch the key when it blinks.", -1
	case errors.Is(err, device.ErrRemoved):
		return StateFailed, "The key was removed or did not appear. Insert it and try again.", -1
	case errors.Is(err, device.ErrNotFIDO2):
		return StateFailed, "This device is not a FIDO2 security key.", -1
	case errors.Is(err, device.ErrExcluded):
		return StateFailed, "This key is already registered for this account.", -1
	case errors.Is(err, device.ErrPINNotSet):
		return StateNeedPIN, fmt.Sprintf("This key has no PIN yet. Choose one of at least %d characters.", minLen), -1
	case errors.Is(err, device.ErrNoResponse):
		return StateFailed, "The key does not answer. Remove it, insert it again and retry.", -1
	case errors.Is(err, device.ErrKeyFull):
		return StateFailed, "This key has no room for another sign-in credential. Remove an old one or use another key.", -1
	case errors.Is(err, device.ErrUnsupported):
		return StateFailed, "This key cannot do what enrollment needs (it may be an old U2F-only key). Use a FIDO2 key.", -1
	case errors.Is(err, device.ErrNotAllowed):
		return StateFailed, "The key refused the operation. Try again, or use another key.", -1
	case errors.Is(err, device.ErrNoCredentials):
		return StateFailed, "This key does not hold the credential of this account. Use the registered key.", -1
	case errors.Is(err, device.ErrCancelled), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return StateFailed, "The operation was cancelled. Try again.", -1
	}
	return StateFailed, "The key could not complete the operation: " + err.Error(), -1
}
