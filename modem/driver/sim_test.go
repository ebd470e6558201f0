package driver

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mfagate/modem/sim"
)

// TestAgainstSimulator drives the modem simulator (modem/sim) over its real
// pty with Open: identity, health, a Japanese SMS with a status report, and a
// call answered with keys 4 2 # after the prompt, for every profile.
func TestAgainstSimulator(t *testing.T) {
	for _, name := range ProfileNames() {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			network := sim.NewNetwork(sim.NetworkOptions{
				ReportDelay: 20 * time.Millisecond, DialDelay: 20 * time.Millisecond, NoAnswerTimeout: 2 * time.Second,
			})
			prof, _ := ProfileByName(name)
			tts, _ := prof.Prompt()
			phone, err := network.AddPhone(callee, sim.Behavior{
				RingFor: 30 * time.Millisecond, WaitForPrompt: tts,
				Keys: []sim.KeyStep{{After: 10 * time.Millisecond, Digits: "42#"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			sm, err := sim.Start(ctx, sim.Options{Profile: name, Network: network, PromptDuration: 30 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sm.Close() })
			m, err := Open(ctx, sm.Path(), prof, WithCallPollInterval(20*time.Millisecond))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { m.Close() })

			id, err := m.Identity(ctx)
			if err != nil || id.IMEI != sm.IMEI() || id.ICCID == "" || id.IMSI == "" {
				t.Fatalf("identity %+v, %v", id, err)
			}
			h, err := m.Health(ctx)
			if err != nil || !h.Registered() || !h.SIMReady || !h.SignalOK {
				t.Fatalf("health %+v, %v", h, err)
			}

			text := "認証コードは 482913 です"
			mrs, err := m.SendSMS(ctx, callee, text, true)
			if err != nil {
				t.Fatalf("SendSMS: %v", err)
			}
			got, err := phone.NextSMS(ctx)
			if err != nil || got.Text != text || !got.Report || !got.UCS2 {
				t.Fatalf("phone received %+v, %v", got, err)
			}
			r := nextReport(t, m)
			if r.MR != mrs[0] || !r.Delivered {
				t.Fatalf("status report %+v for MRs %v", r, mrs)
			}

			opts := CallOptions{}
			if tts {
				opts.Prompt = "Press 4 2 and hash"
			}
			c, err := m.Call(ctx, callee, opts)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			var evs []CallEvent
			wantDigits := prof.DTMF
			for ev := range c.Events() {
				evs = append(evs, ev)
				if ev.Kind == EventDigit && ev.Digit == '#' || !wantDigits && ev.Kind == EventAnswered {
					if err := c.Hangup(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			var kinds []EventKind
			var digits []rune
			for _, ev := range evs {
				if ev.Kind == EventDigit {
					digits = append(digits, ev.Digit)
				} else if ev.Kind != EventRinging && ev.Kind != EventPromptDone {
					kinds = append(kinds, ev.Kind)
				}
			}
			if !slices.Equal(kinds, []EventKind{EventAnswered, EventEnded}) || c.Reason() != EndLocalHangup {
				t.Fatalf("events %v", evs)
			}
			if wantDigits && string(digits) != "42#" {
				t.Fatalf("digits %q, want 42#; events %v", string(digits), evs)
			}

			// A busy callee ends the next call with reason busy.
			phone.SetBehavior(sim.Behavior{Answer: sim.Busy})
			c, err = m.Call(ctx, callee, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Reason(); r != EndBusy {
				t.Fatalf("busy callee: reason %v", r)
			}
		})
	}
}

func TestSimulatorUnplug(t *testing.T) {
	ctx := testCtx(t)
	network := sim.NewNetwork(sim.NetworkOptions{})
	sm, err := sim.Start(ctx, sim.Options{Profile: "quectel", Network: network})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	prof, _ := ProfileByName("quectel")
	m, err := Open(ctx, sm.Path(), prof)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := sm.Unplug(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, m)
	if Transient(m.Err()) != true {
		t.Fatalf("Err() = %v", m.Err())
	}
	if err := sm.Replug(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool re-creates the driver on the same path once it is back; an
	// attempt during the modem's boot may time out, so it retries.
	var m2 *Modem
	for i := 0; i < 20 && m2 == nil; i++ {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		m2, err = Open(actx, sm.Path(), prof, WithTimeouts(Timeouts{Init: 300 * time.Millisecond}))
		cancel()
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if m2 == nil {
		t.Fatalf("reopen after replug: %v", err)
	}
	defer m2.Close()
	if _, err := m2.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSimulatorDirectStatusReports uses +CDS routing with AT+CSMS=1: every
// report must be acknowledged, or the simulated modem (like a real one)
// stops routing them.
func TestSimulatorDirectStatusReports(t *testing.T) {
	ctx := testCtx(t)
	network := sim.NewNetwork(sim.NetworkOptions{ReportDelay: 20 * time.Millisecond})
	if _, err := network.AddPhone(callee, sim.Behavior{}); err != nil {
		t.Fatal(err)
	}
	sm, err := sim.Start(ctx, sim.Options{Profile: "quectel", Network: network, AckTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	prof, _ := ProfileByName("quectel")
	m, err := Open(ctx, sm.Path(), prof, WithDirectStatusReports())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 0; i < 3; i++ {
		mrs, err := m.SendSMS(ctx, callee, "Your code is 123456", true)
		if err != nil {
			t.Fatal(err)
		}
		if r := nextReport(t, m); r.MR != mrs[0] || !r.Delivered {
			t.Fatalf("report %d: %+v for MRs %v", i, r, mrs)
		}
		// Outlast the modem's acknowledgement window before the next one.
		time.Sleep(150 * time.Millisecond)
	}
}

// A freshly opened modem's power-on RDY is not a restart: only the RDY of a
// real restart later (a firmware crash) logs the WARN an operator acts on.
func TestSimulatorBootRDYIsNotARestart(t *testing.T) {
	ctx := testCtx(t)
	sm, err := sim.Start(ctx, sim.Options{Profile: "quectel", Network: sim.NewNetwork(sim.NetworkOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	rec := &rdyRecorder{restartAfterReboot: make(chan struct{})}
	prof, _ := ProfileByName("quectel")
	m, err := Open(ctx, sm.Path(), prof, WithLogger(slog.New(rec)), WithTrace())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, err := m.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sm.Reboot(ctx); err != nil {
		t.Fatal(err)
	}
	// URCs are handled in wire order, so once the second RDY's WARN is in,
	// whatever the first RDY logged is in too.
	select {
	case <-rec.restartAfterReboot:
	case <-ctx.Done():
		t.Fatal("the restart after Reboot was not reported")
	}
	if n := rec.restarts(); n != 1 {
		t.Fatalf("%d WARN %q lines for one boot and one restart, want 1", n, "modem restarted")
	}
}

// rdyRecorder counts "modem restarted" warnings and the RDY lines read.
type rdyRecorder struct {
	mu                 sync.Mutex
	rdyRead, warned    int
	reported           bool
	restartAfterReboot chan struct{}
}

func (r *rdyRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *rdyRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *rdyRecorder) WithGroup(string) slog.Handler            { return r }

func (r *rdyRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Message == "at rx" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "line" && a.Value.String() == "RDY" {
				r.rdyRead++
			}
			return true
		})
	}
	if rec.Level >= slog.LevelWarn && strings.Contains(rec.Message, "modem restarted") {
		r.warned++
		if r.rdyRead == 2 && !r.reported {
			r.reported = true
			close(r.restartAfterReboot)
		}
	}
	return nil
}

func (r *rdyRecorder) restarts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.warned
}
