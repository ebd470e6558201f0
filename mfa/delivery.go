package mfa

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"mfagate/phone"
)

// Outgoing is one claimed outbox job, rendered for a modem: the SMS text or
// the voice prompt. Text may contain a one-time code: never log it.
type Outgoing struct {
	Job       string
	Challenge string
	Channel   Channel
	To        string // E.164
	Extension string
	Language  string
	Text      string
	// Expect is what the callee must key in before # (voice): the number to
	// match, or "" when a plain # approves.
	Expect string
	// TextEN is the English voice prompt, for modems whose speech engine
	// cannot speak the user's language (voice, when Language is not "en").
	TextEN    string
	ExpiresAt time.Time
	Attempt   int
	Priority  int
}

// MaxDeliveryAttempts bounds how often a job is handed to a modem after
// transient failures before its challenge fails.
const MaxDeliveryAttempts = 3

// Claim hands the most urgent queued job for one of the channels to modem.
// Jobs whose challenge has ended or expired are dropped on the way.
// ErrNotFound means nothing waits.
func (s *Service) Claim(ctx context.Context, modem string, channels []Channel) (Outgoing, error) {
	now := s.now()
	var out Outgoing
	var changed []Challenge
	found := false
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		out, found, changed, err = s.claim(tx, modem, channels, now)
		return err
	})
	for _, c := range changed {
		s.finished(c)
	}
	if err == nil && !found {
		err = ErrNotFound
	}
	return out, err
}

// claim is Claim's transaction: the job found, if any, and the challenges
// it changed on the way.
func (s *Service) claim(tx Tx, modem string, channels []Channel, now time.Time) (out Outgoing, found bool, changed []Challenge, _ error) {
	// Drop ended jobs on the way, but commit those drops even when
	// nothing sendable remains.
	for range 100 {
		j, err := tx.ClaimJob(JobClaim{Channels: channels, Modem: modem, Node: s.node, Now: now, LeaseUntil: now.Add(s.lease)})
		if errors.Is(err, ErrNotFound) {
			return out, found, changed, nil
		}
		if err != nil {
			return out, found, changed, err
		}
		if j.Challenge == "" {
			o, ok, err := s.claimTest(tx, j, now)
			if err != nil || !ok {
				return out, found, changed, err
			}
			out, found = o, true
			return out, found, changed, nil
		}
		c, err := tx.Challenge(j.Challenge)
		if err != nil {
			return out, found, changed, fmt.Errorf("challenge of job %s: %w", j.ID, err)
		}
		if c.Status.Final() || !now.Before(c.ExpiresAt) {
			j.State, j.Reason, j.UpdatedAt = JobFailed, "challenge_ended", now
			if err := tx.PutJob(j); err != nil {
				return out, found, changed, err
			}
			if !c.Status.Final() {
				c, err = s.end(tx, actorSystem, c, StatusExpired, "ttl", now)
				if err != nil {
					return out, found, changed, err
				}
				changed = append(changed, c)
			}
			continue
		}
		j.Attempts++
		if err := tx.PutJob(j); err != nil {
			return out, found, changed, err
		}
		c.Status = StatusSending
		if j.Channel == ChannelVoice {
			c.Status = StatusCalling
		}
		c.Delivery = Delivery{Modem: modem, Attempts: j.Attempts, Status: string(JobSending)}
		if err := tx.PutChallenge(c); err != nil {
			return out, found, changed, err
		}
		changed = append(changed, c)
		secret, err := s.keys.Open(j.Sealed, j.ID)
		if err != nil {
			return out, found, changed, fmt.Errorf("open job %s: %w", j.ID, err)
		}
		out, found = s.render(j, c, string(secret), now), true
		return out, found, changed, nil
	}
	return out, found, changed, nil
}

// claimTest hands out an operator's test SMS, or drops it when it waited
// past its expiry.
func (s *Service) claimTest(tx Tx, j Job, now time.Time) (Outgoing, bool, error) {
	j.UpdatedAt = now
	if !now.Before(j.ExpiresAt) {
		j.State, j.Reason = JobFailed, "expired"
		return Outgoing{}, false, tx.PutJob(j)
	}
	j.Attempts++
	if err := tx.PutJob(j); err != nil {
		return Outgoing{}, false, err
	}
	text, err := s.keys.Open(j.Sealed, j.ID)
	if err != nil {
		return Outgoing{}, false, fmt.Errorf("open job %s: %w", j.ID, err)
	}
	return Outgoing{Job: j.ID, Channel: ChannelSMS, To: j.To, Language: j.Language, Text: string(text),
		ExpiresAt: j.ExpiresAt, Attempt: j.Attempts, Priority: j.Priority}, true, nil
}

