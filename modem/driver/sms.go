package driver

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/warthog618/modem/at"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"

	"mfagate/phone"
)

// MaxSMSParts caps the number of concatenated parts one SendSMS may send.
const MaxSMSParts = 8

// StatusReport is an SMS-STATUS-REPORT for a message sent by this modem.
type StatusReport struct {
	MR        int       // message reference, as returned by SendSMS for the part
	Recipient string    // the recipient as the SMSC reports it (E.164 when international)
	Delivered bool      // TP-Status 0x00..0x02: received by the handset
	Pending   bool      // TP-Status 0x20..0x3F: SMSC still trying, a final report follows
	Status    byte      // raw TP-Status (23.040 §9.2.3.15)
	At        time.Time // discharge time from the report; receive time if absent
}

// refCounter numbers concatenated messages (tpdu.Counter). It starts at a
// random value so a re-created driver does not reuse the references of the
// messages its predecessor just sent to the same handsets.
type refCounter struct{ n atomic.Int64 }

func newRefCounter() *refCounter {
	c := &refCounter{}
	c.n.Store(rand.Int64N(256))
	return c
}

// Count returns the next reference (the encoder keeps its low 8 bits).
func (c *refCounter) Count() int { return int(c.n.Add(1)) }

func newEncoder() *sms.Encoder {
	enc := sms.NewEncoder()
	enc.ConcatRef = newRefCounter()
	return enc
}

// validE164 checks "+" followed by 7..15 digits, the first not 0.
func validE164(n string) error {
	if len(n) < 8 || len(n) > 16 || n[0] != '+' || n[1] == '0' || !allDigits(n[1:]) {
		return fmt.Errorf("%w: %q is not E.164 (+ then 7 to 15 digits)", ErrBadNumber, phone.Mask(n))
	}
	return nil
}

// encodeSMS builds the SMS-SUBMIT TPDUs for text: GSM-7 when the text fits
// the default alphabet, else UCS-2; concatenated (8-bit reference) when it
// needs more than one part; TP-SRR set when statusReport is true. enc keeps
// the concatenation reference and TP-MR counters across messages.
func encodeSMS(enc *sms.Encoder, to, text string, statusReport bool) ([]tpdu.TPDU, error) {
	if err := validE164(to); err != nil {
		return nil, err
	}
	if text == "" {
		return nil, errors.New("empty SMS text")
	}
	tmpl := tpdu.TPDU{Direction: tpdu.MO}
	if err := tmpl.SetSmsType(tpdu.SmsSubmit); err != nil {
		return nil, fmt.Errorf("sms template: %w", err)
	}
	if statusReport {
		tmpl.FirstOctet |= tpdu.FoSRR
	}
	tmpl.DA = tpdu.NewAddress(tpdu.FromNumber(to))
	pdus, err := enc.Encode([]byte(text), sms.WithTemplate(tmpl))
	if err != nil {
		return nil, fmt.Errorf("encode sms: %w", err)
	}
	if len(pdus) > MaxSMSParts {
		return nil, fmt.Errorf("%w: text needs %d SMS parts, at most %d allowed", ErrMessageTooLong, len(pdus), MaxSMSParts)
	}
	return pdus, nil
}

// SendSMS sends text to the E.164 number to and returns the message
// reference (+CMGS) of each part. On error it returns the references of the
// parts already sent together with the error: *CMSError (check Transient),
// ErrTimeout, ErrClosed, ErrBadNumber, ErrMessageTooLong.
//
// A part in flight cannot be aborted by ctx (the modem owns it until it
// answers); ctx's deadline caps the wait for each part instead.
func (m *Modem) SendSMS(ctx context.Context, to, text string, statusReport bool) ([]int, error) {
	if err := validE164(to); err != nil {
		return nil, err
	}
	mrs, err := run(m, ctx, func(ctx context.Context) ([]int, error) {
		pdus, err := encodeSMS(m.enc, to, text, statusReport)
		if err != nil {
			return nil, err
		}
		var mrs []int
		for i := range pdus {
			if err := ctx.Err(); err != nil {
				return mrs, err
			}
			mr, err := m.sendPDU(ctx, &pdus[i])
			if err != nil {
				return mrs, fmt.Errorf("sms part %d/%d: %w", i+1, len(pdus), err)
			}
			mrs = append(mrs, mr)
		}
		return mrs, nil
	})
	if err != nil {
		m.log.Warn("sms send failed", "to", phone.Mask(to), "sent_parts", len(mrs), "err", err)
		return mrs, fmt.Errorf("send sms to %s: %w", phone.Mask(to), err)
	}
	m.log.Info("sms sent", "to", phone.Mask(to), "parts", len(mrs), "mr", mrs)
	return mrs, nil
}

