package driver

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeModem is a scripted modem on the far side of a pipe. It parses the AT
// commands the driver writes (including the CMGS prompt/PDU/Ctrl-Z exchange)
// and answers from a rule table; tests can also inject URCs at any time.
type fakeModem struct {
	t    testing.TB
	conn io.ReadWriteCloser

	wmu sync.Mutex // serialises writes so replies and URCs do not interleave

	mu    sync.Mutex
	rules map[string][]string
	hook  func(cmd string) ([]string, bool) // dynamic answers; checked first
	cmgs  func(pdu string) []string
	cmds  []string
	pdus  []string
	mr    int

	escOK time.Duration            // >0: answer an ESC outside PDU input with OK after this delay
	delay map[string]time.Duration // reply delay per command ("+CMGS" delays the prompt)

	seen chan string // every command received, for tests that wait on one
	done chan struct{}
}

// newFake returns the fake and the driver's end of the pipe.
func newFake(t testing.TB, profile string) (*fakeModem, net.Conn) {
	t.Helper()
	drv, fk := net.Pipe()
	f := &fakeModem{t: t, conn: fk, rules: baseRules(profile), seen: make(chan string, 256), done: make(chan struct{})}
	go f.serve()
	t.Cleanup(func() {
		fk.Close()
		<-f.done
	})
	return f, drv
}

func baseRules(profile string) map[string][]string {
	r := map[string][]string{
		"Z": {"OK"}, "E0": {"OK"}, "+GCAP": {"+GCAP: +CGSM", "OK"},
		"+CMGF=0": {"OK"}, "+CMEE=1": {"OK"}, "+CNMI=2,0,0,2,0": {"OK"},
		"+CSMS=1": {"+CSMS: 1,1,1", "OK"}, "+CNMI=2,0,0,1,0": {"OK"}, "+CNMA": {"OK"},
		"+COLP=0": {"OK"}, "+CVHU=0": {"OK"},
		"+CGSN": {"867123456789012", "OK"}, "+CIMI": {"440101234567890", "OK"},
		"+CPIN?": {"+CPIN: READY", "OK"}, "+CSQ": {"+CSQ: 17,99", "OK"},
		"+CREG?": {"+CREG: 0,1", "OK"}, "+CEREG?": {"+CEREG: 0,1", "OK"},
		"+COPS?": {`+COPS: 0,0,"NTT DOCOMO",7`, "OK"},
		"+CHUP":  {"OK"}, "H": {"OK"}, "+CLCC": {"OK"}, "+CFUN=1,1": {"OK"},
		"+CCID": {"+CCID: 89811000001234567890", "OK"},
	}
	switch profile {
	case "quectel":
		r["+CGMI"] = []string{"Quectel", "OK"}
		r["+CGMM"] = []string{"EC25", "OK"}
		r["+CGMR"] = []string{"Revision: EC25ECGAR06A04M1G", "OK"}
		r["^DSCI=1"] = []string{"OK"}
		r["+QTONEDET=1"] = []string{"OK"}
		r["+QCCID"] = []string{"+QCCID: 8981100000123456789F", "OK"}
	case "simcom":
		r["+CGMI"] = []string{"SIMCOM INCORPORATED", "OK"}
		r["+CGMM"] = []string{"SIMCOM_SIM7600G-H", "OK"}
		r["+CGMR"] = []string{"+CGMR: LE20B04SIM7600G22", "OK"}
		r["+DDET=1"] = []string{"ERROR"}
		r["+CICCID"] = []string{"ICCID: 89811000001234567891", "OK"}
		r["+CDTAM=1"] = []string{"OK"}
	case "huawei":
		r["+CGMI"] = []string{"huawei", "OK"}
		r["+CGMM"] = []string{"ME909s-120", "OK"}
		r["+CGMR"] = []string{"11.617.01.00.00", "OK"}
		r["^DDTMFCFG=0,1"] = []string{"OK"}
		r["^ICCID?"] = []string{"^ICCID: 89811000001234567892", "OK"}
	default:
		r["+CGMI"] = []string{"Generic", "OK"}
		r["+CGMM"] = []string{"Model X", "OK"}
		r["+CGMR"] = []string{"1.0", "OK"}
	}
	return r
}

// set replaces the answer to cmd.
func (f *fakeModem) set(cmd string, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[cmd] = lines
}

func (f *fakeModem) setCMGS(fn func(pdu string) []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmgs = fn
}

func (f *fakeModem) setHook(h func(cmd string) ([]string, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

func (f *fakeModem) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeModem) sentPDUs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.pdus...)
}

