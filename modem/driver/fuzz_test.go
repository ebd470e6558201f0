package driver

import (
	"reflect"
	"testing"
	"time"
)

// Fuzz targets for every parser of modem output. Seeds come from
// reference/modem-at.md; `make fuzz-smoke` runs each briefly.

func FuzzParseCSQ(f *testing.F) {
	for _, s := range []string{"+CSQ: 17,99", "+CSQ: 99,99", "+CSQ: 31,0", "+CSQ: 150,99", "+CSQ:", "+CSQ: -1,5", "+CSQ: 1,2,3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, err := parseCSQ(line)
		if err != nil {
			return
		}
		if s.RSSI < 0 || s.RSSI > 199 || s.BER < 0 || s.BER > 99 {
			t.Fatalf("accepted out-of-range %+v", s)
		}
		if dbm, ok := s.dBm(); ok && (dbm < -113 || dbm > -51) {
			t.Fatalf("dBm %d out of range", dbm)
		}
	})
}

func FuzzParseReg(f *testing.F) {
	for _, s := range []string{"+CREG: 0,1", "+CREG: 2,5,\"1A2B\",\"01C3D4E5\",7", "+CREG: 1", "+CREG: 3,\"1A2B\",\"01\"", "+CEREG: 0,11", "+CREG: ,", "+CREG: \"\",\""} {
		f.Add(s)
	}
	valid := map[string]bool{RegHome: true, RegRoaming: true, RegSearching: true, RegDenied: true, RegNone: true}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range []string{"+CREG", "+CEREG"} {
			r, err := parseReg(line, p)
			if err == nil && !valid[r] {
				t.Fatalf("registration %q", r)
			}
		}
	})
}

func FuzzParseCOPSAndCPIN(f *testing.F) {
	for _, s := range []string{`+COPS: 0,0,"NTT DOCOMO",7`, "+COPS: 0", `+COPS: 0,2,"44010",7`, "+CPIN: READY", "+CPIN: SIM PIN", `+COPS: 0,0,"a,b`, "+CPIN:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if op, err := parseCOPS(line); err == nil && (len(op) > 64 || op != sanitize(op, 64)) {
			t.Fatalf("operator not sanitised: %q", op)
		}
		if st, err := parseCPIN(line); err == nil && st != sanitize(st, 32) {
			t.Fatalf("SIM state not sanitised: %q", st)
		}
	})
}

func FuzzParseCLCC(f *testing.F) {
	for _, s := range []string{`+CLCC: 1,0,0,1,0,"",128`, `+CLCC: 2,0,0,0,0,"10086",129`, `+CLCC: 1,0,3,0,0,"+819012345678",145,"Alice"`, "+CLCC: 1,0", `+CLCC: 1,0,2,0,0,"a,b",129`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := parseCLCC(line)
		if err != nil {
			return
		}
		if e2, ok := voiceMO([]string{line}); ok != (e.Mode == 0 && e.Dir == 0) || (ok && e2 != e) {
			t.Fatalf("voiceMO disagrees with parseCLCC for %q", line)
		}
	})
}

func FuzzParseSMSLines(f *testing.F) {
	for _, s := range []string{"+CMGS: 5", "+CMGS: 255,\"ack\"", "+CMGR: 0,,25", "+CMGR: 1,\"x\",300", `+CDSI: "SR",3`, `+CDSI: "ME",-1`, "+CDS: 25", "+CDS: 0", "+QCCID: 8981100000123456789F", "ICCID: 89811000001234567891"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if v, ok := value(line, "+CMGS"); ok {
			if mr, err := parseCMGS(v); err == nil && (mr < 0 || mr > 255) {
				t.Fatalf("mr %d", mr)
			}
		}
		if n, err := parseCMGR(line); err == nil && (n <= 0 || n > 255) {
			t.Fatalf("cmgr length %d", n)
		}
		if mem, idx, err := parseCDSI(line); err == nil && (idx < 0 || !validMem(mem)) {
			t.Fatalf("cdsi %q %d", mem, idx)
		}
		if n, err := parseCDS(line); err == nil && (n <= 0 || n > 255) {
			t.Fatalf("cds length %d", n)
		}
		if id, err := parseICCID([]string{line}); err == nil && (!allDigits(id) || len(id) < 18 || len(id) > 22) {
			t.Fatalf("iccid %q", id)
		}
	})
}

