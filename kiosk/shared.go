package kiosk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mfagate/mfa"
	"mfagate/store"
)

// SessionStore keeps sessions where every gateway node sharing the
// database finds them (*sqlite.DB, *postgres.DB).
type SessionStore interface {
	// PutKioskSession writes r unless the stored record's Seq is as high
	// or higher, and reports whether it wrote.
	PutKioskSession(ctx context.Context, r store.KioskSession) (bool, error)
	// KioskSession returns the record, or mfa.ErrNotFound.
	KioskSession(ctx context.Context, idHash string) (store.KioskSession, error)
	// DeleteKioskSessionsBefore deletes the records of sessions that
	// expired before t.
	DeleteKioskSessionsBefore(ctx context.Context, t time.Time) (int, error)
}

// keepEnded is how long the record of an expired session stays: until
// then, every node answers ErrExpired for it rather than ErrUnknownSession.
const keepEnded = 24 * time.Hour

// storeTimeout bounds one exchange with the store.
const storeTimeout = 5 * time.Second

func storeContext(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, storeTimeout)
}

// storedSession is a session in its record. The ID is the record's key,
// hashed; methods and challenges are named by ID and read back through the
// domain, so the record holds none of their secrets or hashes. There is no
// PIN in a session to store.
type storedSession struct {
	User         string    `json:"user"`
	Actor        string    `json:"actor"`
	Proof        string    `json:"proof,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	State        State     `json:"state"`
	Message      string    `json:"message"`
	Operation    string    `json:"operation,omitempty"`
	Kind         string    `json:"kind,omitempty"`
	Method       string    `json:"method,omitempty"`
	Challenge    string    `json:"challenge,omitempty"`
	PINRetries   int       `json:"pin_retries"`
	MinPINLength int       `json:"min_pin_length"`
}

// hashID is the key of a session's record: the session ID is the kiosk
// page's credential, so a copy of the database must not hold usable ones.
func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func busy(st State) bool { return st == StateWaitingKey || st == StateTouchKey }

// opLimit is how long after its last change a session can still be busy
// with an operation: an operation ends within opContext's bound. A session
// left busy longer was held by a node that stopped mid-operation, and
// another operation may begin. The node that ran it shares no change made
// later than 15 s before that (set), longer than one store write may take:
// the nodes' clocks must agree to within a few seconds.
func (k *Kiosk) opLimit() time.Duration { return k.pol().TouchTimeout + time.Minute + 30*time.Second }

// busyLocked reports whether an operation runs in the session, on this node
// or another.
func (k *Kiosk) busyLocked(e *entry, now time.Time) bool {
	return e.op != "" || busy(e.s.State) && now.Sub(e.updated) < k.opLimit()
}

// put writes the session's record; false when another node wrote a newer
// change first.
func (k *Kiosk) put(ctx context.Context, s Session, now time.Time) (bool, error) {
	st := storedSession{User: s.User, Actor: s.Actor, Proof: s.Proof, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		State: s.State, Message: s.Message, Operation: s.Operation, Kind: s.Kind, PINRetries: s.PINRetries, MinPINLength: s.MinPINLength}
	if s.Method != nil {
		st.Method = s.Method.ID
	}
	if s.Challenge != nil {
		st.Challenge = s.Challenge.ID
	}
	data, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("kiosk: encode session: %w", err)
	}
	node := ""
	if busy(s.State) {
		node = k.node
	}
	ok, err := k.store.PutKioskSession(ctx, store.KioskSession{IDHash: hashID(s.ID), User: s.User, Node: node, Data: data,
		Seq: int64(s.Seq), ExpiresAt: s.ExpiresAt, UpdatedAt: now})
	if err != nil {
		return false, fmt.Errorf("kiosk: share session: %w", err)
	}
	return ok, nil
}

// save shares a change this node made. Losing to a newer change from
// another node is not an error: that node expired the session, or took it
// over after this node's operation outlived its bound.
func (k *Kiosk) save(s Session, now time.Time) {
	if k.store == nil {
		return
	}
	// A change is shared even when the request or operation that made it
	// has ended (a cancel is a change too).
	ctx, cancel := storeContext(context.Background())
	defer cancel()
	won, err := k.put(ctx, s, now)
	switch {
	case err != nil:
		k.log.Warn("kiosk session change not shared with the other nodes", "user", s.User, "state", s.State, "err", err)
	case !won:
		k.log.Debug("kiosk session changed on another node first", "user", s.User, "state", s.State)
	}
}

// sync brings this node's copy of a session up to date with the store,
// adopting a session opened through another node. A session whose
// operation runs here is current already. When the store cannot be read,
// a copy this node holds is served as it is.
func (k *Kiosk) sync(ctx context.Context, id string) error {
	if k.store == nil {
		return nil
	}
	k.mu.Lock()
	e, held := k.sessions[id]
	seq := -1
	if held {
		if e.op != "" {
			k.mu.Unlock()
			return nil
		}
		seq = e.s.Seq
	}
	k.mu.Unlock()
	r, err := k.store.KioskSession(ctx, hashID(id))
	switch {
	case errors.Is(err, mfa.ErrNotFound) && !held:
		return ErrUnknownSession
	case err != nil && !held:
		return fmt.Errorf("kiosk: read session: %w", err)
	case err != nil:
		if !errors.Is(err, mfa.ErrNotFound) {
			// Debug: subscribed sessions are re-read every tick, and a
			// database that is away shows in /readyz and the other logs.
			k.log.Debug("kiosk session not re-read; serving this node's copy", "err", err)
		}
		return nil
	case int(r.Seq) <= seq:
		return nil
	case !held && k.now().After(r.ExpiresAt):
		return ErrExpired // nothing to adopt
	}
	s, err := k.decode(ctx, id, r)
	if err != nil {
		if held {
			k.log.Warn("kiosk session not re-read; serving this node's copy", "err", err)
			return nil
		}
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e, held = k.sessions[id]
	switch {
	case !held:
		k.sessions[id] = &entry{s: s, updated: r.UpdatedAt}
	case e.op == "" && s.Seq > e.s.Seq:
		e.s, e.updated = s, r.UpdatedAt
		k.publishLocked(e)
	}
	return nil
}

// decode turns a record back into a session, reading its method and
// challenge through the domain. One that cannot be read (a method removed
// since) is left out: the state and message still say what happened.
func (k *Kiosk) decode(ctx context.Context, id string, r store.KioskSession) (Session, error) {
	var st storedSession
	if err := json.Unmarshal(r.Data, &st); err != nil {
		return Session{}, fmt.Errorf("kiosk: decode session record: %w", err)
	}
	s := Session{ID: id, User: st.User, Actor: st.Actor, Proof: st.Proof, CreatedAt: st.CreatedAt, ExpiresAt: st.ExpiresAt,
		State: st.State, Message: st.Message, Operation: st.Operation, Kind: st.Kind, PINRetries: st.PINRetries,
		MinPINLength: st.MinPINLength, Seq: int(r.Seq)}
	if st.Method != "" {
		if m, err := k.svc.Method(ctx, st.User, st.Method); err == nil {
			s.Method = &m
		} else {
			k.log.Warn("kiosk session's method not read", "user", st.User, "method", st.Method, "err", err)
		}
	}
	if st.Challenge != "" {
		if c, err := k.svc.Challenge(ctx, st.Challenge); err == nil {
			s.Challenge = &c
		} else {
			k.log.Warn("kiosk session's challenge not read", "user", st.User, "challenge", st.Challenge, "err", err)
		}
	}
	return s, nil
}

// follow re-reads the sessions that someone here subscribes to and whose
// operation runs elsewhere, so that their subscribers see its progress.
func (k *Kiosk) follow(ctx context.Context) {
	if k.store == nil {
		return
	}
	var ids []string
	k.mu.Lock()
	for id, e := range k.sessions {
		if len(e.subs) > 0 && e.op == "" {
			ids = append(ids, id)
		}
	}
	k.mu.Unlock()
	for _, id := range ids {
		sctx, cancel := storeContext(ctx)
		err := k.sync(sctx, id)
		cancel()
		if err != nil {
			// Its subscribers keep this node's copy until the next tick.
			k.log.Debug("kiosk session not followed", "err", err)
		}
	}
}

// purge deletes the records of sessions that ended long ago.
func (k *Kiosk) purge(ctx context.Context) {
	if k.store == nil {
		return
	}
	sctx, cancel := storeContext(ctx)
	defer cancel()
	if n, err := k.store.DeleteKioskSessionsBefore(sctx, k.now().Add(-keepEnded)); err != nil {
		k.log.Warn("old kiosk session records not deleted", "err", err)
	} else if n > 0 {
		k.log.Debug("old kiosk session records deleted", "count", n)
	}
}
