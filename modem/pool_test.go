package modem_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/modem"
	"mfagate/modem/driver"
	"mfagate/modem/sim"
	"mfagate/store/sqlite"
)

const user = "0123456789"

type messages struct{}

func (messages) SMS(lang string, v map[string]string) string {
	if lang == "ja" {
		return "【" + v["issuer"] + "】確認コード：" + v["code"]
	}
	return v["issuer"] + " code " + v["code"]
}
func (messages) Voice(lang string, _ bool, _ map[string]string) string {
	if lang == "ja" {
		return "サインイン画面の番号を入力し、シャープを押してください。"
	}
	return "Enter the number shown on the screen, then press pound."
}
func (messages) DefaultLanguage() string { return "en" }

// rig is a gateway domain on a real SQLite file, a pool, and simulated
// modems on ptys attached to one virtual phone network.
type rig struct {
	t      *testing.T
	svc    *mfa.Service
	pool   *modem.Pool
	net    *sim.Network
	modems map[string]*sim.Modem
	cancel context.CancelFunc
	done   chan struct{}
	seen   *seen
	claims *claimLog
}

// claimLog passes the pool's claims to the outbox and, once armed, reports
// each on a channel: a test waits for the pool to have looked at the
// outbox instead of sleeping and hoping it has.
type claimLog struct {
	modem.Service
	mu sync.Mutex
	ch chan claimed // nil: not armed
}

type claimed struct {
	modem    string
	channels []mfa.Channel
	job      string // "" when nothing was handed out
}

func (l *claimLog) Claim(ctx context.Context, m string, chans []mfa.Channel) (mfa.Outgoing, error) {
	l.mu.Lock()
	ch := l.ch
	l.mu.Unlock()
	o, err := l.Service.Claim(ctx, m, chans)
	if ch != nil {
		select {
		case ch <- claimed{modem: m, channels: chans, job: o.Job}:
		default: // the test has read what it needed; never block the pool
		}
	}
	return o, err
}

// arm reports every claim that starts from now on.
func (l *claimLog) arm() <-chan claimed {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ch = make(chan claimed, 100)
	return l.ch
}

// seen records what the pool tells its observer.
type seen struct {
	mu       sync.Mutex
	failures map[string]int // "modem cause" → count
}

func (s *seen) JobDone(string, mfa.Channel, string, time.Duration) {}
func (s *seen) Digit(string)                                       {}
func (s *seen) SMSFailed(modem, cause string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[modem+" "+cause]++
}

func (s *seen) failed(modem, cause string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures[modem+" "+cause]
}

type modemSpec struct {
	id, profile string
	cap         int
	channels    []mfa.Channel
}

func newRig(t *testing.T, netOpts sim.NetworkOptions, specs ...modemSpec) *rig {
	return newRigPolicy(t, true, netOpts, specs...)
}

func newRigPolicy(t *testing.T, numberMatch bool, netOpts sim.NetworkOptions, specs ...modemSpec) *rig {
	return newRigFull(t, numberMatch, nil, netOpts, specs...)
}

