package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"

	"mfagate/phone"
)

// TP-Status values carried by the status reports the network generates
// (3GPP TS 23.040 §9.2.3.15).
const (
	StatusDelivered     = 0x00 // short message received by the SME
	StatusNotObtainable = 0x43 // permanent error: the number does not exist
	StatusExpired       = 0x46 // permanent error: validity period expired (phone unreachable)
)

// Answer selects how a virtual phone reacts to a call.
type Answer int

const (
	// AnswerAfterRing picks up after Behavior.RingFor.
	AnswerAfterRing Answer = iota
	// Busy rejects the call: the modem reports BUSY.
	Busy
	// NoAnswer rings until NetworkOptions.NoAnswerTimeout: the modem reports NO ANSWER.
	NoAnswer
	// Unreachable is a phone that is switched off or out of coverage: calls
	// end with NO CARRIER and SMS are never delivered (the status report fails).
	Unreachable
	// Manual rings until the test calls Call.Answer (or NoAnswerTimeout passes).
	Manual
)

func (a Answer) String() string {
	switch a {
	case AnswerAfterRing:
		return "answer"
	case Busy:
		return "busy"
	case NoAnswer:
		return "no-answer"
	case Unreachable:
		return "unreachable"
	case Manual:
		return "manual"
	}
	return fmt.Sprintf("Answer(%d)", int(a))
}

// KeyStep is one step of a phone's keypad script: wait After, then press Digits.
type KeyStep struct {
	After  time.Duration
	Digits string
}

// Behavior is what a virtual phone does when called.
type Behavior struct {
	Answer Answer
	// RingFor is how long the phone rings before answering (AnswerAfterRing).
	RingFor time.Duration
	// WaitForPrompt starts the key script when the first prompt played into
	// the call has finished, instead of at answer time (on profiles that can
	// play prompts; on the others the script starts at answer time).
	WaitForPrompt bool
	// Keys is pressed after answering, step by step.
	Keys []KeyStep
	// HangupAfter, if non-zero, makes the callee hang up this long after the
	// last key step (or after answering when there are no keys).
	HangupAfter time.Duration
}

// NetworkOptions configures a Network. Zero durations take the documented defaults.
type NetworkOptions struct {
	// SubmitLatency and SubmitJitter model the radio path of an SMS submit:
	// each +CMGS answer is delayed by SubmitLatency ± SubmitJitter (uniform).
	SubmitLatency time.Duration
	SubmitJitter  time.Duration
	// ReportDelay is the time from submit to status report (default 200 ms).
	ReportDelay time.Duration
	// DialDelay is the time from ATD to the callee ringing (default 100 ms).
	DialDelay time.Duration
	// NoAnswerTimeout is how long an unanswered call rings before NO ANSWER (default 5 s).
	NoAnswerTimeout time.Duration
	// RingInterval is the time between RING URCs of an incoming call (default 2 s).
	RingInterval time.Duration
	// CountryCode (e.g. "81") maps national numbers ("090…") to E.164.
	CountryCode string
	// OpenNumbering makes every well-formed number reachable: unknown numbers
	// get a phone with the Default behaviour on first use.
	OpenNumbering bool
	Default       Behavior
	Logger        *slog.Logger
}

// SMS is a message as received by a virtual phone: parts already reassembled.
type SMS struct {
	To       string
	From     string // the sending modem's own number ("" if it has none)
	Modem    string // the sending modem's IMEI
	Text     string
	Parts    int
	UCS2     bool
	Report   bool // TP-SRR was set
	Received time.Time
}

// CallState is the state of a call as the network sees it.
type CallState int

const (
	CallDialing CallState = iota
	CallRinging
	CallActive
	CallEnded
)

func (s CallState) String() string {
	return [...]string{"dialing", "ringing", "active", "ended"}[s]
}

// EndReason says why a call ended.
type EndReason string

const (
	EndBusy         EndReason = "busy"
	EndNoAnswer     EndReason = "no-answer"
	EndUnreachable  EndReason = "unreachable"
	EndRemoteHangup EndReason = "remote-hangup"
	EndLocalHangup  EndReason = "local-hangup"
	EndModemReset   EndReason = "modem-reset"
)

// Prompt is something a modem played into a call.
type Prompt struct {
	Command string // the AT command that played it, e.g. "+QWTTS"
	Text    string // TTS text (decoded) or file name
	At      time.Time
}

