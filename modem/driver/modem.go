package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/warthog618/modem/at"
	"github.com/warthog618/modem/gsm"
	"github.com/warthog618/sms"
	"go.bug.st/serial"
)

// Timeouts bound each kind of AT command. Zero fields take the defaults.
type Timeouts struct {
	Command  time.Duration // everything not listed below (default 2 s)
	Init     time.Duration // ATZ and the vendor setup commands (default 5 s)
	Dial     time.Duration // ATD…; (default 20 s; OK comes within ~5 s with COLP=0)
	Operator time.Duration // AT+COPS? (default 10 s)
	Hangup   time.Duration // AT+CHUP / ATH (default 20 s)
	Reset    time.Duration // AT+CFUN=1,1 (default 20 s)
	//lint:ignore ST1011 SMS names the command kind (AT+CMGS), not milliseconds
	SMS time.Duration // AT+CMGS, per part (default 120 s, the documented maximum)
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Command, 2*time.Second)
	def(&t.Init, 5*time.Second)
	def(&t.Dial, 20*time.Second)
	def(&t.SMS, 120*time.Second)
	def(&t.Operator, 10*time.Second)
	def(&t.Hangup, 20*time.Second)
	def(&t.Reset, 20*time.Second)
	return t
}

type config struct {
	log           *slog.Logger
	trace         bool
	timeouts      Timeouts
	baud          int
	directReports bool
	pollInterval  time.Duration
	endGrace      time.Duration
	reportBuffer  int
}

// Option configures New and Open.
type Option func(*config)

// WithLogger sets the logger (default: discard). Scope it before passing,
// e.g. log.With("modem", id).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithTrace logs every AT line at debug level on the driver's logger, with
// PDUs, prompt texts, keypad digits and phone numbers redacted.
func WithTrace() Option { return func(c *config) { c.trace = true } }

// WithTimeouts overrides command timeouts; zero fields keep their defaults.
func WithTimeouts(t Timeouts) Option { return func(c *config) { c.timeouts = t } }

// WithBaudRate sets the serial speed used by Open (default 115200).
func WithBaudRate(baud int) Option { return func(c *config) { c.baud = baud } }

// WithDirectStatusReports routes status reports to the driver as +CDS
// (AT+CSMS=1, +CNMI ds=1), each acknowledged with AT+CNMA. The default
// stores them in the modem and announces them with +CDSI (ds=2), which the
// driver reads and deletes; that survives a missed acknowledgement.
func WithDirectStatusReports() Option { return func(c *config) { c.directReports = true } }

// WithCallPollInterval sets how often AT+CLCC is polled during a call on
// profiles that poll (default 1 s).
func WithCallPollInterval(d time.Duration) Option { return func(c *config) { c.pollInterval = d } }

// Modem drives one AT modem. Its methods are safe for concurrent use; they
// are executed one at a time by the goroutine that owns the port.
//
// Goroutines: the owner goroutine (loop) is the only one that issues AT
// commands and touches the fields marked "owner" below; at's own three
// goroutines (line reader, indication loop, command loop) run until the port
// returns an error or EOF, which Close provokes by closing the port.
type Modem struct {
	prof   Profile
	cfg    config
	log    *slog.Logger
	tap    *tap
	g      *gsm.GSM
	closer io.Closer // nil when rw is not an io.Closer

	reqs     chan request
	quit     chan struct{} // closed by Close
	quitOnce sync.Once
	stopped  chan struct{} // closed when the owner goroutine has exited
	reports  chan StatusReport

	errMu sync.Mutex
	err   error // why the driver stopped

	// owner
	enc       *sms.Encoder
	pollCalls bool
	readMem   string
	active    *callSession // the call in progress, if any
	unsettled bool         // a command timed out; its late reply may still come
	bootSeq   uint64       // line count when the first initialisation ended; max until then
}

type request struct {
	ctx  context.Context
	fn   func(context.Context) error
	done chan error // capacity 1
}

// Open opens the serial port at path (115200 8N1 unless WithBaudRate) and
// returns the initialised driver. The port is closed by Close or on failure.
func Open(ctx context.Context, path string, profile Profile, opts ...Option) (*Modem, error) {
	cfg := newConfig(opts)
	port, err := serial.Open(path, &serial.Mode{BaudRate: cfg.baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open modem port %s: %w", path, err)
	}
	m, err := New(ctx, port, profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("modem on %s: %w", path, err)
	}
	return m, nil
}

func newConfig(opts []Option) config {
	cfg := config{baud: 115200, pollInterval: time.Second, endGrace: 500 * time.Millisecond, reportBuffer: 256}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.timeouts = cfg.timeouts.withDefaults()
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.pollInterval <= 0 {
		cfg.pollInterval = time.Second
	}
	return cfg
}

// New starts a driver on rw and initialises the modem; ctx bounds only the
// initialisation. If rw is an io.Closer, Close closes it and waits for every
// goroutine reading it; otherwise at's line reader exits when rw.Read next
// fails. On error New has already cleaned up.
func New(ctx context.Context, rw io.ReadWriter, profile Profile, opts ...Option) (*Modem, error) {
	if profile.Name == "" {
		return nil, errors.New("modem driver: empty profile; get one with ProfileByName")
	}
	cfg := newConfig(opts)
	m := &Modem{
		prof:    profile,
		cfg:     cfg,
		log:     cfg.log.With("profile", profile.Name),
		reqs:    make(chan request),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		reports: make(chan StatusReport, cfg.reportBuffer),
		enc:     newEncoder(),
		// The line reader starts before the first initialisation, and the
		// owner may drain the power-on RDY before it serves that request:
		// until the initialisation has ended, every RDY is the power-on one.
		bootSeq: math.MaxUint64,
	}
	var trace *slog.Logger
	if cfg.trace {
		trace = traceLogger(m.log)
	}
	m.tap = newTap(rw, profile.classify, trace)
	atOpts := []at.Option{at.WithTimeout(cfg.timeouts.Command)}
	for _, s := range profile.indications() {
		// Delivery happens through the tap; registering keeps multi-line
		// URCs (+CDS) out of command replies.
		atOpts = append(atOpts, at.WithIndication(s.prefix, func([]string) {}, at.WithTrailingLines(s.trailing)))
	}
	m.g = gsm.New(at.New(m.tap, atOpts...), gsm.WithNumericErrors)
	if c, ok := rw.(io.Closer); ok {
		m.closer = c
	}
	go m.loop()
	first := func(ctx context.Context) error {
		err := m.initialize(ctx)
		m.bootSeq = m.tap.lineSeq()
		return err
	}
	if err := m.do(ctx, first); err != nil {
		m.Close()
		return nil, fmt.Errorf("initialise %s modem: %w", profile.Name, err)
	}
	return m, nil
}

// Profile returns the vendor profile the driver was created with.
func (m *Modem) Profile() Profile { return m.prof }

// Closed is closed when the driver has stopped: after Close, or when the
// port was lost (EOF/EIO, e.g. USB unplug). The pool then calls Close and
// re-creates the driver.
func (m *Modem) Closed() <-chan struct{} { return m.stopped }

// Err returns why the driver stopped (ErrClosed, or an error wrapping
// ErrPortLost), or nil while it runs.
func (m *Modem) Err() error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.err
}

func (m *Modem) setErr(err error) {
	m.errMu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.errMu.Unlock()
}

// closeGrace is how long Close lets a running command finish (and an active
// call be hung up) before it closes the port under it.
const closeGrace = 3 * time.Second

// Close stops the driver, hanging up an active call, closes the port if it
// is an io.Closer and waits for the goroutines reading it. It is safe to
// call more than once.
func (m *Modem) Close() error {
	m.quitOnce.Do(func() { close(m.quit) })
	t := time.NewTimer(closeGrace)
	select {
	case <-m.stopped:
	case <-t.C:
	}
	t.Stop()
	var err error
	if m.closer != nil {
		if cerr := m.closer.Close(); cerr != nil && !errors.Is(m.Err(), ErrPortLost) {
			err = fmt.Errorf("close modem port: %w", cerr)
		}
	}
	<-m.stopped
	if m.closer != nil {
		<-m.g.Closed() // at's goroutines have exited
	}
	return err
}

// StatusReports delivers SMS status reports. It is closed when the driver
// stops. Reports that find the channel full are dropped and logged, so keep
// reading it.
func (m *Modem) StatusReports() <-chan StatusReport { return m.reports }

// do runs fn on the owner goroutine and waits for it or for ctx. fn itself
// gets ctx and must bound every command by it.
func (m *Modem) do(ctx context.Context, fn func(context.Context) error) error {
	r := request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case m.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.stopped:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// run is do for requests with a result. The result is handed over through a
// channel, so a caller that gave up on ctx never shares memory with fn.
func run[T any](m *Modem, ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	err := m.do(ctx, func(ctx context.Context) error {
		v, err := fn(ctx)
		ch <- result{v, err}
		return err
	})
	select {
	case r := <-ch:
		return r.v, r.err
	default:
		var zero T
		return zero, err
	}
}

// loop is the owner goroutine.
func (m *Modem) loop() {
	defer close(m.stopped)
	defer close(m.reports)
	for {
		ring, input, maxDur, grace, tick, hangup, cancel := m.sessionCases()
		select {
		case <-m.quit:
			if cs := m.active; cs != nil {
				cs.end(EndLocalHangup, true)
			}
			m.setErr(ErrClosed)
			return
		case <-m.g.Closed():
			if cs := m.active; cs != nil {
				cs.end(EndFailed, false)
			}
			m.portLost()
			return
		case r := <-m.reqs:
			m.serve(r)
		case <-m.tap.notify:
			m.drainURCs()
		case <-tick:
			m.drainURCs() // earlier URCs first
			if cs := m.active; cs != nil {
				cs.pollCalls()
			}
		case <-ring:
			m.active.end(EndNoAnswer, true)
		case <-input:
			m.active.end(EndInputTimeout, true)
		case <-maxDur:
			m.active.end(EndInputTimeout, true)
		case <-grace:
			m.active.end(EndNoCarrier, false)
		case <-hangup:
			m.drainURCs()
			if cs := m.active; cs != nil {
				cs.end(EndLocalHangup, true)
			}
		case <-cancel:
			m.drainURCs()
			if cs := m.active; cs != nil {
				cs.end(EndLocalHangup, true)
			}
		}
	}
}

func (m *Modem) portLost() {
	cause := m.tap.err()
	if cause == nil {
		// Read never failed: at's scanner stopped (EOF or a line longer
		// than its buffer).
		cause = errors.New("line reader stopped")
	}
	m.setErr(fmt.Errorf("%w: %v", ErrPortLost, cause))
	m.log.Warn("modem port lost", "err", cause)
	if m.closer != nil {
		m.closer.Close() // release the descriptor now; Close repeats it harmlessly
	}
}

func (m *Modem) serve(r request) {
	if err := r.ctx.Err(); err != nil {
		r.done <- err
		return
	}
	r.done <- r.fn(r.ctx)
}

// isStopping reports whether Close was called or the port is gone.
func (m *Modem) isStopping() bool {
	select {
	case <-m.quit:
		return true
	case <-m.g.Closed():
		return true
	default:
		return false
	}
}

// command runs one AT command (without the "AT" prefix) with timeout capped
// by ctx's deadline. URC lines that leaked into the reply are removed. Errors
// are mapped to ErrTimeout, ErrClosed, *CMSError, *CMEError; at.ConnectError
// (BUSY/NO CARRIER… during ATD) is returned wrapped as is.
func (m *Modem) command(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	timeout, err := capTimeout(ctx, timeout)
	if err != nil {
		return nil, err
	}
	m.settle()
	info, err := m.g.Command(cmd, at.WithTimeout(timeout))
	err = m.mapErr(cmd, err)
	if errors.Is(err, ErrTimeout) {
		m.unsettled = true
	}
	return m.filterInfo(info), err
}

// Settling after a timeout: at pairs replies with commands by order only, so
// the late reply of a timed-out command (or the OK answering the ESC that
// aborts a timed-out AT+CMGS) would complete the next command. Before the
// next command the driver waits until the port has been quiet for
// settleQuiet, at most settleMax, so such lines arrive while no command is
// pending and are discarded.
const (
	settleQuiet = 150 * time.Millisecond
	settleMax   = 2 * time.Second
)

func (m *Modem) settle() {
	if !m.unsettled {
		return
	}
	m.unsettled = false
	last := m.tap.lineSeq()
	for waited := time.Duration(0); waited < settleMax; waited += settleQuiet {
		t := time.NewTimer(settleQuiet)
		select {
		case <-t.C:
		case <-m.g.Closed():
			t.Stop()
			return
		}
		cur := m.tap.lineSeq()
		if cur == last {
			return
		}
		last = cur
	}
}

func capTimeout(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if dl, ok := ctx.Deadline(); ok {
		if rem := time.Until(dl); rem < timeout {
			timeout = rem
		}
	}
	if timeout <= 0 {
		return 0, ErrTimeout
	}
	return timeout, nil
}

// filterInfo drops blank lines (SIMCom frames URCs with \r\r\n) and URC lines
// that at appended to a reply.
func (m *Modem) filterInfo(info []string) []string {
	out := info[:0:0]
	for _, l := range info {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if _, ok := m.prof.classify(l); ok {
			continue
		}
		out = append(out, l)
	}
	return out
}

// cmdName is the part of a command safe to put in an error or a log: no
// numbers, texts or PDUs.
func cmdName(cmd string) string {
	if strings.HasPrefix(cmd, "D") {
		return "ATD"
	}
	if i := strings.IndexAny(cmd, "=?"); i >= 0 {
		cmd = cmd[:i]
	}
	return "AT" + cmd
}

func (m *Modem) mapErr(cmd string, err error) error {
	if err == nil {
		return nil
	}
	name := "modem"
	if cmd != "" {
		name = cmdName(cmd)
	}
	var cms at.CMSError
	var cme at.CMEError
	var ce at.ConnectError
	switch {
	case errors.Is(err, at.ErrDeadlineExceeded):
		return fmt.Errorf("%s: %w", name, ErrTimeout)
	case errors.Is(err, at.ErrClosed):
		return fmt.Errorf("%s: %w", name, ErrClosed)
	case errors.As(err, &cms):
		return fmt.Errorf("%s: %w", name, newCMSError(string(cms)))
	case errors.As(err, &cme):
		return fmt.Errorf("%s: %w", name, newCMEError(string(cme)))
	case errors.As(err, &ce):
		return fmt.Errorf("%s: %w", name, ce)
	case errors.Is(err, at.ErrError):
		return fmt.Errorf("%s: modem answered ERROR: %w", name, err)
	}
	if m.isStopping() {
		return fmt.Errorf("%s: %w: %v", name, ErrClosed, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Init re-initialises the modem (ATZ, echo off, PDU mode, numeric errors,
// status-report routing, vendor settings). The pool calls it when the modem
// stops answering.
func (m *Modem) Init(ctx context.Context) error {
	return m.do(ctx, m.initialize)
}

func (m *Modem) initialize(ctx context.Context) error {
	to, err := capTimeout(ctx, m.cfg.timeouts.Init)
	if err != nil {
		return err
	}
	// Escape, ATZ, ATE0, +GCAP (must list +CGSM), +CMGF=0, +CMEE=1.
	if err := m.g.Init(at.WithTimeout(to)); err != nil {
		if errors.Is(err, gsm.ErrNotGSMCapable) {
			return fmt.Errorf("modem does not list +CGSM in AT+GCAP: %w", err)
		}
		return fmt.Errorf("basic setup (ATZ, ATE0, AT+GCAP, AT+CMGF=0, AT+CMEE=1): %w", m.mapErr("", err))
	}
	m.pollCalls = m.prof.PollCalls
	m.readMem = ""
	routing := []string{"+CNMI=2,0,0,2,0"}
	if m.cfg.directReports {
		routing = []string{"+CSMS=1", "+CNMI=2,0,0,1,0"}
	}
	for _, c := range routing {
		if _, err := m.command(ctx, c, m.cfg.timeouts.Init); err != nil {
			// Without a SIM this fails; the modem is still usable for
			// health reporting, so only warn.
			m.log.Warn("status report routing refused", "cmd", cmdName(c), "err", err)
			break
		}
	}
	for _, s := range m.prof.Setup {
		_, err := m.command(ctx, s.Cmd, m.cfg.timeouts.Init)
		if err == nil {
			continue
		}
		if errors.Is(err, ErrTimeout) || errors.Is(err, ErrClosed) || !s.Optional {
			return err
		}
		if s.PollOnFailure {
			m.pollCalls = true
		}
		m.log.Debug("optional setting refused", "cmd", cmdName(s.Cmd), "err", err)
	}
	return nil
}

// Reset restarts the modem with AT+CFUN=1,1. A USB modem then usually
// re-enumerates, so expect Closed to fire.
func (m *Modem) Reset(ctx context.Context) error {
	return m.do(ctx, func(ctx context.Context) error {
		_, err := m.command(ctx, "+CFUN=1,1", m.cfg.timeouts.Reset)
		return err
	})
}

// drainURCs handles queued URCs in wire order. During a call, call-related
// URCs go to the call session.
func (m *Modem) drainURCs() {
	q, dropped := m.tap.take()
	if dropped > 0 {
		m.log.Warn("URC queue full, URCs dropped", "dropped", dropped)
	}
	for _, u := range q {
		if cs := m.active; cs != nil && cs.wants(u) {
			cs.onURC(u)
			continue
		}
		m.idleURC(u)
	}
}

// idleURC handles a URC that does not belong to a call.
func (m *Modem) idleURC(u urc) {
	switch u.kind {
	case urcStatusReport:
		m.onCDS(u)
	case urcStatusStored:
		m.onCDSI(u)
	case urcBoot:
		if u.seq <= m.bootSeq {
			// The power-on RDY, read before or while the first
			// initialisation ran: the modem answered it, so nothing was
			// lost. A freshly plugged modem is not a restart.
			m.log.Debug("boot URC read during initialisation", "urc", "RDY")
			return
		}
		m.log.Warn("modem restarted (RDY); re-initialising")
		ctx, cancel := context.WithTimeout(context.Background(), 4*m.cfg.timeouts.Init)
		defer cancel()
		if err := m.initialize(ctx); err != nil {
			m.log.Error("re-initialisation after restart failed", "err", err)
		}
	case urcRing:
		// The gateway only places calls; an incoming call would hold the
		// line, so reject it (like smsd's hangup_incoming_call) - but never
		// while our own call is up, which AT+CHUP would end.
		if m.active != nil {
			return
		}
		m.log.Info("rejecting incoming call")
		m.hangupLine()
	default:
		// Call events, digits and prompt completions outside a call are
		// stale; nothing to do.
	}
}
