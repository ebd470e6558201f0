package driver

import (
	"strconv"
	"strings"
)

// urcKind says what an unsolicited result code means to the driver.
type urcKind int

const (
	urcDigit        urcKind = iota + 1 // far-end DTMF key: digit
	urcCall                            // call state change: state (and cause)
	urcFinal                           // NO CARRIER / BUSY / NO ANSWER / NO DIALTONE: reason
	urcPromptDone                      // prompt playback finished
	urcStatusReport                    // +CDS: pduLen; pdu filled from the next line
	urcStatusStored                    // +CDSI: mem, index
	urcBoot                            // RDY: the modem restarted
	urcRing                            // RING / +CRING: an incoming call
)

// callState is the vendor-neutral state of the voice call.
type callState int

const (
	stateDialing callState = iota + 1
	stateAlerting
	stateActive
	stateEnded
)

// urc is one parsed unsolicited result code. seq orders it among all lines
// read from the port.
type urc struct {
	seq    uint64
	kind   urcKind
	digit  rune
	state  callState
	reason EndReason // urcFinal, or urcCall/stateEnded when the vendor gives a cause
	mem    string
	index  int
	pduLen int
	pdu    string
}

// urcSpec registers a URC prefix with at so that at routes it (and its
// trailing lines) away from command replies.
type urcSpec struct {
	prefix   string
	trailing int
}

// commonURCs are the 3GPP URCs every profile handles.
var commonURCs = []urcSpec{
	{"NO CARRIER", 0}, {"BUSY", 0}, {"NO ANSWER", 0}, {"NO DIALTONE", 0},
	{"+CDS:", 1}, {"+CDSI:", 0}, {"RDY", 0}, {"RING", 0}, {"+CRING:", 0},
}

// parseCommonURC recognises the 3GPP URCs shared by every profile.
func parseCommonURC(line string) (urc, bool) {
	switch line {
	case "NO CARRIER":
		return urc{kind: urcFinal, reason: EndNoCarrier}, true
	case "BUSY":
		return urc{kind: urcFinal, reason: EndBusy}, true
	case "NO ANSWER":
		return urc{kind: urcFinal, reason: EndNoAnswer}, true
	case "NO DIALTONE":
		return urc{kind: urcFinal, reason: EndNoCarrier}, true
	case "RDY":
		return urc{kind: urcBoot}, true
	case "RING":
		return urc{kind: urcRing}, true
	}
	if strings.HasPrefix(line, "+CRING:") {
		return urc{kind: urcRing}, true
	}
	if strings.HasPrefix(line, "+CDS:") {
		n, err := parseCDS(line)
		if err != nil {
			return urc{}, false
		}
		return urc{kind: urcStatusReport, pduLen: n}, true
	}
	if strings.HasPrefix(line, "+CDSI:") {
		mem, idx, err := parseCDSI(line)
		if err != nil {
			return urc{}, false
		}
		return urc{kind: urcStatusStored, mem: mem, index: idx}, true
	}
	return urc{}, false
}

// dtmfRune validates a keypad character.
func dtmfRune(s string) (rune, bool) {
	if len(s) != 1 {
		return 0, false
	}
	c := rune(s[0])
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#', c >= 'A' && c <= 'D':
		return c, true
	case c >= 'a' && c <= 'd':
		return c - 'a' + 'A', true
	}
	return 0, false
}

