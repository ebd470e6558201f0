package sim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"mfagate/phone"
)

// callState is the modem side of the current voice call (owner goroutine only).
type callState struct {
	c             *Call
	b             Behavior
	known         bool
	incoming      bool
	id            int // call id in +CLCC / ^DSCI
	stat          int // +CLCC stat: 2 dialing, 3 alerting, 4 incoming, 0 active
	begun         time.Time
	colpPending   bool // ATD's final result waits for the outcome (AT+COLP=1)
	scriptStarted bool
}

func (s *state) dial(arg string, x *exchange) error {
	arg = strings.TrimSpace(arg)
	if !strings.HasSuffix(arg, ";") {
		x.final = "NO CARRIER" // data calls are not simulated
		return nil
	}
	num := strings.ReplaceAll(strings.TrimSuffix(arg, ";"), " ", "")
	if num == "" || strings.HasPrefix(num, ">") {
		return errPlain
	}
	if len(num) > 20 {
		return cme(26)
	}
	for _, r := range num {
		if !strings.ContainsRune("0123456789+*#", r) {
			return cme(27)
		}
	}
	if s.call != nil {
		return cme(3) // call holding is not simulated
	}
	if err := s.simErr(false); err != nil {
		return err
	}
	s.m.count(func(c *Counters) { c.Calls++ })
	if !s.registered() {
		x.final = "NO CARRIER"
		return nil
	}
	c, b, known := s.m.net.dial(s.m, num)
	cs := &callState{c: c, b: b, known: known && c.To != "", id: 1, stat: 2}
	if s.m.prof.psBearer {
		cs.id = 2 // id 1 is the LTE data bearer
	}
	s.call = cs
	if s.set.colp == 1 {
		cs.colpPending = true
		x.noFinal = true
	}
	x.then = func() {
		if s.call != cs {
			return
		}
		switch s.m.prof.name {
		case "quectel":
			s.dsci(cs, 2)
		case "huawei":
			s.urc(fmt.Sprintf("^ORIG:%d,0", cs.id))
		}
		s.clccURC(cs, false)
	}
	s.after(s.m.net.opts.DialDelay, "call", func() { s.alerting(cs) })
	s.m.log.Debug("dialling", "to", phone.Mask(c.To))
	return nil
}

func (s *state) dsci(cs *callState, stat int) {
	if !s.set.dsci {
		return
	}
	s.urc(fmt.Sprintf("^DSCI: %d,%d,%d,0,%s,%d,0", cs.id, b2i(cs.incoming), stat, cs.peer(), numType(cs.peer())))
}

// peer is the other party's number.
func (cs *callState) peer() string {
	if cs.incoming {
		return cs.c.From
	}
	return cs.c.To
}

func (cs *callState) clccLine(stat int) string {
	return fmt.Sprintf("+CLCC: %d,%d,%d,0,0,%q,%d", cs.id, b2i(cs.incoming), stat, cs.peer(), numType(cs.peer()))
}

func numType(n string) int {
	if strings.HasPrefix(n, "+") {
		return 145
	}
	return 129
}

func (s *state) alerting(cs *callState) {
	if s.call != cs {
		return
	}
	switch {
	case !cs.known || cs.b.Answer == Unreachable:
		s.endCall(EndUnreachable, "NO CARRIER")
		return
	case cs.b.Answer == Busy:
		s.endCall(EndBusy, "BUSY")
		return
	}
	cs.stat = 3
	s.m.net.setCallState(cs.c, CallRinging, "")
	switch s.m.prof.name {
	case "quectel":
		s.dsci(cs, 7)
	case "huawei":
		s.urc(fmt.Sprintf("^CONF:%d", cs.id))
	}
	s.clccURC(cs, false)
	if cs.b.Answer == AnswerAfterRing {
		s.after(cs.b.RingFor, "call", func() { s.answered(cs) })
	} else {
		s.after(s.m.net.opts.NoAnswerTimeout, "call", func() {
			if s.call == cs && cs.stat == 3 {
				s.endCall(EndNoAnswer, "NO ANSWER")
			}
		})
	}
}

