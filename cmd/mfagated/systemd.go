package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"mfagate/mfa"
	"mfagate/modem"
)

// notifier speaks the systemd notify protocol (READY, STATUS, WATCHDOG,
// RELOADING) when the daemon runs under Type=notify; otherwise every call
// is a no-op.
type notifier struct {
	log *slog.Logger
}

func (n notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("systemd notify failed", "err", err)
	}
}

// heartbeat records when a loop the watchdog vouches for last made progress.
type heartbeat struct{ last atomic.Int64 }

func (h *heartbeat) beat()                      { h.last.Store(time.Now().UnixNano()) }
func (h *heartbeat) age() time.Duration         { return time.Since(time.Unix(0, h.last.Load())) }
func (h *heartbeat) fresh(d time.Duration) bool { return h.last.Load() != 0 && h.age() < d }

// watchdog pings systemd at half the configured WatchdogSec, but only while
// the housekeeping loop (expiry, activation, metrics) keeps beating and the
// store answers. A wedged loop or store stops the pings and systemd restarts
// the daemon; a single wedged modem does not (each modem has its own worker
// and the pool routes around it).
func watchdog(ctx context.Context, n notifier, hk *heartbeat, svc *mfa.Service, pool *modem.Pool) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		// No watchdog: still publish the status line now and then.
		interval = 0
	}
	statusEvery := 10 * time.Second
	tick := time.NewTicker(min(statusEvery, max(interval/2, time.Second)))
	defer tick.Stop()
	lastStatus := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastStatus) >= statusEvery {
			n.send("STATUS=" + statusLine(pool))
			lastStatus = time.Now()
		}
		if interval == 0 {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, min(interval/4, 2*time.Second))
		err := svc.Ping(pctx)
		cancel()
		switch {
		case err != nil && !errors.Is(err, mfa.ErrUnavailable):
			n.log.Error("watchdog: the store does not answer; not pinging systemd", "err", err)
		case !hk.fresh(interval):
			n.log.Error("watchdog: the housekeeping loop is stuck; not pinging systemd", "last_beat", hk.age())
		default:
			// A database server that is away (PostgreSQL restarting or
			// failing over) is not this daemon being stuck: restarting it
			// would not bring the database back, and would cut the modems'
			// exchanges in flight. /readyz reports it instead.
			if err != nil {
				n.send("STATUS=database unreachable; " + statusLine(pool))
			}
			n.send(daemon.SdNotifyWatchdog)
		}
	}
}

// statusLine summarises the daemon for `systemctl status`.
func statusLine(pool *modem.Pool) string {
	up, total := 0, 0
	for _, s := range pool.Status() {
		total++
		if s.State == modem.StateUp {
			up++
		}
	}
	return fmt.Sprintf("%d of %d modems up", up, total)
}
