package sim

import (
	"context"
	"os"
	"slices"
	"time"
)

// state is everything the owner goroutine owns. No other goroutine touches it;
// others reach it through Modem.do.
type state struct {
	m   *Modem
	ctx context.Context

	ptm, pts *os.File
	rx       chan []byte   // chunks from the current reader
	stop     chan struct{} // closed to retire the current reader

	timer  *time.Timer
	events []*event
	due    []*event // events of the round fire is running

	// port input
	line     []byte
	overflow bool
	pdu      *pduInput // collecting an SMS body after the "> " prompt
	busy     bool      // an answer is still due; input waits in pending
	pending  []byte
	booting  bool
	hang     bool
	holdURCs bool
	heldURCs []byte

	set settings

	// SMS
	mr         int
	store      []storedMsg
	awaitAck   bool
	ackSeq     int
	routeQueue []routedMsg

	// faults
	failSends, failCMS int
	replyDelay         time.Duration
	reg                int // registration state the network grants (1 home, 5 roaming, 2 searching, 3 denied …)
	rssi               int
	simFault           int

	call    *callState
	playing *playback
	lastEnd EndReason // for AT+CEER
}

// settings are the volatile AT settings, restored by ATZ/AT&F and at boot.
type settings struct {
	echo        bool
	cmee        int
	cmgf        int
	cscs        string
	csms        int
	cnmi        [5]int
	creg, cereg int
	cgreg       int
	colp        int
	cvhu        int
	dsci        bool
	toneDet     bool // Quectel +QTONEDET / Huawei ^DDTMFCFG / generic +DDET
	cdtam       int
	clccURC     bool // SIMCom AT+CLCC=1: call list as URC on every change
	clip, crc   int
	csca        string
	fo          int // text-mode first octet (AT+CSMP)
	cfun        int
}

func (s *state) defaults() settings {
	return settings{
		echo: true, cmee: 1, cmgf: 0, cscs: "GSM",
		cnmi: [5]int{2, 1, 0, 0, 0}, cvhu: 0, csca: s.m.opts.SMSC, fo: 17, cfun: 1,
	}
}

type event struct {
	at        time.Time
	tag       string
	fn        func()
	cancelled bool // removed while already due in the current round
}

func newState(m *Modem, ctx context.Context) *state {
	s := &state{m: m, ctx: ctx, timer: time.NewTimer(time.Hour), reg: 1, rssi: m.opts.RSSI}
	s.timer.Stop()
	s.set = s.defaults()
	return s
}

func (s *state) loop() {
	defer s.shutdown()
	for {
		s.arm()
		select {
		case <-s.ctx.Done():
			return
		case b, ok := <-s.rx:
			if !ok { // the reader died without an unplug: treat the port as gone
				s.rx = nil
				if s.ptm != nil {
					s.m.log.Warn("pty reader stopped; unplugging")
					s.unplug()
				}
				continue
			}
			s.input(b)
		case r := <-s.m.reqs:
			r.errc <- r.fn(s)
		case <-s.timer.C:
			s.fire()
		}
	}
}

func (s *state) shutdown() {
	s.timer.Stop()
	if s.call != nil {
		s.m.net.setCallState(s.call.c, CallEnded, EndModemReset)
		s.call = nil
	}
	if s.ptm != nil {
		s.closePTY()
	}
	os.Remove(s.m.link)
}

// after schedules fn in the owner goroutine d from now.
func (s *state) after(d time.Duration, tag string, fn func()) {
	s.events = append(s.events, &event{at: time.Now().Add(d), tag: tag, fn: fn})
}

func (s *state) cancelEvents(keep func(tag string) bool) {
	s.events = slices.DeleteFunc(s.events, func(e *event) bool {
		e.cancelled = !keep(e.tag)
		return e.cancelled
	})
	for _, e := range s.due {
		if !keep(e.tag) {
			e.cancelled = true
		}
	}
}

func (s *state) arm() {
	s.timer.Stop()
	if len(s.events) == 0 {
		return
	}
	next := s.events[0].at
	for _, e := range s.events[1:] {
		if e.at.Before(next) {
			next = e.at
		}
	}
	s.timer.Reset(max(time.Until(next), 0))
}

func (s *state) fire() {
	now := time.Now()
	// Run due events in time order; events they schedule wait for the next round.
	due := []*event{}
	rest := s.events[:0]
	for _, e := range s.events {
		if !e.at.After(now) {
			due = append(due, e)
		} else {
			rest = append(rest, e)
		}
	}
	s.events = rest
	slices.SortStableFunc(due, func(a, b *event) int { return a.at.Compare(b.at) })
	s.due = due // still cancellable while this round runs
	defer func() { s.due = nil }()
	for _, e := range due {
		if !e.cancelled {
			e.cancelled = true
			e.fn()
		}
	}
}

// plug opens a fresh pty behind the stable link and powers the modem on.
func (s *state) plug() error {
	ptm, pts, err := openPTY()
	if err != nil {
		return err
	}
	if err := replaceLink(pts.Name(), s.m.link); err != nil {
		ptm.Close()
		pts.Close()
		return err
	}
	s.ptm, s.pts = ptm, pts
	s.m.mu.Lock()
	s.m.devPath = pts.Name()
	s.m.mu.Unlock()
	rx, stop := make(chan []byte, 16), make(chan struct{})
	s.rx, s.stop = rx, stop
	s.m.wg.Add(1)
	go func() {
		defer s.m.wg.Done()
		readPTY(ptm, rx, stop)
	}()
	s.reboot()
	return nil
}