func (s *state) answered(cs *callState) {
	if s.call != cs || (cs.stat != 3 && cs.stat != 4) {
		return
	}
	s.cancelEvents(func(tag string) bool { return tag != "call" })
	cs.stat = 0
	cs.begun = time.Now()
	s.m.net.setCallState(cs.c, CallActive, "")
	switch s.m.prof.name {
	case "quectel":
		s.dsci(cs, 3)
	case "simcom":
		s.urc("VOICE CALL: BEGIN")
	case "huawei":
		s.urc(fmt.Sprintf("^CONN:%d,0", cs.id))
	}
	s.clccURC(cs, false)
	if cs.colpPending {
		cs.colpPending = false
		s.write([]byte(fmt.Sprintf("\r\n+COLP: %q,%d,,\r\n\r\nOK\r\n", cs.c.To, numType(cs.c.To))))
	}
	if !cs.b.WaitForPrompt || !s.m.prof.prompts {
		// Without prompt playback (Huawei, generic) callees key at once.
		s.startScript(cs)
	}
}

// startScript schedules the callee's key presses and hang-up.
func (s *state) startScript(cs *callState) {
	if cs.scriptStarted {
		return
	}
	cs.scriptStarted = true
	var at time.Duration
	for _, k := range cs.b.Keys {
		at += k.After
		digits := k.Digits
		s.after(at, "call", func() { s.keys(cs, digits) })
	}
	if cs.b.HangupAfter > 0 {
		s.after(at+cs.b.HangupAfter, "call", func() {
			if s.call == cs {
				s.endCall(EndRemoteHangup, "NO CARRIER")
			}
		})
	}
}

// keys delivers far-end key presses as the profile's DTMF URCs.
func (s *state) keys(cs *callState, digits string) {
	if s.call != cs || cs.stat != 0 {
		return
	}
	s.m.net.addPressed(cs.c, digits)
	p := s.m.prof
	if !s.set.toneDet && !p.dtmfDefault {
		return // detection not enabled: the tones go unheard
	}
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		switch p.name {
		case "quectel":
			s.urc(fmt.Sprintf("+QTONEDET: %d", d))
		case "simcom":
			s.urc(fmt.Sprintf("+RXDTMF: %c", d))
		case "huawei":
			s.urc(fmt.Sprintf("^DDTMF: %c", d))
		default:
			s.urc(fmt.Sprintf("+DTMF: %c", d))
		}
		s.m.count(func(c *Counters) { c.DTMF++ })
	}
}

// endCall ends the current call with the vendor's URCs and, unless the
// modem itself hung up, an unsolicited final (BUSY, NO ANSWER, NO CARRIER).
func (s *state) endCall(reason EndReason, final string) {
	cs := s.call
	if cs == nil {
		return
	}
	s.call = nil
	s.lastEnd = reason
	// The network learns first, so whoever sees the URCs sees the ended call.
	s.m.net.setCallState(cs.c, CallEnded, reason)
	s.cancelEvents(func(tag string) bool { return tag != "call" && tag != "giveup" })
	if pb := s.playing; pb != nil && pb.cmd == "+QWTTS" {
		s.urc("+QWTTS: 4111") // interrupted by the call event
	}
	if s.playing != nil && s.playing.cmd != "+QTTS" {
		s.stopPlayback()
	}
	var dur int
	if !cs.begun.IsZero() {
		dur = int(time.Since(cs.begun).Round(time.Second) / time.Second)
	}
	switch s.m.prof.name {
	case "quectel":
		s.dsci(cs, 6)
	case "simcom":
		if !cs.begun.IsZero() {
			s.urc(fmt.Sprintf("VOICE CALL: END: %06d", dur))
		} else if cs.incoming && reason != EndLocalHangup {
			s.urc(fmt.Sprintf("MISSED_CALL: %s %s", time.Now().Format("03:04PM"), cs.peer()))
			final = ""
		}
	case "huawei":
		cause := map[EndReason]int{EndBusy: 17, EndNoAnswer: 19, EndUnreachable: 18}[reason]
		if cause == 0 {
			cause = 16
		}
		s.urc(fmt.Sprintf("^CEND:%d,%d,104,%d", cs.id, dur, cause))
	}
	s.clccURC(cs, true)
	if cs.colpPending && final == "" {
		final = "NO CARRIER"
	}
	if final != "" {
		s.urc(final)
	}
	s.m.log.Debug("call ended", "reason", string(reason), "seconds", dur)
}

func (s *state) hangupLocal() {
	if s.call != nil {
		s.endCall(EndLocalHangup, "")
	}
}

// hangupATH honours AT+CVHU: with CVHU=1 ATH answers OK but does nothing.
func (s *state) hangupATH() {
	if s.set.cvhu == 1 {
		return
	}
	s.hangupLocal()
}

