package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cmd is one command of an AT command line.
type cmd struct {
	name string // upper case: "E", "&F", "D", "+CMGS", "^DSCI"
	op   byte   // 0 execute, '?' read, '=' set, 't' test (=?)
	arg  string // text after '=' (extended) or after the letter (basic)
}

// args splits a set command's parameters at commas outside quotes and
// removes the quotes.
func (c cmd) args() []string {
	if c.arg == "" {
		return nil
	}
	var out []string
	var cur strings.Builder
	inq := false
	for i := 0; i < len(c.arg); i++ {
		ch := c.arg[i]
		switch {
		case ch == '"':
			inq = !inq
		case ch == ',' && !inq:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// ints parses the first n..max parameters as integers within [lo, hi].
func (c cmd) ints(minN, maxN, lo, hi int) ([]int, error) {
	a := c.args()
	if len(a) < minN || len(a) > maxN {
		return nil, cme(50)
	}
	v := make([]int, len(a))
	for i, s := range a {
		if s == "" {
			v[i] = -1
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return nil, cme(50)
		}
		v[i] = n
	}
	return v, nil
}

// atError is an error final result code.
type atError struct {
	kind byte // 'E' plain ERROR, 'M' +CME ERROR, 'S' +CMS ERROR
	code int
}

func (e *atError) Error() string { return fmt.Sprintf("%c%d", e.kind, e.code) }

var errPlain = &atError{kind: 'E'}

func cme(code int) error { return &atError{kind: 'M', code: code} }
func cms(code int) error { return &atError{kind: 'S', code: code} }

var cmeText = map[int]string{
	0: "phone failure", 3: "operation not allowed", 4: "operation not supported",
	10: "SIM not inserted", 11: "SIM PIN required", 13: "SIM failure", 14: "SIM busy",
	15: "SIM wrong", 21: "invalid index", 30: "no network service", 50: "Incorrect parameters",
	100: "unknown", 902: "invalid parameters", 903: "operation not supported", 904: "audio device busy",
}

// exchange collects the answer to one command line.
type exchange struct {
	blocks  [][]string
	raw     []byte // written instead of a final result (the SMS prompt)
	noFinal bool   // the final result comes later (ATD with COLP=1)
	final   string // a final result other than OK (e.g. NO CARRIER)
	extra   time.Duration
	then    func() // runs after the answer is written
}

func (x *exchange) add(lines ...string) { x.blocks = append(x.blocks, lines) }

func (s *state) finalFor(err error) string {
	e, ok := err.(*atError)
	if !ok {
		return "ERROR"
	}
	s.m.count(func(c *Counters) { c.Errors++ })
	switch e.kind {
	case 'M':
		switch s.set.cmee {
		case 0:
			return "ERROR"
		case 2:
			if t, ok := cmeText[e.code]; ok {
				return "+CME ERROR: " + t
			}
		}
		return "+CME ERROR: " + strconv.Itoa(e.code)
	case 'S':
		// 27.005 defines +CMS ERROR as a final result of its own; AT+CMEE
		// does not suppress it.
		return "+CMS ERROR: " + strconv.Itoa(e.code)
	}
	return "ERROR"
}

func (s *state) record(line string) {
	if len(line) > 200 {
		line = line[:200]
	}
	s.m.mu.Lock()
	s.m.history = append(s.m.history, line)
	if len(s.m.history) > 256 {
		s.m.history = s.m.history[len(s.m.history)-256:]
	}
	s.m.mu.Unlock()
}

// execLine runs one command line and answers it.
func (s *state) execLine(line string, overflow bool) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	s.record(line)
	x := &exchange{}
	var err error
	if overflow || len(line) < 2 || !strings.EqualFold(line[:2], "AT") {
		err = errPlain
	} else {
		err = s.execCommands(line[2:], x)
	}
	var b []byte
	for _, blk := range x.blocks {
		b = append(b, "\r\n"...)
		b = append(b, strings.Join(blk, "\r\n")...)
		b = append(b, "\r\n"...)
	}
	switch {
	case err != nil:
		b = append(b, "\r\n"+s.finalFor(err)+"\r\n"...)
		x.then = nil
	case x.raw != nil:
		b = append(b, x.raw...)
	case x.final != "":
		b = append(b, "\r\n"+x.final+"\r\n"...)
	case !x.noFinal:
		b = append(b, "\r\nOK\r\n"...)
	}
	s.respond(b, x.extra, nil, x.then)
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func digitsPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// execCommands parses and runs the commands after "AT", stopping at the first error.
func (s *state) execCommands(rest string, x *exchange) error {
	for n := 0; len(rest) > 0 && n < 64; n++ {
		c := rest[0]
		var cm cmd
		switch {
		case c == ' ' || c == ';':
			rest = rest[1:]
			continue
		case strings.IndexByte("+^$#%!*", c) >= 0:
			end, inq := len(rest), false
			for i := 0; i < len(rest); i++ {
				if rest[i] == '"' {
					inq = !inq
				} else if rest[i] == ';' && !inq {
					end = i
					break
				}
			}
			var err error
			if cm, err = parseExt(rest[:end]); err != nil {
				return err
			}
			rest = rest[end:]
		case c == '&':
			if len(rest) < 2 {
				return errPlain
			}
			d := digitsPrefix(rest[2:])
			cm = cmd{name: "&" + string(upper(rest[1])), arg: rest[2 : 2+d]}
			rest = rest[2+d:]
		case upper(c) == 'D':
			cm = cmd{name: "D", arg: rest[1:]}
			rest = ""
		case upper(c) == 'S':
			d := digitsPrefix(rest[1:])
			if d == 0 {
				return errPlain
			}
			cm = cmd{name: "S" + rest[1:1+d]}
			rest = rest[1+d:]
			if strings.HasPrefix(rest, "?") {
				cm.op, rest = '?', rest[1:]
			} else if strings.HasPrefix(rest, "=") {
				v := digitsPrefix(rest[1:])
				cm.op, cm.arg, rest = '=', rest[1:1+v], rest[1+v:]
			}
		case upper(c) >= 'A' && upper(c) <= 'Z':
			d := digitsPrefix(rest[1:])
			cm = cmd{name: string(upper(c)), arg: rest[1 : 1+d]}
			rest = rest[1+d:]
		default:
			return errPlain
		}
		s.m.count(func(c *Counters) { c.Commands++ })
		if err := s.exec(cm, x); err != nil {
			return err
		}
	}
	if rest != "" {
		return errPlain // more than 64 commands on one line
	}
	return nil
}

func parseExt(tok string) (cmd, error) {
	i := strings.IndexAny(tok, "=?")
	if i < 0 {
		return cmd{name: strings.ToUpper(strings.TrimSpace(tok))}, nil
	}
	cm := cmd{name: strings.ToUpper(strings.TrimSpace(tok[:i]))}
	switch rest := tok[i:]; {
	case rest == "=?":
		cm.op = 't'
	case rest == "?":
		cm.op = '?'
	case rest[0] == '=':
		cm.op, cm.arg = '=', strings.TrimSpace(rest[1:])
	default:
		return cm, errPlain
	}
	return cm, nil
}

// simErr maps the SIM fault to a +CME or (sms) +CMS error.
func (s *state) simErr(sms bool) error {
	if s.simFault == 0 {
		return nil
	}
	if sms {
		return cms(300 + s.simFault)
	}
	return cme(s.simFault)
}

// resetSettings is ATZ / AT&F: volatile vendor settings (DSCI, QTONEDET,
// CVHU …) are lost too, so drivers must re-send them after a reset.
func (s *state) resetSettings() {
	s.set = s.defaults()
}

func (s *state) exec(c cmd, x *exchange) error {
	p := s.m.prof
	o := &s.m.opts
	switch c.name {
	// --- V.250 basics
	case "E":
		switch c.arg {
		case "", "0":
			s.set.echo = false
		case "1":
			s.set.echo = true
		default:
			return errPlain
		}
	case "V": // ATV is ATV0
		if c.arg != "1" {
			return errPlain // numeric result codes are not simulated
		}
	case "Q":
		if c.arg != "" && c.arg != "0" {
			return errPlain
		}
	case "X", "L", "M":
	case "&C", "&D", "&W", "&K":
	case "Z", "&F":
		s.resetSettings()
	case "I":
		x.add(p.ati(o)...)
	case "H":
		x.then = s.hangupATH // OK first, then the call-end URCs
	case "A":
		return s.answerIncoming(x)
	case "D":
		return s.dial(c.arg, x)

	// --- identity
	case "+CGMI", "+GMI":
		if c.op == 0 {
			x.add(p.manufacturer)
		} else if c.op != 't' {
			return errPlain
		}
	case "+CGMM", "+GMM":
		if c.op == 0 {
			x.add(p.model)
		} else if c.op != 't' {
			return errPlain
		}
	case "+CGMR", "+GMR":
		if c.op == 0 {
			x.add(p.revision)
		} else if c.op != 't' {
			return errPlain
		}
	case "+CGSN", "+GSN":
		if c.op == 0 || c.op == '=' {
			x.add(o.IMEI)
		} else if c.op != 't' {
			return errPlain
		}
	case "+CIMI":
		if c.op == 't' {
			break
		}
		if c.op != 0 {
			return errPlain
		}
		if err := s.simErr(false); err != nil {
			return err
		}
		x.add(o.IMSI)
	case "+GCAP":
		x.add(p.gcap)
	case "+QCCID", "+CICCID", "^ICCID", "+CCID":
		want := p.iccidCmd
		if want == "" {
			want = "+CCID"
		}
		if c.name != want {
			return errPlain
		}
		if c.op == 't' {
			break
		}
		if err := s.simErr(false); err != nil {
			return err
		}
		switch {
		case c.name == "^ICCID" && c.op != '?', c.name != "^ICCID" && c.op == '=':
			return errPlain
		case c.name == "+CCID":
			x.add("+CCID: " + o.ICCID)
		default:
			x.add(p.iccidReply(o.ICCID))
		}

	// --- health
	case "+CSQ":
		switch c.op {
		case 0:
			if s.registered() {
				x.add(fmt.Sprintf("+CSQ: %d,99", s.rssi))
			} else {
				x.add("+CSQ: 99,99")
			}
		case 't':
			x.add("+CSQ: (0-31,99),(0-7,99)")
		default:
			return errPlain
		}
	case "+CREG", "+CEREG", "+CGREG":
		if c.name == "+CEREG" && p.act != 7 {
			return errPlain // a GSM-only modem has no EPS registration
		}
		return s.regCmd(c, x)
	case "+COPS":
		switch c.op {
		case '?':
			if s.registered() {
				x.add(fmt.Sprintf("+COPS: 0,0,%q,%d", o.Operator, p.act))
			} else {
				x.add("+COPS: 0")
			}
		case 't':
			x.add(fmt.Sprintf("+COPS: (2,%q,%q,\"44010\",%d),,(0-4),(0-2)", o.Operator, shortOperator(o.Operator), p.act))
		case '=': // <mode>[,<format>[,"<oper>"[,<AcT>]]]: only the mode is checked
			if a := c.args(); len(a) == 0 || len(a) > 4 || len(a[0]) != 1 || a[0][0] < '0' || a[0][0] > '4' {
				return cme(50)
			}
		default:
			return errPlain
		}
	case "+CPIN":
		switch c.op {
		case '?':
			if err := s.simErr(false); err != nil {
				return err
			}
			x.add("+CPIN: READY")
		case '=':
			if err := s.simErr(false); err != nil {
				return err
			}
			return cme(3) // no PIN is pending
		case 't':
		default:
			return errPlain
		}
	case "+CFUN":
		switch c.op {
		case '?':
			x.add(fmt.Sprintf("+CFUN: %d", s.set.cfun))
		case 't':
			x.add("+CFUN: (0,1,4),(0-1)")
		case '=':
			v, err := c.ints(1, 2, 0, 4)
			if err != nil || v[0] == 2 || v[0] == 3 {
				return cme(50)
			}
			if len(v) == 2 && v[1] == 1 {
				if v[0] != 1 {
					return cme(50)
				}
				x.then = s.reboot
				break
			}
			was := s.registered()
			s.set.cfun = v[0]
			if was != s.registered() {
				s.regURCs()
			}
		default:
			return errPlain
		}
	case "+CMEE":
		return s.intSetting(c, x, &s.set.cmee, 0, 2, "+CMEE")
	case "+CSCS":
		switch c.op {
		case '?':
			x.add(fmt.Sprintf("+CSCS: %q", s.set.cscs))
		case 't':
			x.add(`+CSCS: ("GSM","IRA","UCS2")`)
		case '=':
			a := c.args()
			if len(a) != 1 {
				return cme(50)
			}
			switch v := strings.ToUpper(a[0]); v {
			case "GSM", "IRA", "UCS2":
				s.set.cscs = v
			default:
				return cme(4)
			}
		default:
			return errPlain
		}
	case "+IPR":
		switch c.op {
		case '?':
			x.add("+IPR: 115200")
		case 't':
			x.add("+IPR: (),(300,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800,921600)")
		case '=':
			if _, err := c.ints(1, 1, 0, 4000000); err != nil {
				return err
			}
		default:
			return errPlain
		}
	case "+IFC":
	case "+CLIP":
		if c.op == '?' {
			x.add(fmt.Sprintf("+CLIP: %d,1", s.set.clip))
			return nil
		}
		return s.intSetting(c, x, &s.set.clip, 0, 1, "+CLIP")
	case "+CRC":
		return s.intSetting(c, x, &s.set.crc, 0, 1, "+CRC")
	case "+CMOD":
		if c.op == '?' {
			x.add("+CMOD: 0")
		}
	case "+CUSD":
		if c.op == '?' {
			x.add("+CUSD: 0")
		}
	case "+CMMS":
		return s.intSetting(c, x, new(int), 0, 2, "+CMMS")

	// --- SMS
	case "+CMGF":
		if c.op == 't' {
			x.add("+CMGF: (0,1)")
			return nil
		}
		return s.intSetting(c, x, &s.set.cmgf, 0, 1, "+CMGF")
	case "+CSMS":
		switch c.op {
		case '=':
			v, err := c.ints(1, 1, 0, 1)
			if err != nil {
				return cms(303)
			}
			s.set.csms = v[0]
			x.add("+CSMS: 1,1,1")
		case '?':
			x.add(fmt.Sprintf("+CSMS: %d,1,1,1", s.set.csms))
		case 't':
			x.add("+CSMS: (0,1)")
		default:
			return errPlain
		}
	case "+CNMI":
		switch c.op {
		case '=':
			v, err := c.ints(1, 5, 0, 3)
			if err != nil || (len(v) > 3 && v[3] > 2) || (len(v) > 4 && v[4] > 1) {
				return cms(303)
			}
			for i, n := range v {
				if n >= 0 {
					s.set.cnmi[i] = n
				}
			}
		case '?':
			n := s.set.cnmi
			x.add(fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", n[0], n[1], n[2], n[3], n[4]))
		case 't':
			x.add("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)")
		default:
			return errPlain
		}
	case "+CNMA":
		if c.op == 't' {
			x.add("+CNMA: (0-2)")
			return nil
		}
		if !s.awaitAck {
			return cms(340)
		}
		s.awaitAck = false
		s.ackSeq++           // the ack timer is void
		x.then = s.routeNext // after this OK
	case "+CPMS":
		return s.cpms(c, x)
	case "+CSCA":
		switch c.op {
		case '?':
			if err := s.simErr(true); err != nil {
				return err
			}
			x.add(fmt.Sprintf("+CSCA: %q,145", s.set.csca))
		case '=':
			a := c.args()
			if len(a) < 1 || len(a) > 2 || (a[0] != "" && s.m.net.normalize(a[0]) == "") {
				return cms(304)
			}
			s.set.csca = a[0]
		case 't':
		default:
			return errPlain
		}
	case "+CSMP":
		switch c.op {
		case '=':
			v, err := c.ints(1, 4, 0, 255)
			if err != nil {
				return cms(304)
			}
			if v[0] >= 0 {
				s.set.fo = v[0]
			}
		case '?':
			x.add(fmt.Sprintf("+CSMP: %d,167,0,0", s.set.fo))
		case 't':
		default:
			return errPlain
		}
	case "+CMGS":
		return s.cmgs(c, x)
	case "+CMGR":
		return s.cmgr(c, x)
	case "+CMGD":
		return s.cmgd(c, x)
	case "+CMGL":
		return s.cmgl(c, x)

	// --- voice
	case "+CHUP":
		if c.op == 0 {
			x.then = s.hangupLocal
		} else if c.op != 't' {
			return errPlain
		}
	case "+CVHU":
		if c.op == 't' {
			x.add("+CVHU: (0-1)")
			return nil
		}
		return s.intSetting(c, x, &s.set.cvhu, 0, 1, "+CVHU")
	case "+COLP":
		if c.op == '?' {
			x.add(fmt.Sprintf("+COLP: %d,1", s.set.colp))
			return nil
		}
		return s.intSetting(c, x, &s.set.colp, 0, 1, "+COLP")
	case "+CLCC":
		switch c.op {
		case 0:
			if l := s.clcc(); len(l) > 0 {
				x.add(l...)
			}
		case 't':
			if p.name == "simcom" {
				x.add("+CLCC: (0-1)")
			}
		case '=':
			if p.name != "simcom" {
				return errPlain
			}
			v, err := c.ints(1, 1, 0, 1)
			if err != nil {
				return err
			}
			s.set.clccURC = v[0] == 1
		case '?':
			if p.name != "simcom" {
				return errPlain
			}
			x.add(fmt.Sprintf("+CLCC: %d", b2i(s.set.clccURC)))
		default:
			return errPlain
		}
	case "+CEER":
		if c.op == 0 {
			x.add("+CEER: " + ceerText(s.lastEnd))
		} else if c.op != 't' {
			return errPlain
		}
	case "+VTS":
		if c.op == 't' {
			x.add("+VTS: (0-9,*,#,A-D),(1-255)")
			return nil
		}
		if s.call == nil || s.call.c.State() != CallActive {
			return cme(3)
		}
	case "^DSCI":
		if p.name != "quectel" {
			return errPlain
		}
		return s.boolSetting(c, x, &s.set.dsci, "^DSCI")
	case "+QTONEDET":
		if p.name != "quectel" {
			return errPlain
		}
		return s.boolSetting(c, x, &s.set.toneDet, "+QTONEDET")
	case "^DDTMFCFG":
		if p.name != "huawei" {
			return errPlain
		}
		v, err := c.ints(2, 2, 0, 1)
		if err != nil || c.op != '=' {
			return cme(50)
		}
		s.set.toneDet = v[0] == 0 && v[1] == 1
	case "+DDET":
		if p.name != "generic" {
			return errPlain
		}
		if c.op == '?' {
			x.add(fmt.Sprintf("+DDET: %d,0,0,0", b2i(s.set.toneDet)))
			return nil
		}
		v, err := c.ints(1, 4, 0, 10000)
		if err != nil || c.op != '=' || v[0] > 1 {
			return cme(50)
		}
		s.set.toneDet = v[0] == 1
	case "+QHUP":
		if p.name != "quectel" {
			return errPlain
		}
		if _, err := c.ints(1, 2, 0, 255); err != nil {
			return err
		}
		x.then = s.hangupLocal
	case "+QWTTS", "+QTTS", "+QPSND", "+CTTS", "+CCMXPLAY", "+CCMXSTOP", "+CDTAM":
		return s.playback(c, x)

	// --- vendor housekeeping
	case "+QINISTAT":
		if p.name != "quectel" {
			return errPlain
		}
		x.add("+QINISTAT: 7")
	case "+QURCCFG", "+QINDCFG", "+QCFG":
		if p.name != "quectel" {
			return errPlain
		}
	case "$QCRCIND", "+CPCMREG":
		if p.name != "simcom" {
			return errPlain
		}
	case "^CURC":
		if p.name != "huawei" {
			return errPlain
		}
	default:
		if len(c.name) > 1 && c.name[0] == 'S' && digitsPrefix(c.name[1:]) == len(c.name)-1 { // S-registers
			if c.op == '?' {
				x.add("000")
			}
			return nil
		}
		return errPlain
	}
	return nil
}

// ceerText is the 24.008 cause text of the last call end.
func ceerText(r EndReason) string {
	switch r {
	case EndBusy:
		return "User busy"
	case EndNoAnswer:
		return "No answer"
	case EndUnreachable:
		return "No user responding"
	case EndRemoteHangup, EndLocalHangup:
		return "Normal call clearing"
	}
	return "No cause information available"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func shortOperator(op string) string {
	if f := strings.Fields(op); len(f) > 0 {
		return f[len(f)-1]
	}
	return op
}

func (s *state) intSetting(c cmd, x *exchange, v *int, lo, hi int, name string) error {
	switch c.op {
	case '=':
		n, err := c.ints(1, 1, lo, hi)
		if err != nil {
			return err
		}
		*v = n[0]
	case '?':
		x.add(fmt.Sprintf("%s: %d", name, *v))
	case 't':
		x.add(fmt.Sprintf("%s: (%d-%d)", name, lo, hi))
	default:
		return errPlain
	}
	return nil
}

func (s *state) boolSetting(c cmd, x *exchange, v *bool, name string) error {
	n := b2i(*v)
	if err := s.intSetting(c, x, &n, 0, 1, name); err != nil {
		return err
	}
	*v = n == 1
	return nil
}

// registered reports whether the modem can use the network.
func (s *state) registered() bool {
	return (s.reg == 1 || s.reg == 5) && s.set.cfun == 1 && s.simFault == 0
}

func (s *state) regStat() int {
	switch {
	case s.simFault != 0 || s.set.cfun != 1:
		return 0
	}
	return s.reg
}

func (s *state) regLine(name string, n int, urc bool) string {
	st := s.regStat()
	var b strings.Builder
	b.WriteString(name + ": ")
	if !urc {
		fmt.Fprintf(&b, "%d,", n)
	}
	fmt.Fprintf(&b, "%d", st)
	if n == 2 && (st == 1 || st == 5) {
		fmt.Fprintf(&b, `,"1A2B","01C2D3E4",%d`, s.m.prof.act)
	}
	return b.String()
}

func (s *state) regCmd(c cmd, x *exchange) error {
	n := &s.set.creg
	switch c.name {
	case "+CEREG":
		n = &s.set.cereg
	case "+CGREG":
		n = &s.set.cgreg
	}
	switch c.op {
	case '?':
		x.add(s.regLine(c.name, *n, false))
	case '=':
		v, err := c.ints(1, 1, 0, 2)
		if err != nil {
			return err
		}
		*n = v[0]
	case 't':
		x.add(c.name + ": (0-2)")
	default:
		return errPlain
	}
	return nil
}

// regURCs reports a registration change to clients that asked for it.
func (s *state) regURCs() {
	if s.set.creg > 0 {
		s.urc(s.regLine("+CREG", s.set.creg, true))
	}
	if s.set.cgreg > 0 {
		s.urc(s.regLine("+CGREG", s.set.cgreg, true))
	}
	if s.set.cereg > 0 && s.m.prof.act == 7 {
		s.urc(s.regLine("+CEREG", s.set.cereg, true))
	}
}

func (s *state) setRegistration(stat int) {
	if s.reg == stat {
		return
	}
	s.reg = stat
	if !s.registered() && s.call != nil {
		s.endCall(EndUnreachable, "NO CARRIER")
	}
	s.regURCs()
}
