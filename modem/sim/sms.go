package sim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// pduInput collects an SMS body typed after the "> " prompt.
type pduInput struct {
	text   bool // text mode (AT+CMGF=1): buf is the message, to the address
	to     string
	length int // PDU mode: declared TPDU length
	buf    []byte
	over   bool
	cancel bool
}

const maxBody = 1024

// storedMsg is a status report or a received SMS kept in the "ME" store.
type storedMsg struct {
	deliver bool   // a received SMS-DELIVER (else a status report)
	oa      string // deliver: originator
	text    string // deliver: the segment's text
	idx     int
	hex     string // SMSC + TPDU, as AT+CMGR shows it in PDU mode
	tpduLen int
	read    bool
	mr      int
	ra      string
	scts    time.Time
	dt      time.Time
	st      byte
}

const storeSize = 50

func (s *state) cmgs(c cmd, x *exchange) error {
	switch c.op {
	case 't':
		return nil
	case '=':
	default:
		return errPlain
	}
	if err := s.simErr(true); err != nil {
		return err
	}
	if s.set.cmgf == 0 {
		v, err := c.ints(1, 1, 1, 176)
		if err != nil {
			return cms(304)
		}
		s.pdu = &pduInput{length: v[0]}
	} else {
		a := c.args()
		if len(a) < 1 || len(a) > 2 || a[0] == "" {
			return cms(305)
		}
		to := a[0]
		if s.set.cscs == "UCS2" {
			t, err := ttsText("1", to)
			if err != nil {
				return cms(305)
			}
			to = t
		}
		s.pdu = &pduInput{text: true, to: to}
	}
	x.raw = []byte("\r\n> ")
	return nil
}

// pduByte takes one byte of an SMS body; it reports true at Ctrl-Z or ESC.
func (s *state) pduByte(c byte, echo *[]byte) bool {
	p := s.pdu
	switch c {
	case 0x1a:
		return true
	case 0x1b:
		p.cancel = true
		return true
	case '\r', '\n':
		if p.text && c == '\r' {
			p.buf = append(p.buf, '\n')
			*echo = append(*echo, "\r\n> "...)
		}
		return false
	}
	if len(p.buf) < maxBody {
		p.buf = append(p.buf, c)
	} else {
		p.over = true
	}
	*echo = append(*echo, c)
	return false
}

func (s *state) finishPDU() {
	p := s.pdu
	s.pdu = nil
	if p.cancel {
		s.respond([]byte("\r\nOK\r\n"), 0, nil, nil)
		return
	}
	var (
		mr    int
		extra time.Duration
		then  func()
		err   error
	)
	if p.text {
		mr, extra, then, err = s.submitText(p)
	} else {
		mr, extra, then, err = s.submitPDU(p)
	}
	if err != nil {
		s.m.count(func(c *Counters) { c.SMSRejected++ })
		s.respond([]byte("\r\n"+s.finalFor(err)+"\r\n"), 0, nil, nil)
		return
	}
	s.m.count(func(c *Counters) { c.SMSSubmitted++ })
	s.respond([]byte(fmt.Sprintf("\r\n+CMGS: %d\r\n\r\nOK\r\n", mr)), extra, then, nil)
}

// sendable checks the conditions every submit shares.
func (s *state) sendable() error {
	if err := s.simErr(true); err != nil {
		return err
	}
	if !s.registered() {
		return cms(331)
	}
	if s.failSends > 0 {
		s.failSends--
		return cms(s.failCMS)
	}
	return nil
}

func (s *state) nextMR() int {
	s.mr = (s.mr + 1) % 256
	return s.mr
}

// decodeSubmit parses "<SMSC><TPDU>" hex as typed after AT+CMGS=<length>.
func decodeSubmit(hexText string, length int) (*pdumode.PDU, *tpdu.TPDU, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(hexText))
	if err != nil {
		return nil, nil, fmt.Errorf("pdu is not hex: %w", err)
	}
	p, err := pdumode.UnmarshalBinary(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("pdu smsc: %w", err)
	}
	if len(p.TPDU) != length {
		return nil, nil, fmt.Errorf("AT+CMGS=%d but the TPDU has %d octets", length, len(p.TPDU))
	}
	t, err := sms.Unmarshal(p.TPDU, sms.AsMO)
	if err != nil {
		return nil, nil, fmt.Errorf("tpdu: %w", err)
	}
	if t.SmsType() != tpdu.SmsSubmit {
		return nil, nil, fmt.Errorf("tpdu is %v, not SMS-SUBMIT", t.SmsType())
	}
	if t.DA.Addr == "" {
		return nil, nil, fmt.Errorf("tpdu has no destination address")
	}
	return p, t, nil
}

