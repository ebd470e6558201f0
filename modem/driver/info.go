package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Identity identifies the modem and its SIM. The IMEI, not the tty name, is
// the modem's stable identity.
type Identity struct {
	Manufacturer, Model, Revision string
	IMEI                          string
	ICCID, IMSI                   string // empty when no SIM is usable
}

// Identity reads AT+CGMI, +CGMM, +CGMR, +CGSN, +CIMI and the profile's ICCID
// command. A missing or locked SIM leaves ICCID and IMSI empty.
func (m *Modem) Identity(ctx context.Context) (Identity, error) {
	id, err := run(m, ctx, func(ctx context.Context) (Identity, error) {
		var id Identity
		var err error
		for _, q := range []struct {
			cmd string
			dst *string
		}{{"+CGMI", &id.Manufacturer}, {"+CGMM", &id.Model}, {"+CGMR", &id.Revision}, {"+CGSN", &id.IMEI}} {
			if *q.dst, err = m.bare(ctx, q.cmd); err != nil {
				return id, err
			}
		}
		if len(id.IMEI) < 14 || len(id.IMEI) > 16 || !allDigits(id.IMEI) {
			return id, fmt.Errorf("%w: AT+CGSN answered %d characters, not an IMEI", ErrMalformed, len(id.IMEI))
		}
		imsi, err := m.bare(ctx, "+CIMI")
		switch {
		case err == nil && allDigits(imsi):
			id.IMSI = imsi
		case err != nil && !simMissing(err):
			return id, err
		}
		id.ICCID, err = m.iccid(ctx)
		switch {
		case err == nil, simMissing(err):
		case errors.Is(err, ErrTimeout), errors.Is(err, ErrClosed):
			return id, err
		default:
			// The IMEI identifies the modem; an ICCID command this
			// firmware lacks must not make the modem unusable.
			m.log.Warn("ICCID unavailable", "err", err)
		}
		return id, nil
	})
	if err != nil {
		return Identity{}, fmt.Errorf("modem identity: %w", err)
	}
	return id, nil
}

// simMissing reports CME errors meaning "no usable SIM" (not inserted, PIN,
// PUK, failure, busy, wrong): identity is still useful without it.
func simMissing(err error) bool {
	var cme *CMEError
	if errors.As(err, &cme) {
		switch cme.Code {
		case 10, 11, 12, 13, 14, 15:
			return true
		}
	}
	return errors.Is(err, ErrMalformed)
}

func (m *Modem) iccid(ctx context.Context) (string, error) {
	cmds := []string{m.prof.ICCIDCommand}
	if m.prof.ICCIDCommand != "+CCID" {
		cmds = append(cmds, "+CCID")
	}
	var lastErr error
	for _, c := range cmds {
		info, err := m.command(ctx, c, m.cfg.timeouts.Command)
		if err != nil {
			if errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) {
				return "", err
			}
			lastErr = err
			continue
		}
		v, err := parseICCID(info)
		if err == nil {
			return v, nil
		}
		lastErr = err
	}
	return "", lastErr
}

// bare runs a command whose answer is one unprefixed line (AT+CGMI…) or,
// on some firmware, "+CMD: value".
func (m *Modem) bare(ctx context.Context, cmd string) (string, error) {
	info, err := m.command(ctx, cmd, m.cfg.timeouts.Command)
	if err != nil {
		return "", err
	}
	for _, l := range info {
		if v, ok := value(l, cmd); ok {
			return sanitize(v, 64), nil
		}
		if strings.HasPrefix(l, "+") || strings.HasPrefix(l, "^") || unsolicitedWord(l) {
			continue // a URC the profile does not know
		}
		return sanitize(stripLabel(l), 64), nil
	}
	return "", fmt.Errorf("%w: %s gave no value", ErrMalformed, cmdName(cmd))
}

