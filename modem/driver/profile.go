package driver

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"

	"mfagate/modem/vendor"
)

// Setting is one vendor command sent on every initialisation, after the
// common ones (ATZ resets vendor settings, so they are re-sent each time).
type Setting struct {
	Cmd string // without the "AT" prefix
	// Optional settings may fail (unsupported firmware) without failing Init.
	Optional bool
	// PollOnFailure: if the command fails, track calls by polling +CLCC
	// (EC25 firmware that refuses AT^DSCI=1).
	PollOnFailure bool
}

// Profile describes one modem family: the differences in call-state
// reporting, DTMF detection, prompt playback, hang-up, ICCID query and URCs.
// Profiles are values; get one with ProfileByName.
type Profile struct {
	Name string
	// Setup commands, sent after ATZ/ATE0/+CMGF=0/+CMEE=1 on every Init.
	Setup []Setting
	// DTMFEnable commands are sent before every call (detection is not
	// saved and reverts on reset); errors are ignored.
	DTMFEnable []string
	// ICCIDCommand reads the SIM ICCID; AT+CCID is tried if it fails.
	ICCIDCommand string
	// Hangup commands, tried in order until one succeeds.
	Hangup []string
	// PollCalls: learn alerting/answered/ended by polling AT+CLCC.
	PollCalls bool
	// DTMF reports whether the profile can report the callee's keys.
	DTMF bool

	urcs        []urcSpec                    // vendor URCs registered with at
	parse       func(string) (urc, bool)     // vendor URC parser (after common ones)
	promptSetup []string                     // commands sent once per call before the first prompt
	playText    func(string) (string, error) // in-call TTS command for a text
	playFile    func(string) (string, error) // in-call audio-file command
}

// Prompt reports whether the profile can play a text (tts) or an audio file
// (file) into a call.
func (p Profile) Prompt() (tts, file bool) {
	return p.playText != nil, p.playFile != nil
}

// classify recognises a URC line (already trimmed) for this profile.
func (p Profile) classify(line string) (urc, bool) {
	if p.parse != nil {
		if u, ok := p.parse(line); ok {
			return u, true
		}
	}
	return parseCommonURC(line)
}

// indications lists every URC prefix the profile uses.
func (p Profile) indications() []urcSpec {
	return append(append([]urcSpec(nil), commonURCs...), p.urcs...)
}

var baseSetup = []Setting{
	{Cmd: "+COLP=0", Optional: true}, // ATD answers OK at once; the outcome comes as URCs
	{Cmd: "+CVHU=0", Optional: true}, // ATH really hangs up a voice call
}