func (m *Modem) sendPDU(ctx context.Context, p *tpdu.TPDU) (int, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("marshal sms pdu: %w", err)
	}
	timeout, err := capTimeout(ctx, m.cfg.timeouts.SMS)
	if err != nil {
		return 0, err
	}
	m.settle()
	// gsm.SendPDU prefixes "00" (use the SIM's SMSC) and sends
	// AT+CMGS=<TPDU octets>, the PDU and Ctrl-Z; on timeout at sends ESC.
	v, err := m.g.SendPDU(b, at.WithTimeout(timeout))
	if err != nil {
		err = m.mapErr("+CMGS", err)
		if errors.Is(err, ErrTimeout) {
			m.unsettled = true
		}
		return 0, err
	}
	return parseCMGS(v)
}

// DecodeStatusReport decodes the PDU of a +CDS or +CMGR status report.
// declaredLen is the TPDU length announced by the modem (0: unknown); the
// PDU may or may not start with the SMSC address.
func DecodeStatusReport(pduHex string, declaredLen int, received time.Time) (StatusReport, error) {
	raw, err := hex.DecodeString(pduHex)
	if err != nil {
		return StatusReport{}, fmt.Errorf("%w: status report PDU is not hex", ErrMalformed)
	}
	tp := raw
	if declaredLen == 0 || len(raw) != declaredLen {
		p, err := pdumode.UnmarshalBinary(raw)
		if err != nil {
			return StatusReport{}, fmt.Errorf("%w: status report SMSC address: %v", ErrMalformed, err)
		}
		tp = p.TPDU
		if declaredLen != 0 && len(tp) != declaredLen {
			return StatusReport{}, fmt.Errorf("%w: status report is %d octets, modem announced %d", ErrMalformed, len(tp), declaredLen)
		}
	}
	t, err := sms.Unmarshal(tp, sms.AsMT)
	if err != nil {
		return StatusReport{}, fmt.Errorf("%w: status report TPDU: %v", ErrMalformed, err)
	}
	if t.SmsType() != tpdu.SmsStatusReport {
		return StatusReport{}, fmt.Errorf("%w: want SMS-STATUS-REPORT, got %v", ErrMalformed, t.SmsType())
	}
	r := StatusReport{
		MR:        int(t.MR),
		Recipient: t.RA.Number(),
		Status:    t.ST,
		Delivered: t.ST <= 0x02,
		Pending:   t.ST&0x60 == 0x20,
		At:        t.DT.Time,
	}
	if r.At.IsZero() {
		r.At = received
	}
	return r, nil
}

// onCDS handles a routed report (+CDS: <len> / <pdu>): acknowledge it first
// (with AT+CSMS=1 an unacknowledged report makes the modem stop routing),
// then decode it.
func (m *Modem) onCDS(u urc) {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.timeouts.Command)
	defer cancel()
	if m.cfg.directReports {
		if _, err := m.command(ctx, "+CNMA", m.cfg.timeouts.Command); err != nil {
			var cms *CMSError
			if !errors.As(err, &cms) || cms.Code != 340 { // 340: no ack expected
				m.log.Warn("status report ack failed", "err", err)
			}
		}
	}
	m.emitReport(u.pdu, u.pduLen)
}

// onCDSI reads a stored report (+CDSI: <mem>,<index>) with AT+CMGR and
// deletes it with AT+CMGD.
func (m *Modem) onCDSI(u urc) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*m.cfg.timeouts.Command)
	defer cancel()
	if u.mem != m.readMem {
		if _, err := m.command(ctx, `+CPMS="`+u.mem+`"`, m.cfg.timeouts.Command); err != nil {
			m.log.Warn("select status report storage failed", "mem", u.mem, "err", err)
			return
		}
		m.readMem = u.mem
	}
	idx := strconv.Itoa(u.index)
	info, err := m.command(ctx, "+CMGR="+idx, m.cfg.timeouts.Command)
	if err != nil {
		m.log.Warn("read stored status report failed", "index", u.index, "err", err)
		return
	}
	n, pdu, err := cmgrPDU(info)
	if err != nil {
		m.log.Warn("stored status report unreadable", "index", u.index, "err", err)
	} else {
		m.emitReport(pdu, n)
	}
	if _, err := m.command(ctx, "+CMGD="+idx, m.cfg.timeouts.Command); err != nil {
		m.log.Warn("delete stored status report failed", "index", u.index, "err", err)
	}
}

// cmgrPDU extracts the declared length and PDU line from an AT+CMGR reply.
func cmgrPDU(info []string) (int, string, error) {
	for i, l := range info {
		n, err := parseCMGR(l)
		if err != nil {
			continue
		}
		if i+1 < len(info) && isHex(info[i+1]) {
			return n, info[i+1], nil
		}
		return 0, "", fmt.Errorf("%w: +CMGR without PDU line", ErrMalformed)
	}
	return 0, "", fmt.Errorf("%w: no +CMGR line", ErrMalformed)
}

func (m *Modem) emitReport(pdu string, n int) {
	r, err := DecodeStatusReport(pdu, n, time.Now())
	if err != nil {
		m.log.Warn("status report undecodable", "err", err)
		return
	}
	select {
	case m.reports <- r:
		m.log.Debug("status report", "mr", r.MR, "status", r.Status)
	default:
		m.log.Warn("status report channel full, report dropped", "mr", r.MR)
	}
}