// clccURC reports the call list unsolicited (SIMCom AT+CLCC=1); an ended
// call is listed once with stat 6.
func (s *state) clccURC(cs *callState, ended bool) {
	if !s.set.clccURC {
		return
	}
	stat := cs.stat
	if ended {
		stat = 6
	}
	s.urc(cs.clccLine(stat))
}

func (s *state) clcc() []string {
	var l []string
	if s.m.prof.psBearer && s.registered() {
		l = append(l, `+CLCC: 1,0,0,1,0,"",128`)
	}
	if cs := s.call; cs != nil {
		l = append(l, cs.clccLine(cs.stat))
	}
	return l
}

func (s *state) activeCall(c *Call) (*callState, error) {
	if s.call == nil || s.call.c != c {
		return nil, errors.New("call is no longer in progress")
	}
	return s.call, nil
}

func (s *state) remoteAnswer(c *Call) error {
	cs, err := s.activeCall(c)
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if cs.stat != 3 {
		return errors.New("answer: call is not ringing")
	}
	s.answered(cs)
	return nil
}

func (s *state) remoteKeys(c *Call, digits string) error {
	cs, err := s.activeCall(c)
	if err != nil {
		return fmt.Errorf("press keys: %w", err)
	}
	if cs.stat != 0 {
		return errors.New("press keys: call is not answered")
	}
	s.keys(cs, digits)
	return nil
}

func (s *state) remoteHangup(c *Call) error {
	cs, err := s.activeCall(c)
	if err != nil {
		return fmt.Errorf("hang up: %w", err)
	}
	switch {
	case cs.stat == 0, cs.incoming: // hung up, or the caller gave up
		s.endCall(EndRemoteHangup, "NO CARRIER")
	default:
		s.endCall(EndBusy, "BUSY") // rejected while ringing
	}
	return nil
}

// playing is the playback in progress ("" when idle), owner goroutine only.
type playback struct {
	cmd  string
	done string // completion URC
}

// playback implements the prompt commands: Quectel +QWTTS/+QTTS/+QPSND,
// SIMCom +CTTS/+CCMXPLAY/+CDTAM.
func (s *state) playback(c cmd, x *exchange) error {
	p := s.m.prof.name
	quectel := c.name == "+QWTTS" || c.name == "+QTTS" || c.name == "+QPSND"
	if (quectel && p != "quectel") || (!quectel && p != "simcom") {
		return errPlain
	}
	inCall := s.call != nil && s.call.stat == 0
	busyErr := cme(3)
	notInCall := cme(3)
	badParam := cme(50)
	if quectel {
		busyErr, notInCall, badParam = cme(904), cme(903), cme(902)
	}
	switch c.name {
	case "+CDTAM":
		return s.intSetting(c, x, &s.set.cdtam, 0, 1, "+CDTAM")
	case "+CCMXSTOP":
		if s.playing != nil {
			s.cancelEvents(func(tag string) bool { return tag != "play" })
			s.playing = nil
			x.then = func() { s.urc("+AUDIOSTATE: audio play stop") }
		}
		return nil
	}
	switch c.op {
	case '?':
		x.add(fmt.Sprintf("%s: %d", c.name, b2i(s.playing != nil)))
		return nil
	case 't':
		switch c.name {
		case "+CCMXPLAY":
			x.add("+CCMXPLAY: (0-1),(0-255)")
		case "+CTTS":
			x.add("+CTTS: (0-2)")
		}
		return nil
	case '=':
	default:
		return errPlain
	}
	a := c.args()
	var text, done string
	remote := false
	switch c.name {
	case "+QWTTS": // <ulmute>,<dlmute>,<mode>,<text>
		if len(a) != 4 || (a[0] != "0" && a[0] != "1") || (a[1] != "0" && a[1] != "1") || a[3] == "" {
			return badParam
		}
		var err error
		if text, err = ttsText(a[2], a[3]); err != nil {
			return badParam
		}
		if !inCall {
			return notInCall
		}
		remote, done = a[0] == "1", "+QWTTS: 0"
	case "+QTTS": // <mode>[,<text>] plays on the module's own speaker
		if len(a) == 1 && a[0] == "0" {
			s.stopPlayback()
			return nil
		}
		if len(a) != 2 {
			return badParam
		}
		if _, err := ttsText(a[0], a[1]); err != nil {
			return badParam
		}
		done = "+QTTS: 0"
	case "+QPSND": // <control>,"<file>",<repeat>[,<ulmute>,<dlmute>]
		if len(a) >= 1 && a[0] == "0" {
			s.stopPlayback()
			return nil
		}
		if len(a) < 3 || len(a) > 5 || a[0] != "1" || a[1] == "" {
			return badParam
		}
		if !inCall {
			return notInCall
		}
		text, done = a[1], "+QPSND: 0"
		remote = len(a) == 5 && a[3] == "1"
	case "+CTTS": // <mode>[,<text>]; AT+CDTAM=1 routes it to the far end
		if len(a) == 1 && a[0] == "0" {
			s.stopPlayback()
			return nil
		}
		if len(a) != 2 {
			return badParam
		}
		var err error
		if text, err = ttsText(a[0], a[1]); err != nil {
			return badParam
		}
		remote, done = s.set.cdtam == 1, "+CTTS: 0"
		if remote && !inCall {
			return notInCall
		}
	case "+CCMXPLAY": // "<file>",<play_path>,<repeat>
		if len(a) < 2 || len(a) > 3 || a[0] == "" || (a[1] != "0" && a[1] != "1") {
			return badParam
		}
		text, done = a[0], "+AUDIOSTATE: audio play stop"
		remote = a[1] == "1"
		if remote && !inCall {
			return notInCall
		}
	}
	if s.playing != nil {
		return busyErr
	}
	pb := &playback{cmd: c.name, done: done}
	s.playing = pb
	cs := s.call
	if remote && cs != nil {
		s.m.net.addPrompt(cs.c, Prompt{Command: c.name, Text: text, At: time.Now()})
		s.m.count(func(c *Counters) { c.Prompts++ })
	}
	if c.name == "+CCMXPLAY" {
		x.then = func() { s.urc("+AUDIOSTATE: audio play") }
	}
	s.after(s.m.opts.PromptDuration, "play", func() {
		if s.playing != pb {
			return
		}
		s.playing = nil
		s.urc(pb.done)
		if remote && cs != nil && s.call == cs && cs.b.WaitForPrompt {
			s.startScript(cs)
		}
	})
	return nil
}