func (s *Service) render(j Job, c Challenge, secret string, now time.Time) Outgoing {
	p := s.pol()
	life := statedLifetime(p.CodeTTL, c.ExpiresAt.Sub(now))
	vars := map[string]string{"issuer": p.TOTP.Issuer,
		"minutes": strconv.Itoa(int(life / time.Minute)), "seconds": strconv.Itoa(int(life / time.Second))}
	o := Outgoing{Job: j.ID, Challenge: c.ID, Channel: j.Channel, To: j.To, Extension: j.Extension,
		Language: j.Language, ExpiresAt: c.ExpiresAt, Attempt: j.Attempts, Priority: j.Priority}
	if j.Channel == ChannelSMS {
		vars["code"] = secret
		o.Text = p.Messages.SMS(j.Language, vars)
	} else {
		o.Expect = secret
		o.Text = p.Messages.Voice(j.Language, secret != "", vars)
		if j.Language != "en" {
			o.TextEN = p.Messages.Voice("en", secret != "", vars)
		}
	}
	return o
}

// Actors of audit events no API client caused.
const (
	actorSystem = "mfagate" // expiry, activation
	actorPhone  = "phone"   // the callee, keying an answer
)

// modemActor names the modem that reported a job's outcome.
func modemActor(j Job) string {
	if j.Modem == "" {
		return actorSystem
	}
	return "modem " + j.Modem
}

// statedLifetime is the code lifetime a message states: the configured one,
// as the API's expires_at counts it from when the code was issued. Claiming
// takes a moment, so the time left is always a little less; stating that
// floored would say 4 minutes for a 5-minute code. A message that waited a
// minute or more in the outbox states the time left instead, so it never
// promises minutes that are already gone. Templates floor it to {minutes}
// or {seconds}.
func statedLifetime(ttl, left time.Duration) time.Duration {
	if left <= ttl-time.Minute {
		return max(left, 0)
	}
	return ttl
}

// OutcomeKind is what a modem reports about a job.
type OutcomeKind string

// Outcomes a Sender reports.
const (
	OutcomeSent           OutcomeKind = "sent"            // SMS accepted by the network (MR known)
	OutcomeDelivered      OutcomeKind = "delivered"       // status report: delivered
	OutcomeDeliveryFailed OutcomeKind = "delivery_failed" // status report: not delivered
	OutcomeRetry          OutcomeKind = "retry"           // transient failure: queue again for any modem
	OutcomeFailed         OutcomeKind = "failed"          // permanent failure (bad number, barred)
	OutcomeAnswered       OutcomeKind = "answered"        // the callee picked up
	OutcomeKeys           OutcomeKind = "keys"            // the callee keyed Digits, ending with #
	OutcomeNoInput        OutcomeKind = "no_input"        // answered, but no # before the input timeout or hang-up
	OutcomeNoAnswer       OutcomeKind = "no_answer"
	OutcomeBusy           OutcomeKind = "busy"
)

// Outcome is one report from a Sender.
type Outcome struct {
	Kind   OutcomeKind
	MR     []int
	Digits string // keys pressed, without the final #
	Reason string
}

// Report records what happened to a claimed job and moves its challenge on.
func (s *Service) Report(ctx context.Context, jobID string, o Outcome) error {
	now := s.now()
	var c Challenge
	var fraud, wrong bool
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		c, fraud, wrong, err = s.report(tx, jobID, o, now)
		return err
	})
	if err != nil {
		return err
	}
	s.reported(c, fraud, wrong)
	return nil
}

// Handover records the outcome of the job a modem just finished and
// claims the modem's next job in the same write transaction, so a modem
// sending back to back commits once per message instead of twice. It is
// Report followed by Claim: ErrNotFound means the outcome is recorded and
// nothing waits; any other error means neither happened (the caller then
// reports the outcome on its own).
func (s *Service) Handover(ctx context.Context, modem string, channels []Channel, jobID string, o Outcome) (Outgoing, error) {
	now := s.now()
	var c Challenge
	var fraud, wrong, found bool
	var out Outgoing
	var changed []Challenge
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if c, fraud, wrong, err = s.report(tx, jobID, o, now); err != nil {
			if errors.Is(err, ErrNotFound) { // not "nothing waits": nothing was recorded
				return fmt.Errorf("record the outcome before the next claim: %v", err)
			}
			return err
		}
		out, found, changed, err = s.claim(tx, modem, channels, now)
		if errors.Is(err, ErrNotFound) { // a missing row, rolling back the outcome too
			return fmt.Errorf("claim after recording an outcome: %v", err)
		}
		return err
	})
	if err != nil {
		return Outgoing{}, err
	}
	s.reported(c, fraud, wrong)
	for _, c := range changed {
		s.finished(c)
	}
	if !found {
		return Outgoing{}, ErrNotFound
	}
	return out, nil
}