func newRigFull(t *testing.T, numberMatch bool, promptFiles map[string]string, netOpts sim.NetworkOptions, specs ...modemSpec) *rig {
	t.Helper()
	netOpts.CountryCode = "81"
	netOpts.OpenNumbering = true
	r := &rig{t: t, net: sim.NewNetwork(netOpts), modems: map[string]*sim.Modem{}, done: make(chan struct{}),
		seen: &seen{failures: map[string]int{}}}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{3}, 32))
	r.svc, err = mfa.New(mfa.Options{Store: db, Keys: keys, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"}, VoiceNumberMatch: numberMatch,
		TOTP: mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1}, Messages: messages{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var cfgs []modem.Config
	for i, s := range specs {
		m, err := sim.Start(t.Context(), sim.Options{Profile: s.profile, Network: r.net,
			IMEI: fmt.Sprintf("86000000000000%d", i), ICCID: fmt.Sprintf("898110000000000000%d", i),
			Number: fmt.Sprintf("+8170000000%02d", i), LinkDir: t.TempDir(), LinkName: s.id})
		if err != nil {
			t.Fatal(err)
		}
		r.modems[s.id] = m
		cfgs = append(cfgs, modem.Config{ID: s.id, Port: m.Path(), Profile: s.profile, DailyCap: s.cap, Channels: s.channels})
	}
	r.claims = &claimLog{Service: r.svc}
	r.pool, err = modem.New(modem.Options{Service: r.claims, Modems: cfgs, Usage: db, SMSTimeout: 2 * time.Second, Cooldown: 300 * time.Millisecond,
		Observer:       r.seen,
		PromptFiles:    promptFiles,
		HealthInterval: 500 * time.Millisecond, RingTimeout: 5 * time.Second, InputTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.svc.SetSender(r.pool)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.pool.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		for _, m := range r.modems {
			m.Close()
		}
		db.Close()
	})
	for id := range r.modems {
		r.waitState(id, modem.StateUp)
	}
	return r
}

func (r *rig) waitState(id, state string) modem.Status {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range r.pool.Status() {
			if s.ID == id && s.State == state {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("modem %s never reached %s: %+v", id, state, r.pool.Status())
	return modem.Status{}
}

func (r *rig) ctx() context.Context {
	ctx, cancel := context.WithTimeout(r.t.Context(), 20*time.Second)
	r.t.Cleanup(cancel)
	return ctx
}

// phone registers an unconfirmed phone method and returns the method and
// its confirmation challenge.
func (r *rig) phone(slot mfa.Slot, number string, ch mfa.Channel, lang string) (mfa.Method, mfa.Challenge) {
	r.t.Helper()
	res, err := r.svc.AddMethod(r.ctx(), mfa.Actor{Name: "t"}, user, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: slot, Phone: number, Channel: ch, Language: lang})
	if err != nil {
		r.t.Fatal(err)
	}
	return res.Method, *res.Challenge
}

func (r *rig) waitStatus(id string, want mfa.Status) mfa.Challenge {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var c mfa.Challenge
	for time.Now().Before(deadline) {
		c, _ = r.svc.Challenge(r.t.Context(), id)
		if c.Status == want {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("challenge %s is %s (%s), want %s", id, c.Status, c.Reason, want)
	return c
}

var sixDigits = regexp.MustCompile(`\d{6}`)

func TestSMSChallengeEndToEnd(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "q1", profile: "quectel"})
	m, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "ja")
	got, err := r.net.WaitSMS(r.ctx(), "+819012345678", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.UCS2 || !got.Report || got.Modem != "860000000000000" {
		t.Fatalf("handset got %+v: want a UCS-2 message with a status report request from q1", got)
	}
	code := sixDigits.FindString(got.Text)
	if code == "" {
		t.Fatalf("no code in %q", got.Text)
	}
	// The status report moves the challenge to delivered.
	r.waitStatus(c.ID, mfa.StatusDelivered)
	if _, err := r.svc.ConfirmMethod(r.ctx(), mfa.Actor{Name: "t"}, user, m.ID, mfa.ConfirmRequest{Code: code}); err != nil {
		t.Fatalf("confirm with the code the handset received: %v", err)
	}
	s := r.waitState("q1", modem.StateUp)
	if s.SentToday != 1 || s.SMSSent != 1 || s.IMEI != "860000000000000" {
		t.Fatalf("status after one SMS: %+v", s)
	}
}

func TestEnglishCodeIsOneGSM7Part(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "s1", profile: "simcom"})
	_, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "en")
	got, err := r.net.WaitSMS(r.ctx(), "+819012345678", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.UCS2 || got.Parts != 1 {
		t.Fatalf("an English code should be one GSM-7 part: %+v", got)
	}
	r.waitStatus(c.ID, mfa.StatusDelivered)
}

// A long Japanese test message goes out as concatenated UCS-2 parts and
// the handset reassembles the exact text.
func TestLongJapaneseTestSMSIsConcatenated(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "q1", profile: "quectel"})
	text := strings.Repeat("多要素認証のテストメッセージです。", 9) // 153 characters: 3 UCS-2 parts
	j, err := r.svc.TestSMS(r.ctx(), mfa.Actor{Name: "ops"}, modem.Describe(r.pool.Status()), "q1", "090-2222-3333", text)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.net.WaitSMS(r.ctx(), "+819022223333", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.UCS2 || got.Parts != 3 || got.Text != text {
		t.Fatalf("handset got %d parts (ucs2=%v) %q", got.Parts, got.UCS2, got.Text)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		js, _ := r.svc.Jobs(r.ctx(), mfa.JobSent, 10)
		if len(js) == 1 && js[0].ID == j.ID && len(js[0].MR) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test job is not recorded as sent with 3 message references: %+v", js)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := r.waitState("q1", modem.StateUp); s.SentToday != 3 {
		t.Fatalf("sent today = %d, want 3 parts counted against the cap", s.SentToday)
	}
}

