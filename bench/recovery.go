package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// portAway is how long a vanished modem port stays away in figure 6 before
// it comes back under the same name, plus a random 0-250 ms so that its
// return does not fall in step with a daemon's polling of the port.
const portAway = 2 * time.Second

func away() time.Duration { return portAway + time.Duration(rand.Int64N(int64(250*time.Millisecond))) }

// modemStates returns the state of each modem by ID.
func modemStates(ctx context.Context, d *daemon) (map[string]string, error) {
	var ms []struct{ ID, State string }
	if st, err := d.call(ctx, "GET", "/v1/modems", "", &ms); err != nil || st != 200 {
		return nil, fmt.Errorf("GET /v1/modems: HTTP %d %v", st, err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.ID] = m.State
	}
	return out, nil
}

// registerPhone queues one SMS with a code: user i registers a mobile phone.
func registerPhone(ctx context.Context, d *daemon, i int) error {
	body := fmt.Sprintf(`{"kind":"phone","slot":"mobile","phone":"090-3000-%04d"}`, i)
	st, err := d.call(ctx, "POST", fmt.Sprintf("/v1/users/%010d/methods", 1700000000+i), body, nil)
	if err == nil && st != 201 {
		err = fmt.Errorf("register phone: HTTP %d", st)
	}
	return err
}

// waitSent waits until n jobs are in state sent: the modem has answered
// AT+CMGS, so losing its port no longer sends the job again.
func waitSent(ctx context.Context, d *daemon, n int) error {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		var sent []job
		if _, err := d.call(ctx, "GET", "/v1/outbox?limit=1000&state=sent", "", &sent); err != nil {
			return err
		}
		if len(sent) >= n {
			return nil
		}
	}
	return fmt.Errorf("%d jobs not sent after 30 s", n)
}

// waitPeerSent waits until the peer has moved n messages into its sent
// directory (the modem answered AT+CMGS).
func waitPeerSent(p *peer, n int) error {
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if es, _ := os.ReadDir(filepath.Join(p.dir, "sent")); len(es) >= n {
			return nil
		}
	}
	return fmt.Errorf("%s: message not in sent/ 30 s after delivery", p.name)
}

// waitDelivered waits for the next "sms delivered" line of sim.
func waitDelivered(sim *modemsim, limit time.Duration) (time.Time, bool) {
	select {
	case t := <-sim.delivered:
		return t, true
	case <-time.After(limit):
		return time.Time{}, false
	}
}

// portBackMfagate measures, reps times, the time from a vanished port
// coming back (modemsim restarted under the same symlink) to the SMS that
// was queued while it was away reaching the handset.
func portBackMfagate(ctx context.Context, bin string, reps int) ([]time.Duration, error) {
	dir, err := os.MkdirTemp("", "mfagate-bench-port-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	link := filepath.Join(dir, "ec25")
	sim, err := startModemsimLink(bin, link)
	if err != nil {
		return nil, err
	}
	defer func() { sim.stop() }()
	d, err := startDaemon(bin, fmt.Sprintf("[policy]\nphone_challenges_per_user = 100\n[[modem]]\nid = \"m1\"\nport = %q\nprofile = \"quectel\"\n", link), 4)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	if err := waitModems(ctx, d, 1); err != nil {
		return nil, err
	}
	if err := registerPhone(ctx, d, 0); err != nil {
		return nil, err
	}
	if _, ok := waitDelivered(sim, 30*time.Second); !ok {
		return nil, fmt.Errorf("first SMS not delivered within 30 s")
	}
	var out []time.Duration
	for r := range reps {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err := waitSent(ctx, d, r+1); err != nil {
			return out, err
		}
		gone := time.Now()
		sim.stop()
		// The daemon must have noticed before the SMS is queued.
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			st, err := modemStates(ctx, d)
			if err != nil {
				return out, err
			}
			if st["m1"] != "up" {
				break
			}
			if time.Now().After(end) {
				return out, fmt.Errorf("the daemon still reports the modem up 10 s after its port vanished")
			}
		}
		if err := registerPhone(ctx, d, r+1); err != nil {
			return out, err
		}
		time.Sleep(time.Until(gone.Add(away())))
		if sim, err = startModemsimLink(bin, link); err != nil {
			return out, err
		}
		t, ok := waitDelivered(sim, 30*time.Second)
		if !ok {
			return out, fmt.Errorf("SMS not delivered within 30 s of the port coming back:\n%s", tail(d.logTail.String(), 2000))
		}
		out = append(out, t.Sub(sim.started))
		if os.Getenv("BENCH_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "port back at %s, delivered at %s\n%s", sim.started.Format("15:04:05.000"), t.Format("15:04:05.000"), d.logTail)
		}
	}
	return out, nil
}

