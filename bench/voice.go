package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

// The simulated network's timing of figure 4's calls: what cmd/modemsim
// makes every call wait, whoever places it. The harness subtracts these
// from what it measures.
const (
	voiceDialDelay = 500 * time.Millisecond // ATD to ringing (-dial-delay)
	voiceRing      = time.Second            // ringing to answered (-ring)
	// One playback of a prompt (AT+QWTTS) takes modem/sim's default
	// PromptDuration; modemsim has no flag for it. The handset presses
	// its keys only after the first playback ended (-wait-prompt).
	voicePrompt    = 200 * time.Millisecond
	voiceKeysAfter = 300 * time.Millisecond // end of the first prompt to the handset pressing # (-keys-after)
	voiceSimulated = voiceDialDelay + voiceRing + voicePrompt + voiceKeysAfter
)

// challengeView is a challenge as the API shows it.
type challengeView struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Delivery struct {
		Modem string `json:"modem"`
	} `json:"delivery"`
}

// final reports whether a challenge status will not change again.
func final(status string) bool {
	switch status {
	case "approved", "denied", "no_answer", "busy", "expired", "failed", "locked":
		return true
	}
	return false
}

// awaitChallenge long-polls a challenge until its status is final.
func awaitChallenge(ctx context.Context, d *daemon, id string, limit time.Duration) (challengeView, error) {
	var c challengeView
	for end := time.Now().Add(limit); time.Now().Before(end); {
		st, err := d.call(ctx, "GET", "/v1/challenges/"+id+"?wait=25s", "", &c)
		if err != nil || st != 200 {
			return c, fmt.Errorf("challenge %s: HTTP %d %v", id, st, err)
		}
		if final(c.Status) {
			return c, nil
		}
	}
	return c, fmt.Errorf("challenge %s still %s after %s", id, c.Status, limit)
}

// callTimes is one call's timeline by the harness's clock.
type callTimes struct {
	request, dialing, ringing, active, prompt, approved, ended time.Time
}