// reported tells metrics and long polls about a recorded outcome.
func (s *Service) reported(c Challenge, fraud, wrong bool) {
	if c.ID == "" {
		return
	}
	if fraud {
		s.obs.FraudReported()
	}
	if wrong {
		s.obs.VerificationFailed(c.Kind, c.Channel)
	}
	s.finished(c)
}

// report is Report's transaction: the challenge it moved on ("" ID when
// none: a test SMS, or an outcome of another node's attempt), whether the
// callee reported fraud, and whether the keys were a wrong number.
func (s *Service) report(tx Tx, jobID string, o Outcome, now time.Time) (c Challenge, fraud, wrong bool, err error) {
	j, err := tx.Job(jobID)
	if err != nil {
		return c, fraud, wrong, fmt.Errorf("job %s: %w", jobID, err)
	}
	if !s.mayReport(j, o) {
		s.log.Warn("outcome ignored: another node took the job over", "job", j.ID, "outcome", o.Kind, "holder", j.Node)
		return c, fraud, wrong, nil
	}
	if j.Challenge == "" {
		return c, fraud, wrong, reportTest(tx, j, o, now)
	}
	c, err = tx.Challenge(j.Challenge)
	if err != nil {
		return c, fraud, wrong, fmt.Errorf("challenge of job %s: %w", jobID, err)
	}
	j.UpdatedAt = now
	switch o.Kind {
	case OutcomeSent:
		j.State, j.MR = JobSent, o.MR
		c.Delivery.Status = string(JobSent)
		if c.Status == StatusSending || c.Status == StatusQueued {
			c.Status = StatusSent
		}
	case OutcomeDelivered:
		c.Delivery.Status = "delivered"
		if c.Status == StatusSent {
			c.Status = StatusDelivered
		}
	case OutcomeRetry:
		c.Delivery.Reason = o.Reason
		if j.Attempts >= MaxDeliveryAttempts {
			j.State, j.Reason = JobFailed, o.Reason
			c.Delivery.Status = string(JobFailed)
			if !c.Status.Final() {
				c, err = s.end(tx, modemActor(j), c, StatusFailed, "delivery_failed: "+o.Reason, now)
				if err != nil {
					return c, fraud, wrong, err
				}
			}
		} else {
			j.State, j.Modem, j.Node, j.LeaseUntil = JobQueued, "", "", time.Time{}
			c.Delivery.Status = string(JobQueued)
			if !c.Status.Final() {
				c.Status = StatusQueued
			}
		}
	case OutcomeFailed, OutcomeDeliveryFailed:
		if o.Kind == OutcomeFailed {
			j.State = JobFailed
		}
		j.Reason = o.Reason
		c.Delivery.Status, c.Delivery.Reason = string(JobFailed), o.Reason
		if !c.Status.Final() {
			c, err = s.end(tx, modemActor(j), c, StatusFailed, string(o.Kind)+": "+o.Reason, now)
			if err != nil {
				return c, fraud, wrong, err
			}
		}
	case OutcomeAnswered:
		j.State = JobSent
		c.Delivery.Status = string(JobSent)
		if !c.Status.Final() {
			c.Status = StatusAnswered
		}
	case OutcomeNoAnswer, OutcomeBusy, OutcomeNoInput:
		j.State = JobSent
		c.Delivery.Status = string(JobSent)
		if !c.Status.Final() {
			status := map[OutcomeKind]Status{OutcomeNoAnswer: StatusNoAnswer, OutcomeBusy: StatusBusy, OutcomeNoInput: StatusFailed}[o.Kind]
			c, err = s.end(tx, modemActor(j), c, status, string(o.Kind), now)
			if err != nil {
				return c, fraud, wrong, err
			}
		}
	case OutcomeKeys:
		j.State = JobSent
		c.Delivery.Status = string(JobSent)
		if c.Status.Final() {
			break
		}
		if !now.Before(c.ExpiresAt) {
			c, err = s.end(tx, actorSystem, c, StatusExpired, "ttl", now)
			if err != nil {
				return c, fraud, wrong, err
			}
			break
		}
		c, fraud, err = s.decideKeys(tx, c, o.Digits, now)
		if err != nil {
			return c, fraud, wrong, err
		}
		wrong = c.Status == StatusDenied && c.Reason == "wrong_number"
	default:
		return c, fraud, wrong, fmt.Errorf("unknown outcome %q", o.Kind)
	}
	if err := tx.PutJob(j); err != nil {
		return c, fraud, wrong, err
	}
	return c, fraud, wrong, tx.PutChallenge(c)
}

