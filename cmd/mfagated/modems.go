package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"mfagate/api"
	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/modem"
	"mfagate/modem/sim"
	"mfagate/phone"
)

// simLatency models the radio path of simulated modems (sim: ports): about
// 3 s to submit an SMS, about 4 s for a handset to answer.
type simLatency struct {
	sms, answer time.Duration
}

// modems starts the simulated modems that sim: ports name and builds the
// pool. It returns the pool, the virtual network (nil without sim ports)
// and a cleanup function.
func startModems(ctx context.Context, cfg *config.Config, svc *mfa.Service, db modem.Usage, m *metrics.Metrics,
	lat simLatency, log *slog.Logger) (*modem.Pool, *sim.Network, func(), error) {
	var simNet *sim.Network
	var sims []*sim.Modem
	cleanup := func() {
		for _, s := range sims {
			s.Close()
		}
	}
	var cfgs []modem.Config
	for i, mc := range cfg.Modems {
		port := mc.Port
		if profile, ok := mc.SimProfile(); ok {
			if simNet == nil {
				simNet = sim.NewNetwork(sim.NetworkOptions{
					SubmitLatency: lat.sms, SubmitJitter: lat.sms / 3, ReportDelay: time.Second,
					DialDelay: 500 * time.Millisecond, NoAnswerTimeout: 45 * time.Second,
					CountryCode: "81", OpenNumbering: true,
					Default: sim.Behavior{Answer: sim.AnswerAfterRing, RingFor: lat.answer},
					Logger:  log.With("component", "modemsim"),
				})
			}
			s, err := sim.Start(ctx, sim.Options{Profile: profile, Network: simNet, LinkName: mc.ID,
				IMEI: fmt.Sprintf("3599990000%05d", i+1), ICCID: fmt.Sprintf("89811000000000%05d", i+1),
				Number: fmt.Sprintf("+817000%06d", i+1), Logger: log.With("component", "modemsim", "modem", mc.ID)})
			if err != nil {
				cleanup()
				return nil, nil, nil, fmt.Errorf("start simulated modem %s: %w", mc.ID, err)
			}
			sims = append(sims, s)
			port = s.Path()
		}
		channels := make([]mfa.Channel, len(mc.Channels))
		for j, c := range mc.Channels {
			channels[j] = mfa.Channel(c)
		}
		cfgs = append(cfgs, modem.Config{ID: mc.ID, Port: port, Profile: mc.Profile, Channels: channels, DailyCap: mc.DailyCap, Baud: mc.Baud})
	}
	pool, err := modem.New(modem.Options{Service: svc, Modems: cfgs, Usage: db, Observer: m, Logger: log.With("component", "modem"),
		RingTimeout: cfg.Voice.RingTimeout.Duration, InputTimeout: cfg.Voice.InputTimeout.Duration,
		PromptFiles: map[string]string{"ja": cfg.Voice.PromptFileJA, "en": cfg.Voice.PromptFileEN}})
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return pool, simNet, cleanup, nil
}

// modemReadiness reports whether phone challenges can be delivered.
func modemReadiness(cfg *config.Config, pool *modem.Pool) func(context.Context) []api.Component {
	return func(context.Context) []api.Component {
		if len(cfg.Modems) == 0 {
			return []api.Component{{Name: "modems", Ready: true, Detail: "no modems configured: phone methods cannot be delivered"}}
		}
		sms, voice := pool.CanSend(mfa.ChannelSMS), pool.CanSend(mfa.ChannelVoice)
		c := api.Component{Name: "modems", Ready: sms+voice > 0,
			Detail: fmt.Sprintf("%d of %d modems can send SMS, %d can call", sms, len(cfg.Modems), voice)}
		return []api.Component{c}
	}
}

// demoPhones exposes the simulated network's handsets to the demo API.
type demoPhones struct {
	net    *sim.Network
	region string
}

func (d demoPhones) phone(number string) (*sim.Phone, error) {
	p, err := mfa.NormalizePhone(number, d.region, nil)
	if err != nil {
		return nil, err
	}
	ph := d.net.Phone(p.E164)
	if ph == nil {
		return nil, fmt.Errorf("no message or call has reached %s yet", phone.Mask(p.E164))
	}
	return ph, nil
}

func (d demoPhones) Messages(number string) ([]api.DemoSMS, error) {
	p, err := mfa.NormalizePhone(number, d.region, nil)
	if err != nil {
		return nil, err
	}
	// A handset that nothing reached yet has an empty inbox.
	ph := d.net.Phone(p.E164)
	if ph == nil {
		return nil, nil
	}
	var out []api.DemoSMS
	for _, m := range ph.Messages() {
		out = append(out, api.DemoSMS{From: m.From, Modem: m.Modem, Text: m.Text, Parts: m.Parts, UCS2: m.UCS2, Received: m.Received.UTC()})
	}
	return out, nil
}

func (d demoPhones) PressKeys(ctx context.Context, number, digits string) error {
	ph, err := d.phone(number)
	if err != nil {
		return err
	}
	calls := ph.Calls()
	for _, c := range slices.Backward(calls) {
		if c.State() == sim.CallActive {
			return c.PressKeys(ctx, digits)
		}
		if c.State() == sim.CallRinging {
			return errors.New("the call is still ringing; wait until the handset answers")
		}
	}
	return errors.New("the handset has no call in progress")
}