// readPTY pumps bytes from the pty master to the owner until the master is closed.
func readPTY(ptm *os.File, rx chan<- []byte, stop <-chan struct{}) {
	defer close(rx)
	buf := make([]byte, 4096)
	for {
		n, err := ptm.Read(buf)
		if n > 0 {
			select {
			case rx <- slices.Clone(buf[:n]):
			case <-stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *state) closePTY() {
	close(s.stop)
	s.ptm.Close()
	s.pts.Close()
	s.ptm, s.pts, s.rx = nil, nil, nil
	s.m.mu.Lock()
	s.m.devPath = ""
	s.m.mu.Unlock()
}

func (s *state) unplug() {
	s.closePTY()
	os.Remove(s.m.link)
	s.powerOff()
	s.m.count(func(c *Counters) { c.Unplugs++ })
	s.m.log.Info("modem unplugged")
}

// powerOff drops everything volatile; status reports stay with the network.
func (s *state) powerOff() {
	s.cancelEvents(func(tag string) bool { return tag == "report" })
	if s.call != nil {
		s.m.net.setCallState(s.call.c, CallEnded, EndModemReset)
		s.call = nil
	}
	s.set = s.defaults()
	s.line, s.overflow, s.pdu = nil, false, nil
	s.busy, s.pending = false, nil
	s.heldURCs = nil
	s.awaitAck = false
	s.routeQueue = nil
	s.playing = nil
	s.hang = false
}

// reboot powers the modem off and on: after BootDelay the boot URCs appear.
func (s *state) reboot() {
	s.powerOff()
	s.booting = true
	s.after(s.m.opts.BootDelay, "boot", s.booted)
}

// booted ends a boot: the boot URCs go out and input is accepted again.
func (s *state) booted() {
	s.cancelEvents(func(tag string) bool { return tag != "boot" })
	s.booting = false
	s.m.count(func(c *Counters) { c.Boots++ })
	for _, u := range s.m.prof.boot {
		s.urc(u)
	}
	if s.reg != 1 {
		s.regURCs()
	}
}

// write sends bytes to the client; with nobody reading, output is dropped
// after a short wait, as a modem's output is lost when no one has the port open.
func (s *state) write(b []byte) {
	if s.ptm == nil || s.hang || len(b) == 0 {
		return
	}
	s.ptm.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
	n, err := s.ptm.Write(b)
	s.m.count(func(c *Counters) { c.BytesOut += int64(n) })
	if err != nil {
		s.m.log.Debug("output dropped", "bytes", len(b)-n, "err", err)
	}
}

// urc emits an unsolicited line with the profile's framing.
func (s *state) urc(line string) {
	frame := "\r\n"
	for p := range s.m.prof.urcCRCRLF {
		if len(line) >= len(p) && line[:len(p)] == p {
			frame = "\r\r\n"
		}
	}
	b := []byte(frame + line + frame)
	s.m.count(func(c *Counters) { c.URCs++ })
	switch {
	case s.booting:
	case s.holdURCs:
		// Held URCs come out inside the next answer.
		if len(s.heldURCs)+len(b) <= maxBuffered {
			s.heldURCs = append(s.heldURCs, b...)
		}
	default:
		// While an answer is due (slow reply, SMS submit) this lands between
		// the echo and the answer, as on real modems.
		s.write(b)
	}
}

func (s *state) input(b []byte) {
	s.m.count(func(c *Counters) { c.BytesIn += int64(len(b)) })
	s.process(b)
}

func (s *state) process(b []byte) {
	if s.hang || s.booting {
		return
	}
	var echo []byte
	flush := func() {
		if len(echo) > 0 && s.set.echo {
			s.write(echo)
		}
		echo = echo[:0]
	}
	for i, c := range b {
		if s.busy {
			flush()
			if room := maxBuffered - len(s.pending); room > 0 { // beyond that, input is lost
				s.pending = append(s.pending, b[i:i+min(room, len(b)-i)]...)
			}
			return
		}
		if s.pdu != nil {
			if done := s.pduByte(c, &echo); done {
				flush()
				s.finishPDU()
			}
			continue
		}
		switch c {
		case '\r':
			echo = append(echo, c)
			flush()
			line := string(s.line)
			over := s.overflow
			s.line, s.overflow = s.line[:0], false
			s.execLine(line, over)
		case '\n':
			echo = append(echo, c)
		case 0x1b: // ESC abandons the line being typed
			s.line = s.line[:0]
		case 0x08, 0x7f:
			if len(s.line) > 0 {
				s.line = s.line[:len(s.line)-1]
			}
			echo = append(echo, c)
		default:
			if len(s.line) < maxLine {
				s.line = append(s.line, c)
			} else {
				s.overflow = true
			}
			echo = append(echo, c)
		}
	}
	flush()
}

const (
	maxLine     = 1024
	maxBuffered = 64 << 10 // input waiting for a slow answer; held URCs
)

// respond writes an answer now, or after the reply delay plus extra.
// before runs just ahead of the write (the network learns of an SMS before
// the client reads +CMGS), then just after it (call-end URCs follow OK).
func (s *state) respond(b []byte, extra time.Duration, before, then func()) {
	if len(s.heldURCs) > 0 {
		// Held URCs go first: after the echo, before the information text.
		b = append(slices.Clone(s.heldURCs), b...)
		s.heldURCs = nil
	}
	send := func() {
		if before != nil {
			before()
		}
		s.write(b)
		if then != nil {
			then()
		}
	}
	d := s.replyDelay + extra
	if d <= 0 {
		send()
		return
	}
	s.busy = true
	s.after(d, "reply", func() {
		s.busy = false
		send()
		if p := s.pending; len(p) > 0 {
			s.pending = nil
			s.process(p)
		}
	})
}