// Call is one voice call between a simulated modem and a virtual phone,
// made by the modem (ATD) or, when Incoming, by the network (CallModem).
// Its methods are safe for concurrent use.
type Call struct {
	To       string
	From     string
	Modem    string
	Incoming bool

	net *Network
	m   *Modem
	// guarded by net.mu
	state   CallState
	reason  EndReason
	pressed string
	prompts []Prompt
}

// Phone is a virtual phone on the network.
type Phone struct {
	net    *Network
	number string
	// guarded by net.mu
	behavior Behavior
	inbox    []SMS
	calls    []*Call
	nextCall int // cursor of NextCall
	nextSMS  int // cursor of NextSMS
}

// Event is delivered to subscribers when something happens on the network.
type Event struct {
	Kind   string // "sms" or "call"
	Number string // the phone concerned
	SMS    *SMS
	Call   *Call
	State  CallState
}

// Network is a virtual phone network shared by several simulated modems.
// All methods are safe for concurrent use.
type Network struct {
	opts NetworkOptions
	log  *slog.Logger

	mu      sync.Mutex
	phones  map[string]*Phone
	modems  map[string]*Modem // by own number
	changed chan struct{}
	partial map[concatKey]*partialMsg
	subs    map[int]chan Event
	subSeq  int
	rnd     *rand.Rand
}

type concatKey struct {
	modem string
	to    string
	ref   int
}

type partialMsg struct {
	segs  []*tpdu.TPDU
	first time.Time
}

