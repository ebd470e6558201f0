package driver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warthog618/modem/at"

	"mfagate/phone"
)

// EventKind says what happened on a call.
type EventKind int

const (
	EventRinging    EventKind = iota + 1 // the far end is alerting
	EventAnswered                        // the far end picked up
	EventDigit                           // the callee pressed a key (CallEvent.Digit)
	EventPromptDone                      // one playback of the prompt finished
	EventEnded                           // the call is over (CallEvent.Reason); always the last event
)

func (k EventKind) String() string {
	switch k {
	case EventRinging:
		return "ringing"
	case EventAnswered:
		return "answered"
	case EventDigit:
		return "digit"
	case EventPromptDone:
		return "prompt_done"
	case EventEnded:
		return "ended"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// EndReason says why a call ended.
type EndReason string

const (
	EndBusy         EndReason = "busy"
	EndNoAnswer     EndReason = "no_answer" // network NO ANSWER, or RingTimeout elapsed (then hung up)
	EndNoCarrier    EndReason = "no_carrier"
	EndRemoteHangup EndReason = "remote_hangup"
	EndLocalHangup  EndReason = "local_hangup"  // Hangup, ctx cancelled, or Close
	EndInputTimeout EndReason = "input_timeout" // InputTimeout or MaxDuration elapsed (then hung up)
	EndFailed       EndReason = "failed"        // port lost or modem restarted
)

// CallEvent is one event of a call. Events arrive in the order the modem
// reported them.
type CallEvent struct {
	Kind   EventKind
	Digit  rune      // EventDigit: '0'-'9', '*', '#', 'A'-'D'
	Reason EndReason // EventEnded
}

// CallOptions configure Modem.Call. Zero durations take the defaults.
type CallOptions struct {
	// Prompt is spoken into the call once answered (in-call TTS: AT+QWTTS,
	// AT+CTTS). Module TTS engines speak English/Chinese only; for Japanese
	// use PromptFile with a recording stored on the modem.
	Prompt string
	// PromptFile is an audio file on the modem (AT+QPSND, AT+CCMXPLAY),
	// played instead of Prompt.
	PromptFile   string
	RingTimeout  time.Duration // from dialling to answer (default 30 s)
	InputTimeout time.Duration // from answer, the end of each prompt, and each key, to the next key (default 20 s)
	MaxDuration  time.Duration // whole call (default 3 min)
	RepeatPrompt bool          // replay the prompt until the first key (at most maxPromptPlays times)
}

const maxPromptPlays = 5

func (o CallOptions) withDefaults() CallOptions {
	if o.RingTimeout <= 0 {
		o.RingTimeout = 30 * time.Second
	}
	if o.InputTimeout <= 0 {
		o.InputTimeout = 20 * time.Second
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 3 * time.Minute
	}
	return o
}

// callEventBuffer is large enough for a call's events; when full, digits are
// dropped (logged) but EventEnded always fits.
const callEventBuffer = 64

// Call is a voice call placed by Modem.Call.
type Call struct {
	events     chan CallEvent
	hangupReq  chan struct{}
	hangupOnce sync.Once
	done       chan struct{}
	reason     EndReason // written before done is closed
}

// Events delivers the call's events; it is closed after EventEnded.
func (c *Call) Events() <-chan CallEvent { return c.events }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Reason returns why the call ended; valid after Done is closed.
func (c *Call) Reason() EndReason {
	<-c.done
	return c.reason
}

// Hangup ends the call (reason EndLocalHangup unless it already ended) and
// waits until the modem has hung up or ctx is done.
func (c *Call) Hangup(ctx context.Context) error {
	c.hangupOnce.Do(func() { close(c.hangupReq) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hang up call: %w", ctx.Err())
	}
}

// Call dials to (E.164) for a voice call and returns once the modem accepted
// the dial. The call then plays opts' prompt when answered and reports keys
// on Events. It is hung up when ctx is cancelled, on Hangup, and when
// RingTimeout, InputTimeout or MaxDuration elapse. A busy or unreachable
// callee shows as EventEnded, not as an error; errors mean no call was
// placed.
func (m *Modem) Call(ctx context.Context, to string, opts CallOptions) (*Call, error) {
	if err := validE164(to); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	switch {
	case opts.PromptFile != "":
		if m.prof.playFile == nil {
			return nil, fmt.Errorf("play prompt file: %w (%s)", ErrUnsupported, m.prof.Name)
		}
		if _, err := m.prof.playFile(opts.PromptFile); err != nil {
			return nil, err
		}
	case opts.Prompt != "":
		if m.prof.playText == nil {
			return nil, fmt.Errorf("speak prompt: %w (%s)", ErrUnsupported, m.prof.Name)
		}
		if _, err := m.prof.playText(opts.Prompt); err != nil {
			return nil, err
		}
	}
	c := &Call{
		events:    make(chan CallEvent, callEventBuffer),
		hangupReq: make(chan struct{}),
		done:      make(chan struct{}),
	}
	err := m.do(ctx, func(ctx context.Context) error { return m.dial(ctx, c, to, opts) })
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", phone.Mask(to), err)
	}
	return c, nil
}

// callSession is the state of the active call. It lives on the owner
// goroutine only.
type callSession struct {
	m    *Modem
	c    *Call
	ctx  context.Context
	opts CallOptions
	base uint64 // URCs with seq <= base predate this call

	answered, ringing bool
	digits            int
	plays             int
	promptReady       bool
	seenInList        bool
	emptyPolls        int
	ended             bool

	ring, input, max, grace *time.Timer
	poll                    *time.Ticker
}

// dial runs on the owner goroutine.
func (m *Modem) dial(ctx context.Context, c *Call, to string, opts CallOptions) error {
	if m.active != nil {
		return ErrCallActive
	}
	m.drainURCs() // settle anything that predates the call
	for _, cmd := range m.prof.DTMFEnable {
		if _, err := m.command(ctx, cmd, m.cfg.timeouts.Command); err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			m.log.Debug("dtmf enable refused", "cmd", cmdName(cmd), "err", err)
		}
	}
	cs := &callSession{m: m, c: c, ctx: ctx, opts: opts, base: m.tap.lineSeq()}
	_, err := m.command(ctx, "D"+to+";", m.cfg.timeouts.Dial)
	var ce at.ConnectError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		m.log.Info("call failed", "to", phone.Mask(to), "result", string(ce))
		cs.finish(connectReason(ce))
		return nil
	case errors.Is(err, ErrTimeout):
		// The modem may be dialling anyway: make sure it is not.
		m.hangupLine()
		return err
	default:
		return err
	}
	m.log.Info("call dialled", "to", phone.Mask(to))
	m.active = cs
	cs.ring = time.NewTimer(opts.RingTimeout)
	cs.max = time.NewTimer(opts.MaxDuration)
	if m.pollCalls {
		cs.poll = time.NewTicker(m.cfg.pollInterval)
	}
	return nil
}