func TestVoiceNumberMatching(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{Default: sim.Behavior{Answer: sim.Manual}}, modemSpec{id: "q1", profile: "quectel"})
	m, c := r.phone(mfa.SlotOffice, "03-1234-5678", mfa.ChannelVoice, "en")
	call, err := r.net.NextCall(r.ctx(), "+81312345678")
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Answer(r.ctx()); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(c.ID, mfa.StatusAnswered)
	if _, err := call.WaitPrompt(r.ctx(), 1); err != nil {
		t.Fatalf("no prompt was played: %v", err)
	}
	if err := call.PressKeys(r.ctx(), c.NumberMatch+"#"); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(c.ID, mfa.StatusApproved)
	if _, err := r.svc.ConfirmMethod(r.ctx(), mfa.Actor{Name: "t"}, user, m.ID, mfa.ConfirmRequest{Challenge: c.ID}); err != nil {
		t.Fatal(err)
	}
	// The modem hung up after #.
	if st, err := call.WaitState(r.ctx(), sim.CallEnded); err != nil || st != sim.CallEnded {
		t.Fatalf("call not ended after #: %v %v", st, err)
	}

	// 0#: fraud report.
	c2, err := r.svc.CreateChallenge(r.ctx(), mfa.Actor{Name: "idp"}, user, mfa.ChallengeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	call, _ = r.net.NextCall(r.ctx(), "+81312345678")
	call.Answer(r.ctx())
	r.waitStatus(c2.ID, mfa.StatusAnswered)
	call.PressKeys(r.ctx(), "0#")
	if got := r.waitStatus(c2.ID, mfa.StatusDenied); got.Reason != "fraud_reported" {
		t.Fatalf("reason %q", got.Reason)
	}
}

func TestVoiceBusyAndNoAnswer(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{NoAnswerTimeout: 300 * time.Millisecond}, modemSpec{id: "s1", profile: "simcom"})
	if _, err := r.net.AddPhone("+81312345678", sim.Behavior{Answer: sim.Busy}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.net.AddPhone("+81312340000", sim.Behavior{Answer: sim.NoAnswer}); err != nil {
		t.Fatal(err)
	}
	_, c := r.phone(mfa.SlotOffice, "03-1234-5678", mfa.ChannelVoice, "en")
	r.waitStatus(c.ID, mfa.StatusBusy)
	_, c = r.phone(mfa.SlotAlternate, "03-1234-0000", mfa.ChannelVoice, "en")
	r.waitStatus(c.ID, mfa.StatusNoAnswer)
}

// A modem that answers +CMS ERROR: 500 hands the job to the other modem.
func TestFailoverOnCMSError(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "a", profile: "quectel", channels: []mfa.Channel{mfa.ChannelSMS}},
		modemSpec{id: "b", profile: "simcom", channels: []mfa.Channel{mfa.ChannelVoice}})
	// b cannot send SMS until a fails: make b an SMS modem only after a is broken.
	if err := r.modems["a"].FailNextSends(r.ctx(), 100, 500); err != nil {
		t.Fatal(err)
	}
	_, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "en")
	got := r.waitStatus(c.ID, mfa.StatusFailed)
	if got.Delivery.Attempts != mfa.MaxDeliveryAttempts {
		t.Fatalf("attempts = %d, want %d", got.Delivery.Attempts, mfa.MaxDeliveryAttempts)
	}
	if n := r.seen.failed("a", "cms_500"); n != mfa.MaxDeliveryAttempts {
		t.Fatalf("the observer counted %d failures of modem a with cms_500, want %d", n, mfa.MaxDeliveryAttempts)
	}
}

