package driver

import (
	"fmt"
	"strconv"
	"strings"
)

// This file holds the parsers for modem output: response lines of the
// commands the driver issues and the URCs shared by all profiles. Every one
// takes untrusted input and has a fuzz test.

// fields splits the value part of an information line ("+CMD: a,b,c") on
// commas that are not inside double quotes, trims spaces and surrounding
// quotes from each field.
func fields(v string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for _, r := range v {
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == ',' && !inQuote:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	out = append(out, strings.TrimSpace(cur.String()))
	for i, f := range out {
		out[i] = strings.Trim(f, `"`)
	}
	return out
}

// value returns the text after "prefix:" with leading spaces removed, and
// whether line has that prefix.
func value(line, prefix string) (string, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, prefix+":") {
		return "", false
	}
	return strings.TrimSpace(line[len(prefix)+1:]), true
}

func atoiField(f []string, i int) (int, bool) {
	if i >= len(f) {
		return 0, false
	}
	n, err := strconv.Atoi(f[i])
	if err != nil {
		return 0, false
	}
	return n, true
}

// findInfo returns the value of the first line carrying prefix.
func findInfo(info []string, prefix string) (string, bool) {
	for _, l := range info {
		if v, ok := value(l, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// signal is a parsed +CSQ answer.
type signal struct {
	RSSI, BER int
}

// parseCSQ parses "+CSQ: <rssi>,<ber>" (27.007 §8.5).
func parseCSQ(line string) (signal, error) {
	v, ok := value(line, "+CSQ")
	if !ok {
		return signal{}, fmt.Errorf("%w: want +CSQ, got %q", ErrMalformed, clip(line))
	}
	f := fields(v)
	rssi, ok1 := atoiField(f, 0)
	ber, ok2 := atoiField(f, 1)
	if !ok1 || !ok2 || rssi < 0 || rssi > 199 || ber < 0 || ber > 99 {
		return signal{}, fmt.Errorf("%w: bad +CSQ value %q", ErrMalformed, clip(v))
	}
	return signal{RSSI: rssi, BER: ber}, nil
}

// dBm converts a CSQ rssi to dBm; known is false for 99 (unknown) and for the
// TD-SCDMA range 100..199.
func (s signal) dBm() (dbm int, known bool) {
	switch {
	case s.RSSI >= 0 && s.RSSI <= 31:
		return -113 + 2*s.RSSI, true
	default:
		return 0, false
	}
}

// Registration states reported in Health.Registration.
const (
	RegHome      = "home"
	RegRoaming   = "roaming"
	RegSearching = "searching"
	RegDenied    = "denied"
	RegNone      = "none"
)

// parseReg parses "+CREG: <n>,<stat>[,…]" (query answer) or the URC form
// "+CREG: <stat>[,"lac",…]" for prefix +CREG, +CGREG or +CEREG, and maps the
// stat to a registration string.
func parseReg(line, prefix string) (string, error) {
	v, ok := value(line, prefix)
	if !ok {
		return "", fmt.Errorf("%w: want %s, got %q", ErrMalformed, prefix, clip(line))
	}
	raw := splitRaw(v)
	f := fields(v)
	idx := 0
	if len(f) >= 2 && !strings.HasPrefix(raw[1], `"`) {
		idx = 1
	}
	stat, ok := atoiField(f, idx)
	if !ok || stat < 0 {
		return "", fmt.Errorf("%w: bad %s value %q", ErrMalformed, prefix, clip(v))
	}
	switch stat {
	case 1, 6, 9:
		return RegHome, nil
	case 5, 7, 10:
		return RegRoaming, nil
	case 2:
		return RegSearching, nil
	case 3:
		return RegDenied, nil
	default: // 0 not searching, 4 unknown, 8 emergency only, 11 …
		return RegNone, nil
	}
}

// splitRaw splits on unquoted commas but keeps quotes, so callers can tell
// quoted fields apart.
func splitRaw(v string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

// regRank orders registrations from best to worst so the CS (+CREG) and EPS
// (+CEREG) answers can be combined: on LTE +CREG may stay 0 while +CEREG is 1.
func regRank(s string) int {
	switch s {
	case RegHome:
		return 5
	case RegRoaming:
		return 4
	case RegSearching:
		return 3
	case RegDenied:
		return 2
	default:
		return 1
	}
}

// parseCOPS returns the operator name from "+COPS: <mode>[,<fmt>,"<oper>"[,<act>]]".
func parseCOPS(line string) (string, error) {
	v, ok := value(line, "+COPS")
	if !ok {
		return "", fmt.Errorf("%w: want +COPS, got %q", ErrMalformed, clip(line))
	}
	f := fields(v)
	if _, ok := atoiField(f, 0); !ok {
		return "", fmt.Errorf("%w: bad +COPS value %q", ErrMalformed, clip(v))
	}
	if len(f) < 3 {
		return "", nil
	}
	return sanitize(f[2], 64), nil
}

// parseCPIN returns the SIM state from "+CPIN: READY".
func parseCPIN(line string) (string, error) {
	v, ok := value(line, "+CPIN")
	if !ok || v == "" {
		return "", fmt.Errorf("%w: want +CPIN, got %q", ErrMalformed, clip(line))
	}
	return sanitize(v, 32), nil
}

// parseCMGS returns the message reference from "+CMGS: <mr>[,<ackpdu>]".
func parseCMGS(v string) (int, error) {
	f := fields(v)
	mr, ok := atoiField(f, 0)
	if !ok || mr < 0 || mr > 255 {
		return 0, fmt.Errorf("%w: bad +CMGS value %q", ErrMalformed, clip(v))
	}
	return mr, nil
}

// callEntry is one +CLCC line.
type callEntry struct {
	ID, Dir, Stat, Mode, Mpty int
}

// parseCLCC parses "+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>[,<alpha>]]".
func parseCLCC(line string) (callEntry, error) {
	v, ok := value(line, "+CLCC")
	if !ok {
		return callEntry{}, fmt.Errorf("%w: want +CLCC, got %q", ErrMalformed, clip(line))
	}
	f := fields(v)
	var e callEntry
	var oks [5]bool
	e.ID, oks[0] = atoiField(f, 0)
	e.Dir, oks[1] = atoiField(f, 1)
	e.Stat, oks[2] = atoiField(f, 2)
	e.Mode, oks[3] = atoiField(f, 3)
	e.Mpty, oks[4] = atoiField(f, 4)
	for _, o := range oks {
		if !o {
			return callEntry{}, fmt.Errorf("%w: bad +CLCC value", ErrMalformed)
		}
	}
	return e, nil
}

// voiceMO returns the mobile-originated voice call from a +CLCC listing,
// skipping the LTE data bearer that EC2x modems list as a call (mode 1).
func voiceMO(info []string) (callEntry, bool) {
	for _, l := range info {
		e, err := parseCLCC(l)
		if err != nil {
			continue
		}
		if e.Mode == 0 && e.Dir == 0 {
			return e, true
		}
	}
	return callEntry{}, false
}

// parseCMGR returns the declared TPDU length from "+CMGR: <stat>,[<alpha>],<length>".
func parseCMGR(line string) (int, error) {
	v, ok := value(line, "+CMGR")
	if !ok {
		return 0, fmt.Errorf("%w: want +CMGR, got %q", ErrMalformed, clip(line))
	}
	f := fields(v)
	n, ok := atoiField(f, len(f)-1)
	if !ok || len(f) < 2 || n <= 0 || n > 255 {
		return 0, fmt.Errorf("%w: bad +CMGR value %q", ErrMalformed, clip(v))
	}
	return n, nil
}

// parseCDSI parses "+CDSI: <mem>,<index>".
func parseCDSI(line string) (mem string, index int, err error) {
	v, ok := value(line, "+CDSI")
	if !ok {
		return "", 0, fmt.Errorf("%w: want +CDSI, got %q", ErrMalformed, clip(line))
	}
	f := fields(v)
	idx, ok := atoiField(f, 1)
	if !ok || idx < 0 || len(f) != 2 || !validMem(f[0]) {
		return "", 0, fmt.Errorf("%w: bad +CDSI value %q", ErrMalformed, clip(v))
	}
	return f[0], idx, nil
}

func validMem(s string) bool {
	if len(s) == 0 || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// parseCDS parses the header line "+CDS: <length>" of a two-line status
// report.
func parseCDS(line string) (int, error) {
	v, ok := value(line, "+CDS")
	if !ok {
		return 0, fmt.Errorf("%w: want +CDS, got %q", ErrMalformed, clip(line))
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 255 {
		return 0, fmt.Errorf("%w: bad +CDS length %q", ErrMalformed, clip(v))
	}
	return n, nil
}

// parseICCID extracts an ICCID from an answer of AT+QCCID, AT+CICCID,
// AT+CCID or AT^ICCID? ("+QCCID: 8981…", "ICCID: 8981…", bare digits). A
// trailing F filler is dropped.
func parseICCID(info []string) (string, error) {
	for _, l := range info {
		l = strings.TrimSpace(l)
		if i := strings.LastIndexByte(l, ':'); i >= 0 {
			l = strings.TrimSpace(l[i+1:])
		}
		l = strings.Trim(l, `"`)
		l = strings.TrimRight(l, "Ff")
		if len(l) >= 18 && len(l) <= 22 && allDigits(l) {
			return l, nil
		}
	}
	return "", fmt.Errorf("%w: no ICCID in answer", ErrMalformed)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// sanitize keeps printable ASCII and caps the length, so modem-supplied text
// is safe to log and to put in metrics.
func sanitize(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	return sanitize(s, 40)
}