// portBackPeer is portBackMfagate's procedure for an outside daemon: it
// runs on the symlink, sends one message, loses the port, gets a message
// in its spool, and sees the port come back. It returns how long from the
// port coming back to the message reaching the handset, or false if it
// did not arrive within limit.
func portBackPeer(ctx context.Context, bin string, limit time.Duration, start func(port string) (*peer, error)) (time.Duration, bool, error) {
	dir, err := os.MkdirTemp("", "mfagate-bench-port-")
	if err != nil {
		return 0, false, err
	}
	defer os.RemoveAll(dir)
	link := filepath.Join(dir, "ec25")
	sim, err := startModemsimLink(bin, link)
	if err != nil {
		return 0, false, err
	}
	defer func() { sim.stop() }()
	p, err := start(link)
	if err != nil {
		return 0, false, err
	}
	defer p.stop()
	if err := p.drop(9999); err != nil {
		return 0, false, err
	}
	if _, ok := waitDelivered(sim, 90*time.Second); !ok {
		return 0, false, fmt.Errorf("%s: first message not delivered within 90 s", p.name)
	}
	if err := waitPeerSent(p, 1); err != nil {
		return 0, false, err
	}
	gone := time.Now()
	sim.stop()
	time.Sleep(time.Second)
	if err := p.drop(1); err != nil {
		return 0, false, err
	}
	time.Sleep(time.Until(gone.Add(away())))
	if sim, err = startModemsimLink(bin, link); err != nil {
		return 0, false, err
	}
	select {
	case t := <-sim.delivered:
		return t.Sub(sim.started), true, nil
	case <-time.After(limit):
		log, _ := os.ReadFile(filepath.Join(p.dir, "smsd.log"))
		fmt.Fprintf(os.Stderr, "%s: not delivered within %s of the port coming back; its log ends:\n%s\n", p.name, limit, tail(string(log), 1500))
		return limit, false, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

// hungMfagate measures, reps times, the time from one of two modems
// hanging in the middle of a job (its modemsim stopped with SIGSTOP while
// it holds the AT+CMGS) to the SMS reaching the handset through the other.
func hungMfagate(ctx context.Context, bin string, reps int, latency time.Duration) ([]time.Duration, error) {
	var out []time.Duration
	for r := range reps {
		dt, err := hungOnce(ctx, bin, r, latency)
		if err != nil {
			return out, err
		}
		out = append(out, dt)
	}
	return out, nil
}

func hungOnce(ctx context.Context, bin string, r int, latency time.Duration) (time.Duration, error) {
	sims := map[string]*modemsim{}
	defer func() {
		for _, s := range sims {
			s.stop()
		}
	}()
	var conf strings.Builder
	conf.WriteString("[policy]\nphone_challenges_per_user = 100\n")
	for _, id := range []string{"m1", "m2"} {
		s, err := startModemsim(bin, "-latency", latency.String())
		if err != nil {
			return 0, err
		}
		sims[id] = s
		fmt.Fprintf(&conf, "[[modem]]\nid = %q\nport = %q\nprofile = \"quectel\"\n", id, s.port)
	}
	d, err := startDaemon(bin, conf.String(), 4)
	if err != nil {
		return 0, err
	}
	defer d.stop()
	if err := waitModems(ctx, d, 2); err != nil {
		return 0, err
	}
	if err := registerPhone(ctx, d, 100+r); err != nil {
		return 0, err
	}
	var hung *modemsim
	var at time.Time
	for end := time.Now().Add(10 * time.Second); hung == nil; time.Sleep(2 * time.Millisecond) {
		var sending []job
		if _, err := d.call(ctx, "GET", "/v1/outbox?limit=10&state=sending", "", &sending); err != nil {
			return 0, err
		}
		for _, j := range sending {
			if s := sims[j.Modem]; s != nil {
				if err := s.hang(); err != nil {
					return 0, err
				}
				hung, at = s, time.Now()
				break
			}
		}
		if hung == nil && time.Now().After(end) {
			return 0, fmt.Errorf("no modem took the job within 10 s")
		}
	}
	for _, s := range sims {
		if s == hung {
			continue
		}
		t, ok := waitDelivered(s, 90*time.Second)
		if !ok {
			return 0, fmt.Errorf("the other modem did not deliver the job within 90 s of the hang:\n%s", tail(d.logTail.String(), 2000))
		}
		return t.Sub(at), nil
	}
	return 0, fmt.Errorf("no second modem")
}

// figureRecovery is figure 6: how fast mfagate, gammu-smsd and smstools3
// deliver again after a modem's port vanished and came back, and after a
// modem hung in the middle of a job. A part that fails is reported as not
// measured; the others still run.
func figureRecovery(ctx context.Context, run *Run, bin string, quick bool) error {
	repsPort, repsHung, peerLimit := 5, 2, 150*time.Second
	if quick {
		repsPort, repsHung, peerLimit = 1, 0, 0
	}
	failed := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "figure 6: %s: %v\n", what, err)
		run.NotDone = append(run.NotDone, fmt.Sprintf("figure 6, %s: %s", what, strings.SplitN(err.Error(), "\n", 2)[0]))
	}
	// peerEntry records a peer's figure and its ratio to mfagate's.
	peerEntry := func(name string, dt time.Duration, ok bool, note string, base *Entry) error {
		e := run.add(Entry{Name: name, Value: ms(dt), Unit: "ms", Note: note})
		if !ok {
			e.Above = true
			e.Note += fmt.Sprintf("; not delivered within %s (the value is that bound)", peerLimit)
		}
		if base != nil && base.Value > 0 {
			return run.compare(e, base, e.Value/base.Value, 0)
		}
		return nil
	}

	var base *Entry
	if back, err := portBackMfagate(ctx, bin, repsPort); err != nil {
		failed("port back, mfagate", err)
	} else {
		note := fmt.Sprintf("%d times: modemsim (-link, zero radio latency) stopped, the daemon sees the modem down, one phone registration queues an SMS, the same symlink is back %s + 0-250 ms after it vanished; from the new modemsim printing its port (the symlink exists) to its \"sms delivered\" line", len(back), portAway)
		base = run.add(Entry{Name: "port_back_to_sms_mfagate_p50", Value: ms(percentile(back, 50)), Unit: "ms", Note: note})
		run.add(Entry{Name: "port_back_to_sms_mfagate_max", Value: ms(percentile(back, 100)), Unit: "ms"})
		fmt.Fprintf(os.Stderr, "figure 6: mfagate, port back to SMS p50 %s\n", percentile(back, 50).Round(time.Millisecond))
	}
	if peerLimit > 0 {
		peers := []struct {
			key   string
			start func(port string) (*peer, error)
		}{
			{"smstools_delaytime1", func(p string) (*peer, error) { return startSmstools(p, 1) }},
			{"gammu_smsd_aggressive", func(p string) (*peer, error) { return startGammu(p, true) }},
		}
		for _, pr := range peers {
			dt, ok, err := portBackPeer(ctx, bin, peerLimit, pr.start)
			if err != nil {
				failed("port back, "+pr.key, err)
				continue
			}
			if err := peerEntry("port_back_to_sms_"+pr.key, dt, ok, "the same procedure once, the message written into the spool while the port was away; to the handset", base); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "figure 6: %s, port back to SMS %s (delivered: %v)\n", pr.key, dt.Round(time.Millisecond), ok)
		}
	} else {
		run.NotDone = append(run.NotDone, "figure 6, port back for gammu-smsd and smstools3 (full run only)")
	}

	if repsHung == 0 {
		run.NotDone = append(run.NotDone, "figure 6, hung modem (full run only)")
		return nil
	}
	const latency = 2 * time.Second
	var hb *Entry
	if hung, err := hungMfagate(ctx, bin, repsHung, latency); err != nil {
		failed("hung modem, mfagate", err)
	} else {
		hb = run.add(Entry{Name: "hung_modem_to_sms_elsewhere_mfagate_p50", Value: ms(percentile(hung, 50)), Unit: "ms",
			Note: fmt.Sprintf("%d times: two modems (two modemsim processes, %s radio latency), one phone registration; the modem that claimed the job (seen in state sending, 2 ms polls) is stopped with SIGSTOP; to the other modem's \"sms delivered\" line. Includes the daemon's AT+CMGS timeout (25 s, modem.Options.SMSTimeout) and the second modem's %s", len(hung), latency, latency)})
		run.add(Entry{Name: "hung_modem_to_sms_elsewhere_mfagate_max", Value: ms(percentile(hung, 100)), Unit: "ms"})
		fmt.Fprintf(os.Stderr, "figure 6: mfagate, hung modem to SMS elsewhere p50 %s\n", percentile(hung, 50).Round(time.Millisecond))
	}
	if dt, ok, err := hungSmstools(ctx, bin, latency, peerLimit); err != nil {
		failed("hung modem, smstools3", err)
	} else {
		note := fmt.Sprintf("once: smsd (delaytime = 1) with two modems (GSM1, GSM2; two modemsim processes, %s radio latency); the modem whose log shows AT+CMGS is stopped with SIGSTOP; to the other modem's \"sms delivered\" line", latency)
		if err := peerEntry("hung_modem_to_sms_elsewhere_smstools_delaytime1", dt, ok, note, hb); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "figure 6: smstools, hung modem to SMS elsewhere %s (delivered: %v)\n", dt.Round(time.Millisecond), ok)
	}
	run.NotDone = append(run.NotDone, "figure 6, hung modem, gammu-smsd: one modem per gammu-smsd process (files backend), so no other modem can take its job")
	return nil
}