func (s *state) submitPDU(p *pduInput) (int, time.Duration, func(), error) {
	if p.over {
		return 0, 0, nil, cms(304)
	}
	pdu, t, err := decodeSubmit(string(p.buf), p.length)
	if err != nil {
		s.m.log.Debug("sms submit rejected", "err", err)
		return 0, 0, nil, cms(304)
	}
	if err := s.sendable(); err != nil {
		return 0, 0, nil, err
	}
	if pdu.SMSC.Addr == "" && s.set.csca == "" {
		return 0, 0, nil, cms(330)
	}
	mr := s.nextMR()
	srr := t.FirstOctet&0x20 != 0
	to := t.DA.Number()
	submitted := time.Now()
	then := func() {
		st := s.m.net.deliverSegment(s.m, t, time.Now())
		if srr {
			s.scheduleReport(mr, to, submitted, st, 0)
		}
	}
	return mr, s.m.net.submitDelay(), then, nil
}

func (s *state) submitText(p *pduInput) (int, time.Duration, func(), error) {
	if p.over {
		return 0, 0, nil, cms(305)
	}
	text := string(p.buf)
	ucs2 := s.set.cscs == "UCS2"
	if ucs2 {
		t, err := ttsText("1", text)
		if err != nil {
			return 0, 0, nil, cms(305)
		}
		text = t
	}
	if err := s.sendable(); err != nil {
		return 0, 0, nil, err
	}
	if s.set.csca == "" {
		return 0, 0, nil, cms(330)
	}
	mr := s.nextMR()
	srr := s.set.fo&0x20 != 0
	to := p.to
	submitted := time.Now()
	then := func() {
		st := s.m.net.deliverText(s.m, to, text, ucs2, srr, time.Now())
		if srr {
			s.scheduleReport(mr, to, submitted, st, 0)
		}
	}
	return mr, s.m.net.submitDelay(), then, nil
}

func (s *state) scheduleReport(mr int, to string, submitted time.Time, st byte, tries int) {
	d := s.m.net.opts.ReportDelay
	if tries > 0 {
		d = 200 * time.Millisecond
	}
	s.after(d, "report", func() { s.statusReport(mr, to, submitted, st, tries) })
}

// statusReport routes (+CDS), indicates (+CDSI) or silently stores a report
// per AT+CNMI's <ds>.
func (s *state) statusReport(mr int, to string, submitted time.Time, st byte, tries int) {
	if s.ptm == nil || s.booting {
		if tries < 3000 { // the network keeps a report for about ten minutes
			s.scheduleReport(mr, to, submitted, st, tries+1)
		}
		return
	}
	now := time.Now()
	t := tpdu.TPDU{Direction: tpdu.MT}
	if err := t.SetSmsType(tpdu.SmsStatusReport); err != nil {
		s.m.log.Error("status report", "err", err)
		return
	}
	t.MR = byte(mr)
	t.RA = tpdu.NewAddress(tpdu.FromNumber(strings.TrimPrefix(to, "+")))
	if !strings.HasPrefix(to, "+") {
		t.RA.SetTypeOfNumber(tpdu.TonUnknown)
	}
	t.SCTS = tpdu.Timestamp{Time: submitted}
	t.DT = tpdu.Timestamp{Time: now}
	t.ST = st
	tb, err := t.MarshalBinary()
	if err != nil {
		s.m.log.Error("status report", "err", err)
		return
	}
	smsc := pdumode.SMSCAddress{Address: tpdu.NewAddress(tpdu.FromNumber(strings.TrimPrefix(s.m.opts.SMSC, "+")))}
	pdu := pdumode.PDU{SMSC: smsc, TPDU: tb}
	hx, err := pdu.MarshalHexString()
	if err != nil {
		s.m.log.Error("status report", "err", err)
		return
	}
	hx = strings.ToUpper(hx)
	s.m.count(func(c *Counters) { c.StatusReports++ })
	rep := storedMsg{hex: hx, tpduLen: len(tb), mr: mr, ra: to, scts: submitted, dt: now, st: st}
	switch s.set.cnmi[3] {
	case 1:
		if s.set.cmgf == 0 {
			s.routed(rep, fmt.Sprintf("+CDS: %d", len(tb)), hx)
		} else {
			s.routed(rep, fmt.Sprintf(`+CDS: 6,%d,"%s",%d,"%s","%s",%d`, mr, to, numType(to), scts(submitted), scts(now), st))
		}
	case 2:
		if idx, ok := s.storeMsg(rep); ok {
			s.urc(fmt.Sprintf(`+CDSI: "ME",%d`, idx))
		}
	default:
		s.storeMsg(rep)
	}
}

// routedMsg is a routed message waiting for the previous one's AT+CNMA.
type routedMsg struct {
	lines []string
	msg   storedMsg // stored instead when routing gets disabled
}

