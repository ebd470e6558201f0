package modem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"mfagate/mfa"
	"mfagate/modem/driver"
	"mfagate/phone"
)

// worker owns one modem. Only its goroutine (run) touches drv, mrs, day and
// failures; status is guarded by mu because readers snapshot it.
type worker struct {
	pool *Pool
	cfg  Config
	prof driver.Profile
	log  *slog.Logger
	wake chan struct{}

	mrs map[int]pendingReport // message reference → job awaiting a status report
	// sent is the outcome of the SMS just sent, recorded with the next
	// claim in one transaction (Handover) when the service offers it.
	sent      *sentOutcome
	day       string    // local date SentToday counts for
	failures  int       // consecutive failed health checks
	coolUntil time.Time // no claims before this, after a transient failure

	mu     sync.Mutex
	status Status
}

type sentOutcome struct {
	job string
	o   mfa.Outcome
}

// handover is a Service that records an outcome and claims the next job
// in one transaction (mfa.Service.Handover).
type handover interface {
	Handover(ctx context.Context, modem string, channels []mfa.Channel, job string, o mfa.Outcome) (mfa.Outgoing, error)
}

type pendingReport struct {
	job  string
	sent time.Time
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) snapshot() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	s.Channels = append([]mfa.Channel(nil), s.Channels...)
	return s
}

func (w *worker) update(f func(s *Status)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	before := w.status.State
	f(&w.status)
	if w.status.State != before {
		w.status.Since = w.pool.opts.Now()
	}
}

func (w *worker) setState(state, lastErr string) {
	w.update(func(s *Status) {
		s.State = state
		if lastErr != "" {
			s.LastError = lastErr
		}
	})
}

// run keeps the modem in service until ctx ends: open, set up, serve,
// and after a loss open again as soon as the port is back.
func (w *worker) run(ctx context.Context) {
	backoff := w.pool.opts.PortPoll
	for ctx.Err() == nil {
		drv, err := w.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.setState(StateDown, err.Error())
			w.log.Warn("modem unavailable", "err", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = w.pool.opts.PortPoll
		w.serve(ctx, drv)
		drv.Close()
		w.update(func(s *Status) { s.Reopens++ })
	}
	w.setState(StateDown, "stopped")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// connect waits for the port to exist, opens it and reads the modem's
// identity and health.
func (w *worker) connect(ctx context.Context) (*driver.Modem, error) {
	poll := time.NewTicker(w.pool.opts.PortPoll)
	defer poll.Stop()
	for {
		if _, err := os.Stat(w.cfg.Port); err == nil {
			break
		}
		w.setState(StateDown, "port "+w.cfg.Port+" is absent")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-poll.C:
		}
	}
	w.setState(StateInitialising, "")
	opts := append([]driver.Option{
		driver.WithLogger(w.log),
		driver.WithTimeouts(driver.Timeouts{SMS: w.pool.opts.SMSTimeout}),
	}, w.pool.opts.DriverOptions...)
	if w.cfg.Baud > 0 {
		opts = append(opts, driver.WithBaudRate(w.cfg.Baud))
	}
	drv, err := driver.Open(ctx, w.cfg.Port, w.prof, opts...)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", w.cfg.Port, err)
	}
	id, err := drv.Identity(ctx)
	if err != nil {
		drv.Close()
		return nil, err
	}
	w.update(func(s *Status) { s.Model, s.IMEI, s.ICCID = id.Model, id.IMEI, id.ICCID })
	w.loadUsage(ctx)
	w.log.Info("modem opened", "imei", id.IMEI, "model", id.Model)
	w.checkHealth(ctx, drv)
	return drv, nil
}

// serve runs jobs on drv until its port is lost, health checks fail past
// recovery, or ctx ends.
func (w *worker) serve(ctx context.Context, drv *driver.Modem) {
	health := time.NewTicker(w.pool.opts.HealthInterval)
	defer health.Stop()
	cool := time.NewTimer(0)
	defer cool.Stop()
	for {
		if w.canWork() {
			switch w.work(ctx, drv) {
			case jobPortLost:
				w.setState(StateDown, "port lost during a job")
				return
			case jobTimedOut:
				// A modem that timed out is checked (and re-initialised or
				// reset) before it gets another job.
				if !w.checkHealth(ctx, drv) {
					return
				}
			}
		}
		if d := time.Until(w.coolUntil); d > 0 {
			cool.Reset(d)
		}
		select {
		case <-ctx.Done():
			return
		case <-cool.C:
		case <-drv.Closed():
			w.setState(StateDown, fmt.Sprintf("port lost: %v", drv.Err()))
			return
		case <-w.wake:
		case r, ok := <-drv.StatusReports():
			if ok {
				w.onReport(ctx, r)
			}
		case <-health.C:
			if !w.checkHealth(ctx, drv) {
				return
			}
		}
	}
}

