// Command modemsim runs simulated GSM modems on pseudo-terminals, with a
// virtual phone network behind them, for staging and for interop with
// outside clients such as Gammu and smstools. It prints one line per modem
// with the stable port path to configure, and runs until SIGINT/SIGTERM.
//
//	modemsim -profile quectel -link /run/mfagate-test/ec25
//	modemsim -count 2 -profile quectel,simcom -dir /run/mfagate-test \
//	    -latency 3s -jitter 1s -busy +819011112222 -keys 42#
//
// Every well-formed number is reachable (the phone answers after -ring,
// waits for a prompt and presses -keys) unless listed as busy, unreachable
// or no-answer. A Gammu configuration for the first modem:
//
//	[gammu]
//	device = /run/mfagate-test/ttyGSM0
//	connection = at
//	use_locking = no
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mfagate/modem/sim"
	"mfagate/phone"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	profiles    []string
	count       int
	dir         string
	link        string
	net         sim.NetworkOptions
	busy        []string
	unreachable []string
	noAnswer    []string
	logLevel    slog.Level
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("modemsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c                          config
		profiles, busy, unr, noAns string
		ring, keysAfter, hangup    time.Duration
		keys, level                string
		waitPrompt                 bool
	)
	fs.StringVar(&profiles, "profile", "quectel", "vendor profile(s), comma-separated and cycled over the modems: "+strings.Join(sim.Profiles, ", "))
	fs.IntVar(&c.count, "count", 1, "number of modems (1-64)")
	fs.StringVar(&c.dir, "dir", "", "directory for the stable port symlinks ttyGSM0… (default: a new temporary directory)")
	fs.StringVar(&c.link, "link", "", "with one modem: the stable symlink to create for its port (like a udev name, e.g. /run/mfagate-test/ec25)")
	fs.DurationVar(&c.net.SubmitLatency, "latency", 0, "SMS submit latency (radio path), e.g. 3s")
	fs.DurationVar(&c.net.SubmitJitter, "jitter", 0, "SMS submit latency jitter, e.g. 1s for 3s±1s")
	fs.DurationVar(&c.net.ReportDelay, "report-delay", 2*time.Second, "time from submit to status report")
	fs.DurationVar(&c.net.DialDelay, "dial-delay", 500*time.Millisecond, "time from ATD to ringing")
	fs.DurationVar(&c.net.NoAnswerTimeout, "no-answer-timeout", 20*time.Second, "ring time before NO ANSWER")
	fs.StringVar(&c.net.CountryCode, "country", "81", "country code for national numbers (0…)")
	fs.StringVar(&busy, "busy", "", "comma-separated E.164 numbers that are busy")
	fs.StringVar(&unr, "unreachable", "", "comma-separated E.164 numbers that are switched off")
	fs.StringVar(&noAns, "no-answer", "", "comma-separated E.164 numbers that never pick up")
	fs.DurationVar(&ring, "ring", 3*time.Second, "how long other phones ring before answering")
	fs.StringVar(&keys, "keys", "", "digits other phones press after answering, e.g. 42#")
	fs.DurationVar(&keysAfter, "keys-after", time.Second, "delay before pressing -keys")
	fs.BoolVar(&waitPrompt, "wait-prompt", true, "press -keys only after the first prompt has played")
	fs.DurationVar(&hangup, "hangup-after", 0, "callee hangs up this long after the keys (0: never)")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.count < 1 || c.count > 64 {
		return nil, fmt.Errorf("-count %d: want 1 to 64 modems", c.count)
	}
	if c.link != "" {
		if c.count != 1 || c.dir != "" {
			return nil, fmt.Errorf("-link names one port: use it with -count 1 and without -dir")
		}
		if !filepath.IsAbs(c.link) {
			return nil, fmt.Errorf("-link %q: want an absolute path", c.link)
		}
		c.dir = filepath.Dir(c.link)
	}
	for _, p := range strings.Split(profiles, ",") {
		p = strings.TrimSpace(p)
		if !validProfile(p) {
			return nil, fmt.Errorf("-profile %q: want one of %s", p, strings.Join(sim.Profiles, ", "))
		}
		c.profiles = append(c.profiles, p)
	}
	for _, r := range keys {
		if !strings.ContainsRune("0123456789*#ABCD", r) {
			return nil, fmt.Errorf("-keys %q: %q is not a keypad key (0-9, *, #, A-D)", keys, r)
		}
	}
	if err := c.logLevel.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	c.net.OpenNumbering = true
	c.net.Default = sim.Behavior{Answer: sim.AnswerAfterRing, RingFor: ring, WaitForPrompt: waitPrompt, HangupAfter: hangup}
	if keys != "" {
		c.net.Default.Keys = []sim.KeyStep{{After: keysAfter, Digits: keys}}
	}
	var err error
	if c.busy, err = numbers("-busy", busy); err != nil {
		return nil, err
	}
	if c.unreachable, err = numbers("-unreachable", unr); err != nil {
		return nil, err
	}
	if c.noAnswer, err = numbers("-no-answer", noAns); err != nil {
		return nil, err
	}
	return &c, nil
}