var profiles = map[string]Profile{
	vendor.Quectel: {
		Name: vendor.Quectel,
		Setup: append(append([]Setting(nil), baseSetup...),
			Setting{Cmd: "^DSCI=1", Optional: true, PollOnFailure: true},
			Setting{Cmd: "+QTONEDET=1", Optional: true}),
		DTMFEnable:   []string{"+QTONEDET=1"},
		ICCIDCommand: "+QCCID",
		Hangup:       []string{"+CHUP", "H"},
		DTMF:         true,
		urcs:         []urcSpec{{"^DSCI:", 0}, {"+QTONEDET:", 0}, {"+QWTTS:", 0}, {"+QPSND:", 0}},
		parse: func(l string) (urc, bool) {
			switch {
			case strings.HasPrefix(l, "^DSCI:"):
				return parseDSCI(l)
			case strings.HasPrefix(l, "+QTONEDET:"):
				return parseQTONEDET(l)
			}
			return parsePromptDone(l, "+QWTTS", "+QPSND")
		},
		playText: func(text string) (string, error) {
			mode, arg, err := ttsArg(text)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf(`+QWTTS=1,1,%d,"%s"`, mode, arg), nil
		},
		playFile: func(name string) (string, error) {
			if err := checkFileName(name); err != nil {
				return "", err
			}
			return fmt.Sprintf(`+QPSND=1,"%s",0,1,1`, name), nil
		},
	},
	vendor.SIMCom: {
		Name:         vendor.SIMCom,
		Setup:        append([]Setting(nil), baseSetup...),
		DTMFEnable:   []string{"+DDET=1"}, // unconfirmed on SIM7600; harmless if refused
		ICCIDCommand: "+CICCID",
		Hangup:       []string{"+CHUP", "H"},
		PollCalls:    true, // SIM7600 has no alerting URC
		DTMF:         true,
		urcs:         []urcSpec{{"VOICE CALL:", 0}, {"+RXDTMF:", 0}, {"+CTTS:", 0}, {"+AUDIOSTATE:", 0}},
		parse: func(l string) (urc, bool) {
			switch {
			case strings.HasPrefix(l, "VOICE CALL:"):
				return parseVoiceCall(l)
			case strings.HasPrefix(l, "+RXDTMF:"):
				return parseCharDTMF(l, "+RXDTMF")
			}
			return parsePromptDone(l, "+CTTS", "+AUDIOSTATE")
		},
		promptSetup: []string{"+CDTAM=1"}, // route TTS to the far end
		playText: func(text string) (string, error) {
			mode, arg, err := ttsArg(text)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf(`+CTTS=%d,"%s"`, mode, arg), nil
		},
		playFile: func(name string) (string, error) {
			if err := checkFileName(name); err != nil {
				return "", err
			}
			return fmt.Sprintf(`+CCMXPLAY="%s",1,0`, name), nil
		},
	},
	vendor.Huawei: {
		Name:         vendor.Huawei,
		Setup:        append([]Setting(nil), baseSetup...),
		DTMFEnable:   []string{"^DDTMFCFG=0,1"},
		ICCIDCommand: "^ICCID?",
		Hangup:       []string{"+CHUP", "H"},
		DTMF:         true,
		urcs:         []urcSpec{{"^ORIG:", 0}, {"^CONF:", 0}, {"^CONN:", 0}, {"^CEND:", 0}, {"^DDTMF:", 0}},
		parse: func(l string) (urc, bool) {
			if strings.HasPrefix(l, "^DDTMF:") {
				return parseCharDTMF(l, "^DDTMF")
			}
			return parseHuaweiCall(l)
		},
	},
	vendor.Generic: {
		Name:         vendor.Generic,
		Setup:        append([]Setting(nil), baseSetup...),
		ICCIDCommand: "+CCID",
		Hangup:       []string{"+CHUP", "H"},
		PollCalls:    true,
	},
}

// ProfileByName returns the vendor profile "quectel" (EC25/EG25-G), "simcom"
// (SIM7600), "huawei" or "generic" (3GPP only: +CLCC polling, no DTMF, no
// prompts).
func ProfileByName(name string) (Profile, error) {
	p, ok := profiles[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Profile{}, fmt.Errorf("unknown modem profile %q (want one of %s)", name, strings.Join(ProfileNames(), ", "))
	}
	// Callers may extend the slices (e.g. add a Setting from config):
	// never let that write into the shared table.
	p.Setup = slices.Clone(p.Setup)
	p.DTMFEnable = slices.Clone(p.DTMFEnable)
	p.Hangup = slices.Clone(p.Hangup)
	p.urcs = slices.Clone(p.urcs)
	p.promptSetup = slices.Clone(p.promptSetup)
	return p, nil
}

// ProfileNames lists the known profile names, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// maxTTSBytes is the documented limit of AT+QWTTS text (543 bytes); it is
// also applied to AT+CTTS, whose limit is not documented.
const maxTTSBytes = 543

// ttsArg picks the TTS text mode: 2 (ASCII) when the text is printable ASCII
// without a double quote, else 1 (UCS-2 as hex).
func ttsArg(text string) (mode int, arg string, err error) {
	if text == "" {
		return 0, "", fmt.Errorf("empty prompt text")
	}
	ascii := true
	for _, r := range text {
		if r < 0x20 || r > 0x7e || r == '"' {
			ascii = false
			break
		}
	}
	if ascii {
		mode, arg = 2, text
	} else {
		var b strings.Builder
		for _, u := range utf16.Encode([]rune(text)) {
			fmt.Fprintf(&b, "%04X", u)
		}
		mode, arg = 1, b.String()
	}
	if len(arg) > maxTTSBytes {
		return 0, "", fmt.Errorf("prompt text is %d bytes once encoded, the modem takes at most %d: shorten it or use a prompt file", len(arg), maxTTSBytes)
	}
	return mode, arg, nil
}

// checkFileName refuses names that would break the quoted AT argument.
func checkFileName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("prompt file name must be 1..128 bytes, got %d", len(name))
	}
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' {
			return fmt.Errorf("prompt file name %q: only printable ASCII without quotes is allowed", sanitize(name, 40))
		}
	}
	return nil
}