func TestFailureCause(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&driver.CMSError{Code: 38, Text: "38"}, "cms_38"},
		{fmt.Errorf("send: %w", &driver.CMSError{Code: 500, Text: "500"}), "cms_500"},
		{&driver.CMSError{Code: -1, Text: "unknown error"}, "cms_text"},
		{&driver.CMEError{Code: 10, Text: "10"}, "cme_10"},
		{&driver.CMSError{Code: 123456, Text: "123456"}, "cms_text"},
		{fmt.Errorf("AT+CMGS: %w", driver.ErrTimeout), "timeout"},
		{driver.ErrPortLost, "port_lost"},
		{driver.ErrBadNumber, "bad_number"},
		{errors.New("something else"), "other"},
	} {
		if got := modem.FailureCause(tc.err); got != tc.want {
			t.Errorf("FailureCause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestFailoverToHealthyModem(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "a", profile: "quectel"}, modemSpec{id: "b", profile: "simcom"})
	r.modems["a"].FailNextSends(r.ctx(), 100, 500)
	r.modems["b"].Unplug(r.ctx())
	r.waitState("b", modem.StateDown)
	_, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "en")
	// a fails it once and leaves it to the others for a while.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cc, _ := r.svc.Challenge(r.t.Context(), c.ID)
		if cc.Delivery.Attempts >= 1 && cc.Status == mfa.StatusQueued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never came back from a: %+v", cc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.modems["b"].Replug(r.ctx())
	got, err := r.net.WaitSMS(r.ctx(), "+819012345678", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Modem != "860000000000001" {
		t.Fatalf("sent by %s, want b (860000000000001)", got.Modem)
	}
	r.waitStatus(c.ID, mfa.StatusDelivered)
	if s := r.pool.Status()[0]; s.SMSFailed < 1 || s.LastError == "" {
		t.Fatalf("a's status does not show its failure: %+v", s)
	}
}

// A modem that stops answering mid-send loses the job to another modem
// after the SMS timeout.
func TestHungModemJobMoves(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "a", profile: "quectel"}, modemSpec{id: "b", profile: "simcom", channels: []mfa.Channel{mfa.ChannelVoice}})
	r.modems["a"].SetHang(r.ctx(), true)
	_, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "en")
	// Wait until a has tried and given the job back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cc, _ := r.svc.Challenge(r.t.Context(), c.ID)
		if cc.Delivery.Attempts >= 1 && cc.Status == mfa.StatusQueued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hung modem kept the job: %+v", cc)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.modems["a"].SetHang(r.ctx(), false)
	r.waitStatus(c.ID, mfa.StatusDelivered)
}

// A vanished port is reopened once it reappears, and the modem sends again.
func TestPortVanishesAndReturns(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "a", profile: "quectel"})
	if err := r.modems["a"].Unplug(r.ctx()); err != nil {
		t.Fatal(err)
	}
	r.waitState("a", modem.StateDown)
	claims := r.claims.arm()
	_, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "en")
	if cc, _ := r.svc.Challenge(r.t.Context(), c.ID); cc.Status != mfa.StatusQueued {
		t.Fatalf("with no modem the challenge is %s, want queued", cc.Status)
	}
	if err := r.modems["a"].Replug(r.ctx()); err != nil {
		t.Fatal(err)
	}
	r.waitState("a", modem.StateUp)
	// The first look at the outbox since the port went away is the
	// returned modem's, and it takes the job that waited.
	select {
	case cl := <-claims:
		if cl.job == "" {
			t.Fatalf("the first claim after the port returned took nothing: %+v", cl)
		}
	case <-r.ctx().Done():
		t.Fatal("the returned modem never claimed the waiting job")
	}
	r.waitStatus(c.ID, mfa.StatusDelivered)
	if s := r.waitState("a", modem.StateUp); s.Reopens < 1 {
		t.Fatalf("reopens = %d", s.Reopens)
	}
}

// Daily caps per SIM: a capped modem leaves SMS to the others, and the
// count survives a restart of the pool (it is stored per ICCID and day).
func TestDailyCap(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "a", profile: "quectel", cap: 1})
	_, c1 := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelSMS, "en")
	r.waitStatus(c1.ID, mfa.StatusDelivered)
	claims := r.claims.arm()
	_, c2 := r.phone(mfa.SlotAlternate, "090-8765-4321", mfa.ChannelSMS, "en")
	// Queuing wakes the pool: the capped modem looks at the outbox without
	// offering SMS, and takes nothing.
	select {
	case cl := <-claims:
		if cl.job != "" || slices.Contains(cl.channels, mfa.ChannelSMS) {
			t.Fatalf("the capped modem claimed %+v, want nothing and no SMS offered", cl)
		}
	case <-r.ctx().Done():
		t.Fatal("the pool never looked at the outbox after the job was queued")
	}
	if cc, _ := r.svc.Challenge(r.t.Context(), c2.ID); cc.Status != mfa.StatusQueued {
		t.Fatalf("the capped modem sent anyway: %s", cc.Status)
	}
	if n := r.pool.CanSend(mfa.ChannelSMS); n != 0 {
		t.Fatalf("CanSend(sms) = %d with the only modem at its cap", n)
	}
	if s := r.pool.Status()[0]; s.SentToday != 1 || s.DailyCap != 1 {
		t.Fatalf("status %+v", s)
	}
}