// parseQTONEDET parses Quectel "+QTONEDET: <code>" where code is the ASCII
// code of the key ('#' = 35). Codes 69/70 (1400/2300 Hz tones) are not keys.
func parseQTONEDET(line string) (urc, bool) {
	v, ok := value(line, "+QTONEDET")
	if !ok {
		return urc{}, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 127 {
		return urc{}, false
	}
	r, ok := dtmfRune(string(rune(n)))
	if !ok {
		return urc{}, false
	}
	return urc{kind: urcDigit, digit: r}, true
}

// parseCharDTMF parses "<prefix>: <key>[,<duration>]" where key is the
// character itself (SIMCom +RXDTMF, Huawei ^DDTMF, SIM800 +DTMF).
func parseCharDTMF(line, prefix string) (urc, bool) {
	v, ok := value(line, prefix)
	if !ok {
		return urc{}, false
	}
	f := fields(v)
	r, ok := dtmfRune(f[0])
	if !ok {
		return urc{}, false
	}
	return urc{kind: urcDigit, digit: r}, true
}

// parseDSCI parses Quectel "^DSCI: <id>,<dir>,<stat>,<type>,<number>,<num_type>[,…]".
// Its stat codes differ from +CLCC: 2 originating, 7 alerting, 3 connected,
// 6 ended. Only mobile-originated voice calls (dir 0, type 0) count.
func parseDSCI(line string) (urc, bool) {
	v, ok := value(line, "^DSCI")
	if !ok {
		return urc{}, false
	}
	f := fields(v)
	_, ok0 := atoiField(f, 0)
	dir, ok1 := atoiField(f, 1)
	stat, ok2 := atoiField(f, 2)
	typ, ok3 := atoiField(f, 3)
	if !ok0 || !ok1 || !ok2 || !ok3 || dir != 0 || typ != 0 {
		return urc{}, false
	}
	switch stat {
	case 2:
		return urc{kind: urcCall, state: stateDialing}, true
	case 7:
		return urc{kind: urcCall, state: stateAlerting}, true
	case 3:
		return urc{kind: urcCall, state: stateActive}, true
	case 6:
		return urc{kind: urcCall, state: stateEnded}, true
	}
	return urc{}, false
}

// parseVoiceCall parses SIMCom "VOICE CALL: BEGIN" and "VOICE CALL: END: 000041".
func parseVoiceCall(line string) (urc, bool) {
	v, ok := value(line, "VOICE CALL")
	if !ok {
		return urc{}, false
	}
	switch {
	case v == "BEGIN":
		return urc{kind: urcCall, state: stateActive}, true
	case v == "END" || strings.HasPrefix(v, "END:"):
		return urc{kind: urcCall, state: stateEnded}, true
	}
	return urc{}, false
}

// parseHuaweiCall parses ^ORIG (dialing), ^CONF (alerting), ^CONN (answered)
// and ^CEND:<id>,<duration>,<end_status>[,<cc_cause>] (ended; the 24.008
// cause distinguishes busy and no answer).
func parseHuaweiCall(line string) (urc, bool) {
	for _, p := range []struct {
		prefix string
		state  callState
	}{{"^ORIG", stateDialing}, {"^CONF", stateAlerting}, {"^CONN", stateActive}} {
		if v, ok := value(line, p.prefix); ok {
			if _, ok := atoiField(fields(v), 0); !ok {
				return urc{}, false
			}
			return urc{kind: urcCall, state: p.state}, true
		}
	}
	v, ok := value(line, "^CEND")
	if !ok {
		return urc{}, false
	}
	f := fields(v)
	if _, ok := atoiField(f, 0); !ok {
		return urc{}, false
	}
	u := urc{kind: urcCall, state: stateEnded}
	if cause, ok := atoiField(f, 3); ok {
		switch cause {
		case 17: // user busy
			u.reason = EndBusy
		case 18, 19: // no user responding, no answer
			u.reason = EndNoAnswer
		}
	}
	return u, true
}

// parsePromptDone recognises the playback-finished URCs: Quectel
// "+QWTTS: <err>" / "+QPSND: 0", SIMCom "+CTTS: 0" /
// "+AUDIOSTATE: audio play stop".
func parsePromptDone(line string, prefixes ...string) (urc, bool) {
	for _, p := range prefixes {
		if p == "+AUDIOSTATE" {
			if v, ok := value(line, p); ok && strings.HasPrefix(v, "audio play stop") {
				return urc{kind: urcPromptDone}, true
			}
			continue
		}
		if v, ok := value(line, p); ok {
			if _, err := strconv.Atoi(v); err == nil {
				return urc{kind: urcPromptDone}, true
			}
		}
	}
	return urc{}, false
}
