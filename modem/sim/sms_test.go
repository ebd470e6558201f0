package sim

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// handPDU is an SMS-SUBMIT built octet by octet (SMSC "00" = use AT+CSCA):
// first octet, MR 00, DA +815012345678, PID 00, DCS 00 (GSM 7-bit), VP FF,
// UDL 11 septets, "code 123456" packed.
func handPDU(fo byte) (string, int) {
	tp := fmt.Sprintf("%02X000C91180521436587"+"0000FF"+"0BE337B90C8AC966B49A0D", fo)
	return "00" + tp, len(tp) / 2
}

// sendPDU submits one PDU and returns the answer lines.
func sendPDU(t *testing.T, c *client, hexPDU string, n int) []string {
	t.Helper()
	if got := c.cmd(fmt.Sprintf("AT+CMGS=%d", n)); last(got) != ">" {
		t.Fatalf("AT+CMGS=%d: %q", n, got)
	}
	return c.cmd(hexPDU + "\x1a")
}

func mrOf(t *testing.T, got []string) int {
	t.Helper()
	for _, l := range got {
		if v, ok := strings.CutPrefix(l, "+CMGS: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no +CMGS in %q", got)
	return 0
}

// encodeSubmit builds SUBMIT PDUs with the warthog618/sms encoder.
func encodeSubmit(t *testing.T, text string, srr bool, opts ...sms.EncoderOption) []string {
	t.Helper()
	pdus, err := sms.Encode([]byte(text), append([]sms.EncoderOption{sms.To(callee), sms.AsSubmit}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pdus {
		if srr {
			p.FirstOctet |= tpdu.FoSRR
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "00"+strings.ToUpper(hex.EncodeToString(b)))
	}
	return out
}

func decodeReport(t *testing.T, hx string) *tpdu.TPDU {
	t.Helper()
	p, err := pdumode.UnmarshalHexString(hx)
	if err != nil {
		t.Fatalf("report pdu %q: %v", hx, err)
	}
	r, err := sms.Unmarshal(p.TPDU, sms.AsMT)
	if err != nil {
		t.Fatalf("report tpdu: %v", err)
	}
	if r.SmsType() != tpdu.SmsStatusReport {
		t.Fatalf("got %v, want a status report", r.SmsType())
	}
	return r
}

func TestSubmitHandBuiltPDU(t *testing.T) {
	m, n, c := startModem(t, "quectel", NetworkOptions{})
	phone := addPhone(t, n, Behavior{})
	hx, l := handPDU(0x11)
	if l != 24 {
		t.Fatalf("hand PDU length %d", l)
	}
	mustOK(t, c, "AT+CMGF=0")
	// The prompt is "\r\n> " with nothing after it.
	c.write("AT+CMGS=24\r")
	c.expect("\r\n> ")
	if extra := c.quiet(50 * time.Millisecond); extra != "" {
		t.Errorf("bytes after the prompt: %q", extra)
	}
	got := c.cmd(hx + "\x1a")
	if mrOf(t, got) != 1 || last(got) != "OK" {
		t.Errorf("submit: %q", got)
	}
	msg, err := phone.NextSMS(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Text != "code 123456" || msg.From != "+819011110000" || msg.Modem != m.IMEI() || msg.Parts != 1 || msg.Report {
		t.Errorf("phone got %+v", msg)
	}
	if mr := mrOf(t, sendPDU(t, c, hx, l)); mr != 2 {
		t.Errorf("second MR %d, want 2", mr)
	}
	m.do(testCtx(t), func(s *state) error { s.mr = 254; return nil })
	if mr := mrOf(t, sendPDU(t, c, hx, l)); mr != 255 {
		t.Errorf("MR %d, want 255", mr)
	}
	if mr := mrOf(t, sendPDU(t, c, hx, l)); mr != 0 {
		t.Errorf("MR after 255 is %d, want 0 (wrap)", mr)
	}
}

func TestSubmitRejects(t *testing.T) {
	_, n, c := startModem(t, "simcom", NetworkOptions{})
	phone := addPhone(t, n, Behavior{})
	hx, l := handPDU(0x11)
	for _, tc := range []struct {
		name string
		pdu  string
		n    int
		want string
	}{
		{"length counts the SMSC octet", hx, l + 1, "+CMS ERROR: 304"},
		{"not hex", "00ZZ", 1, "+CMS ERROR: 304"},
		{"truncated", hx[:20], 9, "+CMS ERROR: 304"},
		{"deliver, not submit", "00" + "04" + hx[4:], l, "+CMS ERROR: 304"},
	} {
		if got := sendPDU(t, c, tc.pdu, tc.n); last(got) != tc.want {
			t.Errorf("%s: %q, want %s", tc.name, got, tc.want)
		}
	}
	// ESC abandons the message.
	c.cmd(fmt.Sprintf("AT+CMGS=%d", l))
	if got := c.cmd(hx + "\x1b"); last(got) != "OK" {
		t.Errorf("ESC: %q", got)
	}
	// No SMSC in the PDU and none configured.
	mustOK(t, c, `AT+CSCA=""`)
	if got := sendPDU(t, c, hx, l); last(got) != "+CMS ERROR: 330" {
		t.Errorf("no SMSC: %q", got)
	}
	if len(phone.Messages()) != 0 {
		t.Errorf("rejected submits reached the phone: %+v", phone.Messages())
	}
	if got := c.cmd("AT+CMGS=0"); last(got) != "+CMS ERROR: 304" {
		t.Errorf("CMGS=0: %q", got)
	}
}

func TestConcatenatedUCS2(t *testing.T) {
	_, n, c := startModem(t, "huawei", NetworkOptions{SubmitLatency: 20 * time.Millisecond, SubmitJitter: 10 * time.Millisecond})
	phone := addPhone(t, n, Behavior{})
	text := strings.Repeat("認証コードは 482913 です。", 6) // > 70 UCS-2 characters: several parts
	pdus := encodeSubmit(t, text, false)           // the encoder picks UCS-2 for Japanese
	if len(pdus) < 2 {
		t.Fatalf("encoder made %d parts", len(pdus))
	}
	for _, p := range pdus {
		if got := sendPDU(t, c, p, len(p)/2-1); last(got) != "OK" {
			t.Fatalf("part: %q", got)
		}
	}
	msg, err := phone.NextSMS(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Text != text || msg.Parts != len(pdus) || !msg.UCS2 {
		t.Errorf("phone got %d parts ucs2=%v %q", msg.Parts, msg.UCS2, msg.Text)
	}
}

func TestTextModeSubmit(t *testing.T) {
	_, n, c := startModem(t, "generic", NetworkOptions{})
	phone := addPhone(t, n, Behavior{})
	mustOK(t, c, "AT+CMGF=1", `AT+CSCS="GSM"`)
	if got := c.cmd(`AT+CMGS="` + callee + `"`); last(got) != ">" {
		t.Fatalf("text CMGS: %q", got)
	}
	if got := c.cmd("code 777111\x1a"); last(got) != "OK" {
		t.Fatalf("text body: %q", got)
	}
	msg, err := phone.NextSMS(testCtx(t))
	if err != nil || msg.Text != "code 777111" || msg.Report {
		t.Fatalf("got %+v, %v", msg, err)
	}
	// fo 49 asks for a status report; text mode routes it as one line.
	mustOK(t, c, "AT+CSMP=49,167,0,0", "AT+CNMI=2,1,0,1,0")
	c.cmd(`AT+CMGS="` + callee + `"`)
	if got := c.cmd("again\x1a"); mrOf(t, got) != 2 {
		t.Fatalf("second text send: %q", got)
	}
	c.expect(`+CDS: 6,2,"` + callee + `",145,"`)
	if line := c.expect("\r\n"); !strings.HasSuffix(line, `",0`+"\r\n") {
		t.Errorf("+CDS text-mode tail %q, want status 0", line)
	}
}

func TestStatusReportRoutedNeedsCNMA(t *testing.T) {
	_, n, c := startModem(t, "quectel", NetworkOptions{ReportDelay: 20 * time.Millisecond},
		func(o *Options) { o.AckTimeout = 150 * time.Millisecond })
	addPhone(t, n, Behavior{})
	mustOK(t, c, "AT+CSMS=1", "AT+CNMI=2,1,0,1,0")
	hx, l := handPDU(0x31) // TP-SRR set
	mr := mrOf(t, sendPDU(t, c, hx, l))
	c.expect("+CDS: ")
	head := c.expect("\r\n")
	length, err := strconv.Atoi(strings.TrimSpace(head))
	if err != nil {
		t.Fatalf("+CDS length %q", head)
	}
	pduLine := strings.TrimSpace(c.expect("\r\n"))
	smscLen, _ := strconv.ParseUint(pduLine[:2], 16, 8)
	if len(pduLine)/2-1-int(smscLen) != length {
		t.Errorf("+CDS length %d does not match the PDU %q", length, pduLine)
	}
	r := decodeReport(t, pduLine)
	if int(r.MR) != mr || r.ST != StatusDelivered || r.RA.Number() != callee {
		t.Errorf("report mr=%d st=%#x ra=%s, want mr=%d delivered to %s", r.MR, r.ST, r.RA.Number(), mr, callee)
	}
	mustOK(t, c, "AT+CNMA")
	if got := c.cmd("AT+CNMA"); last(got) != "+CMS ERROR: 340" {
		t.Errorf("second CNMA: %q", got)
	}
	// Two reports due together: the second waits for the first one's CNMA.
	sendPDU(t, c, hx, l)
	sendPDU(t, c, hx, l)
	c.expect("+CDS: ")
	c.expect("\r\n")
	c.expect("\r\n")
	if out := c.quiet(100 * time.Millisecond); strings.Contains(out, "+CDS") {
		t.Errorf("second +CDS before the first was acknowledged: %q", out)
	}
	c.write("AT+CNMA\r")
	c.expect("OK\r\n")
	c.expect("+CDS: ")
	c.expect("\r\n")
	c.expect("\r\n")
	mustOK(t, c, "AT+CNMA")
	// A report left unacknowledged turns routing off.
	sendPDU(t, c, hx, l)
	c.expect("+CDS: ")
	c.expect("\r\n")
	c.expect("\r\n")
	time.Sleep(300 * time.Millisecond) // past AckTimeout; no timing is asserted
	if got := c.cmd("AT+CNMI?"); got[0] != "+CNMI: 2,0,0,0,0" {
		t.Errorf("after a missing CNMA: %q", got)
	}
}

func TestStatusReportStoredCDSI(t *testing.T) {
	_, n, c := startModem(t, "simcom", NetworkOptions{ReportDelay: 10 * time.Millisecond})
	addPhone(t, n, Behavior{Answer: Unreachable})
	mustOK(t, c, "AT+CNMI=2,1,0,2,0")
	pdus := encodeSubmit(t, "code 1", true)
	mr := mrOf(t, sendPDU(t, c, pdus[0], len(pdus[0])/2-1))
	c.expect(`+CDSI: "ME",0`)
	// A second report, for a number that does not exist.
	unknown := strings.Replace(pdus[0], "180521436587", "180599999999", 1)
	mr2 := mrOf(t, sendPDU(t, c, unknown, len(unknown)/2-1))
	c.expect(`+CDSI: "ME",1`)
	if got := c.cmd("AT+CPMS?"); got[0] != `+CPMS: "ME",2,50,"ME",2,50,"ME",2,50` {
		t.Errorf("CPMS: %q", got)
	}
	for i, want := range []struct {
		mr int
		st byte
	}{{mr, StatusExpired}, {mr2, StatusNotObtainable}} {
		got := c.cmd(fmt.Sprintf("AT+CMGR=%d", i))
		if len(got) != 3 || !strings.HasPrefix(got[0], "+CMGR: 0,,") {
			t.Fatalf("CMGR=%d: %q", i, got)
		}
		r := decodeReport(t, got[1])
		if int(r.MR) != want.mr || r.ST != want.st {
			t.Errorf("report %d: mr=%d st=%#x, want mr=%d st=%#x", i, r.MR, r.ST, want.mr, want.st)
		}
	}
	if got := c.cmd("AT+CMGR=0"); !strings.HasPrefix(got[0], "+CMGR: 1,,") {
		t.Errorf("read report still unread: %q", got)
	}
	mustOK(t, c, "AT+CMGD=0")
	if got := c.cmd("AT+CMGR=0"); last(got) != "+CMS ERROR: 321" {
		t.Errorf("deleted report: %q", got)
	}
	mustOK(t, c, "AT+CMGD=0,4")
	if got := c.cmd("AT+CMGL=4"); len(got) != 1 {
		t.Errorf("store not empty: %q", got)
	}
}

func TestOpenNumberingAndNetworkWait(t *testing.T) {
	_, n, c := startModem(t, "quectel", NetworkOptions{OpenNumbering: true, CountryCode: "81"})
	ctx := testCtx(t)
	got := make(chan SMS, 1)
	go func() {
		msg, err := n.WaitSMS(ctx, "+815012345678", func(m SMS) bool { return strings.Contains(m.Text, "123456") })
		if err == nil {
			got <- msg
		}
		close(got)
	}()
	mustOK(t, c, "AT+CMGF=1")
	c.cmd(`AT+CMGS="05012345678"`) // national format, mapped with the country code
	if r := c.cmd("code 123456\x1a"); last(r) != "OK" {
		t.Fatalf("send: %q", r)
	}
	if msg, ok := <-got; !ok || msg.To != "+815012345678" {
		t.Fatalf("WaitSMS got %+v", msg)
	}
	mustOK(t, c, "ATD09011112222;")
	call, err := n.NextCall(ctx, "+819011112222")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := call.WaitState(ctx, CallActive); st != CallActive {
		t.Errorf("open-numbering phone did not answer: %v", st)
	}
	if _, err := n.AddPhone("0901234", Behavior{}); err == nil {
		t.Error("AddPhone accepted a non-E.164 number")
	}
}

func TestReceivedSMSStored(t *testing.T) {
	_, n, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	mustOK(t, c, "AT+CMGF=1", "AT+CNMI=2,1,0,0,0")
	if err := n.SendToModem(ctx, "+818012345678", "+819011110000", "hello gateway"); err != nil {
		t.Fatal(err)
	}
	c.expect(`+CMTI: "ME",0`)
	got := c.cmd("AT+CMGR=0")
	if len(got) != 3 || !strings.HasPrefix(got[0], `+CMGR: "REC UNREAD","+818012345678",,"`) || got[1] != "hello gateway" {
		t.Errorf("CMGR: %q", got)
	}
	mustOK(t, c, "AT+CMGD=0")
	if err := n.SendToModem(ctx, "+818012345678", "+819099999999", "x"); err == nil {
		t.Error("SendToModem to an unknown number succeeded")
	}
}