func connectReason(ce at.ConnectError) EndReason {
	switch string(ce) {
	case "BUSY":
		return EndBusy
	case "NO ANSWER":
		return EndNoAnswer
	default:
		return EndNoCarrier
	}
}

// timerC returns t's channel or nil.
func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

func tickerC(t *time.Ticker) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// wants reports whether u belongs to this call.
func (cs *callSession) wants(u urc) bool {
	if u.seq <= cs.base {
		return false
	}
	switch u.kind {
	case urcDigit, urcCall, urcFinal, urcPromptDone, urcBoot:
		return true
	}
	return false
}

func (cs *callSession) emit(ev CallEvent) {
	if len(cs.c.events) >= cap(cs.c.events)-1 {
		cs.m.log.Warn("call event buffer full, event dropped", "event", ev.Kind.String())
		return
	}
	cs.c.events <- ev
}

func (cs *callSession) onURC(u urc) {
	switch u.kind {
	case urcDigit:
		cs.markAnswered()
		cs.digits++
		cs.emit(CallEvent{Kind: EventDigit, Digit: u.digit})
		if !cs.ended {
			cs.input.Reset(cs.opts.InputTimeout)
		}
	case urcCall:
		switch u.state {
		case stateAlerting:
			cs.markRinging()
		case stateActive:
			cs.markAnswered()
		case stateEnded:
			cs.farEnded(u.reason)
		}
	case urcFinal:
		if cs.answered {
			cs.end(EndRemoteHangup, false)
		} else {
			cs.end(u.reason, false)
		}
	case urcPromptDone:
		if !cs.answered {
			return
		}
		cs.emit(CallEvent{Kind: EventPromptDone})
		// The callee could not be expected to key before hearing the
		// prompt out: the input window starts again.
		cs.input.Reset(cs.opts.InputTimeout)
		if cs.opts.RepeatPrompt && cs.digits == 0 && cs.plays < maxPromptPlays {
			cs.playPrompt()
		}
	case urcBoot:
		cs.end(EndFailed, false)
		cs.m.idleURC(u)
	}
}

func (cs *callSession) markRinging() {
	if cs.ringing || cs.answered || cs.ended {
		return
	}
	cs.ringing = true
	cs.emit(CallEvent{Kind: EventRinging})
}

func (cs *callSession) markAnswered() {
	if cs.answered || cs.ended {
		return
	}
	cs.answered = true
	cs.ring.Stop()
	cs.input = time.NewTimer(cs.opts.InputTimeout)
	cs.emit(CallEvent{Kind: EventAnswered})
	cs.playPrompt()
}

// farEnded handles a vendor "call ended" report. Before the answer the
// reason usually follows as BUSY/NO ANSWER/NO CARRIER, so wait briefly for it.
func (cs *callSession) farEnded(reason EndReason) {
	switch {
	case cs.answered:
		cs.end(EndRemoteHangup, false)
	case reason != "":
		cs.end(reason, false)
	case cs.grace == nil:
		cs.grace = time.NewTimer(cs.m.cfg.endGrace)
	}
}

func (cs *callSession) playPrompt() {
	o := cs.opts
	if o.Prompt == "" && o.PromptFile == "" {
		return
	}
	p := cs.m.prof
	ctx, cancel := context.WithTimeout(context.Background(), cs.m.cfg.timeouts.Command)
	defer cancel()
	if !cs.promptReady {
		cs.promptReady = true
		for _, c := range p.promptSetup {
			if _, err := cs.m.command(ctx, c, cs.m.cfg.timeouts.Command); err != nil {
				cs.m.log.Warn("prompt setup refused", "cmd", cmdName(c), "err", err)
			}
		}
	}
	var cmd string
	var err error
	if o.PromptFile != "" {
		cmd, err = p.playFile(o.PromptFile)
	} else {
		cmd, err = p.playText(o.Prompt)
	}
	if err == nil {
		cs.plays++
		_, err = cs.m.command(ctx, cmd, cs.m.cfg.timeouts.Command)
	}
	if err != nil {
		cs.m.log.Warn("prompt playback failed", "cmd", cmdName(cmd), "err", err)
	}
}

// pollCalls reads +CLCC: the MO voice entry gives alerting/active; its
// disappearance means the call ended.
func (cs *callSession) pollCalls() {
	ctx, cancel := context.WithTimeout(context.Background(), cs.m.cfg.timeouts.Command)
	defer cancel()
	info, err := cs.m.command(ctx, "+CLCC", cs.m.cfg.timeouts.Command)
	if err != nil {
		cs.m.log.Debug("call poll failed", "err", err)
		return
	}
	e, ok := voiceMO(info)
	if !ok {
		cs.emptyPolls++
		if cs.seenInList || cs.emptyPolls >= 3 {
			cs.farEnded("")
		}
		return
	}
	cs.seenInList, cs.emptyPolls = true, 0
	switch e.Stat {
	case 3:
		cs.markRinging()
	case 0:
		cs.markAnswered()
	}
}

// end finishes the call, hanging up first when we are the ones ending it.
func (cs *callSession) end(reason EndReason, hangup bool) {
	if cs.ended {
		return
	}
	if hangup {
		cs.m.hangupLine()
	}
	cs.finish(reason)
	if cs.m.active == cs {
		cs.m.active = nil
	}
	cs.m.log.Info("call ended", "reason", string(reason), "answered", cs.answered, "keys", cs.digits)
}

func (cs *callSession) finish(reason EndReason) {
	cs.ended = true
	for _, t := range []*time.Timer{cs.ring, cs.input, cs.max, cs.grace} {
		if t != nil {
			t.Stop()
		}
	}
	if cs.poll != nil {
		cs.poll.Stop()
	}
	cs.c.reason = reason
	cs.c.events <- CallEvent{Kind: EventEnded, Reason: reason}
	close(cs.c.events)
	close(cs.c.done)
}

// hangupLine tries the profile's hang-up commands until one succeeds.
func (m *Modem) hangupLine() {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.timeouts.Hangup)
	defer cancel()
	for _, c := range m.prof.Hangup {
		_, err := m.command(ctx, c, m.cfg.timeouts.Hangup)
		if err == nil {
			return
		}
		m.log.Warn("hang up failed", "cmd", cmdName(c), "err", err)
		if errors.Is(err, ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
	}
}

// sessionCases returns the active call's timer and request channels for the
// owner loop's select (all nil when there is no call).
func (m *Modem) sessionCases() (ring, input, max, grace, tick <-chan time.Time, hangup, cancel <-chan struct{}) {
	cs := m.active
	if cs == nil {
		return
	}
	return timerC(cs.ring), timerC(cs.input), timerC(cs.max), timerC(cs.grace), tickerC(cs.poll), cs.c.hangupReq, cs.ctx.Done()
}