func validProfile(p string) bool {
	for _, q := range sim.Profiles {
		if p == q {
			return true
		}
	}
	return false
}

func numbers(flagName, list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !strings.HasPrefix(n, "+") || len(n) < 7 || len(n) > 16 || strings.Trim(n[1:], "0123456789") != "" {
			return nil, fmt.Errorf("%s: %q is not an E.164 number like +819012345678", flagName, n)
		}
		out = append(out, n)
	}
	return out, nil
}

// imei returns a 15-digit IMEI with a valid Luhn check digit.
func imei(i int) string {
	body := fmt.Sprintf("86000000%06d", i+1)
	sum := 0
	for j, r := range body {
		d := int(r - '0')
		if j%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + fmt.Sprint((10-sum%10)%10)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "modemsim:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))
	c.net.Logger = log
	n := sim.NewNetwork(c.net)
	for _, set := range []struct {
		nums []string
		b    sim.Behavior
	}{{c.busy, sim.Behavior{Answer: sim.Busy}}, {c.unreachable, sim.Behavior{Answer: sim.Unreachable}},
		{c.noAnswer, sim.Behavior{Answer: sim.NoAnswer}}} {
		for _, num := range set.nums {
			if _, err := n.AddPhone(num, set.b); err != nil {
				fmt.Fprintln(stderr, "modemsim:", err)
				return 2
			}
		}
	}
	dir := c.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "modemsim-"); err != nil {
			fmt.Fprintln(stderr, "modemsim:", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	var modems []*sim.Modem
	defer func() {
		for _, m := range modems {
			m.Close()
		}
	}()
	for i := 0; i < c.count; i++ {
		m, err := sim.Start(ctx, sim.Options{
			Profile: c.profiles[i%len(c.profiles)], Network: n, IMEI: imei(i),
			Number: fmt.Sprintf("+8170000%05d", i), LinkDir: dir, LinkName: linkName(c.link, i),
			Logger: log,
		})
		if err != nil {
			fmt.Fprintln(stderr, "modemsim:", err)
			return 1
		}
		modems = append(modems, m)
		fmt.Fprintf(stdout, "modem %d profile=%s imei=%s port=%s\n", i, m.Profile(), m.IMEI(), m.Path())
	}
	events := n.Subscribe(ctx)
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "modemsim: stopping")
			return 0
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			logEvent(log, ev)
		}
	}
}

// logEvent reports network activity without message text or full numbers.
func logEvent(log *slog.Logger, ev sim.Event) {
	to := phone.Mask(ev.Number)
	switch ev.Kind {
	case "sms":
		log.Info("sms delivered", "to", to, "parts", ev.SMS.Parts, "chars", len([]rune(ev.SMS.Text)), "modem", ev.SMS.Modem)
	case "call":
		log.Info("call", "to", to, "state", ev.State.String(), "modem", ev.Call.Modem, "prompts", len(ev.Call.Prompts()))
	}
}

// linkName is the symlink name of modem i: ttyGSM<i>, or -link's base name.
func linkName(link string, i int) string {
	if link != "" {
		return filepath.Base(link)
	}
	return fmt.Sprintf("ttyGSM%d", i)
}