// mayReport decides whether this node's outcome for j still counts. A node
// whose lease ran out (it stalled, or lost the store for longer than the
// lease) may find the job requeued or held by another node. What it reports
// about a message that did go out (sent, answered, keys, status reports) is
// a fact and is recorded wherever the job stands. A failure, a retry or an
// unanswered call describes this node's attempt only, and counts only while
// the attempt is still the job's: the new holder reports its own.
func (s *Service) mayReport(j Job, o Outcome) bool {
	switch o.Kind {
	case OutcomeSent, OutcomeDelivered, OutcomeDeliveryFailed, OutcomeAnswered, OutcomeKeys:
		return true
	case OutcomeNoInput: // after answered, which marked the job sent
		return j.Node == s.node && (j.State == JobSending || j.State == JobSent)
	}
	return j.Node == s.node && j.State == JobSending
}

// reportTest records the outcome of an operator's test SMS.
func reportTest(tx Tx, j Job, o Outcome, now time.Time) error {
	j.UpdatedAt = now
	switch o.Kind {
	case OutcomeSent:
		j.State, j.MR = JobSent, o.MR
	case OutcomeDelivered:
		j.Reason = "delivered"
	case OutcomeDeliveryFailed:
		j.Reason = "delivery_failed: " + o.Reason
	case OutcomeRetry:
		// A test of one modem is not handed to another.
		j.State, j.Reason = JobFailed, o.Reason
	default:
		j.State, j.Reason = JobFailed, o.Reason
	}
	return tx.PutJob(j)
}

// MaxTestText bounds an operator's test SMS.
const MaxTestText = 300

// TestSMS queues an operator's test message for one modem. It is an outbox
// job like any other (durable, visible in GET /v1/outbox), pinned to the
// modem and sent after sign-in messages. local lists this node's modems as
// they stand now; see ModemReachable.
func (s *Service) TestSMS(ctx context.Context, actor Actor, local []NodeModem, modem, to, text string) (_ Job, err error) {
	defer s.auditRefusal(ctx, actor, "", "", "test_sms", &err)
	known, err := s.ModemReachable(ctx, local, modem)
	if err != nil {
		return Job{}, err
	}
	if !known {
		return Job{}, refuse(CodeUnknownModem, "no modem %q is configured on a live node; GET /v1/nodes lists them", truncate(modem, 40))
	}
	p := s.pol()
	ph, err := NormalizePhone(to, p.DefaultRegion, p.AllowedRegions)
	if err != nil {
		return Job{}, err
	}
	if !ph.Mobile {
		return Job{}, refuse(CodeNotMobile, "%s cannot receive SMS (not a mobile number)", phone.Mask(ph.E164))
	}
	if text == "" {
		text = "mfagate test message from modem " + modem
	}
	if n := len([]rune(text)); n > MaxTestText {
		return Job{}, refuse(CodeInvalidRequest, "text is %d characters; a test message may have at most %d", n, MaxTestText)
	}
	now := s.now()
	j := Job{ID: newID("j_"), Channel: ChannelSMS, To: ph.E164, State: JobQueued, Priority: 3, Pinned: modem,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	j.Sealed = s.keys.Seal([]byte(text), j.ID)
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.PutJob(j); err != nil {
			return err
		}
		return s.event(tx, Event{Type: EventTestSMS, Actor: actor.Name, Detail: "modem " + modem + " to " + phone.Mask(ph.E164)})
	})
	if err != nil {
		return Job{}, err
	}
	s.wake()
	return j, nil
}