// With voice_confirmation = "pound" (the guide's behaviour) a plain #
// approves; a callee who hangs up without keying fails the challenge.
func TestVoicePoundAndHangup(t *testing.T) {
	r := newRigPolicy(t, false, sim.NetworkOptions{Default: sim.Behavior{Answer: sim.Manual}}, modemSpec{id: "s1", profile: "simcom"})
	_, c := r.phone(mfa.SlotMobile, "090-1234-5678", mfa.ChannelVoice, "en")
	if c.NumberMatch != "" {
		t.Fatalf("pound mode shows a number to match: %q", c.NumberMatch)
	}
	call, err := r.net.NextCall(r.ctx(), "+819012345678")
	if err != nil {
		t.Fatal(err)
	}
	call.Answer(r.ctx())
	r.waitStatus(c.ID, mfa.StatusAnswered)
	call.PressKeys(r.ctx(), "#")
	r.waitStatus(c.ID, mfa.StatusApproved)

	// The approved call confirmed the phone; confirming again with it is accepted.
	if m, err := r.svc.ConfirmMethod(r.ctx(), mfa.Actor{Name: "t"}, user, c.Method, mfa.ConfirmRequest{Challenge: c.ID}); err != nil || !m.Confirmed {
		t.Fatalf("confirm: %+v %v", m, err)
	}
	c2, err := r.svc.CreateChallenge(r.ctx(), mfa.Actor{Name: "idp"}, user, mfa.ChallengeRequest{Purpose: mfa.PurposeTest})
	if err != nil {
		t.Fatal(err)
	}
	call, _ = r.net.NextCall(r.ctx(), "+819012345678")
	call.Answer(r.ctx())
	r.waitStatus(c2.ID, mfa.StatusAnswered)
	call.Hangup(r.ctx())
	if got := r.waitStatus(c2.ID, mfa.StatusFailed); got.Reason != "no_input" {
		t.Fatalf("hang-up without keys: reason %q, want no_input", got.Reason)
	}
}

// Module speech engines speak English only: a call to a Japanese user plays
// the Japanese recording when one is configured, else the English text.
func TestVoicePromptLanguage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		command string
		text    string
	}{
		{"no recording: English speech", nil, "+QWTTS", "Enter the number shown on the screen, then press pound."},
		{"Japanese recording", map[string]string{"ja": "UFS:prompt_ja.wav"}, "+QPSND", "UFS:prompt_ja.wav"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRigFull(t, true, tc.files, sim.NetworkOptions{Default: sim.Behavior{Answer: sim.Manual}}, modemSpec{id: "q1", profile: "quectel"})
			_, c := r.phone(mfa.SlotOffice, "03-1234-5678", mfa.ChannelVoice, "ja")
			call, err := r.net.NextCall(r.ctx(), "+81312345678")
			if err != nil {
				t.Fatal(err)
			}
			call.Answer(r.ctx())
			p, err := call.WaitPrompt(r.ctx(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if p.Command != tc.command || p.Text != tc.text {
				t.Fatalf("played %s %q, want %s %q", p.Command, p.Text, tc.command, tc.text)
			}
			call.PressKeys(r.ctx(), c.NumberMatch+"#")
			r.waitStatus(c.ID, mfa.StatusApproved)
		})
	}
}

// The pool shows each modem's model as the modem names itself, so
// GET /v1/modems can tell a SIM7600 from an EC25.
func TestStatusShowsModel(t *testing.T) {
	r := newRig(t, sim.NetworkOptions{}, modemSpec{id: "s1", profile: "simcom"}, modemSpec{id: "q1", profile: "quectel"})
	for id, want := range map[string]string{"s1": "SIMCOM_SIM7600G-H", "q1": "EC25"} {
		if s := r.waitState(id, modem.StateUp); s.Model != want {
			t.Errorf("modem %s model %q, want %q", id, s.Model, want)
		}
	}
}