// canWork reports whether the modem should claim jobs now.
func (w *worker) canWork() bool {
	return w.snapshot().State == StateUp && !time.Now().Before(w.coolUntil)
}

// jobEnd says how a run of jobs ended for the worker.
type jobEnd int

const (
	jobIdle     jobEnd = iota // nothing (more) to do
	jobTimedOut               // the modem did not answer in time
	jobPortLost               // the port went away
)

// channels lists what the modem may take now: SMS only under the cap.
func (w *worker) channels() []mfa.Channel {
	s := w.snapshot()
	w.rollDay()
	var out []mfa.Channel
	for _, c := range w.cfg.Channels {
		if c == mfa.ChannelSMS && w.cfg.DailyCap > 0 && s.SentToday >= w.cfg.DailyCap {
			continue
		}
		out = append(out, c)
	}
	return out
}

// work claims and handles jobs until none waits or one fails transiently.
func (w *worker) work(ctx context.Context, drv *driver.Modem) jobEnd {
	defer w.flushSent()
	for ctx.Err() == nil {
		chans := w.channels()
		if len(chans) == 0 {
			return jobIdle
		}
		o, err := w.claim(ctx, chans)
		if errors.Is(err, mfa.ErrNotFound) {
			return jobIdle
		}
		if err != nil {
			w.log.Error("claim from the outbox failed", "err", err)
			return jobIdle
		}
		w.update(func(s *Status) { s.Busy, s.Job = true, o.Job })
		start := time.Now()
		// A job in flight finishes even while the daemon stops: the
		// modem owns the exchange until it answers.
		jctx := context.WithoutCancel(ctx)
		var result string
		var err2 error
		if o.Channel == mfa.ChannelVoice {
			result, err2 = w.call(jctx, drv, o)
		} else {
			result, err2 = w.sms(jctx, drv, o)
		}
		w.update(func(s *Status) { s.Busy, s.Job = false, "" })
		w.pool.opts.Observer.JobDone(w.cfg.ID, o.Channel, result, time.Since(start))
		if result == "retry" {
			w.coolUntil = time.Now().Add(w.pool.opts.Cooldown)
			w.pool.wakeOthers(w)
			switch {
			case portGone(err2):
				return jobPortLost
			case errors.Is(err2, driver.ErrTimeout):
				return jobTimedOut
			}
			return jobIdle
		}
	}
	return jobIdle
}

// claim claims the next job, recording the last SMS's outcome in the same
// transaction when there is one and the service can.
func (w *worker) claim(ctx context.Context, chans []mfa.Channel) (mfa.Outgoing, error) {
	h, ok := w.pool.opts.Service.(handover)
	if w.sent == nil || !ok {
		w.flushSent()
		return w.pool.opts.Service.Claim(ctx, w.cfg.ID, chans)
	}
	p := w.sent
	w.sent = nil
	o, err := h.Handover(ctx, w.cfg.ID, chans, p.job, p.o)
	if err != nil && !errors.Is(err, mfa.ErrNotFound) {
		// Nothing was recorded: the outcome goes on its own, with the
		// retries of a report.
		w.report(context.WithoutCancel(ctx), p.job, p.o)
	}
	return o, err
}

// flushSent records the last SMS's outcome if no claim took it along.
func (w *worker) flushSent() {
	if p := w.sent; p != nil {
		w.sent = nil
		w.report(context.Background(), p.job, p.o)
	}
}

// report records an outcome, retrying while the store is unreachable (a
// database restart): an outcome lost would leave the job to be sent again.
// It gives up after reportPatience; the job's lease then runs out and
// another attempt follows, so the message may arrive twice but not never.
func (w *worker) report(ctx context.Context, job string, o mfa.Outcome) {
	deadline := time.Now().Add(reportPatience)
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		err := w.pool.opts.Service.Report(ctx, job, o)
		if err == nil {
			if try > 1 {
				w.log.Info("report to the outbox recorded after retries", "job", job, "outcome", o.Kind, "tries", try)
			}
			return
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			w.log.Error("report to the outbox failed; the job will be sent again when its lease ends",
				"job", job, "outcome", o.Kind, "tries", try, "err", err)
			return
		}
		if try == 1 {
			w.log.Warn("report to the outbox failed; retrying", "job", job, "outcome", o.Kind, "err", err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Second)
	}
}

// reportPatience bounds how long a worker keeps retrying one report.
const reportPatience = time.Minute