// routed emits a routed message (+CDS, +CMT). With AT+CSMS=1 the client
// must acknowledge each with AT+CNMA within AckTimeout; the network sends
// the next one only after the acknowledgement. Without it the network gets
// RP-ERROR and the modem turns routing off (27.005 §3.4.4): what is still
// queued is stored instead.
func (s *state) routed(msg storedMsg, lines ...string) {
	if s.set.csms == 1 && s.awaitAck {
		if len(s.routeQueue) < storeSize {
			s.routeQueue = append(s.routeQueue, routedMsg{lines: lines, msg: msg})
		}
		return
	}
	s.urcBlock(lines...)
	if s.set.csms != 1 {
		return
	}
	s.awaitAck = true
	s.ackSeq++
	seq := s.ackSeq
	s.after(s.m.opts.AckTimeout, "ack", func() {
		if s.awaitAck && s.ackSeq == seq {
			s.disableRouting()
		}
	})
}

// routeNext sends the next queued routed message after an AT+CNMA.
func (s *state) routeNext() {
	if !s.awaitAck && len(s.routeQueue) > 0 {
		next := s.routeQueue[0]
		s.routeQueue = s.routeQueue[1:]
		s.routed(next.msg, next.lines...)
	}
}

func scts(t time.Time) string { return t.Format("06/01/02,15:04:05") + "+00" }

func (s *state) disableRouting() {
	s.awaitAck = false
	s.set.cnmi[1], s.set.cnmi[3] = 0, 0
	for _, q := range s.routeQueue {
		s.storeMsg(q.msg)
	}
	s.routeQueue = nil
	s.m.log.Warn("routed message not acknowledged with AT+CNMA; routing disabled")
}

// urcBlock emits a multi-line URC as one frame (+CDS: <len> / <pdu>).
func (s *state) urcBlock(lines ...string) {
	s.urc(strings.Join(lines, "\r\n"))
}

func (s *state) storeMsg(r storedMsg) (int, bool) {
	if len(s.store) >= storeSize {
		s.m.log.Warn("message store full; message dropped")
		return 0, false
	}
	used := map[int]bool{}
	for _, e := range s.store {
		used[e.idx] = true
	}
	for i := 0; i < storeSize; i++ {
		if !used[i] {
			r.idx = i
			break
		}
	}
	s.store = append(s.store, r)
	return r.idx, true
}

func (s *state) findMsg(idx int) *storedMsg {
	for i := range s.store {
		if s.store[i].idx == idx {
			return &s.store[i]
		}
	}
	return nil
}

func (s *state) msgLines(r *storedMsg, head string) []string {
	stat := b2i(r.read)
	if s.set.cmgf == 0 {
		return []string{fmt.Sprintf("%s%d,,%d", head, stat, r.tpduLen), r.hex}
	}
	st := "REC UNREAD"
	if r.read {
		st = "REC READ"
	}
	if r.deliver {
		text := r.text
		if s.set.cscs == "UCS2" {
			text = ucs2Hex(text)
		}
		return []string{fmt.Sprintf(`%s"%s","%s",,"%s"`, head, st, r.oa, scts(r.scts)), text}
	}
	return []string{fmt.Sprintf(`%s"%s",6,%d,"%s",%d,"%s","%s",%d`, head, st, r.mr, r.ra, numType(r.ra), scts(r.scts), scts(r.dt), r.st)}
}

func (s *state) cmgr(c cmd, x *exchange) error {
	if c.op == 't' {
		return nil
	}
	if c.op != '=' {
		return errPlain
	}
	if err := s.simErr(true); err != nil {
		return err
	}
	v, err := c.ints(1, 1, 0, 9999)
	if err != nil {
		return cms(321)
	}
	r := s.findMsg(v[0])
	if r == nil {
		return cms(321)
	}
	x.add(s.msgLines(r, "+CMGR: ")...)
	r.read = true
	return nil
}

func (s *state) cmgd(c cmd, x *exchange) error {
	if c.op == 't' {
		idx := make([]string, 0, len(s.store))
		for _, r := range s.store {
			idx = append(idx, strconv.Itoa(r.idx))
		}
		x.add(fmt.Sprintf("+CMGD: (%s),(0-4)", strings.Join(idx, ",")))
		return nil
	}
	if c.op != '=' {
		return errPlain
	}
	v, err := c.ints(1, 2, 0, 9999)
	if err != nil || v[0] < 0 {
		return cms(321)
	}
	if len(v) == 2 && v[1] > 0 {
		if v[1] > 4 {
			return cms(321)
		}
		keep := s.store[:0]
		for _, r := range s.store {
			if v[1] == 1 && !r.read {
				keep = append(keep, r)
			}
		}
		s.store = keep
		return nil
	}
	for i, r := range s.store {
		if r.idx == v[0] {
			s.store = append(s.store[:i], s.store[i+1:]...)
			return nil
		}
	}
	return nil // deleting an empty index is not an error on most modems
}

