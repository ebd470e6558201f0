//go:build hardware

package driver

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestHardware runs against a real modem:
//
//	MFAGATE_MODEM_PORT=/dev/serial/by-id/… MFAGATE_MODEM_PROFILE=quectel \
//	[MFAGATE_MODEM_SMS_TO=+81…] [MFAGATE_MODEM_CALL_TO=+81…] \
//	go test -tags hardware -run Hardware -v ./modem/driver
//
// Sending and calling happen only when their variables name a number.
func TestHardware(t *testing.T) {
	port := os.Getenv("MFAGATE_MODEM_PORT")
	if port == "" {
		t.Skip("MFAGATE_MODEM_PORT not set")
	}
	prof, err := ProfileByName(os.Getenv("MFAGATE_MODEM_PROFILE"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, err := Open(ctx, port, prof)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	id, err := m.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("modem %s %s rev %s", id.Manufacturer, id.Model, id.Revision)
	h, err := m.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("health %+v", h)
	if to := os.Getenv("MFAGATE_MODEM_SMS_TO"); to != "" {
		mrs, err := m.SendSMS(ctx, to, "mfagate hardware test", true)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-m.StatusReports():
			t.Logf("report for MR %d (sent %v): delivered=%v status=%#x", r.MR, mrs, r.Delivered, r.Status)
		case <-time.After(2 * time.Minute):
			t.Error("no status report within 2 minutes")
		}
	}
	if to := os.Getenv("MFAGATE_MODEM_CALL_TO"); to != "" {
		c, err := m.Call(ctx, to, CallOptions{Prompt: "Press hash", RepeatPrompt: true})
		if err != nil {
			t.Fatal(err)
		}
		for ev := range c.Events() {
			t.Logf("call event %v %q %s", ev.Kind, ev.Digit, ev.Reason)
			if ev.Kind == EventDigit && ev.Digit == '#' {
				c.Hangup(ctx)
			}
		}
	}
}