// reason renders a driver error for the outbox without anything the user
// sent: driver errors name commands and codes, never numbers or texts.
func reason(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// FailureCause names why an SMS submission failed, for a metric label of
// bounded cardinality: cms_<code> or cme_<code> for the modem's error
// codes (0-999; cms_text when it answered in words), timeout, port_lost,
// bad_number, or other.
func FailureCause(err error) string {
	var cms *driver.CMSError
	var cme *driver.CMEError
	code := func(prefix string, n int) string {
		if n < 0 || n > 999 {
			return prefix + "_text" // the modem answered in words
		}
		return prefix + "_" + strconv.Itoa(n)
	}
	switch {
	case errors.As(err, &cms):
		return code("cms", cms.Code)
	case errors.As(err, &cme):
		return code("cme", cme.Code)
	case errors.Is(err, driver.ErrTimeout):
		return "timeout"
	case portGone(err):
		return "port_lost"
	case errors.Is(err, driver.ErrBadNumber):
		return "bad_number"
	}
	return "other"
}

func portGone(err error) bool {
	return errors.Is(err, driver.ErrClosed) || errors.Is(err, driver.ErrPortLost)
}

// sms sends one message; the error is the driver's, for the caller to
// judge the modem's health by.
func (w *worker) sms(ctx context.Context, drv *driver.Modem, o mfa.Outgoing) (string, error) {
	mrs, err := drv.SendSMS(ctx, o.To, o.Text, true)
	switch {
	case err == nil:
		now := time.Now()
		for _, mr := range mrs {
			w.mrs[mr] = pendingReport{job: o.Job, sent: now}
		}
		w.pruneReports(now)
		if _, ok := w.pool.opts.Service.(handover); ok {
			w.sent = &sentOutcome{job: o.Job, o: mfa.Outcome{Kind: mfa.OutcomeSent, MR: mrs}} // recorded with the next claim
		} else {
			w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: mrs})
		}
		w.countSent(ctx, len(mrs))
		w.update(func(s *Status) { s.SMSSent++ })
		w.log.Info("sms sent", "job", o.Job, "to", phone.Mask(o.To), "parts", len(mrs))
		return "sent", nil
	case driver.Transient(err):
		w.pool.opts.Observer.SMSFailed(w.cfg.ID, FailureCause(err))
		w.log.Warn("sms failed, another modem will retry", "job", o.Job, "err", err)
		w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeRetry, Reason: w.cfg.ID + ": " + reason(err)})
		w.update(func(s *Status) { s.SMSFailed++; s.LastError = reason(err) })
		return "retry", err
	default:
		w.pool.opts.Observer.SMSFailed(w.cfg.ID, FailureCause(err))
		w.log.Warn("sms refused", "job", o.Job, "err", err)
		w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeFailed, Reason: reason(err)})
		w.update(func(s *Status) { s.SMSFailed++; s.LastError = reason(err) })
		return "failed", err
	}
}

// maxDigits bounds what a callee can key before #.
const maxDigits = 8

// call places one call and turns its events into outcomes.
func (w *worker) call(ctx context.Context, drv *driver.Modem, o mfa.Outgoing) (string, error) {
	opts := driver.CallOptions{RingTimeout: w.pool.opts.RingTimeout, InputTimeout: w.pool.opts.InputTimeout, RepeatPrompt: true}
	opts.Prompt, opts.PromptFile = w.prompt(o)
	c, err := drv.Call(ctx, o.To, opts)
	if err != nil {
		if driver.Transient(err) || errors.Is(err, driver.ErrCallActive) {
			w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeRetry, Reason: w.cfg.ID + ": " + reason(err)})
			return "retry", err
		}
		w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeFailed, Reason: reason(err)})
		return "failed", err
	}
	w.update(func(s *Status) { s.Calls++ })
	var digits strings.Builder
	answered, decided := false, false
	for ev := range c.Events() {
		switch ev.Kind {
		case driver.EventAnswered:
			answered = true
			w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeAnswered})
		case driver.EventDigit:
			w.pool.opts.Observer.Digit(w.cfg.ID)
			if decided {
				continue
			}
			if ev.Digit == '#' {
				decided = true
				w.report(ctx, o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: digits.String()})
				// The call ends anyway when the handset or the ring
				// timeout hangs up; a modem that refuses ATH is worth a look.
				if err := c.Hangup(ctx); err != nil {
					w.log.Warn("hang up after the keys failed", "err", err)
				}
				continue
			}
			if digits.Len() < maxDigits {
				digits.WriteRune(ev.Digit)
			}
		case driver.EventEnded:
			if decided {
				return "keys", nil
			}
			kind := endOutcome(ev.Reason, answered)
			w.report(ctx, o.Job, mfa.Outcome{Kind: kind, Reason: string(ev.Reason)})
			return string(kind), drv.Err()
		}
	}
	return "keys", nil
}