func (f *fakeModem) count(cmd string) int {
	n := 0
	for _, c := range f.commands() {
		if c == cmd {
			n++
		}
	}
	return n
}

// waitFor blocks until the fake has received cmd at least once (bounded).
func (f *fakeModem) waitFor(cmd string) { f.t.Helper(); f.waitCount(cmd, 1) }

// waitCount blocks until the fake has received cmd n times (bounded).
func (f *fakeModem) waitCount(cmd string, n int) {
	f.t.Helper()
	timeout := time.After(5 * time.Second)
	for f.count(cmd) < n {
		select {
		case <-f.seen:
		case <-timeout:
			f.t.Fatalf("fake modem received AT%s %d times, want %d; got %q", cmd, f.count(cmd), n, f.commands())
		}
	}
}

// urc writes unsolicited lines.
func (f *fakeModem) urc(lines ...string) {
	f.write(frame(lines...))
}

func frame(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\r\n" + l + "\r\n")
	}
	return b.String()
}

func (f *fakeModem) write(s string) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if _, err := f.conn.Write([]byte(s)); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		f.t.Logf("fake modem write: %v", err)
	}
}

func (f *fakeModem) serve() {
	defer close(f.done)
	var buf []byte
	pduMode := false
	p := make([]byte, 512)
	for {
		n, err := f.conn.Read(p)
		if err != nil {
			return
		}
		buf = append(buf, p[:n]...)
		for {
			if pduMode {
				i := strings.IndexAny(string(buf), "\x1a\x1b")
				if i < 0 {
					break
				}
				pdu, term := string(buf[:i]), buf[i]
				buf = buf[i+1:]
				pduMode = false
				if term == 0x1b {
					f.write(frame("OK"))
					continue
				}
				f.onPDU(pdu)
				continue
			}
			if len(buf) > 0 && buf[0] == 0x1b {
				f.mu.Lock()
				d := f.escOK
				f.mu.Unlock()
				if d > 0 {
					time.AfterFunc(d, func() { f.write(frame("OK")) })
				}
			}
			buf = []byte(strings.TrimLeft(string(buf), "\r\n\x1b "))
			i := strings.IndexByte(string(buf), '\r')
			if i < 0 {
				break
			}
			line := string(buf[:i])
			buf = buf[i+1:]
			if !strings.HasPrefix(line, "AT") {
				continue
			}
			cmd := line[2:]
			f.mu.Lock()
			f.cmds = append(f.cmds, cmd)
			f.mu.Unlock()
			select {
			case f.seen <- cmd:
			default:
			}
			if strings.HasPrefix(cmd, "+CMGS=") {
				pduMode = true
				f.pause("+CMGS")
				f.write("\r\n> ")
				continue
			}
			f.answer(cmd)
		}
	}
}

// pause waits for the reply delay configured for cmd.
func (f *fakeModem) pause(cmd string) {
	f.mu.Lock()
	d := f.delay[cmd]
	f.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

func (f *fakeModem) setDelay(cmd string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delay == nil {
		f.delay = map[string]time.Duration{}
	}
	f.delay[cmd] = d
}

func (f *fakeModem) answer(cmd string) {
	f.pause(cmd)
	f.mu.Lock()
	hook := f.hook
	lines, ok := f.rules[cmd]
	f.mu.Unlock()
	if hook != nil {
		if l, hok := hook(cmd); hok {
			lines, ok = l, true
		}
	}
	if !ok {
		lines = []string{"ERROR"}
	}
	if len(lines) == 0 {
		return // silent: the driver must time out
	}
	f.write(frame(lines...))
}

func (f *fakeModem) onPDU(pdu string) {
	f.mu.Lock()
	f.pdus = append(f.pdus, pdu)
	f.cmds = append(f.cmds, "<pdu>")
	cmgs := f.cmgs
	f.mr++
	mr := f.mr
	f.mu.Unlock()
	if cmgs != nil {
		if lines := cmgs(pdu); len(lines) > 0 {
			f.write(frame(lines...))
		}
		return
	}
	f.write(frame("+CMGS: "+strconv.Itoa(mr), "OK"))
}

// startModem runs New against the fake and closes the driver at cleanup.
func startModem(t *testing.T, profile string, opts ...Option) (*Modem, *fakeModem) {
	t.Helper()
	f, conn := newFake(t, profile)
	p, err := ProfileByName(profile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := New(ctx, conn, p, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v (commands %q)", profile, err, f.commands())
	}
	t.Cleanup(func() { m.Close() })
	return m, f
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
