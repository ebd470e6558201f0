package oidctest

import (
	"context"
	"errors"
	"sync"
	"time"

	"mfagate/oidc"
)

// FlowStore is an in-memory oidc.FlowStore.
type FlowStore struct {
	mu    sync.Mutex
	flows map[string]oidc.Flow
}

// CreateFlow implements oidc.FlowStore.
func (s *FlowStore) CreateFlow(_ context.Context, f oidc.Flow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flows == nil {
		s.flows = map[string]oidc.Flow{}
	}
	if _, ok := s.flows[f.ID]; ok {
		return errors.New("oidctest: flow " + f.ID + " exists") // a database's primary key refuses it too
	}
	s.flows[f.ID] = f
	return nil
}

// Flow implements oidc.FlowStore.
func (s *FlowStore) Flow(_ context.Context, id string) (oidc.Flow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flows[id]
	if !ok {
		return oidc.Flow{}, oidc.ErrFlowNotFound
	}
	return f, nil
}

// ConsumeFlow implements oidc.FlowStore.
func (s *FlowStore) ConsumeFlow(_ context.Context, id string) error {
	return s.open(id, func(f *oidc.Flow) { f.Consumed = true })
}

// SetFlowChallenge implements oidc.FlowStore.
func (s *FlowStore) SetFlowChallenge(_ context.Context, id, challenge string) error {
	return s.open(id, func(f *oidc.Flow) { f.Challenge = challenge })
}

// open changes an unanswered flow, as the database's
// UPDATE … WHERE id = ? AND NOT consumed does.
func (s *FlowStore) open(id string, change func(*oidc.Flow)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flows[id]
	switch {
	case !ok:
		return oidc.ErrFlowNotFound
	case f.Consumed:
		return oidc.ErrFlowConsumed
	}
	change(&f)
	s.flows[id] = f
	return nil
}

// DeleteExpiredFlows implements oidc.FlowStore.
func (s *FlowStore) DeleteExpiredFlows(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, f := range s.flows {
		if f.Expires.Before(t) {
			delete(s.flows, id)
			n++
		}
	}
	return n, nil
}
