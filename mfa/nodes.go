package mfa

import (
	"context"
	"fmt"
	"time"
)

// NodeID returns the name this daemon's claims carry.
func (s *Service) NodeID() string { return s.node }

// Lease returns how long a claim stands without a heartbeat.
func (s *Service) Lease() time.Duration { return s.lease }

// Heartbeat is what keeps this node's claims alive, run every third of the
// lease: in one transaction it extends the leases of the jobs this node's
// modems hold (held), records the node and its modems for the others to
// see, and requeues the jobs of nodes whose leases ran out. It wakes the
// sender when jobs came back to the queue, and returns how many did.
//
// A job whose holder stopped renewing is delivered again by another node:
// at-least-once delivery, with duplicates bounded by the jobs the lost node
// had in flight.
func (s *Service) Heartbeat(ctx context.Context, n Node, held []string) (int, error) {
	now := s.now()
	n.ID, n.SeenAt = s.node, now
	var requeued int
	err := s.store.Update(ctx, func(tx Tx) error {
		if len(held) > 0 {
			if _, err := tx.RenewLeases(s.node, held, now.Add(s.lease)); err != nil {
				return err
			}
		}
		if err := tx.PutNode(n); err != nil {
			return err
		}
		var err error
		requeued, err = tx.RequeueSending("", now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("heartbeat: %w", err)
	}
	if requeued > 0 {
		s.log.Warn("took over jobs whose node stopped renewing its lease", "jobs", requeued)
		s.wake()
	}
	return requeued, nil
}

// Nodes lists the nodes sharing the store, as their last heartbeats
// described them.
func (s *Service) Nodes(ctx context.Context) ([]Node, error) {
	var out []Node
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Nodes()
		return err
	})
	return out, err
}

// ModemReachable reports whether a job pinned to modem id would be sent:
// one of this node's modems (local, live) or of another live node sharing
// the store has the ID. The node that drives it claims the job.
func (s *Service) ModemReachable(ctx context.Context, local []NodeModem, id string) (bool, error) {
	for _, m := range local {
		if m.Name == id {
			return true, nil
		}
	}
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		if n.ID == s.node || !s.Alive(n) {
			continue // this node's heartbeat may be stale: local is the truth
		}
		for _, m := range n.Modems {
			if m.Name == id {
				return true, nil
			}
		}
	}
	return false, nil
}

// Alive reports whether a node's last heartbeat is younger than the lease,
// that is, whether its claims still stand.
func (s *Service) Alive(n Node) bool { return s.now().Sub(n.SeenAt) < s.lease }

// ChallengeChanged tells the long polls on this node that another node
// changed challenge id (a store notification). They re-read it at once
// instead of at their next poll.
func (s *Service) ChallengeChanged(id string) { s.watch.notify(id) }
