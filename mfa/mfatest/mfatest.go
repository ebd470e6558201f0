// Package mfatest provides test helpers for code built on package mfa: a
// controllable clock and a Sender that stands in for the modem pool by
// claiming outbox jobs and letting the test report their outcomes.
package mfatest

import (
	"context"
	"errors"
	"sync"
	"time"

	"mfagate/mfa"
)

// Clock is a settable time source.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sender records wake-ups; the test claims jobs with Take, as a modem would.
type Sender struct {
	Service *mfa.Service
	Modem   string
	wakes   chan struct{}
}

// NewSender returns a Sender named modem. Attach it with Service.SetSender.
func NewSender(modem string) *Sender {
	return &Sender{Modem: modem, wakes: make(chan struct{}, 1)}
}

// Wake implements mfa.Sender.
func (s *Sender) Wake() {
	select {
	case s.wakes <- struct{}{}:
	default:
	}
}

// Woken reports whether Wake was called since the last call to Woken.
func (s *Sender) Woken() bool {
	select {
	case <-s.wakes:
		return true
	default:
		return false
	}
}

// Take claims the next job for any channel, or reports false when none waits.
func (s *Sender) Take(ctx context.Context) (mfa.Outgoing, bool, error) {
	o, err := s.Service.Claim(ctx, s.Modem, []mfa.Channel{mfa.ChannelSMS, mfa.ChannelVoice})
	if errors.Is(err, mfa.ErrNotFound) {
		return o, false, nil
	}
	return o, err == nil, err
}
