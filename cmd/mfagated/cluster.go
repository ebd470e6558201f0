package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/modem"
	"mfagate/store/postgres"
)

// nodeName is [server] node, or the host name when that is empty.
func nodeName(cfg *config.Config) (string, error) {
	if cfg.Server.Node != "" {
		return cfg.Server.Node, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("no server.node set and no host name to use instead: %w", err)
	}
	// A fully qualified name keeps its first label; anything a node name
	// may not hold becomes '-'.
	h, _, _ = strings.Cut(h, ".")
	h = badNodeChars.ReplaceAllString(h, "-")
	if h == "" || len(h) > 63 {
		return "", fmt.Errorf("the host name %q cannot name this node: set server.node", h)
	}
	return h, nil
}

var badNodeChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// version is the module version the binary was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "devel"
}

// cluster keeps this node's place among the nodes sharing the store.
type cluster struct {
	svc     *mfa.Service
	pool    *modem.Pool
	m       *metrics.Metrics
	log     *slog.Logger
	started time.Time
	version string
	failing bool // the last heartbeat failed (logged once per outage)
}

// run sends a heartbeat every third of the lease until ctx ends. Each one
// renews the claims of the jobs the modems hold, publishes the modems for
// the other nodes, takes over the jobs of nodes gone silent, and wakes the
// modems: that last is the safety net for wake-ups missed while the store
// was unreachable.
func (c *cluster) run(ctx context.Context) {
	every := c.svc.Lease() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		c.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *cluster) beat(ctx context.Context) {
	n := mfa.Node{Version: c.version, StartedAt: c.started, Modems: modem.Describe(c.pool.Status())}
	if _, err := c.svc.Heartbeat(ctx, n, c.pool.Holding()); err != nil {
		if ctx.Err() == nil && !c.failing {
			c.log.Error("heartbeat failed: this node's claims lapse unless the store answers again within the lease",
				"err", err, "lease", c.svc.Lease())
		}
		c.failing = true
		return
	}
	if c.failing {
		c.log.Info("heartbeat recorded again")
		c.failing = false
	}
	c.pool.Wake()
	if nodes, err := c.svc.Nodes(ctx); err == nil {
		c.m.SetNodes(nodes, time.Now())
	}
}

// listener is a store that tells this node what other nodes changed
// (store/postgres, by LISTEN/NOTIFY).
type listener interface {
	Listen(ctx context.Context, log *slog.Logger, fn func(topic, payload string))
}

// listen turns the store's notifications into wake-ups: a queued job wakes
// the modems, a changed challenge its long polls; after a reconnection,
// everything that may have been missed is re-read.
func listen(ctx context.Context, db database, svc *mfa.Service, pool *modem.Pool, log *slog.Logger) {
	l, ok := db.(listener)
	if !ok {
		return
	}
	l.Listen(ctx, log, func(topic, payload string) {
		switch topic {
		case postgres.TopicOutbox, postgres.TopicResync:
			pool.Wake()
		case postgres.TopicChallenge:
			svc.ChallengeChanged(payload)
		}
	})
}
