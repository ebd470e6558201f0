package api_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
)

// take claims the next outbox job as a modem would.
func (h *harness) take() mfa.Outgoing {
	h.t.Helper()
	o, ok, err := h.sender.Take(h.t.Context())
	if err != nil || !ok {
		h.t.Fatalf("no job in the outbox (ok=%v err=%v)", ok, err)
	}
	return o
}

func (h *harness) report(job string, o mfa.Outcome) {
	h.t.Helper()
	if err := h.svc.Report(h.t.Context(), job, o); err != nil {
		h.t.Fatal(err)
	}
}

var codeInText = regexp.MustCompile(`code (\d{6}) `)

func smsCode(t *testing.T, text string) string {
	t.Helper()
	m := codeInText.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in SMS text %q", text)
	}
	return m[1]
}

func TestPhoneSMSRegistration(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678","channel":"sms","language":"en"}`)
	h.want(r, 201, "")
	m := r.body["method"].(map[string]any)
	if m["phone"] != "+81 90-****-5678" {
		t.Fatalf("phone shown as %q, want it masked as +81 90-****-5678", m["phone"])
	}
	if strings.Contains(string(r.raw), "9012345678") {
		t.Fatalf("response discloses the full number: %s", r.raw)
	}
	ch := r.body["challenge"].(map[string]any)
	if ch["status"] != "queued" || ch["purpose"] != "confirm" || ch["channel"] != "sms" {
		t.Fatalf("registration challenge: %s", r.raw)
	}
	if !h.sender.Woken() {
		t.Fatal("the sender was not woken for the new job")
	}
	o := h.take()
	if o.To != "+819012345678" || o.Channel != mfa.ChannelSMS || o.Language != "en" || o.Challenge != ch["id"] {
		t.Fatalf("outgoing = %+v", o)
	}
	code := smsCode(t, o.Text)
	if !strings.Contains(o.Text, "valid 5 min") {
		t.Errorf("SMS text %q does not state the lifetime", o.Text)
	}
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{17}})
	c := h.do("GET", "/v1/challenges/"+o.Challenge, tokIDP, "")
	if c.str("status") != "sent" || c.body["delivery"].(map[string]any)["modem"] != "sim0" {
		t.Fatalf("after sent: %s", c.raw)
	}
	if j := h.do("GET", "/v1/outbox/"+o.Job, tokAdmin, ""); j.str("state") != "sent" || j.str("to") != "+81 90-****-5678" {
		t.Fatalf("GET /v1/outbox/{id}: %s", j.raw)
	}
	h.want(h.do("GET", "/v1/outbox/j_nope", tokAdmin, ""), 404, "unknown_job")
	h.want(h.do("GET", "/v1/outbox/"+o.Job, tokIDP, ""), 403, "forbidden")
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeDelivered})
	if st := h.do("GET", "/v1/challenges/"+o.Challenge, tokIDP, "").str("status"); st != "delivered" {
		t.Fatalf("after the status report: %s", st)
	}

	id := m["id"].(string)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	r = h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+wrong+`"}`)
	h.want(r, 422, "invalid_code")
	if r.body["attempts_left"] != float64(4) {
		t.Fatalf("attempts_left = %v", r.body["attempts_left"])
	}
	h.want(h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"code":"`+code+`"}`), 200, "")
	u := h.do("GET", "/v1/users/"+user, tokIDP, "")
	if u.body["default_method"] != id {
		t.Fatalf("the confirmed phone did not become default: %s", u.raw)
	}
	// The code was single use.
	h.want(h.do("POST", "/v1/challenges/"+o.Challenge+"/verify", tokIDP, `{"code":"`+code+`"}`), 409, "challenge_finished")

	// A sign-in by SMS uses a new code.
	r = h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
	h.want(r, 201, "")
	o2 := h.take()
	code2 := smsCode(t, o2.Text)
	h.want(h.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"code":"`+code2+`"}`), 200, "")
}