func (s *state) cmgl(c cmd, x *exchange) error {
	if c.op == 't' {
		if s.set.cmgf == 0 {
			x.add("+CMGL: (0-4)")
		} else {
			x.add(`+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")`)
		}
		return nil
	}
	want := 4
	if c.op == '=' {
		a := c.args()
		if len(a) != 1 {
			return cms(302)
		}
		if s.set.cmgf == 0 {
			n, err := strconv.Atoi(a[0])
			if err != nil || n < 0 || n > 4 {
				return cms(302)
			}
			want = n
		} else {
			m := map[string]int{"REC UNREAD": 0, "REC READ": 1, "STO UNSENT": 2, "STO SENT": 3, "ALL": 4}
			n, ok := m[strings.ToUpper(a[0])]
			if !ok {
				return cms(302)
			}
			want = n
		}
	} else if c.op != 0 {
		return errPlain
	}
	if err := s.simErr(true); err != nil {
		return err
	}
	for i := range s.store {
		r := &s.store[i]
		if want == 4 || want == b2i(r.read) {
			x.add(s.msgLines(r, fmt.Sprintf("+CMGL: %d,", r.idx))...)
			r.read = true
		}
	}
	return nil
}

func (s *state) cpms(c cmd, x *exchange) error {
	n := len(s.store)
	switch c.op {
	case '?':
		if err := s.simErr(true); err != nil {
			return err
		}
		x.add(fmt.Sprintf(`+CPMS: "ME",%d,%d,"ME",%d,%d,"ME",%d,%d`, n, storeSize, n, storeSize, n, storeSize))
	case 't':
		x.add(`+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")`)
	case '=':
		if err := s.simErr(true); err != nil {
			return err
		}
		a := c.args()
		if len(a) < 1 || len(a) > 3 {
			return cms(302)
		}
		for _, m := range a {
			switch strings.ToUpper(m) {
			case "SM", "ME", "MT", "SR":
			default:
				return cms(302)
			}
		}
		x.add(fmt.Sprintf("+CPMS: %d,%d,%d,%d,%d,%d", n, storeSize, n, storeSize, n, storeSize))
	default:
		return errPlain
	}
	return nil
}

// ucs2Hex encodes text as UCS-2 hex (used by tests and text mode helpers).
func ucs2Hex(text string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(text)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}

// deliverMT receives an SMS from the network: per AT+CNMI <mt> it is
// stored silently (0), stored and indicated with +CMTI (1), or routed as
// +CMT (2, 3), which AT+CSMS=1 makes the client acknowledge with AT+CNMA.
func (s *state) deliverMT(from, text string) error {
	if s.ptm == nil || s.booting || !s.registered() {
		return errors.New("send to modem: the modem is not reachable")
	}
	segs, err := sms.Encode([]byte(text), sms.From(from), sms.AsDeliver)
	if err != nil {
		return fmt.Errorf("send to modem: encode: %w", err)
	}
	now := time.Now()
	smsc := pdumode.SMSCAddress{Address: tpdu.NewAddress(tpdu.FromNumber(strings.TrimPrefix(s.m.opts.SMSC, "+")))}
	for i := range segs {
		t := &segs[i]
		t.SCTS = tpdu.Timestamp{Time: now}
		tb, err := t.MarshalBinary()
		if err != nil {
			return fmt.Errorf("send to modem: %w", err)
		}
		hx, err := (&pdumode.PDU{SMSC: smsc, TPDU: tb}).MarshalHexString()
		if err != nil {
			return fmt.Errorf("send to modem: %w", err)
		}
		part, _ := sms.Decode([]*tpdu.TPDU{t})
		msg := storedMsg{deliver: true, oa: from, text: string(part), hex: strings.ToUpper(hx), tpduLen: len(tb), scts: now}
		s.m.count(func(c *Counters) { c.SMSReceived++ })
		switch mt := s.set.cnmi[1]; {
		case mt >= 2:
			if s.set.cmgf == 0 {
				s.routed(msg, fmt.Sprintf("+CMT: ,%d", len(tb)), msg.hex)
			} else {
				body := msg.text
				if s.set.cscs == "UCS2" {
					body = ucs2Hex(body)
				}
				s.routed(msg, fmt.Sprintf(`+CMT: "%s",,"%s"`, from, scts(now)), body)
			}
		case mt == 1:
			if idx, ok := s.storeMsg(msg); ok {
				s.urc(fmt.Sprintf(`+CMTI: "ME",%d`, idx))
			}
		default:
			s.storeMsg(msg)
		}
	}
	return nil
}
