package driver_test

import (
	"context"
	"log/slog"
	"time"

	"mfagate/modem/driver"
)

// The modem pool's view: open, identify, send, watch reports, call.
func ExampleOpen() {
	ctx := context.Background()
	prof, err := driver.ProfileByName("quectel")
	if err != nil {
		panic(err)
	}
	m, err := driver.Open(ctx, "/dev/serial/by-id/usb-Quectel_EG25-G-if02-port0", prof,
		driver.WithLogger(slog.Default().With("modem", "gsm0")))
	if err != nil {
		panic(err) // the pool retries later
	}
	defer m.Close()

	id, _ := m.Identity(ctx) // key the modem by id.IMEI, the SIM by id.ICCID
	_ = id

	go func() {
		for r := range m.StatusReports() {
			_ = r // match r.MR (and r.Recipient) with the MR SendSMS returned
		}
	}()

	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	mrs, err := m.SendSMS(sctx, "+819012345678", "Your code is 482913", true)
	if err != nil && driver.Transient(err) {
		return // fail over to another modem
	}
	_ = mrs

	c, err := m.Call(ctx, "+819012345678", driver.CallOptions{PromptFile: "otp_ja.wav", RepeatPrompt: true})
	if err != nil {
		return
	}
	for ev := range c.Events() {
		if ev.Kind == driver.EventDigit && ev.Digit == '#' {
			c.Hangup(ctx)
		}
	}
	_ = c.Reason()

	<-m.Closed() // port lost or closed: the pool re-creates the driver
}
