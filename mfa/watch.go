package mfa

import (
	"context"
	"errors"
	"sync"
	"time"
)

// watcher wakes long-polling readers when a challenge changes on this node.
// Readers also re-read on a short tick, so changes made by another node
// sharing the store are seen too.
type watcher struct {
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

func (w *watcher) subscribe(id string) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = make(map[string][]chan struct{})
	}
	w.waiters[id] = append(w.waiters[id], ch)
	return ch
}

func (w *watcher) unsubscribe(id string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.waiters, id)
	} else {
		w.waiters[id] = list
	}
}

func (w *watcher) notify(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.waiters[id] {
		close(ch)
	}
	delete(w.waiters, id)
}

// pollInterval bounds how late a change made by another node is seen.
const pollInterval = time.Second

// WaitChallenge returns the challenge once its status or delivery status
// differs from what it was at the call, or when wait ends, whichever comes
// first. A final challenge is returned at once.
func (s *Service) WaitChallenge(ctx context.Context, id string, wait time.Duration) (Challenge, error) {
	first, err := s.Challenge(ctx, id)
	if err != nil || wait <= 0 || first.Status.Final() {
		return first, err
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ch := s.watch.subscribe(id)
		c, err := s.Challenge(ctx, id)
		if err != nil || c.Status != first.Status || c.Delivery.Status != first.Delivery.Status {
			s.watch.unsubscribe(id, ch)
			return c, err
		}
		select {
		case <-ch:
		case <-tick.C:
			s.watch.unsubscribe(id, ch)
		case <-deadline.C:
			s.watch.unsubscribe(id, ch)
			return c, nil
		case <-ctx.Done():
			s.watch.unsubscribe(id, ch)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return c, nil
			}
			return c, ctx.Err()
		}
	}
}