// stripLabel removes an ATI-style label ("Revision: EC25…" → "EC25…").
func stripLabel(l string) string {
	i := strings.Index(l, ":")
	if i <= 0 {
		return l
	}
	for _, r := range l[:i] {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == ' ') {
			return l
		}
	}
	if v := strings.TrimSpace(l[i+1:]); v != "" {
		return v
	}
	return l
}

// unsolicitedWord reports bare URCs that may slip into a reply.
func unsolicitedWord(l string) bool {
	switch l {
	case "RING", "RDY", "SMS DONE", "PB DONE", "Call Ready", "SMS Ready", "POWERED DOWN":
		return true
	}
	return false
}

// SignalOKMinDBm is the weakest signal Health counts as usable (CSQ 3).
const SignalOKMinDBm = -107

// Health is a snapshot of the modem's radio and SIM state.
type Health struct {
	SignalDBm    int    // 0 when unknown (CSQ 99)
	SignalOK     bool   // known and at least SignalOKMinDBm
	Registration string // RegHome, RegRoaming, RegSearching, RegDenied or RegNone
	Operator     string // empty when unknown
	SIMReady     bool   // +CPIN: READY
	SIMState     string // raw +CPIN state ("READY", "SIM PIN", …) or "absent"
}

// Registered reports whether SMS and calls can be attempted.
func (h Health) Registered() bool {
	return h.Registration == RegHome || h.Registration == RegRoaming
}

// Health queries AT+CPIN?, +CSQ, +CREG?, +CEREG? and +COPS?. An error means
// the modem did not answer properly (ErrTimeout when silent); a missing SIM
// or no network is reported in the fields, not as an error.
func (m *Modem) Health(ctx context.Context) (Health, error) {
	h, err := run(m, ctx, func(ctx context.Context) (Health, error) {
		var h Health
		info, err := m.command(ctx, "+CPIN?", m.cfg.timeouts.Command)
		switch {
		case err == nil:
			v, ok := findInfo(info, "+CPIN")
			if !ok {
				return h, fmt.Errorf("%w: AT+CPIN? gave no +CPIN line", ErrMalformed)
			}
			h.SIMState = sanitize(v, 32)
			h.SIMReady = h.SIMState == "READY"
		case simMissing(err):
			h.SIMState = "absent"
		default:
			return h, err
		}

		info, err = m.command(ctx, "+CSQ", m.cfg.timeouts.Command)
		if err != nil {
			return h, err
		}
		line, _ := findInfoLine(info, "+CSQ")
		sig, err := parseCSQ(line)
		if err != nil {
			return h, err
		}
		if dbm, known := sig.dBm(); known {
			h.SignalDBm = dbm
			h.SignalOK = dbm >= SignalOKMinDBm
		}

		h.Registration = RegNone
		for _, q := range []struct {
			cmd, prefix string
			optional    bool
		}{{"+CREG?", "+CREG", false}, {"+CEREG?", "+CEREG", true}} {
			info, err := m.command(ctx, q.cmd, m.cfg.timeouts.Command)
			if err != nil {
				if q.optional && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrClosed) {
					continue // 2G/3G-only modems have no +CEREG
				}
				return h, err
			}
			line, _ := findInfoLine(info, q.prefix)
			reg, err := parseReg(line, q.prefix)
			if err != nil {
				return h, err
			}
			if regRank(reg) > regRank(h.Registration) {
				h.Registration = reg
			}
		}

		info, err = m.command(ctx, "+COPS?", m.cfg.timeouts.Operator)
		if err != nil {
			if errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) {
				return h, err
			}
			return h, nil // operator is informative only
		}
		if line, ok := findInfoLine(info, "+COPS"); ok {
			h.Operator, _ = parseCOPS(line)
		}
		return h, nil
	})
	if err != nil {
		return Health{}, fmt.Errorf("modem health: %w", err)
	}
	return h, nil
}

func findInfoLine(info []string, prefix string) (string, bool) {
	for _, l := range info {
		if strings.HasPrefix(l, prefix+":") {
			return l, true
		}
	}
	return "", false
}
