package sim_test

import (
	"context"
	"fmt"
	"time"

	"mfagate/modem/sim"
)

// A demo or test wires a network, a phone and a modem, points the modem
// driver at m.Path(), and waits for what the phone receives.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := sim.NewNetwork(sim.NetworkOptions{SubmitLatency: 3 * time.Second, SubmitJitter: time.Second})
	phone, err := n.AddPhone("+819012345678", sim.Behavior{
		RingFor:       2 * time.Second,
		WaitForPrompt: true,
		Keys:          []sim.KeyStep{{After: time.Second, Digits: "42#"}},
	})
	if err != nil {
		panic(err)
	}
	m, err := sim.Start(ctx, sim.Options{Profile: "quectel", Network: n, IMEI: "867000000000001"})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	fmt.Println("configure the modem driver with", m.Path())

	// … the driver sends an SMS …
	if msg, err := phone.NextSMS(ctx); err == nil {
		fmt.Println(msg.Parts, "part(s) received")
	}
	// … or calls: the phone rings, answers, waits for the prompt, keys 42#.
	if call, err := phone.NextCall(ctx); err == nil {
		call.WaitState(ctx, sim.CallEnded)
		fmt.Println(call.Pressed(), call.EndReason())
	}
}