// NewNetwork returns an empty network.
func NewNetwork(opts NetworkOptions) *Network {
	if opts.ReportDelay <= 0 {
		opts.ReportDelay = 200 * time.Millisecond
	}
	if opts.DialDelay <= 0 {
		opts.DialDelay = 100 * time.Millisecond
	}
	if opts.NoAnswerTimeout <= 0 {
		opts.NoAnswerTimeout = 5 * time.Second
	}
	if opts.RingInterval <= 0 {
		opts.RingInterval = 2 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Network{
		opts:    opts,
		log:     log,
		phones:  make(map[string]*Phone),
		modems:  make(map[string]*Modem),
		changed: make(chan struct{}),
		partial: make(map[concatKey]*partialMsg),
		subs:    make(map[int]chan Event),
		rnd:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5157)),
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{5,14}$`)

// ErrBadNumber is returned for numbers that are not E.164 (+ and 6–15 digits).
var ErrBadNumber = errors.New("not an E.164 number")

// normalize maps a dialled or addressed number to E.164, or returns "".
func (n *Network) normalize(num string) string {
	num = strings.TrimSpace(num)
	if n.opts.CountryCode != "" && strings.HasPrefix(num, "0") && !strings.HasPrefix(num, "00") {
		num = "+" + n.opts.CountryCode + num[1:]
	} else if strings.HasPrefix(num, "00") {
		num = "+" + num[2:]
	} else if !strings.HasPrefix(num, "+") {
		num = "+" + num
	}
	if !e164.MatchString(num) {
		return ""
	}
	return num
}

// AddPhone puts a phone with the given behaviour on the network.
func (n *Network) AddPhone(number string, b Behavior) (*Phone, error) {
	if !e164.MatchString(number) {
		return nil, fmt.Errorf("add phone %q: %w", phone.Mask(number), ErrBadNumber)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.phones[number]; ok {
		return nil, fmt.Errorf("add phone %s: already on the network", phone.Mask(number))
	}
	p := &Phone{net: n, number: number, behavior: b}
	n.phones[number] = p
	return p, nil
}

// Phone returns the phone with that E.164 number, or nil.
func (n *Network) Phone(number string) *Phone {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.phones[number]
}

// waitPhone waits until a phone with that number exists (with open
// numbering phones appear on first use).
func (n *Network) waitPhone(ctx context.Context, number string) (*Phone, error) {
	var p *Phone
	err := n.wait(ctx, "phone "+phone.Mask(number), func() bool {
		p = n.phones[number]
		return p != nil
	})
	return p, err
}

// WaitSMS is Phone.WaitSMS for a number whose phone may not exist yet.
func (n *Network) WaitSMS(ctx context.Context, number string, match func(SMS) bool) (SMS, error) {
	p, err := n.waitPhone(ctx, number)
	if err != nil {
		return SMS{}, err
	}
	return p.WaitSMS(ctx, match)
}

// NextCall is Phone.NextCall for a number whose phone may not exist yet.
func (n *Network) NextCall(ctx context.Context, number string) (*Call, error) {
	p, err := n.waitPhone(ctx, number)
	if err != nil {
		return nil, err
	}
	return p.NextCall(ctx)
}

// lookupLocked finds (or, with open numbering, creates) the phone for num.
func (n *Network) lookupLocked(num string) *Phone {
	if p, ok := n.phones[num]; ok {
		return p
	}
	if n.opts.OpenNumbering && num != "" {
		p := &Phone{net: n, number: num, behavior: n.opts.Default}
		n.phones[num] = p
		return p
	}
	return nil
}

func (n *Network) attach(m *Modem) error {
	if m.opts.Number == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.modems[m.opts.Number]; ok {
		return fmt.Errorf("own number %s is already used by another modem", phone.Mask(m.opts.Number))
	}
	n.modems[m.opts.Number] = m
	return nil
}

func (n *Network) detach(m *Modem) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.modems[m.opts.Number] == m {
		delete(n.modems, m.opts.Number)
	}
}

// CallModem makes a call from a phone number to the modem whose own number
// (Options.Number) is to. The modem rings until it answers (ATA), rejects
// (ATH/AT+CHUP) or ringFor passes. Call.PressKeys and Call.Hangup act for the caller.
func (n *Network) CallModem(ctx context.Context, from, to string, ringFor time.Duration) (*Call, error) {
	if !e164.MatchString(from) {
		return nil, fmt.Errorf("call modem from %q: %w", phone.Mask(from), ErrBadNumber)
	}
	n.mu.Lock()
	m := n.modems[to]
	n.mu.Unlock()
	if m == nil {
		return nil, fmt.Errorf("call modem: no modem has the number %s", phone.Mask(to))
	}
	if ringFor <= 0 {
		ringFor = n.opts.NoAnswerTimeout
	}
	c := &Call{To: to, From: from, Modem: m.opts.IMEI, Incoming: true, net: n, m: m}
	if err := m.do(ctx, func(s *state) error { return s.incoming(c, ringFor) }); err != nil {
		return nil, err
	}
	return c, nil
}

// SendToModem sends an SMS from a phone number to the modem whose own
// number (Options.Number) is to; long texts arrive as several segments.
func (n *Network) SendToModem(ctx context.Context, from, to, text string) error {
	if !e164.MatchString(from) {
		return fmt.Errorf("send to modem from %q: %w", phone.Mask(from), ErrBadNumber)
	}
	n.mu.Lock()
	m := n.modems[to]
	n.mu.Unlock()
	if m == nil {
		return fmt.Errorf("send to modem: no modem has the number %s", phone.Mask(to))
	}
	return m.do(ctx, func(s *state) error { return s.deliverMT(from, text) })
}

// Subscribe returns a channel of network events that is closed when ctx ends.
// Events are dropped when the subscriber falls more than 64 behind.
func (n *Network) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, 64)
	n.mu.Lock()
	n.subSeq++
	id := n.subSeq
	n.subs[id] = ch
	n.mu.Unlock()
	context.AfterFunc(ctx, func() {
		n.mu.Lock()
		delete(n.subs, id)
		close(ch)
		n.mu.Unlock()
	})
	return ch
}

func (n *Network) publishLocked(ev Event) {
	for _, ch := range n.subs {
		select {
		case ch <- ev:
		default:
		}
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// wait blocks until check (called with n.mu held) returns true.
func (n *Network) wait(ctx context.Context, what string, check func() bool) error {
	for {
		n.mu.Lock()
		if check() {
			n.mu.Unlock()
			return nil
		}
		ch := n.changed
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		}
	}
}

// submitDelay draws the radio-path latency of one SMS submit.
func (n *Network) submitDelay() time.Duration {
	d := n.opts.SubmitLatency
	if j := n.opts.SubmitJitter; j > 0 {
		n.mu.Lock()
		d += time.Duration(n.rnd.Int64N(int64(2*j)+1)) - j
		n.mu.Unlock()
	}
	return max(d, 0)
}

// deliverSegment hands one SMS-SUBMIT segment to the network and returns the
// TP-Status its status report will carry. Complete messages are recorded on
// the destination phone.
func (n *Network) deliverSegment(from *Modem, t *tpdu.TPDU, now time.Time) byte {
	to := n.normalize(t.DA.Number())
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.lookupLocked(to)
	if p == nil {
		return StatusNotObtainable
	}
	if p.behavior.Answer == Unreachable {
		return StatusExpired
	}
	segs := []*tpdu.TPDU{t}
	if total, seq, ref, ok := t.ConcatInfo(); ok && total > 1 {
		key := concatKey{modem: from.opts.IMEI, to: to, ref: ref}
		pm := n.partial[key]
		if pm == nil {
			if len(n.partial) >= 256 { // bound memory: forget the oldest partial message
				var oldest concatKey
				var ot time.Time
				for k, v := range n.partial {
					if ot.IsZero() || v.first.Before(ot) {
						oldest, ot = k, v.first
					}
				}
				delete(n.partial, oldest)
			}
			pm = &partialMsg{segs: make([]*tpdu.TPDU, total), first: now}
			n.partial[key] = pm
		}
		if seq < 1 || seq > len(pm.segs) {
			return StatusDelivered // malformed concat info: the SC accepts, the phone drops it
		}
		pm.segs[seq-1] = t
		for _, s := range pm.segs {
			if s == nil {
				return StatusDelivered
			}
		}
		delete(n.partial, key)
		segs = pm.segs
	}
	text, err := sms.Decode(segs)
	if err != nil {
		n.log.Warn("undecodable sms", "to", phone.Mask(to), "err", err)
		text = nil
	}
	a, _ := t.Alphabet()
	msg := SMS{
		To: to, From: from.opts.Number, Modem: from.opts.IMEI, Text: string(text),
		Parts: len(segs), UCS2: a == tpdu.AlphaUCS2,
		Report: t.FirstOctet&0x20 != 0, Received: now,
	}
	p.keepSMS(msg)
	n.log.Debug("sms delivered", "to", phone.Mask(to), "parts", msg.Parts, "modem", from.opts.IMEI)
	n.publishLocked(Event{Kind: "sms", Number: to, SMS: &msg})
	return StatusDelivered
}

// deliverText records a text-mode SMS (always a single part).
func (n *Network) deliverText(from *Modem, to, text string, ucs2, report bool, now time.Time) byte {
	to = n.normalize(to)
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.lookupLocked(to)
	if p == nil {
		return StatusNotObtainable
	}
	if p.behavior.Answer == Unreachable {
		return StatusExpired
	}
	msg := SMS{To: to, From: from.opts.Number, Modem: from.opts.IMEI, Text: text, Parts: 1,
		UCS2: ucs2, Report: report, Received: now}
	p.keepSMS(msg)
	n.publishLocked(Event{Kind: "sms", Number: to, SMS: &msg})
	return StatusDelivered
}

// dial creates a call; known is false when the number does not exist.
func (n *Network) dial(m *Modem, number string) (c *Call, b Behavior, known bool) {
	to := n.normalize(number)
	n.mu.Lock()
	defer n.mu.Unlock()
	c = &Call{To: to, From: m.opts.Number, Modem: m.opts.IMEI, net: n, m: m}
	p := n.lookupLocked(to)
	if p == nil {
		return c, Behavior{Answer: Unreachable}, false
	}
	p.calls = append(p.calls, c)
	if len(p.calls) > maxKept {
		p.calls = p.calls[1:]
		p.nextCall = max(p.nextCall-1, 0)
	}
	n.publishLocked(Event{Kind: "call", Number: to, Call: c, State: CallDialing})
	return c, p.behavior, true
}

func (n *Network) setCallState(c *Call, st CallState, reason EndReason) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.state == CallEnded {
		return
	}
	c.state = st
	if st == CallEnded {
		c.reason = reason
	}
	n.publishLocked(Event{Kind: "call", Number: c.To, Call: c, State: st})
}

func (n *Network) addPrompt(c *Call, p Prompt) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c.prompts = append(c.prompts, p)
	n.publishLocked(Event{Kind: "call", Number: c.To, Call: c, State: c.state})
}

func (n *Network) addPressed(c *Call, d string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c.pressed += d
	n.publishLocked(Event{Kind: "call", Number: c.To, Call: c, State: c.state})
}

// maxKept bounds what a phone remembers (a long-running modemsim).
const maxKept = 1000

// keepSMS records a message, forgetting the oldest beyond maxKept (n.mu held).
func (p *Phone) keepSMS(m SMS) {
	p.inbox = append(p.inbox, m)
	if len(p.inbox) > maxKept {
		p.inbox = p.inbox[1:]
		p.nextSMS = max(p.nextSMS-1, 0)
	}
}

// Number returns the phone's E.164 number.
func (p *Phone) Number() string { return p.number }

// SetBehavior changes how the phone reacts to later calls (and whether SMS reach it).
func (p *Phone) SetBehavior(b Behavior) {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	p.behavior = b
}

// Messages returns the SMS received so far (the last 1000), oldest first.
func (p *Phone) Messages() []SMS {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	return append([]SMS(nil), p.inbox...)
}

// WaitSMS returns the first received SMS (already there or still to come)
// for which match returns true; a nil match accepts any.
func (p *Phone) WaitSMS(ctx context.Context, match func(SMS) bool) (SMS, error) {
	var got SMS
	err := p.net.wait(ctx, "sms to "+phone.Mask(p.number), func() bool {
		for _, m := range p.inbox {
			if match == nil || match(m) {
				got = m
				return true
			}
		}
		return false
	})
	return got, err
}

// NextSMS returns the oldest SMS not yet returned by NextSMS, waiting for one.
func (p *Phone) NextSMS(ctx context.Context) (SMS, error) {
	var got SMS
	err := p.net.wait(ctx, "sms to "+phone.Mask(p.number), func() bool {
		if p.nextSMS < len(p.inbox) {
			got = p.inbox[p.nextSMS]
			p.nextSMS++
			return true
		}
		return false
	})
	return got, err
}

// Calls returns the calls made to this phone so far.
func (p *Phone) Calls() []*Call {
	p.net.mu.Lock()
	defer p.net.mu.Unlock()
	return append([]*Call(nil), p.calls...)
}

// NextCall returns the oldest call not yet returned by NextCall once it rings
// (or has already ended without ringing), waiting for one.
func (p *Phone) NextCall(ctx context.Context) (*Call, error) {
	var got *Call
	err := p.net.wait(ctx, "call to "+phone.Mask(p.number), func() bool {
		if p.nextCall < len(p.calls) && p.calls[p.nextCall].state != CallDialing {
			got = p.calls[p.nextCall]
			p.nextCall++
			return true
		}
		return false
	})
	return got, err
}

// State returns the call's current state.
func (c *Call) State() CallState {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return c.state
}

// EndReason returns why the call ended ("" while it lasts).
func (c *Call) EndReason() EndReason {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return c.reason
}

// Pressed returns the keypad digits the callee has pressed so far.
func (c *Call) Pressed() string {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return c.pressed
}

// Prompts returns what the modem played into the call so far.
func (c *Call) Prompts() []Prompt {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	return append([]Prompt(nil), c.prompts...)
}

// WaitState waits until the call is in state st, or has ended.
func (c *Call) WaitState(ctx context.Context, st CallState) (CallState, error) {
	var got CallState
	err := c.net.wait(ctx, "call state "+st.String(), func() bool {
		got = c.state
		return c.state == st || c.state == CallEnded
	})
	return got, err
}

// WaitPrompt waits until at least n prompts have been played and returns the n-th (1-based).
func (c *Call) WaitPrompt(ctx context.Context, n int) (Prompt, error) {
	var got Prompt
	err := c.net.wait(ctx, "prompt", func() bool {
		if len(c.prompts) >= n && n > 0 {
			got = c.prompts[n-1]
			return true
		}
		return false
	})
	return got, err
}

// Answer picks up a ringing call (for phones with the Manual behaviour).
func (c *Call) Answer(ctx context.Context) error {
	return c.m.do(ctx, func(s *state) error { return s.remoteAnswer(c) })
}

// PressKeys presses keypad digits (0-9, *, #, A-D) during an active call.
func (c *Call) PressKeys(ctx context.Context, digits string) error {
	for _, r := range digits {
		if !strings.ContainsRune("0123456789*#ABCD", r) {
			return fmt.Errorf("press keys: %q is not a DTMF key (want 0-9, *, #, A-D)", r)
		}
	}
	return c.m.do(ctx, func(s *state) error { return s.remoteKeys(c, digits) })
}

// Hangup ends the call from the callee's side.
func (c *Call) Hangup(ctx context.Context) error {
	return c.m.do(ctx, func(s *state) error { return s.remoteHangup(c) })
}
