package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// figureLatency is figure 2: time from submitting one message on an idle
// system to the virtual handset receiving it, through mfagate (the API
// request that registers a phone) and through gammu-smsd and smstools3's
// smsd (a file renamed into their spool directory), each driving its own
// cmd/modemsim process with zero radio latency.
func figureLatency(ctx context.Context, run *Run, bin string, quick bool) error {
	nOurs, nFast, nDefault := 200, 30, 10
	if quick {
		nOurs, nFast, nDefault = 30, 2, 0
	}
	ms1, err := startModemsim(bin)
	if err != nil {
		return err
	}
	d, err := startDaemon(bin, fmt.Sprintf("[policy]\nphone_challenges_per_user = 100\n[[modem]]\nid = \"m1\"\nport = %q\nprofile = \"quectel\"\n", ms1.port), 4)
	if err != nil {
		ms1.stop()
		return err
	}
	err = waitModems(ctx, d, 1)
	var ours []time.Duration
	if err == nil {
		ours, err = ms1.latencies(ctx, nOurs, 30*time.Second, 50*time.Millisecond, func(i int) error {
			body := fmt.Sprintf(`{"kind":"phone","slot":"mobile","phone":"090-2000-%04d"}`, i)
			st, err := d.call(ctx, "POST", fmt.Sprintf("/v1/users/%010d/methods", 1500000000+i), body, nil)
			if err == nil && st != 201 {
				err = fmt.Errorf("register phone: HTTP %d", st)
			}
			return err
		})
	}
	d.stop()
	ms1.stop()
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%d messages one at a time (random 0-50 ms apart): API request sent to the handset receiving the SMS (modemsim -latency 0s, its \"sms delivered\" log line)", len(ours))
	base := map[float64]*Entry{}
	for _, p := range []float64{50, 99} {
		base[p] = run.add(Entry{Name: fmt.Sprintf("submit_to_handset_mfagate_p%g", p), Value: ms(percentile(ours, p)), Unit: "ms", Note: note})
	}
	fmt.Fprintf(os.Stderr, "figure 2: mfagate p50 %s\n", percentile(ours, 50))

	type peerRun struct {
		key   string
		n     int
		start func(port string) (*peer, error)
	}
	peers := []peerRun{
		{"smstools_delaytime1", nFast, func(p string) (*peer, error) { return startSmstools(p, 1) }},
		{"gammu_smsd_aggressive", nFast, func(p string) (*peer, error) { return startGammu(p, true) }},
		{"gammu_smsd_defaults", nDefault, func(p string) (*peer, error) { return startGammu(p, false) }},
		{"smstools_defaults", nDefault, func(p string) (*peer, error) { return startSmstools(p, 0) }},
	}
	for _, pr := range peers {
		if pr.n == 0 {
			run.NotDone = append(run.NotDone, "figure 2, "+pr.key+" (full run only)")
			continue
		}
		lat, name, err := measurePeer(ctx, bin, pr.n, pr.start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "figure 2: %s: %v\n", pr.key, err)
			run.NotDone = append(run.NotDone, fmt.Sprintf("figure 2, %s: %v", pr.key, err))
			continue
		}
		for _, p := range []float64{50, 99} {
			e := run.add(Entry{Name: fmt.Sprintf("submit_to_handset_%s_p%g", pr.key, p), Value: ms(percentile(lat, p)), Unit: "ms",
				Target: "peer/mfagate >= 10", Note: fmt.Sprintf("%s: %d messages one at a time (random 0-1 s apart), file renamed into the spool to the handset receiving the SMS (first message after start-up not counted)", name, len(lat))})
			if b := base[p]; b.Value > 0 {
				if err := run.compare(e, b, e.Value/b.Value, 10); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(os.Stderr, "figure 2: %s p50 %s\n", name, percentile(lat, 50))
	}
	return nil
}

// measurePeer starts a modemsim and the peer on it, sends one message to
// get past start-up, then measures n.
func measurePeer(ctx context.Context, bin string, n int, start func(string) (*peer, error)) ([]time.Duration, string, error) {
	sim, err := startModemsim(bin)
	if err != nil {
		return nil, "", err
	}
	defer sim.stop()
	p, err := start(sim.port)
	if err != nil {
		return nil, "", err
	}
	defer p.stop()
	if _, err := sim.latencies(ctx, 1, 90*time.Second, time.Second, func(int) error { return p.drop(9999) }); err != nil {
		log, _ := os.ReadFile(p.dir + "/smsd.log")
		return nil, p.name, fmt.Errorf("%s: first message: %v\n%s", p.name, err, tail(string(log), 2000))
	}
	lat, err := sim.latencies(ctx, n, 90*time.Second, time.Second, p.drop)
	return lat, p.name, err
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