// decideKeys turns the digits a callee keyed into a decision: the number to
// match (or nothing, in plain-# mode) approves, 0 reports fraud and blocks
// phone verification for the user, anything else denies.
func (s *Service) decideKeys(tx Tx, c Challenge, digits string, now time.Time) (Challenge, bool, error) {
	u, err := loadUser(tx, c.User, now)
	if err != nil {
		return c, false, err
	}
	switch {
	case digits == "0":
		u.PhoneBlocked = true
		if err := s.putUser(tx, u); err != nil {
			return c, false, err
		}
		c, err = s.end(tx, actorPhone, c, StatusDenied, "fraud_reported", now)
		if err != nil {
			return c, false, err
		}
		return c, true, s.event(tx, Event{User: c.User, Type: EventFraudReported, Actor: actorPhone, Method: c.Method, Challenge: c.ID,
			Detail: "the callee reported a sign-in they did not start; phone verification blocked"})
	case digits == c.NumberMatch:
		c, err = s.approve(tx, Actor{Name: actorPhone}, c, u, now)
		return c, false, err
	default:
		u.ConsecutiveFailures++
		if err := s.putUser(tx, u); err != nil {
			return c, false, err
		}
		c, err = s.end(tx, actorPhone, c, StatusDenied, "wrong_number", now)
		return c, false, err
	}
}

// Recover requeues the jobs this node held when it stopped (a crash
// mid-send: at-least-once delivery with the same code) and those of nodes
// whose leases ran out, and wakes the sender. Call it once at start-up.
func (s *Service) Recover(ctx context.Context) (int, error) {
	var n int
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		n, err = tx.RequeueSending(s.node, now)
		return err
	})
	if err == nil {
		s.wake()
	}
	return n, err
}

// Job returns one outbox job.
func (s *Service) Job(ctx context.Context, id string) (Job, error) {
	var j Job
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		j, err = tx.Job(id)
		if errors.Is(err, ErrNotFound) {
			return refuse(CodeUnknownJob, "outbox job %s does not exist", truncate(id, 40))
		}
		return err
	})
	return j, err
}

// Jobs lists the newest outbox jobs in a state ("" for every state).
func (s *Service) Jobs(ctx context.Context, state JobState, limit int) ([]Job, error) {
	return s.ListJobs(ctx, JobFilter{State: state, Limit: limit})
}

// ListJobs lists outbox jobs newest first, a page at a time: f.Before or
// f.After is the ID of a job of the previous page.
func (s *Service) ListJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	switch f.State {
	case "", JobQueued, JobSending, JobSent, JobFailed:
	default:
		return nil, refuse(CodeInvalidRequest, "state %q is unknown: use queued, sending, sent or failed", truncate(string(f.State), 16))
	}
	if f.Before != "" && f.After != "" {
		return nil, refuse(CodeInvalidCursor, "give before or after, not both: before pages to older jobs, after to newer ones")
	}
	for _, c := range []string{f.Before, f.After} {
		if c != "" && !validJobID(c) {
			return nil, refuse(CodeInvalidCursor, "cursor %q is not a job ID: give the id (j_…) of a job the previous page listed", truncate(c, 40))
		}
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []Job
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Jobs(f)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(CodeInvalidCursor, "job %s is not in the outbox (retention removed it, or it never was): list again from the newest",
			truncate(f.Before+f.After, 40))
	}
	return out, err
}

// validJobID reports whether id can be a job's ID: printable ASCII, as
// newID and the test SMS route make them.
func validJobID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// Sweep expires overdue challenges (dropping their queued jobs), removes
// Temporary Access Passes whose time ended, and activates pending users
// whose time has come. The daemon runs it on a tick.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now()
	var changed []Challenge
	err := s.store.Update(ctx, func(tx Tx) error {
		changed = changed[:0]
		cs, err := tx.ExpiredOpenChallenges(now, 500)
		if err != nil {
			return err
		}
		for _, c := range cs {
			c, err = s.end(tx, actorSystem, c, StatusExpired, "ttl", now)
			if err != nil {
				return err
			}
			changed = append(changed, c)
		}
		if err := s.sweepTAPs(tx, now); err != nil {
			return err
		}
		us, err := tx.DueActivations(now, 500)
		if err != nil {
			return err
		}
		for _, u := range us {
			u.State = StateActive
			if err := s.putUser(tx, u); err != nil {
				return err
			}
			if err := s.event(tx, Event{User: u.ID, Type: EventMFAActivated, Actor: actorSystem}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	for _, c := range changed {
		s.finished(c)
	}
	return nil
}

// CountUsers counts users by effective MFA state (for metrics).
func (s *Service) CountUsers(ctx context.Context) (map[State]int, error) {
	var out map[State]int
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.CountUsers()
		return err
	})
	return out, err
}

// OutboxStats summarises the outbox (for metrics).
func (s *Service) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var out OutboxStats
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.OutboxStats()
		return err
	})
	return out, err
}

// Ping reports whether the store is usable.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }
