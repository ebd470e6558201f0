package modem

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"mfagate/mfa"
	"mfagate/modem/driver"
)

// Service is the outbox the pool works from (implemented by *mfa.Service).
type Service interface {
	Claim(ctx context.Context, modem string, channels []mfa.Channel) (mfa.Outgoing, error)
	Report(ctx context.Context, job string, o mfa.Outcome) error
}

// Usage persists how many SMS each SIM sent per day, so that daily caps
// survive restarts. Day is the local date, "2006-01-02".
type Usage interface {
	AddUsage(ctx context.Context, sim, day string, n int) (int, error)
	Usage(ctx context.Context, sim, day string) (int, error)
}

// Observer receives per-modem events for metrics.
type Observer interface {
	// JobDone is called once per job a modem handled, with the result
	// ("sent", "retry", "failed", or a call outcome) and the time from claim
	// to the result.
	JobDone(modem string, channel mfa.Channel, result string, took time.Duration)
	// Digit counts keypad digits received in calls.
	Digit(modem string)
	// SMSFailed counts an SMS the modem could not submit, by cause (see
	// FailureCause): which network or SIM errors a modem meets.
	SMSFailed(modem, cause string)
}

// Config describes one modem.
type Config struct {
	ID       string
	Port     string // device path or udev symlink
	Profile  string // quectel, simcom, huawei, generic
	Channels []mfa.Channel
	DailyCap int // SMS per SIM per day; 0: no cap
	Baud     int
}

// Options configure a Pool.
type Options struct {
	Service  Service
	Modems   []Config
	Usage    Usage    // nil: caps count from zero at each start
	Observer Observer // nil: no metrics
	Logger   *slog.Logger
	// RingTimeout and InputTimeout bound voice calls (defaults 30 s, 20 s).
	RingTimeout, InputTimeout time.Duration
	// PromptFiles are recorded prompts on the modems, by language ("ja",
	// "en"), played instead of text-to-speech.
	PromptFiles map[string]string
	// SMSTimeout bounds one AT+CMGS; a hung modem's job moves to another
	// modem after it (default 25 s).
	SMSTimeout time.Duration
	// HealthInterval is how often an idle modem is checked (default 30 s).
	HealthInterval time.Duration
	// PortPoll is how often a vanished port is looked for (default 250 ms).
	PortPoll time.Duration
	// Cooldown is how long a modem leaves the queue to the others after a
	// transient failure, so a job it failed goes elsewhere (default 3 s).
	Cooldown time.Duration
	// DriverOptions are passed to every driver (tracing, call polling).
	DriverOptions []driver.Option
	Now           func() time.Time
}

// Pool drives every configured modem.
type Pool struct {
	opts    Options
	log     *slog.Logger
	workers []*worker
	wg      sync.WaitGroup
}

// New validates the modem list and prepares one worker per modem; Run
// starts them.
func New(o Options) (*Pool, error) {
	if o.Service == nil {
		return nil, fmt.Errorf("modem pool: no service")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.RingTimeout, 30*time.Second)
	def(&o.InputTimeout, 20*time.Second)
	def(&o.SMSTimeout, 25*time.Second)
	def(&o.HealthInterval, 30*time.Second)
	def(&o.PortPoll, 250*time.Millisecond)
	def(&o.Cooldown, 3*time.Second)
	p := &Pool{opts: o, log: o.Logger}
	seen := map[string]bool{}
	for _, c := range o.Modems {
		if c.ID == "" || seen[c.ID] {
			return nil, fmt.Errorf("modem pool: modem id %q is empty or repeated", c.ID)
		}
		seen[c.ID] = true
		prof, err := driver.ProfileByName(c.Profile)
		if err != nil {
			return nil, fmt.Errorf("modem %s: %w", c.ID, err)
		}
		if len(c.Channels) == 0 {
			c.Channels = []mfa.Channel{mfa.ChannelSMS, mfa.ChannelVoice}
		}
		w := &worker{pool: p, cfg: c, prof: prof, wake: make(chan struct{}, 1),
			log: o.Logger.With("modem", c.ID), mrs: map[int]pendingReport{}}
		w.status = Status{ID: c.ID, Profile: c.Profile, Port: c.Port, State: StateDown, DailyCap: c.DailyCap,
			Channels: slices.Clone(c.Channels)}
		p.workers = append(p.workers, w)
	}
	return p, nil
}

// Run starts the workers and returns once ctx is done and every worker has
// finished its exchange in flight and closed its port.
func (p *Pool) Run(ctx context.Context) {
	for _, w := range p.workers {
		p.wg.Go(func() { w.run(ctx) })
	}
	p.wg.Wait()
}

// Wake implements mfa.Sender: every idle worker looks at the outbox.
func (p *Pool) Wake() {
	for _, w := range p.workers {
		w.poke()
	}
}

// wakeOthers wakes every worker but w (a job came back to the queue).
func (p *Pool) wakeOthers(w *worker) {
	for _, o := range p.workers {
		if o != w {
			o.poke()
		}
	}
}

// Status lists the modems' last published state.
func (p *Pool) Status() []Status {
	out := make([]Status, 0, len(p.workers))
	for _, w := range p.workers {
		out = append(out, w.snapshot())
	}
	return out
}

// Holding lists the outbox jobs the modems have in flight: the claims
// this node's heartbeat keeps alive.
func (p *Pool) Holding() []string {
	var out []string
	for _, w := range p.workers {
		if j := w.snapshot().Job; j != "" {
			out = append(out, j)
		}
	}
	return out
}

// Describe summarises modems for the other nodes' status pages: the
// state, "busy" for a modem that is up with a job in flight.
func Describe(st []Status) []mfa.NodeModem {
	out := make([]mfa.NodeModem, 0, len(st))
	for _, s := range st {
		state := s.State
		if s.State == StateUp && s.Busy {
			state = "busy"
		}
		out = append(out, mfa.NodeModem{Name: s.ID, State: state, Channels: s.Channels})
	}
	return out
}

// CanSend reports how many modems are up and able to take a job of channel.
func (p *Pool) CanSend(channel mfa.Channel) int {
	n := 0
	for _, s := range p.Status() {
		if s.State == StateUp && slices.Contains(s.Channels, channel) && (s.DailyCap == 0 || s.SentToday < s.DailyCap || channel == mfa.ChannelVoice) {
			n++
		}
	}
	return n
}

type nopObserver struct{}

func (nopObserver) JobDone(string, mfa.Channel, string, time.Duration) {}
func (nopObserver) Digit(string)                                       {}
func (nopObserver) SMSFailed(string, string)                           {}
