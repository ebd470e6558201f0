package sim

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/modem/at"
	"github.com/warthog618/modem/gsm"
	"go.bug.st/serial"
)

// TestWarthogModemClient drives the simulator with warthog618/modem, the AT
// library the gateway's driver is built on: init, SMS, routed status reports
// and DTMF indications, all through the real tty.
func TestWarthogModemClient(t *testing.T) {
	n := NewNetwork(NetworkOptions{ReportDelay: 10 * time.Millisecond})
	phone := addPhone(t, n, Behavior{})
	m, err := Start(testCtx(t), Options{Profile: "quectel", Network: n})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	port, err := serial.Open(m.Path(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	a := at.New(port, at.WithTimeout(2*time.Second))
	g := gsm.New(a)
	if err := g.Init(); err != nil {
		t.Fatalf("gsm.Init: %v", err)
	}
	text := strings.Repeat("A long sign-in notice. ", 10) // two parts
	if _, err := g.SendLongMessage(callee, text); err != nil {
		t.Fatalf("SendLongMessage: %v", err)
	}
	msg, err := phone.NextSMS(testCtx(t))
	if err != nil || msg.Text != text || msg.Parts != 2 {
		t.Fatalf("phone got %+v, %v", msg, err)
	}

	cds := make(chan []string, 1)
	if err := a.AddIndication("+CDS:", func(info []string) { cds <- info }, at.WithTrailingLine); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"+CSMS=1", "+CNMI=2,1,0,1,0"} {
		if _, err := a.Command(c); err != nil {
			t.Fatalf("AT%s: %v", c, err)
		}
	}
	hx, _ := handPDU(0x31)
	tp, _ := hex.DecodeString(hx[2:])
	mr, err := g.SendPDU(tp)
	if err != nil {
		t.Fatalf("SendPDU: %v", err)
	}
	select {
	case info := <-cds:
		if len(info) != 2 {
			t.Fatalf("+CDS info %q", info)
		}
		r := decodeReport(t, info[1])
		if got := r.MR; mr != strconv.Itoa(int(got)) || r.ST != StatusDelivered {
			t.Errorf("report MR %d ST %#x, submit MR %s", got, r.ST, mr)
		}
	case <-time.After(waitLimit):
		t.Fatal("no +CDS indication")
	}
	if _, err := a.Command("+CNMA"); err != nil {
		t.Errorf("AT+CNMA: %v", err)
	}

	// DTMF as an indication, after the documented re-enable following ATZ.
	keys := make(chan []string, 4)
	a.AddIndication("+QTONEDET:", func(info []string) { keys <- info })
	for _, c := range []string{"+QTONEDET=1", "D" + callee + ";"} {
		if _, err := a.Command(c); err != nil {
			t.Fatalf("AT%s: %v", c, err)
		}
	}
	call, err := phone.NextCall(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	call.WaitState(testCtx(t), CallActive)
	call.PressKeys(testCtx(t), "#")
	select {
	case info := <-keys:
		if info[0] != "+QTONEDET: 35" {
			t.Errorf("DTMF indication %q", info)
		}
	case <-time.After(waitLimit):
		t.Fatal("no +QTONEDET indication")
	}
	if _, err := a.Command("+CHUP"); err != nil {
		t.Errorf("AT+CHUP: %v", err)
	}
}

// TestWarthogReceivesSMS: warthog618/modem's message reception (+CSMS=1,
// routed +CMT, acknowledged with +CNMA) gets texts the network sends.
func TestWarthogReceivesSMS(t *testing.T) {
	n := NewNetwork(NetworkOptions{})
	m, err := Start(testCtx(t), Options{Profile: "simcom", Network: n, Number: "+819011110000"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	port, err := serial.Open(m.Path(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	a := at.New(port, at.WithTimeout(2*time.Second))
	g := gsm.New(a)
	if err := g.Init(); err != nil {
		t.Fatal(err)
	}
	got := make(chan gsm.Message, 2)
	if err := g.StartMessageRx(func(msg gsm.Message) { got <- msg }, func(err error) { t.Errorf("rx: %v", err) }); err != nil {
		t.Fatal(err)
	}
	defer g.StopMessageRx()
	long := strings.Repeat("返信ありがとう。", 12) // two UCS-2 segments
	for _, text := range []string{"STOP", long} {
		if err := n.SendToModem(testCtx(t), "+818012345678", "+819011110000", text); err != nil {
			t.Fatal(err)
		}
		select {
		case msg := <-got:
			if msg.Message != text || msg.Number != "+818012345678" {
				t.Errorf("received %q from %s", msg.Message, msg.Number)
			}
		case <-time.After(waitLimit):
			t.Fatalf("no message for %q", text)
		}
	}
	// Every +CMT was acknowledged, so routing is still on.
	if info, err := a.Command("+CNMI?"); err != nil || info[0] != "+CNMI: 1,2,0,0,0" {
		t.Errorf("CNMI after reception: %q, %v", info, err)
	}
	if k := m.Counters(); k.SMSReceived != 3 {
		t.Errorf("counters %+v", k)
	}
}
