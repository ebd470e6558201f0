package driver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

func waitClosed(t *testing.T, m *Modem) {
	t.Helper()
	select {
	case <-m.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("Closed() did not fire")
	}
}

func TestPortLost(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.conn.Close() // the USB modem vanishes
	waitClosed(t, m)
	if !errors.Is(m.Err(), ErrPortLost) {
		t.Fatalf("Err() = %v, want ErrPortLost", m.Err())
	}
	if got := events(t, c); len(got) != 1 || got[0] != ended(EndFailed) {
		t.Fatalf("active call events %v, want ended(failed)", got)
	}
	if _, err := m.SendSMS(testCtx(t), callee, "x", false); !errors.Is(err, ErrClosed) || !Transient(err) {
		t.Fatalf("SendSMS after loss: %v", err)
	}
	if _, ok := <-m.StatusReports(); ok {
		t.Fatal("status report channel still open")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close after loss: %v", err)
	}
}

func TestCloseHangsUpAndStops(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, m)
	if !errors.Is(m.Err(), ErrClosed) {
		t.Fatalf("Err() = %v", m.Err())
	}
	if got := events(t, c); len(got) != 1 || got[0] != ended(EndLocalHangup) {
		t.Fatalf("events %v", got)
	}
	if f.count("+CHUP") != 1 {
		t.Fatalf("Close did not hang up the active call: %q", f.commands())
	}
	if _, err := m.Health(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Health after Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// ptyModem serves a fake modem on the master side of a real pty, so the
// driver goes through Open, go.bug.st/serial and the tty layer.
func ptyModem(t *testing.T, profile string) (*fakeModem, string) {
	t.Helper()
	ptmx, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pty available: %v", err)
	}
	master := pollable(t, ptmx)
	name := slave.Name()
	// Keep the slave open until the driver has it, so the master does not
	// see a hang-up in between; raw mode so CR/LF pass untouched.
	setRaw(t, slave)
	f := &fakeModem{t: t, conn: master, rules: baseRules(profile), seen: make(chan string, 256), done: make(chan struct{})}
	go f.serve()
	t.Cleanup(func() {
		master.Close()
		<-f.done
		slave.Close()
	})
	return f, name
}

func TestOpenOverPTY(t *testing.T) {
	f, path := ptyModem(t, "quectel")
	p, _ := ProfileByName("quectel")
	m, err := Open(testCtx(t), path, p)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	defer m.Close()
	id, err := m.Identity(testCtx(t))
	if err != nil || id.IMEI != "867123456789012" {
		t.Fatalf("identity over pty: %+v %v", id, err)
	}
	mrs, err := m.SendSMS(testCtx(t), callee, "Your code is 123456", true)
	if err != nil || len(mrs) != 1 {
		t.Fatalf("SendSMS over pty: %v %v", mrs, err)
	}
	if p := decodeSubmit(t, f.sentPDUs()[0]); p.text != "Your code is 123456" {
		t.Fatalf("PDU over pty decodes to %q", p.text)
	}
	f.conn.Close() // hang up the pty master: the port reads EIO/EOF
	waitClosed(t, m)
	if !errors.Is(m.Err(), ErrPortLost) {
		t.Fatalf("Err() = %v, want ErrPortLost", m.Err())
	}
}

func TestOpenMissingPort(t *testing.T) {
	p, _ := ProfileByName("generic")
	_, err := Open(testCtx(t), "/dev/nonexistent-modem", p)
	if err == nil || !strings.Contains(err.Error(), "/dev/nonexistent-modem") {
		t.Fatalf("want an error naming the path, got %v", err)
	}
}

func setRaw(t *testing.T, f *os.File) {
	t.Helper()
	if err := makeRaw(f); err != nil {
		t.Fatalf("raw mode: %v", err)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTraceRedacts(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, f := startModem(t, "quectel", WithLogger(log), WithTrace(), WithDirectStatusReports())
	if _, err := m.SendSMS(testCtx(t), callee, "Your code is 482913", true); err != nil {
		t.Fatal(err)
	}
	f.set("D"+callee+";", "OK")
	f.set(`+QWTTS=1,1,2,"Your code is 482913"`, "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{Prompt: "Your code is 482913"})
	if err != nil {
		t.Fatal(err)
	}
	f.urc(`^DSCI: 1,0,3,0,"+819012345678",145`, "+QTONEDET: 55")
	expect(t, c, answered)
	expect(t, c, digit('7'))
	c.Hangup(context.Background())
	pdu, n := statusReportPDU("00", 0)
	f.urc("+CDS: "+strconv.Itoa(n), pdu)
	nextReport(t, m)
	m.Close()

	out := buf.String()
	if !strings.Contains(out, "at tx") || !strings.Contains(out, "at rx") {
		t.Fatalf("trace missing:\n%s", out)
	}
	for _, secret := range []string{"819012345678", "482913", f.sentPDUs()[0], pdu, "+QTONEDET: 55"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "+81 90-****-5678") {
		t.Errorf("masked number not logged:\n%s", out)
	}
}