func TestPhoneNumberRules(t *testing.T) {
	h := newHarness(t)
	before := h.state()
	for _, tc := range []struct{ body, code string }{
		{`{"kind":"phone","slot":"mobile","phone":"03-1234-5678","channel":"sms"}`, "not_a_mobile_number"},
		{`{"kind":"phone","slot":"mobile","phone":"12345","channel":"sms"}`, "invalid_phone"},
		{`{"kind":"phone","slot":"mobile","phone":"not a number"}`, "invalid_phone"},
		{`{"kind":"phone","slot":"mobile","phone":"0120-123-456","channel":"voice"}`, "invalid_phone"},
		{`{"kind":"phone","slot":"mobile","phone":"+1 900 555 0100","channel":"voice"}`, "region_not_allowed"},
		{`{"kind":"phone","slot":"mobile","phone":"+44 7911 123456"}`, "region_not_allowed"},
		{`{"kind":"phone","slot":"car","phone":"090-1234-5678"}`, "invalid_request"},
		{`{"kind":"phone","phone":"090-1234-5678"}`, "invalid_request"},
		{`{"kind":"phone","slot":"mobile","phone":"090-1234-5678","channel":"pigeon"}`, "invalid_request"},
	} {
		r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, tc.body)
		if r.code() != tc.code {
			t.Errorf("%s: got %d %s, want %s", tc.body, r.status, r.code(), tc.code)
		}
		if strings.Contains(r.str("detail"), "9012345678") || strings.Contains(r.str("detail"), "9005550100") {
			t.Errorf("%s: detail discloses the number: %s", tc.body, r.str("detail"))
		}
	}
	if h.state() != before {
		t.Fatal("refused registrations changed state")
	}
	if _, ok, _ := h.sender.Take(t.Context()); ok {
		t.Fatal("a refused registration queued a message")
	}
	// A landline registers for voice.
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"office","phone":"03-1234-5678","channel":"voice"}`), 201, "")
}

func TestPhoneRateLimit(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`)
		h.want(r, 201, "")
		h.clock.Advance(time.Minute)
		_ = i
	}
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`)
	h.want(r, 429, "rate_limited")
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	// The oldest of the five was 5 minutes ago; the window is 15 minutes.
	if err != nil || retry != 600 {
		t.Fatalf("Retry-After = %q, want 600", r.header.Get("Retry-After"))
	}
	h.clock.Advance(10 * time.Minute)
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`), 201, "")
}

// registerVoice adds and confirms a voice phone by answering the call.
func (h *harness) registerVoice(slot, phone string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"`+slot+`","phone":"`+phone+`","channel":"voice"}`)
	h.want(r, 201, "")
	id := r.body["method"].(map[string]any)["id"].(string)
	ch := r.body["challenge"].(map[string]any)
	o := h.take()
	if o.Expect != ch["number_match"] || len(o.Expect) != 2 || o.Expect[0] == '0' {
		h.t.Fatalf("call expects %q, challenge shows %q", o.Expect, ch["number_match"])
	}
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeAnswered})
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect})
	h.want(h.do("POST", "/v1/users/"+user+"/methods/"+id+"/confirm", tokEnroll, `{"challenge":"`+o.Challenge+`"}`), 200, "")
	return id
}

func TestVoiceNumberMatchAndFraud(t *testing.T) {
	h := newHarness(t)
	h.registerVoice("office", "03-1234-5678")

	// Wrong number: denied, and it counts as a failure.
	r := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
	h.want(r, 201, "")
	o := h.take()
	h.want(h.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"code":"123456"}`), 422, "wrong_verification_kind")
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeAnswered})
	if st := h.do("GET", "/v1/challenges/"+o.Challenge, tokIDP, "").str("status"); st != "answered" {
		t.Fatalf("status after answer = %q", st)
	}
	wrong := "99"
	if o.Expect == wrong {
		wrong = "98"
	}
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: wrong})
	c := h.do("GET", "/v1/challenges/"+o.Challenge, tokIDP, "")
	if c.str("status") != "denied" || c.str("reason") != "wrong_number" {
		t.Fatalf("wrong number: %s", c.raw)
	}

	// 0#: fraud reported, phone verification blocked until an admin clears it.
	r = h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
	o = h.take()
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeAnswered})
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: "0"})
	c = h.do("GET", "/v1/challenges/"+r.str("id"), tokIDP, "")
	if c.str("status") != "denied" || c.str("reason") != "fraud_reported" {
		t.Fatalf("fraud report: %s", c.raw)
	}
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`), 403, "phone_blocked")
	u := h.do("GET", "/v1/users/"+user, tokIDP, "")
	if !strings.Contains(u.string(), "phone_blocked") {
		t.Fatalf("user does not show the block: %s", u.raw)
	}
	events := h.do("GET", "/v1/audit?user="+user+"&limit=5", tokAdmin, "").string()
	if !strings.Contains(events, "fraud_reported") {
		t.Fatalf("no fraud_reported audit event: %s", events)
	}
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, ``), 200, "")
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`), 201, "")
}

