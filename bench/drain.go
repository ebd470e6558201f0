package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// drainSample is one look at the daemon during a drain.
type drainSample struct {
	at                    time.Time
	sent, commits, frames float64
	cpu                   time.Duration
}

// figureDrain is figure 3's outbox drain, apart from accepting the
// requests: n phone registrations are queued on a daemon with no modems,
// which then restarts on the same database with 8 zero-latency simulated
// modems. The rate is taken between 10 % and 90 % of the jobs sent (so
// neither the modems' start nor the last jobs' tail count), with the
// store's commits and WAL frames and the daemon's CPU time per SMS over
// the same interval.
func figureDrain(ctx context.Context, run *Run, bin string, n int) error {
	d, err := startDaemon(bin, smsConfig(0), 16, "-sim-sms-latency", "0s")
	if err != nil {
		return err
	}
	defer d.stop()
	t0 := time.Now()
	if err := burst(ctx, d, 0, n); err != nil {
		return err
	}
	accept := time.Since(t0)
	run.add(Entry{Name: "sms_accept_rate", Value: float64(n) / accept.Seconds(), Unit: "requests/s",
		Note: fmt.Sprintf("%d phone registrations (16 concurrent), each queuing an SMS, on a daemon with no modems: %s", n, accept.Round(time.Millisecond))})
	if err := d.restart(bin, smsConfig(8), "-sim-sms-latency", "0s"); err != nil {
		return err
	}
	var samples []drainSample
	limit := time.Now().Add(120 * time.Second)
	for {
		s := drainSample{at: time.Now()}
		var err error
		if s.sent, err = d.metric(ctx, "mfagate_modem_sms_sent_total"); err != nil {
			return err
		}
		s.commits, _ = d.metric(ctx, "mfagate_store_commits_total")
		s.frames, _ = d.metric(ctx, "mfagate_store_wal_frames_total")
		s.cpu, _ = cpuTime(d.cmd.Process.Pid)
		samples = append(samples, s)
		if s.sent >= float64(n) {
			break
		}
		if time.Now().After(limit) {
			return fmt.Errorf("drain: %.0f of %d SMS sent after 120 s", s.sent, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first := func(frac float64) drainSample {
		for _, s := range samples {
			if s.sent >= frac*float64(n) {
				return s
			}
		}
		return samples[len(samples)-1]
	}
	a, b := first(0.1), first(0.9)
	sms := b.sent - a.sent
	if sms <= 0 || !b.at.After(a.at) {
		return fmt.Errorf("drain: too few samples between 10 %% and 90 %% (%d samples)", len(samples))
	}
	rate := sms / b.at.Sub(a.at).Seconds()
	e := run.add(Entry{Name: "outbox_drain_8_modems_zero_latency", Value: rate, Unit: "SMS/s", Target: ">= 2000 SMS/s",
		Note: fmt.Sprintf("%d jobs queued before 8 simulated modems (-sim-sms-latency 0s) came up; %.0f SMS sent between the 10 %% and 90 %% marks in %s (mfagate_modem_sms_sent_total, 20 ms polls)", n, sms, b.at.Sub(a.at).Round(time.Millisecond))})
	met := rate >= 2000
	e.Met = &met
	perC := (b.commits - a.commits) / sms
	ec := run.add(Entry{Name: "store_commits_per_sms", Value: perC, Unit: "commits", Target: "<= 1.2",
		Note: "mfagate_store_commits_total over the same interval, per SMS sent (claims, reports, status reports, heartbeats)"})
	metC := perC <= 1.2
	ec.Met = &metC
	perF := (b.frames - a.frames) / sms
	ef := run.add(Entry{Name: "store_wal_frames_per_sms", Value: perF, Unit: "frames", Target: "<= 8",
		Note: "mfagate_store_wal_frames_total over the same interval, per SMS sent (one frame: one page written to the WAL)"})
	metF := perF <= 8
	ef.Met = &metF
	run.add(Entry{Name: "daemon_cpu_per_sms_drain", Value: ms((b.cpu - a.cpu) / time.Duration(sms)), Unit: "ms",
		Note: fmt.Sprintf("mfagated's utime+stime over the same interval (10 ms ticks): %s", (b.cpu - a.cpu).Round(time.Millisecond))})
	fmt.Fprintf(os.Stderr, "figure 3: drain with 8 zero-latency modems: %.0f SMS/s, %.2f commits and %.1f WAL frames per SMS\n", rate, perC, perF)
	return nil
}
