package driver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	"mfagate/phone"
)

// maxQueuedURCs bounds the URC queue; a modem spamming URCs while the owner
// goroutine is busy loses the newest ones (counted and logged).
const maxQueuedURCs = 1024

// tap sits between the port and at. It passes bytes through unchanged and
// splits them into lines exactly as at does, so it sees every line in wire
// order. Lines the profile classifies as URCs are queued with a sequence
// number for the owner goroutine. This replaces at's indication handlers for
// delivery: those run on a goroutine each and lose ordering, and at drops
// lines that arrive while no command is pending.
//
// Read is called only from at's line reader goroutine; the queue is shared
// with the owner goroutine under mu.
type tap struct {
	rw       io.ReadWriter
	classify func(string) (urc, bool)
	trace    *slog.Logger // nil: no trace

	// Touched only by the line reader goroutine (inside Read).
	buf        []byte
	pendingCDS *urc

	mu      sync.Mutex
	seq     uint64 // lines seen so far
	queue   []urc
	dropped int
	readErr error

	notify chan struct{} // capacity 1; signalled when queue becomes non-empty
}

func newTap(rw io.ReadWriter, classify func(string) (urc, bool), trace *slog.Logger) *tap {
	return &tap{rw: rw, classify: classify, trace: trace, notify: make(chan struct{}, 1)}
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.rw.Read(p)
	if n > 0 {
		t.feed(p[:n])
	}
	if err != nil {
		t.mu.Lock()
		if t.readErr == nil {
			t.readErr = err
		}
		t.mu.Unlock()
	}
	return n, err
}

func (t *tap) Write(p []byte) (int, error) {
	if t.trace != nil {
		t.trace.Debug("at tx", "data", redactTx(string(p)))
	}
	return t.rw.Write(p)
}

// feed splits data into lines the way at's scanner does: a line starting with
// '>' is the SMS prompt (no line end), otherwise lines end at '\n' with one
// trailing '\r' removed.
func (t *tap) feed(data []byte) {
	t.buf = append(t.buf, data...)
	for len(t.buf) > 0 {
		if t.buf[0] == '>' {
			i := 1
			for i < len(t.buf) && t.buf[i] == ' ' {
				i++
			}
			t.buf = t.buf[i:]
			t.line(">")
			continue
		}
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		line := string(t.buf[:i])
		t.buf = t.buf[i+1:]
		t.line(line)
	}
	// A line longer than any modem output means garbage: drop it rather than
	// grow without bound (at's scanner has its own limit).
	if len(t.buf) > 64*1024 {
		t.buf = t.buf[:0]
	}
	if len(t.buf) == 0 {
		t.buf = nil
	}
}

func (t *tap) line(raw string) {
	t.mu.Lock()
	t.seq++
	seq := t.seq
	t.mu.Unlock()
	line := strings.TrimSpace(raw)
	if line == "" {
		return
	}
	if t.trace != nil {
		t.trace.Debug("at rx", "line", redactRx(line))
	}
	if t.pendingCDS != nil {
		u := *t.pendingCDS
		t.pendingCDS = nil
		u.pdu = line
		t.push(u)
		return
	}
	u, ok := t.classify(line)
	if !ok {
		return
	}
	u.seq = seq
	if u.kind == urcStatusReport {
		t.pendingCDS = &u
		return
	}
	t.push(u)
}

func (t *tap) push(u urc) {
	t.mu.Lock()
	if len(t.queue) >= maxQueuedURCs {
		t.dropped++
	} else {
		t.queue = append(t.queue, u)
	}
	t.mu.Unlock()
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// take removes and returns the queued URCs, oldest first, and the number
// dropped since the last call.
func (t *tap) take() ([]urc, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	q, d := t.queue, t.dropped
	t.queue, t.dropped = nil, 0
	return q, d
}

// lineSeq returns the number of lines seen so far; URCs with a larger seq
// arrived later.
func (t *tap) lineSeq() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seq
}

func (t *tap) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readErr
}

// redactTx hides what must never reach a log in data written to the modem:
// PDUs, dialled numbers and prompt texts.
func redactTx(s string) string {
	s = strings.TrimRight(s, "\r\n")
	switch {
	case strings.ContainsAny(s, "\x1a\x1b"):
		if strings.HasPrefix(s, "\x1b") {
			return "<ESC>"
		}
		return "<pdu redacted>"
	case strings.HasPrefix(s, "ATD"):
		return "ATD" + phone.Mask(strings.TrimSuffix(s[3:], ";")) + ";"
	case strings.HasPrefix(s, "AT+QWTTS="), strings.HasPrefix(s, "AT+CTTS="):
		return s[:strings.IndexByte(s, '=')+1] + "<prompt redacted>"
	}
	return maskDigitRuns(s)
}

// redactRx hides PDUs, keypad digits and phone numbers in lines read from the
// modem.
func redactRx(s string) string {
	for _, p := range []string{"+QTONEDET:", "+RXDTMF:", "^DDTMF:", "+DTMF:"} {
		if strings.HasPrefix(s, p) {
			return p + " <digit redacted>"
		}
	}
	if len(s) >= 16 && isHex(s) {
		return "<pdu redacted>"
	}
	return maskDigitRuns(s)
}

// maskDigitRuns masks every run of 7 or more digits (phone numbers, IMSI,
// ICCID) keeping its last 4.
func maskDigitRuns(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		run := s[i:j]
		if len(run) >= 7 {
			run = strings.Repeat("*", len(run)-4) + run[len(run)-4:]
		}
		b.WriteString(run)
		i = j
	}
	return b.String()
}

// traceLogger returns l if it logs debug records, else nil.
func traceLogger(l *slog.Logger) *slog.Logger {
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return l
}
