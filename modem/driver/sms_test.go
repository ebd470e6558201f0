package driver

import (
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// submitPDU is an SMS-SUBMIT decoded by hand (23.040 §9.2.2.2), independently
// of the encoder the driver uses.
type submitPDU struct {
	fo                 byte
	da                 string
	dcs                byte
	concatRef          int // -1 when not concatenated
	concatTotal, seqNo int
	text               string
	tpduLen            int
}

func decodeSubmit(t *testing.T, pduHex string) submitPDU {
	t.Helper()
	b, err := hex.DecodeString(pduHex)
	if err != nil {
		t.Fatalf("PDU not hex: %v", err)
	}
	smscLen := int(b[0])
	b = b[1+smscLen:]
	p := submitPDU{tpduLen: len(b), concatRef: -1}
	p.fo = b[0]
	if p.fo&0x03 != 0x01 {
		t.Fatalf("MTI = %d, want SMS-SUBMIT", p.fo&0x03)
	}
	i := 2 // fo, mr
	ndigits := int(b[i])
	toa := b[i+1]
	i += 2
	var da strings.Builder
	if toa == 0x91 {
		da.WriteByte('+')
	}
	for k := 0; k < (ndigits+1)/2; k++ {
		o := b[i+k]
		da.WriteByte('0' + o&0x0f)
		if hi := o >> 4; hi != 0x0f {
			da.WriteByte('0' + hi)
		}
	}
	p.da = da.String()
	i += (ndigits + 1) / 2
	i++ // PID
	p.dcs = b[i]
	i++
	switch (p.fo >> 3) & 0x03 { // VPF
	case 2:
		i++
	case 1, 3:
		i += 7
	}
	udl := int(b[i])
	i++
	ud := b[i:]
	udhOctets := 0
	if p.fo&0x40 != 0 {
		udhl := int(ud[0])
		h := ud[1 : 1+udhl]
		for j := 0; j+1 < len(h); {
			id, l := h[j], int(h[j+1])
			if id == 0x00 && l == 3 {
				p.concatRef, p.concatTotal, p.seqNo = int(h[j+2]), int(h[j+3]), int(h[j+4])
			}
			j += 2 + l
		}
		udhOctets = 1 + udhl
	}
	switch p.dcs & 0x0c {
	case 0x08: // UCS-2
		body := ud[udhOctets:]
		u := make([]uint16, len(body)/2)
		for k := range u {
			u[k] = uint16(body[2*k])<<8 | uint16(body[2*k+1])
		}
		p.text = string(utf16.Decode(u))
	case 0x00: // GSM-7 packed; the test texts use characters shared with ASCII
		skip := 0
		if udhOctets > 0 {
			skip = (udhOctets*8 + 6) / 7
		}
		var sept []byte
		for k := 0; k < udl; k++ {
			bit := k * 7
			v := uint16(ud[bit/8]) >> (bit % 8)
			if bit%8 > 1 && bit/8+1 < len(ud) {
				v |= uint16(ud[bit/8+1]) << (8 - bit%8)
			}
			sept = append(sept, byte(v&0x7f))
		}
		p.text = string(sept[skip:])
	default:
		t.Fatalf("unexpected DCS %#x", p.dcs)
	}
	return p
}

func TestSendSMS(t *testing.T) {
	m, f := startModem(t, "quectel")
	mrs, err := m.SendSMS(testCtx(t), "+819012345678", "Your code is 123456", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mrs, []int{1}) {
		t.Fatalf("MRs = %v, want [1]", mrs)
	}
	pdus := f.sentPDUs()
	if len(pdus) != 1 {
		t.Fatalf("sent %d PDUs", len(pdus))
	}
	p := decodeSubmit(t, pdus[0])
	if p.da != "+819012345678" || p.text != "Your code is 123456" || p.dcs != 0x00 || p.concatRef != -1 {
		t.Fatalf("decoded PDU %+v", p)
	}
	if p.fo&0x20 == 0 {
		t.Fatalf("TP-SRR not set in first octet %#x", p.fo)
	}
	// AT+CMGS=<n> must count TPDU octets without the SMSC part.
	cmgs := f.commands()[slices.Index(f.commands(), "<pdu>")-1]
	if cmgs != "+CMGS="+strconv.Itoa(p.tpduLen) {
		t.Fatalf("%s for a %d-octet TPDU", cmgs, p.tpduLen)
	}

	if _, err := m.SendSMS(testCtx(t), "+819012345678", "no report", false); err != nil {
		t.Fatal(err)
	}
	if p := decodeSubmit(t, f.sentPDUs()[1]); p.fo&0x20 != 0 {
		t.Fatalf("TP-SRR set without a status report request: %#x", p.fo)
	}
}

func TestSendSMSConcatenatedUCS2(t *testing.T) {
	m, f := startModem(t, "simcom")
	text := strings.Repeat("認証コードは 482913 です。", 8) // 152 UCS-2 characters
	mrs, err := m.SendSMS(testCtx(t), "+819012345678", text, true)
	if err != nil {
		t.Fatal(err)
	}
	pdus := f.sentPDUs()
	if len(pdus) != 3 || !slices.Equal(mrs, []int{1, 2, 3}) {
		t.Fatalf("want 3 parts with MRs 1,2,3; got %d parts, MRs %v", len(pdus), mrs)
	}
	var got strings.Builder
	ref := -2
	for i, h := range pdus {
		p := decodeSubmit(t, h)
		if p.dcs != 0x08 {
			t.Fatalf("part %d DCS %#x, want UCS-2", i+1, p.dcs)
		}
		if p.fo&0x40 == 0 || p.fo&0x20 == 0 {
			t.Fatalf("part %d first octet %#x: want UDHI and SRR", i+1, p.fo)
		}
		if p.concatTotal != 3 || p.seqNo != i+1 {
			t.Fatalf("part %d concat IE %d/%d", i+1, p.seqNo, p.concatTotal)
		}
		if ref != -2 && p.concatRef != ref {
			t.Fatalf("concat reference changed between parts: %d vs %d", p.concatRef, ref)
		}
		ref = p.concatRef
		got.WriteString(p.text)
	}
	if got.String() != text {
		t.Fatalf("reassembled text differs:\n got %q\nwant %q", got.String(), text)
	}
	// A second long message must carry a new concatenation reference.
	if _, err := m.SendSMS(testCtx(t), "+819012345678", text, false); err != nil {
		t.Fatal(err)
	}
	if p := decodeSubmit(t, f.sentPDUs()[3]); p.concatRef == ref {
		t.Fatalf("concat reference %d reused for the next message", ref)
	}
}

func TestSendSMSErrors(t *testing.T) {
	tests := []struct {
		reply     string
		code      int
		transient bool
	}{
		{"+CMS ERROR: 38", 38, true},
		{"+CMS ERROR: 42", 42, true},
		{"+CMS ERROR: 331", 331, true},
		{"+CMS ERROR: 500", 500, true},
		{"+CMS ERROR: 1", 1, false},   // unassigned number
		{"+CMS ERROR: 10", 10, false}, // barred
		{"+CMS ERROR: 330", 330, false},
	}
	for _, tt := range tests {
		t.Run(tt.reply, func(t *testing.T) {
			m, f := startModem(t, "quectel")
			f.setCMGS(func(string) []string { return []string{tt.reply} })
			mrs, err := m.SendSMS(testCtx(t), "+819012345678", "code 123456", false)
			var cms *CMSError
			if !errors.As(err, &cms) || cms.Code != tt.code {
				t.Fatalf("want *CMSError %d, got %v", tt.code, err)
			}
			if cms.Transient() != tt.transient || Transient(err) != tt.transient {
				t.Fatalf("Transient = %v, want %v", cms.Transient(), tt.transient)
			}
			if len(mrs) != 0 {
				t.Fatalf("MRs %v for a failed message", mrs)
			}
			if strings.Contains(err.Error(), "819012345678") {
				t.Fatalf("error leaks the full number: %v", err)
			}
		})
	}
	t.Run("second part fails", func(t *testing.T) {
		m, f := startModem(t, "quectel")
		n := 0
		f.setCMGS(func(string) []string {
			n++
			if n == 2 {
				return []string{"+CMS ERROR: 42"}
			}
			return []string{"+CMGS: 7", "OK"}
		})
		mrs, err := m.SendSMS(testCtx(t), "+819012345678", strings.Repeat("x", 200), false)
		if !Transient(err) || !slices.Equal(mrs, []int{7}) {
			t.Fatalf("want MRs [7] and a transient error, got %v %v", mrs, err)
		}
	})
	t.Run("bad numbers", func(t *testing.T) {
		m, f := startModem(t, "quectel")
		before := len(f.commands())
		for _, n := range []string{"09012345678", "+0123456789", "+81-90-1234", "+1234", ""} {
			if _, err := m.SendSMS(testCtx(t), n, "x", false); !errors.Is(err, ErrBadNumber) || Transient(err) {
				t.Fatalf("%q: want permanent ErrBadNumber, got %v", n, err)
			}
		}
		if len(f.commands()) != before {
			t.Fatalf("commands sent for invalid numbers: %q", f.commands()[before:])
		}
	})
	t.Run("too long", func(t *testing.T) {
		m, _ := startModem(t, "quectel")
		if _, err := m.SendSMS(testCtx(t), "+819012345678", strings.Repeat("長", 600), false); !errors.Is(err, ErrMessageTooLong) {
			t.Fatalf("want ErrMessageTooLong, got %v", err)
		}
	})
}

func TestSendSMSTimeout(t *testing.T) {
	m, f := startModem(t, "quectel", WithTimeouts(Timeouts{SMS: 150 * time.Millisecond}))
	f.setCMGS(func(string) []string { return nil }) // swallow the PDU, never answer
	// The modem answers the ESC that aborts the send with a late OK, which
	// must not be taken for the reply to the next command.
	f.mu.Lock()
	f.escOK = 20 * time.Millisecond
	f.mu.Unlock()
	f.setDelay("+CMGS", 100*time.Millisecond) // the next prompt comes later than that OK
	_, err := m.SendSMS(testCtx(t), "+819012345678", "code 123456", false)
	if !errors.Is(err, ErrTimeout) || !Transient(err) {
		t.Fatalf("want transient ErrTimeout, got %v", err)
	}
	f.setCMGS(nil)
	mrs, err := m.SendSMS(testCtx(t), "+819012345678", "code 123456", false)
	if err != nil || !slices.Equal(mrs, []int{2}) {
		t.Fatalf("send after a timed-out send: MRs %v, %v", mrs, err)
	}
	if _, err := m.Health(testCtx(t)); err != nil {
		t.Fatalf("health after SMS timeout: %v", err)
	}
}

// statusReportPDU is an SMS-STATUS-REPORT assembled by hand: MR 42, recipient
// +819012345678, SCTS 2026-11-26 10:00:00 +09:00, DT 10:01:00, TP-Status st.
func statusReportPDU(smsc string, st byte) (pduHex string, tpduLen int) {
	tp := "06" + "2A" + "0C91" + "180921436587" + "62116201000063" + "62116201100063" + hex.EncodeToString([]byte{st})
	return smsc + tp, len(tp) / 2
}

func TestDecodeStatusReport(t *testing.T) {
	want := time.Date(2026, 11, 26, 10, 1, 0, 0, time.FixedZone("", 9*3600))
	tests := []struct {
		name                string
		smsc                string
		st                  byte
		delivered, pending  bool
		declaredLenOverride int
	}{
		{"delivered, no SMSC", "00", 0x00, true, false, 0},
		{"delivered, with SMSC", "07911808000000F0", 0x00, true, false, 0},
		{"still trying", "00", 0x20, false, true, 0},
		{"permanent failure", "00", 0x41, false, false, 0},
		{"unknown length", "00", 0x00, true, false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdu, n := statusReportPDU(tt.smsc, tt.st)
			if tt.declaredLenOverride < 0 {
				n = 0
			}
			r, err := DecodeStatusReport(pdu, n, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if r.MR != 42 || r.Recipient != "+819012345678" || r.Status != tt.st || r.Delivered != tt.delivered || r.Pending != tt.pending || !r.At.Equal(want) {
				t.Fatalf("report %+v", r)
			}
		})
	}
	t.Run("length mismatch", func(t *testing.T) {
		pdu, n := statusReportPDU("00", 0)
		if _, err := DecodeStatusReport(pdu, n+3, time.Time{}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("want ErrMalformed, got %v", err)
		}
	})
	t.Run("not a status report", func(t *testing.T) {
		if _, err := DecodeStatusReport("0001000C9118092143658700000AE8329BFD4697D9EC37", 0, time.Time{}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("want ErrMalformed, got %v", err)
		}
	})
}

func TestStatusReportCDS(t *testing.T) {
	m, f := startModem(t, "quectel", WithDirectStatusReports())
	pdu, n := statusReportPDU("07911808000000F0", 0x00)
	f.urc("+CDS: "+strconv.Itoa(n), pdu)
	r := nextReport(t, m)
	if r.MR != 42 || !r.Delivered {
		t.Fatalf("report %+v", r)
	}
	f.waitFor("+CNMA")
}

func TestStatusReportCDSWithoutAck(t *testing.T) {
	// Default routing (+CDSI) did not set AT+CSMS=1, so a +CDS the modem
	// pushes anyway needs no AT+CNMA.
	m, f := startModem(t, "quectel")
	pdu, n := statusReportPDU("00", 0x00)
	f.urc("+CDS: "+strconv.Itoa(n), pdu)
	if r := nextReport(t, m); r.MR != 42 {
		t.Fatalf("report %+v", r)
	}
	if _, err := m.Health(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if f.count("+CNMA") != 0 {
		t.Fatalf("AT+CNMA sent without AT+CSMS=1: %q", f.commands())
	}
}

func TestStatusReportCDSInsideReply(t *testing.T) {
	m, f := startModem(t, "quectel", WithDirectStatusReports())
	pdu, n := statusReportPDU("00", 0x00)
	// The two-line +CDS arrives in the middle of an AT+CSQ reply.
	f.set("+CSQ", "+CDS: "+strconv.Itoa(n), pdu, "+CSQ: 20,99", "OK")
	h, err := m.Health(testCtx(t))
	if err != nil || h.SignalDBm != -73 {
		t.Fatalf("health %+v, %v", h, err)
	}
	if r := nextReport(t, m); r.MR != 42 {
		t.Fatalf("report %+v", r)
	}
}

func TestStatusReportCDSI(t *testing.T) {
	m, f := startModem(t, "simcom")
	pdu, n := statusReportPDU("07911808000000F0", 0x00)
	f.set(`+CPMS="SR"`, "+CPMS: 1,10,1,10,1,10", "OK")
	f.set("+CMGR=3", "+CMGR: 0,,"+strconv.Itoa(n), pdu, "OK")
	f.set("+CMGD=3", "OK")
	f.urc(`+CDSI: "SR",3`)
	r := nextReport(t, m)
	if r.MR != 42 || !r.Delivered || r.Recipient != "+819012345678" {
		t.Fatalf("report %+v", r)
	}
	f.waitFor("+CMGD=3")
	cmds := f.commands()
	i := slices.Index(cmds, `+CPMS="SR"`)
	if i < 0 || !slices.Equal(cmds[i:i+3], []string{`+CPMS="SR"`, "+CMGR=3", "+CMGD=3"}) {
		t.Fatalf("want CPMS, CMGR, CMGD in order; got %q", cmds)
	}
	// A second report in the same storage does not reselect it.
	f.set("+CMGR=4", "+CMGR: 0,,"+strconv.Itoa(n), pdu, "OK")
	f.set("+CMGD=4", "OK")
	f.urc(`+CDSI: "SR",4`)
	nextReport(t, m)
	if f.count(`+CPMS="SR"`) != 1 {
		t.Fatalf("storage selected %d times", f.count(`+CPMS="SR"`))
	}
}

func nextReport(t *testing.T, m *Modem) StatusReport {
	t.Helper()
	select {
	case r, ok := <-m.StatusReports():
		if !ok {
			t.Fatal("status report channel closed")
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no status report")
	}
	return StatusReport{}
}