func (s *state) stopPlayback() {
	s.cancelEvents(func(tag string) bool { return tag != "play" })
	s.playing = nil
}

// ttsText decodes TTS text: mode 1 is UCS-2 hex, mode 2 ASCII.
func ttsText(mode, text string) (string, error) {
	switch mode {
	case "2":
		return text, nil
	case "1":
		b, err := hex.DecodeString(text)
		if err != nil || len(b)%2 != 0 || len(b) == 0 {
			return "", errors.New("bad UCS2 hex")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	}
	return "", errors.New("bad mode")
}

// incoming rings the modem for a call from the network: RING (or +CRING
// with AT+CRC=1), +CLIP with AT+CLIP=1, Quectel ^DSCI, repeated until ATA,
// a hang-up, or the caller giving up after ringFor.
func (s *state) incoming(c *Call, ringFor time.Duration) error {
	if s.call != nil {
		return errors.New("call modem: the modem is busy with another call")
	}
	if s.ptm == nil || s.booting || !s.registered() {
		return errors.New("call modem: the modem is not reachable")
	}
	cs := &callState{c: c, incoming: true, known: true, id: 1, stat: 4}
	if s.m.prof.psBearer {
		cs.id = 2
	}
	s.call = cs
	s.m.net.setCallState(c, CallRinging, "")
	s.dsci(cs, 4)
	s.clccURC(cs, false)
	interval := s.m.net.opts.RingInterval
	var ring func()
	ring = func() {
		if s.call != cs || cs.stat != 4 {
			return
		}
		if s.set.crc == 1 {
			s.urc("+CRING: VOICE")
		} else {
			s.urc("RING")
		}
		if s.set.clip == 1 {
			s.urc(fmt.Sprintf("+CLIP: %q,%d,,,,0", cs.peer(), numType(cs.peer())))
		}
		s.after(interval, "call", ring)
	}
	ring()
	s.after(ringFor, "giveup", func() {
		if s.call == cs && cs.stat == 4 {
			s.endCall(EndNoAnswer, "NO CARRIER")
		}
	})
	return nil
}

// answerIncoming is ATA.
func (s *state) answerIncoming(x *exchange) error {
	cs := s.call
	if cs == nil || !cs.incoming || cs.stat != 4 {
		x.final = "NO CARRIER"
		return nil
	}
	s.cancelEvents(func(tag string) bool { return tag != "giveup" })
	x.then = func() { s.answered(cs) }
	return nil
}