func TestVoiceOutcomes(t *testing.T) {
	h := newHarness(t)
	h.registerVoice("mobile", "090-1111-2222")
	for _, tc := range []struct {
		outcome mfa.OutcomeKind
		status  string
	}{{mfa.OutcomeBusy, "busy"}, {mfa.OutcomeNoAnswer, "no_answer"}, {mfa.OutcomeNoInput, "failed"}, {mfa.OutcomeFailed, "failed"}} {
		h.clock.Advance(4 * time.Minute) // stay under the phone rate limit
		r := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
		h.want(r, 201, "")
		o := h.take()
		h.report(o.Job, mfa.Outcome{Kind: tc.outcome, Reason: "test"})
		if st := h.do("GET", "/v1/challenges/"+r.str("id"), tokIDP, "").str("status"); st != tc.status {
			t.Errorf("%s: status %q, want %q", tc.outcome, st, tc.status)
		}
	}
}

// Transient failures go back to the queue for another modem, up to a bound.
func TestDeliveryRetryBounded(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`)
	cid := r.body["challenge"].(map[string]any)["id"].(string)
	var code string
	for attempt := 1; attempt <= mfa.MaxDeliveryAttempts; attempt++ {
		o := h.take()
		if o.Attempt != attempt {
			t.Fatalf("attempt = %d, want %d", o.Attempt, attempt)
		}
		if c := smsCode(t, o.Text); code != "" && c != code {
			t.Fatal("a retry carried a different code: two valid codes must never exist")
		} else {
			code = c
		}
		h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeRetry, Reason: "cms 38"})
	}
	if _, ok, _ := h.sender.Take(t.Context()); ok {
		t.Fatal("job handed out beyond the attempt bound")
	}
	c := h.do("GET", "/v1/challenges/"+cid, tokIDP, "")
	if c.str("status") != "failed" || !strings.Contains(c.str("reason"), "cms 38") {
		t.Fatalf("challenge after retries: %s", c.raw)
	}
}

// A crash mid-send leaves the job in sending; the restarted daemon sends it
// again with the same code. A message whose challenge expired is dropped.
func TestOutboxSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`)
	cid := r.body["challenge"].(map[string]any)["id"].(string)
	first := h.take() // claimed, then the daemon dies before reporting
	h.restart()
	n, err := h.svc.Recover(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 job requeued", n, err)
	}
	again := h.take()
	if again.Job != first.Job || smsCode(t, again.Text) != smsCode(t, first.Text) {
		t.Fatal("the resent message is not the same job with the same code")
	}
	h.report(again.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{3}})
	if st := h.do("GET", "/v1/challenges/"+cid, tokIDP, "").str("status"); st != "sent" {
		t.Fatalf("status %q", st)
	}

	// Queued, then the TTL passes before any modem is free: never delivered.
	h.clock.Advance(time.Minute)
	r = h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"alternate","phone":"090-8765-4321"}`)
	cid = r.body["challenge"].(map[string]any)["id"].(string)
	h.clock.Advance(5*time.Minute + time.Second)
	if o, ok, _ := h.sender.Take(t.Context()); ok {
		t.Fatalf("an expired challenge's message was handed out: %s", o.Challenge)
	}
	if st := h.do("GET", "/v1/challenges/"+cid, tokIDP, "").str("status"); st != "expired" {
		t.Fatalf("status %q, want expired", st)
	}
	jobs := h.do("GET", "/v1/outbox?state=failed", tokAdmin, "").string()
	if !strings.Contains(jobs, "challenge_expired") && !strings.Contains(jobs, "challenge_ended") {
		t.Fatalf("the dropped job is not listed as failed: %s", jobs)
	}
}

// GET ?wait= returns as soon as the call's result is known.
func TestLongPoll(t *testing.T) {
	h := newHarness(t)
	h.registerVoice("mobile", "090-1111-2222")
	r := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`)
	o := h.take()
	done := make(chan resp, 1)
	go func() { done <- h.do("GET", "/v1/challenges/"+r.str("id")+"?wait=20s", tokIDP, "") }()
	time.Sleep(50 * time.Millisecond)
	h.report(o.Job, mfa.Outcome{Kind: mfa.OutcomeAnswered})
	select {
	case got := <-done:
		if got.str("status") != "answered" {
			t.Fatalf("long poll returned %s", got.raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return after the status changed")
	}
}