// prompt chooses what the call plays: a recording in the user's language
// when one is configured, else the text, in English when the user's
// language is not English (module speech engines speak English only).
// Profiles that cannot play anything call without a prompt.
func (w *worker) prompt(o mfa.Outgoing) (text, file string) {
	tts, files := w.prof.Prompt()
	if f := w.pool.opts.PromptFiles[o.Language]; f != "" && files {
		return "", f
	}
	if !tts {
		return "", ""
	}
	if o.TextEN != "" {
		return o.TextEN, ""
	}
	return o.Text, ""
}

// endOutcome maps how a call ended, before any #, to the outbox outcome.
func endOutcome(r driver.EndReason, answered bool) mfa.OutcomeKind {
	switch {
	case r == driver.EndBusy:
		return mfa.OutcomeBusy
	case r == driver.EndNoAnswer:
		return mfa.OutcomeNoAnswer
	case answered:
		return mfa.OutcomeNoInput
	case r == driver.EndNoCarrier:
		return mfa.OutcomeFailed
	}
	return mfa.OutcomeRetry // the modem failed before the call got anywhere
}

func (w *worker) onReport(ctx context.Context, r driver.StatusReport) {
	p, ok := w.mrs[r.MR]
	if !ok || r.Pending {
		return
	}
	delete(w.mrs, r.MR)
	kind := mfa.OutcomeDelivered
	if !r.Delivered {
		kind = mfa.OutcomeDeliveryFailed
	}
	w.report(ctx, p.job, mfa.Outcome{Kind: kind, Reason: fmt.Sprintf("status report 0x%02x", r.Status)})
}

// pruneReports forgets messages whose report never came (MRs wrap at 256).
func (w *worker) pruneReports(now time.Time) {
	for mr, p := range w.mrs {
		if now.Sub(p.sent) > time.Hour {
			delete(w.mrs, mr)
		}
	}
}

// checkHealth asks the modem how it is. A modem that does not answer is
// re-initialised, then reset, then given up on (the caller reopens it).
func (w *worker) checkHealth(ctx context.Context, drv *driver.Modem) bool {
	h, err := drv.Health(ctx)
	if err == nil {
		w.failures = 0
		state, why := StateUp, ""
		switch {
		case !h.SIMReady:
			state, why = StateDown, "SIM not ready: "+h.SIMState
		case !h.Registered():
			state, why = StateDown, "not registered: "+h.Registration
		}
		w.update(func(s *Status) {
			s.State, s.SignalDBm, s.Registration, s.Operator = state, h.SignalDBm, h.Registration, h.Operator
			if why != "" {
				s.LastError = why
			}
		})
		if state == StateUp {
			w.poke()
		}
		return true
	}
	if portGone(err) {
		return false
	}
	w.failures++
	w.log.Warn("health check failed", "failures", w.failures, "err", err)
	w.setState(StateInitialising, "not answering: "+reason(err))
	switch w.failures {
	case 1:
		if err := drv.Init(ctx); err == nil {
			return w.checkHealth(ctx, drv)
		}
		return true
	case 2:
		w.log.Warn("resetting modem")
		if err := drv.Reset(ctx); err != nil {
			// The port is reopened next either way; the error says why the
			// reset did not take.
			w.log.Warn("modem reset failed", "err", err)
		}
		return false
	default:
		w.setState(StateDown, "not answering after a reset: "+reason(err))
		return false
	}
}

func (w *worker) simKey() string {
	s := w.snapshot()
	if s.ICCID != "" {
		return s.ICCID
	}
	return "imei:" + s.IMEI
}

// rollDay resets the daily count at local midnight.
func (w *worker) rollDay() {
	day := w.pool.opts.Now().Format(time.DateOnly)
	if day != w.day {
		w.day = day
		w.update(func(s *Status) { s.SentToday = 0 })
	}
}

func (w *worker) loadUsage(ctx context.Context) {
	w.rollDay()
	if w.pool.opts.Usage == nil {
		return
	}
	n, err := w.pool.opts.Usage.Usage(ctx, w.simKey(), w.day)
	if err != nil {
		w.log.Warn("read SIM usage", "err", err)
		return
	}
	w.update(func(s *Status) { s.SentToday = n })
}

func (w *worker) countSent(ctx context.Context, parts int) {
	w.rollDay()
	n := w.snapshot().SentToday + parts
	if u := w.pool.opts.Usage; u != nil {
		if total, err := u.AddUsage(ctx, w.simKey(), w.day, parts); err == nil {
			n = total
		} else {
			w.log.Warn("record SIM usage", "err", err)
		}
	}
	w.update(func(s *Status) { s.SentToday = n })
}