var smstoolsCMGS = regexp.MustCompile(`(GSM\d+): -> AT\+CMGS=`)

// hungSmstools is hungOnce for smstools3's smsd with two modems: the modem
// whose log shows it writing AT+CMGS is stopped with SIGSTOP. It returns
// the time from the hang to the other modem delivering the message, or
// false if that did not happen within limit.
func hungSmstools(ctx context.Context, bin string, latency, limit time.Duration) (time.Duration, bool, error) {
	sims := map[string]*modemsim{}
	defer func() {
		for _, s := range sims {
			s.stop()
		}
	}()
	var ports []string
	for _, dev := range []string{"GSM1", "GSM2"} {
		s, err := startModemsim(bin, "-latency", latency.String())
		if err != nil {
			return 0, false, err
		}
		sims[dev] = s
		ports = append(ports, s.port)
	}
	p, err := startSmstoolsOn(ports, 1, 7)
	if err != nil {
		return 0, false, err
	}
	defer p.stop()
	logf := filepath.Join(p.dir, "smsd.log")
	// Both modem handlers ready, then one message.
	for end := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(logf)
		if strings.Contains(string(b), "GSM1: Waiting for messages to send") && strings.Contains(string(b), "GSM2: Waiting for messages to send") {
			break
		}
		if time.Now().After(end) {
			return 0, false, fmt.Errorf("%s: modems not ready within 60 s", p.name)
		}
	}
	if err := p.drop(2); err != nil {
		return 0, false, err
	}
	var hung *modemsim
	var at time.Time
	for end := time.Now().Add(30 * time.Second); hung == nil; time.Sleep(2 * time.Millisecond) {
		b, _ := os.ReadFile(logf)
		if m := smstoolsCMGS.FindSubmatch(b); m != nil {
			hung = sims[string(m[1])]
			if err := hung.hang(); err != nil {
				return 0, false, err
			}
			at = time.Now()
		} else if time.Now().After(end) {
			return 0, false, fmt.Errorf("%s: no modem wrote AT+CMGS within 30 s", p.name)
		}
	}
	for _, s := range sims {
		if s == hung {
			continue
		}
		select {
		case t := <-s.delivered:
			return t.Sub(at), true, nil
		case <-time.After(limit):
			return limit, false, nil
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	return 0, false, fmt.Errorf("no second modem")
}