// figureVoice is figure 4: the time a voice challenge takes beyond what the
// simulated network imposes, and the modem time each call holds.
func figureVoice(ctx context.Context, run *Run, bin string, quick bool) error {
	n := 30
	if quick {
		n = 2
	}
	sim, err := startModemsim(bin, "-dial-delay", voiceDialDelay.String(), "-ring", voiceRing.String(),
		"-keys", "#", "-keys-after", voiceKeysAfter.String(), "-wait-prompt=true")
	if err != nil {
		return err
	}
	defer sim.stop()
	d, err := startDaemon(bin, fmt.Sprintf("[policy]\nphone_challenges_per_user = 100\nvoice_confirmation = \"pound\"\n"+
		"[[modem]]\nid = \"m1\"\nport = %q\nprofile = \"quectel\"\n", sim.port), 4)
	if err != nil {
		return err
	}
	defer d.stop()
	if err := waitModems(ctx, d, 1); err != nil {
		return err
	}
	// Register an office phone by voice (a call, not counted), confirm it
	// with the approved challenge, then sign in by voice n times.
	user := "1600000000"
	var reg struct {
		Method    struct{ ID string }
		Challenge challengeView
	}
	st, err := d.call(ctx, "POST", "/v1/users/"+user+"/methods", `{"kind":"phone","slot":"office","phone":"03-5000-0001","channel":"voice"}`, &reg)
	if err != nil || st != 201 {
		return fmt.Errorf("register a phone by voice: HTTP %d %v", st, err)
	}
	if c, err := awaitChallenge(ctx, d, reg.Challenge.ID, 60*time.Second); err != nil || c.Status != "approved" {
		return fmt.Errorf("registration call: %s %v\n%s", c.Status, err, tail(d.logTail.String(), 2000))
	}
	if st, err := d.call(ctx, "POST", "/v1/users/"+user+"/methods/"+reg.Method.ID+"/confirm", `{"challenge":"`+reg.Challenge.ID+`"}`, nil); err != nil || st != 200 {
		return fmt.Errorf("confirm the phone: HTTP %d %v", st, err)
	}
	jobs := func() (count, sum float64, err error) {
		if count, err = d.metric(ctx, `mfagate_modem_job_duration_seconds_count{channel="voice"`); err != nil {
			return 0, 0, err
		}
		sum, err = d.metric(ctx, `mfagate_modem_job_duration_seconds_sum{channel="voice"`)
		return count, sum, err
	}
	// waitJob waits until the modem has finished count jobs and returns
	// the sum of their durations.
	waitJob := func(count float64) (float64, error) {
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			c, s, err := jobs()
			if err != nil {
				return 0, err
			}
			if c >= count {
				return s, nil
			}
		}
		return 0, fmt.Errorf("voice job %v not finished after 30 s", count)
	}
	done, _, err := jobs()
	if err != nil {
		return err
	}
	// busy is the modem's voice time so far, once the registration call
	// has been counted.
	busy, err := waitJob(max(done, 1))
	if err != nil {
		return err
	}
	done = max(done, 1)

	var overhead, toDial, toPrompt, keysToApproved, hold, holdOver, hangup, total []time.Duration
	for i := range n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Duration(rand.Int64N(int64(200 * time.Millisecond))))
		sim.drainEvents()
		var ct callTimes
		var c challengeView
		ct.request = time.Now()
		st, err := d.call(ctx, "POST", "/v1/users/"+user+"/challenges", `{"method":"`+reg.Method.ID+`","channel":"voice"}`, &c)
		if err != nil || st != 201 {
			return fmt.Errorf("voice challenge %d: HTTP %d %v", i, st, err)
		}
		if c, err = awaitChallenge(ctx, d, c.ID, 60*time.Second); err != nil || c.Status != "approved" {
			return fmt.Errorf("voice challenge %d: %s %v", i, c.Status, err)
		}
		ct.approved = time.Now()
		sum, err := waitJob(done + 1)
		if err != nil {
			return err
		}
		done++
		jobTime := time.Duration((sum - busy) * float64(time.Second))
		busy = sum
		for ct.ended.IsZero() {
			select {
			case ev := <-sim.calls:
				switch {
				case ev.state == "dialing" && ct.dialing.IsZero():
					ct.dialing = ev.at
				case ev.state == "ringing" && ct.ringing.IsZero():
					ct.ringing = ev.at
				case ev.state == "active" && ct.active.IsZero():
					ct.active = ev.at
				case ev.state == "ended":
					ct.ended = ev.at
				}
				if ev.prompts > 0 && ct.prompt.IsZero() {
					ct.prompt = ev.at
				}
			case <-time.After(10 * time.Second):
				return fmt.Errorf("voice challenge %d: the simulator reported no end of the call", i)
			}
		}
		if ct.dialing.IsZero() || ct.active.IsZero() || ct.prompt.IsZero() {
			return fmt.Errorf("voice challenge %d: the simulator did not report dialling, answer and prompt", i)
		}
		total = append(total, ct.approved.Sub(ct.request))
		overhead = append(overhead, ct.approved.Sub(ct.request)-voiceSimulated)
		toDial = append(toDial, ct.dialing.Sub(ct.request))
		toPrompt = append(toPrompt, ct.prompt.Sub(ct.active))
		keysToApproved = append(keysToApproved, ct.approved.Sub(ct.prompt.Add(voicePrompt+voiceKeysAfter)))
		hangup = append(hangup, ct.ended.Sub(ct.prompt.Add(voicePrompt+voiceKeysAfter)))
		hold = append(hold, jobTime)
		holdOver = append(holdOver, jobTime-voiceSimulated)
	}
	sim1 := fmt.Sprintf("dial %s + ring %s + prompt %s + keys after %s = %s", voiceDialDelay, voiceRing, voicePrompt, voiceKeysAfter, voiceSimulated)
	add := func(name string, ds []time.Duration, ps []float64, note string) {
		for j, p := range ps {
			e := Entry{Name: fmt.Sprintf("%s_p%g", name, p), Value: ms(percentile(ds, p)), Unit: "ms"}
			if j == 0 {
				e.Note = note
			}
			run.add(e)
		}
	}
	add("voice_challenge_to_approved", total, []float64{50}, fmt.Sprintf("%d voice sign-ins one at a time: POST /v1/users/{user}/challenges sent to GET /v1/challenges/{id}?wait=25s answering approved (handset presses #)", n))
	add("voice_overhead", overhead, []float64{50, 99}, "challenge request to approved, minus the simulated network's timing: "+sim1)
	add("voice_request_to_dial", toDial, []float64{50, 99}, "challenge request sent to ATD reaching the simulated modem (its call state dialing)")
	add("voice_answer_to_prompt", toPrompt, []float64{50, 99}, "the handset answering to the modem starting the prompt (AT+QWTTS)")
	add("voice_keys_to_approved", keysToApproved, []float64{50, 99}, fmt.Sprintf("the handset pressing # (first prompt start + %s + %s) to the long poll answering approved", voicePrompt, voiceKeysAfter))
	add("voice_keys_to_hangup", hangup, []float64{50, 99}, "the handset pressing # to the simulator's call state ended (the modem hangs up once it has the decision)")
	add("voice_modem_hold", hold, []float64{50, 99}, "the modem's time per call: claim to the job's end (mfagate_modem_job_duration_seconds, channel voice)")
	add("voice_modem_hold_overhead", holdOver, []float64{50, 99}, "the modem's time per call minus the simulated network's timing ("+voiceSimulated.String()+")")
	fmt.Fprintf(os.Stderr, "figure 4: %d voice sign-ins, overhead p50 %s\n", n, percentile(overhead, 50).Round(time.Microsecond))
	return nil
}