// FuzzURC runs every profile's URC classifier (^DSCI, +QTONEDET, +RXDTMF,
// ^DDTMF, VOICE CALL, ^CONN/^CEND, prompt completions, +CDS, +CDSI …).
func FuzzURC(f *testing.F) {
	for _, s := range []string{
		`^DSCI: 1,0,7,0,"+819012345678",145`, `^DSCI: 1,0,6,0,10086,129,0`, "+QTONEDET: 35", "+QTONEDET: 70", "+QTONEDET: 999999999999",
		"+RXDTMF: #", "+RXDTMF: 8\r", "^DDTMF: *", "VOICE CALL: BEGIN", "VOICE CALL: END: 000041", "^ORIG:1,0", "^CONF:1",
		"^CONN:1,0", "^CEND:1,5,29,16", "+QWTTS: 0", "+QWTTS: 4111", "+QPSND: 0", "+CTTS: 0", "+AUDIOSTATE: audio play stop",
		"NO CARRIER", "BUSY", "RDY", "+CDS: 25", `+CDSI: "SM",1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, name := range ProfileNames() {
			p, _ := ProfileByName(name)
			u, ok := p.classify(line)
			if !ok {
				continue
			}
			if u.kind == urcDigit {
				if _, valid := dtmfRune(string(u.digit)); !valid {
					t.Fatalf("%s: digit %q from %q", name, u.digit, line)
				}
			}
			if u.kind == 0 {
				t.Fatalf("%s: URC without kind from %q", name, line)
			}
		}
	})
}

func FuzzDecodeStatusReport(f *testing.F) {
	p0, n0 := statusReportPDU("00", 0)
	p1, n1 := statusReportPDU("07911808000000F0", 0x41)
	f.Add(p0, n0)
	f.Add(p1, n1)
	f.Add(p1, 0)
	f.Add("0001000C9118092143658700000AE8329BFD4697D9EC37", 0)
	f.Add("zz", 3)
	f.Fuzz(func(t *testing.T, pdu string, n int) {
		r, err := DecodeStatusReport(pdu, n, time.Unix(0, 0))
		if err != nil {
			return
		}
		if r.Delivered && r.Status > 2 || r.Pending && r.Status&0x60 != 0x20 || r.MR < 0 || r.MR > 255 {
			t.Fatalf("inconsistent report %+v", r)
		}
	})
}

// FuzzTapSplit checks that the tap finds the same URCs whatever the read
// boundaries are.
func FuzzTapSplit(f *testing.F) {
	f.Add("\r\n^DSCI: 1,0,3,0,\"+81\",145\r\n\r\n+QTONEDET: 52\r\n\r\nOK\r\n", 3)
	f.Add("\r\n> \r\n+CMGS: 5\r\n\r\nOK\r\n\r\n+CDS: 25\r\n0006\r\n", 1)
	f.Add("\r\r\n+RXDTMF: 8\r\r\n\r\nVOICE CALL: END: 000012\r\n", 7)
	f.Fuzz(func(t *testing.T, data string, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		chunk = chunk%64 + 1
		for _, name := range ProfileNames() {
			p, _ := ProfileByName(name)
			whole := newTap(nil, p.classify, nil)
			whole.feed([]byte(data))
			split := newTap(nil, p.classify, nil)
			for i := 0; i < len(data); i += chunk {
				split.feed([]byte(data[min(i, len(data)):min(i+chunk, len(data))]))
			}
			a, _ := whole.take()
			b, _ := split.take()
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: URCs depend on read boundaries:\n%+v\n%+v", name, a, b)
			}
		}
	})
}
