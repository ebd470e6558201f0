package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

// The tests here play a gateway: Access-Requests built byte by byte from
// RFC 2865 §3/§5.2 and RFC 3579 §3.2 (not with the codec the server uses),
// sent over real UDP on loopback to the server on a real SQLite file. The
// modem is the test, taking what the outbox would send.

type texts struct{}

func (texts) SMS(lang string, v map[string]string) string { return "code " + v["code"] }
func (texts) Voice(lang string, nm bool, v map[string]string) string {
	return "press " + v["number"] + " #"
}
func (texts) DefaultLanguage() string { return "en" }

const (
	alice  = "0000000001"
	bob    = "0000000002"
	carol  = "0000000003" // never enrolled
	secret = "vpn-shared-secret-0123456789"
)

var admin = mfa.Actor{Name: "test-admin", Admin: true}

type rig struct {
	t       testing.TB
	svc     *mfa.Service
	clock   *mfatest.Clock
	modem   *mfatest.Sender
	metrics *metrics.Metrics
	srv     *Server
	addr    *net.UDPAddr
	secret  string // alice's app seed
	app     string
	mobile  string
}

func newRig(t testing.TB, tweak ...func(*config.Radius)) *rig {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mfagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{9}, 32))
	r := &rig{t: t, clock: mfatest.NewClock(time.Date(2026, 12, 1, 9, 0, 10, 0, time.UTC)), metrics: metrics.New()}
	r.svc, err = mfa.New(mfa.Options{Store: db, Keys: keys, Now: r.clock.Now, Observer: r.metrics, Policy: mfa.Policy{
		CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 3, MaxConsecutiveFailures: 10,
		PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
		ActivationDelay: time.Minute, VoiceNumberMatch: true,
		UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
		TOTP:     mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1},
		Messages: texts{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.modem = mfatest.NewSender("modem-a")
	r.modem.Service = r.svc
	r.svc.SetSender(r.modem)
	// The configuration goes through config.Parse, as the daemon's does.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vpn.secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`[radius]
listen = "127.0.0.1:1812"
language = "en"
trigger = "push"
[[radius.client]]
name = "vpn"
address = "127.0.0.1/32"
secret_file = "vpn.secret"
timeout = "300ms"
filter_id = "vpn-users"
class = "mfagate-vpn"
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	rc := *cfg.Radius
	rc.Listen = "127.0.0.1:0" // a free port
	for _, f := range tweak {
		f(&rc)
	}
	r.srv, err = New(Options{Service: r.svc, Config: rc, Metrics: r.metrics, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Listen(rc.Listen)
	if err != nil {
		t.Fatal(err)
	}
	r.addr = conn.LocalAddr().(*net.UDPAddr)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- r.srv.Run(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		conn.Close()
	})
	return r
}

// enroll gives alice a confirmed app and a confirmed mobile (the app is
// the default) and applies MFA, which becomes active after a minute.
func (r *rig) enroll() {
	r.t.Helper()
	ctx := r.t.Context()
	res, err := r.svc.AddMethod(ctx, admin, alice, mfa.AddMethodRequest{Kind: mfa.KindTOTP, Label: "Phone app"})
	if err != nil {
		r.t.Fatal(err)
	}
	r.secret, r.app = res.TOTP.Secret, res.Method.ID
	if _, err := r.svc.ConfirmMethod(ctx, admin, alice, r.app, mfa.ConfirmRequest{Code: totp(r.secret, r.clock.Now())}); err != nil {
		r.t.Fatal(err)
	}
	r.mobile = r.addPhone(alice, "090-1234-5678")
	r.apply(alice, r.app, r.secret)
}

func (r *rig) apply(user, app, seed string) {
	r.t.Helper()
	r.clock.Advance(30 * time.Second)
	c, err := r.svc.CreateChallenge(r.t.Context(), admin, user, mfa.ChallengeRequest{Method: app, Purpose: mfa.PurposeTest})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.Verify(r.t.Context(), admin, c.ID, totp(seed, r.clock.Now())); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.ApplyMFA(r.t.Context(), admin, user); err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(61 * time.Second)
}

// enrollBob gives bob a mobile only, his default, and applies MFA with
// an SMS test sign-in.
func (r *rig) enrollBob() string {
	r.t.Helper()
	ctx := r.t.Context()
	m := r.addPhone(bob, "090-9999-0000")
	c, err := r.svc.CreateChallenge(ctx, admin, bob, mfa.ChallengeRequest{Method: m, Purpose: mfa.PurposeTest})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.Verify(ctx, admin, c.ID, r.smsCode(c.ID)); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.ApplyMFA(ctx, admin, bob); err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(61 * time.Second)
	return m
}

func (r *rig) addPhone(user, number string) string {
	r.t.Helper()
	res, err := r.svc.AddMethod(r.t.Context(), admin, user, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotMobile,
		Phone: number, Channel: mfa.ChannelSMS})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.ConfirmMethod(r.t.Context(), admin, user, res.Method.ID, mfa.ConfirmRequest{Code: r.smsCode(res.Challenge.ID)}); err != nil {
		r.t.Fatal(err)
	}
	return res.Method.ID
}

// addVoice registers a voice phone in slot alternate, confirmed by its call.
func (r *rig) addVoice(user, number string) string {
	r.t.Helper()
	res, err := r.svc.AddMethod(r.t.Context(), admin, user, mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotAlternate,
		Phone: number, Channel: mfa.ChannelVoice})
	if err != nil {
		r.t.Fatal(err)
	}
	r.answerCall()
	return res.Method.ID
}

// answerCall takes the next call from the outbox and keys what it expects.
func (r *rig) answerCall() mfa.Outgoing {
	r.t.Helper()
	o, ok, err := r.modem.Take(r.t.Context())
	if err != nil || !ok || o.Channel != mfa.ChannelVoice {
		r.t.Fatalf("no call queued: %+v %v %v", o, ok, err)
	}
	if err := r.svc.Report(r.t.Context(), o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		r.t.Fatal(err)
	}
	return o
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// smsCode takes the next outbox job as a modem would and returns its code.
func (r *rig) smsCode(challenge string) string {
	r.t.Helper()
	o, ok, err := r.modem.Take(r.t.Context())
	if err != nil || !ok || (challenge != "" && o.Challenge != challenge) {
		r.t.Fatalf("outbox: %+v %v %v, want the job of challenge %q", o, ok, err, challenge)
	}
	return codeRE.FindString(o.Text)
}

func (r *rig) outboxEmpty() bool {
	r.t.Helper()
	o, ok, err := r.modem.Take(r.t.Context())
	if err != nil {
		r.t.Fatal(err)
	}
	if ok {
		r.t.Logf("outbox holds %+v", o)
	}
	return !ok
}

// totp is RFC 6238 as an authenticator app computes it, independent of mfa.
func totp(secret string, t time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0xf
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:])&0x7fffffff)%1000000)
}

// A gateway's side, from the RFCs.

const (
	codeAccessRequest   = 1
	codeAccessAccept    = 2
	codeAccessReject    = 3
	codeAccessChallenge = 11

	attrUserName      = 1
	attrUserPassword  = 2
	attrFilterID      = 11
	attrReplyMessage  = 18
	attrState         = 24
	attrClass         = 25
	attrSessionTO     = 27
	attrMessageAuthen = 80
)

type attr struct {
	typ byte
	val []byte
}

// ask is one Access-Request to build.
type ask struct {
	user, password string
	noPassword     bool
	state          []byte
	secret         string // "" = the client's
	noMA           bool   // leave out Message-Authenticator
	id             byte
	extra          []attr // more attributes, after the others
}

// hidePassword is RFC 2865 §5.2: the password padded to 16 octets, each
// block XORed with MD5(secret + previous block), the first with the
// Request Authenticator.
func hidePassword(pw, secret string, ra []byte) []byte {
	p := []byte(pw)
	if len(p) == 0 || len(p)%16 != 0 {
		p = append(p, make([]byte, 16-len(p)%16)...)
	}
	out := make([]byte, 0, len(p))
	prev := ra
	for i := 0; i < len(p); i += 16 {
		sum := md5.Sum(append([]byte(secret), prev...))
		for j := range 16 {
			out = append(out, p[i+j]^sum[j])
		}
		prev = out[i : i+16]
	}
	return out
}

// build encodes an Access-Request with a random Request Authenticator and,
// unless left out, a Message-Authenticator as RFC 3579 §3.2 computes it.
func (a ask) build() []byte {
	sec := a.secret
	if sec == "" {
		sec = secret
	}
	ra := make([]byte, 16)
	rand.Read(ra)
	var attrs []attr
	if !a.noMA {
		attrs = append(attrs, attr{attrMessageAuthen, make([]byte, 16)})
	}
	attrs = append(attrs, attr{attrUserName, []byte(a.user)})
	if !a.noPassword {
		attrs = append(attrs, attr{attrUserPassword, hidePassword(a.password, sec, ra)})
	}
	if a.state != nil {
		attrs = append(attrs, attr{attrState, a.state})
	}
	attrs = append(attrs, a.extra...)
	b := []byte{codeAccessRequest, a.id, 0, 0}
	b = append(b, ra...)
	for _, at := range attrs {
		b = append(b, at.typ, byte(2+len(at.val)))
		b = append(b, at.val...)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	if !a.noMA {
		m := hmac.New(md5.New, []byte(sec))
		m.Write(b)
		copy(b[22:38], m.Sum(nil))
	}
	return b
}

// answer is a checked reply.
type answer struct {
	code  byte
	attrs []attr
	raw   []byte
}

func (a answer) get(t byte) []byte {
	for _, at := range a.attrs {
		if at.typ == t {
			return at.val
		}
	}
	return nil
}

func (a answer) message() string {
	var parts []string
	for _, at := range a.attrs {
		if at.typ == attrReplyMessage {
			parts = append(parts, string(at.val))
		}
	}
	return strings.Join(parts, "\n")
}

var errNoReply = errors.New("no reply")

// exchange sends b from a fresh socket bound to local (nil: any) and
// returns the reply, checked as a gateway checks it: the Response
// Authenticator (RFC 2865 §3) and a Message-Authenticator that is present,
// first and correct (RFC 3579 §3.2).
func (r *rig) exchange(b []byte, local *net.UDPAddr) (answer, error) {
	r.t.Helper()
	conn, err := net.DialUDP("udp", local, r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	defer conn.Close()
	return r.roundTrip(conn, b, time.Second)
}

func (r *rig) roundTrip(conn *net.UDPConn, b []byte, wait time.Duration) (answer, error) {
	r.t.Helper()
	if _, err := conn.Write(b); err != nil {
		r.t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return answer{}, errNoReply
	}
	return checkReply(r.t, buf[:n], b, secret), nil
}

func checkReply(t testing.TB, resp, req []byte, sec string) answer {
	t.Helper()
	if len(resp) < 20 || int(binary.BigEndian.Uint16(resp[2:])) != len(resp) || resp[1] != req[1] {
		t.Fatalf("reply malformed or for another identifier: % x", resp)
	}
	h := md5.New()
	h.Write(resp[:4])
	h.Write(req[4:20])
	h.Write(resp[20:])
	h.Write([]byte(sec))
	if !bytes.Equal(h.Sum(nil), resp[4:20]) {
		t.Fatal("the Response Authenticator is wrong")
	}
	a := answer{code: resp[0], raw: resp}
	for i := 20; i < len(resp); {
		l := int(resp[i+1])
		a.attrs = append(a.attrs, attr{resp[i], resp[i+2 : i+l]})
		i += l
	}
	if len(a.attrs) == 0 || a.attrs[0].typ != attrMessageAuthen || len(a.attrs[0].val) != 16 {
		t.Fatalf("the reply's first attribute is not a Message-Authenticator: %v", a.attrs)
	}
	z := append([]byte(nil), resp...)
	copy(z[4:20], req[4:20])
	clear(z[22:38])
	m := hmac.New(md5.New, []byte(sec))
	m.Write(z)
	if !hmac.Equal(m.Sum(nil), resp[22:38]) {
		t.Fatal("the reply's Message-Authenticator is wrong")
	}
	return a
}

func (r *rig) send(a ask) answer {
	r.t.Helper()
	ans, err := r.exchange(a.build(), nil)
	if err != nil {
		r.t.Fatalf("%+v: %v", a, err)
	}
	return ans
}

func (r *rig) want(a answer, code byte, msg string) {
	r.t.Helper()
	if a.code != code {
		r.t.Fatalf("reply code %d, want %d; Reply-Message %q", a.code, code, a.message())
	}
	if msg != "" && !strings.Contains(a.message(), msg) {
		r.t.Fatalf("Reply-Message %q does not contain %q", a.message(), msg)
	}
}

func (r *rig) requests(result string) float64 {
	return testutil.ToFloat64(r.metrics.RadiusRequestsCounter("vpn", "second_factor", result))
}

func (r *rig) dropped(client, reason string) float64 {
	return testutil.ToFloat64(r.metrics.RadiusDroppedCounter(client, reason))
}

func (r *rig) setDefault(user, method string) {
	r.t.Helper()
	if _, err := r.svc.SetDefault(r.t.Context(), admin, user, method); err != nil {
		r.t.Fatal(err)
	}
}

func TestAppCodeAcceptedAtOnce(t *testing.T) {
	r := newRig(t)
	r.enroll()
	a := r.send(ask{user: alice, password: totp(r.secret, r.clock.Now())})
	r.want(a, codeAccessAccept, "")
	if string(a.get(attrClass)) != "mfagate-vpn" || string(a.get(attrFilterID)) != "vpn-users" {
		t.Errorf("Accept without the configured Class and Filter-Id: %v", a.attrs)
	}
	// The same code again is a replay (mfa's rule), and a wrong code is wrong.
	r.want(r.send(ask{user: alice, password: totp(r.secret, r.clock.Now())}), codeAccessReject, "not correct")
	r.want(r.send(ask{user: alice, password: "000000"}), codeAccessReject, "not correct")
	if r.requests("accept") != 1 || r.requests("reject") != 2 {
		t.Errorf("requests accept %v reject %v, want 1 and 2", r.requests("accept"), r.requests("reject"))
	}
	ev, err := r.svc.Events(t.Context(), mfa.EventFilter{User: alice})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev {
		found = found || (e.Actor == "radius:vpn" && e.Type == mfa.EventChallengeApproved)
	}
	if !found {
		t.Errorf("no approval audited with actor radius:vpn: %+v", ev)
	}
}

func TestSMSChallenge(t *testing.T) {
	r := newRig(t)
	r.enroll()
	r.setDefault(alice, r.mobile)
	a := r.send(ask{user: alice, password: ""})
	r.want(a, codeAccessChallenge, "Enter the code sent by SMS to +81 90-****-5678")
	if strings.Contains(a.message(), "1234") {
		t.Errorf("the message shows the number: %q", a.message())
	}
	// The other ways by number: the mobile's call and the app.
	if !strings.Contains(a.message(), "2 for a call to +81 90-****-5678") || !strings.Contains(a.message(), "3 for your app (Phone app)") {
		t.Errorf("the challenge does not list the other ways: %q", a.message())
	}
	if st := a.get(attrState); len(st) == 0 {
		t.Fatal("Access-Challenge without State")
	}
	if to := a.get(attrSessionTO); len(to) != 4 || binary.BigEndian.Uint32(to) < 60 || binary.BigEndian.Uint32(to) > 300 {
		t.Errorf("Session-Timeout %v, want the challenge's remaining lifetime", to)
	}
	if len(a.get(attrClass)) != 0 {
		t.Error("a challenge carries the Accept's Class")
	}
	code := r.smsCode("")
	state := a.get(attrState)
	// Bob cannot answer with alice's State, and trying changes nothing.
	r.enrollBob()
	r.want(r.send(ask{user: bob, password: code, state: state}), codeAccessReject, "unknown")
	r.want(r.send(ask{user: alice, password: code, state: state}), codeAccessAccept, "")
	// Answered once: the State is used up.
	r.want(r.send(ask{user: alice, password: code, state: state}), codeAccessReject, "")
	// The trigger word asks for a challenge like an empty password.
	r.want(r.send(ask{user: alice, password: "push"}), codeAccessChallenge, "SMS")
	if r.smsCode("") == "" {
		t.Error("the trigger sent no SMS")
	}
}

func TestWrongSMSCode(t *testing.T) {
	r := newRig(t)
	r.enroll()
	r.setDefault(alice, r.mobile)
	a := r.send(ask{user: alice})
	r.want(a, codeAccessChallenge, "")
	code := r.smsCode("")
	wrong := "111111"
	if code == wrong {
		wrong = "222222"
	}
	r.want(r.send(ask{user: alice, password: wrong, state: a.get(attrState)}), codeAccessReject, "not correct")
	// One attempt was spent (mfa's rule); the right code still answers.
	r.want(r.send(ask{user: alice, password: code, state: a.get(attrState)}), codeAccessAccept, "")
}

func TestDuplicateGetsTheSameAnswer(t *testing.T) {
	r := newRig(t)
	r.enroll()
	r.setDefault(alice, r.mobile)
	conn, err := net.DialUDP("udp", nil, r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := ask{user: alice, id: 42}.build()
	first, err := r.roundTrip(conn, req, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.roundTrip(conn, req, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.raw, again.raw) {
		t.Fatal("a retransmission got another answer")
	}
	r.smsCode("")
	if !r.outboxEmpty() {
		t.Fatal("a retransmission sent a second SMS")
	}
	if r.requests("challenge") != 1 {
		t.Errorf("challenges counted %v, want 1", r.requests("challenge"))
	}
	// The same identifier with a new Request Authenticator is a new request.
	r.want(r.send(ask{user: alice, id: 42}), codeAccessChallenge, "")
	r.smsCode("")
}

func TestVoiceChallengeThenEmptyAnswer(t *testing.T) {
	r := newRig(t)
	r.enroll()
	voice := r.addVoice(alice, "080-2222-3333")
	r.setDefault(alice, voice)
	a := r.send(ask{user: alice}) // the call is not confirmed within 300 ms
	r.want(a, codeAccessChallenge, "Answer the call to +81 80-****-3333, key ")
	state := a.get(attrState)
	// Enter before the call is confirmed: asked again, nothing used up.
	r.want(r.send(ask{user: alice, state: state}), codeAccessChallenge, "not confirmed yet")
	o := r.answerCall()
	if !strings.Contains(a.message(), "key "+o.Expect[:2]+" then #") {
		t.Fatalf("the message %q does not show the digits the call expects", a.message())
	}
	r.want(r.send(ask{user: bob, state: state}), codeAccessReject, "")
	r.want(r.send(ask{user: alice, state: state}), codeAccessAccept, "")
	r.want(r.send(ask{user: alice, state: state}), codeAccessReject, "")
}

func TestVoiceConfirmedWithinTimeout(t *testing.T) {
	r := newRig(t, func(c *config.Radius) { c.Clients[0].Timeout = config.D(10 * time.Second) })
	r.enroll()
	voice := r.addVoice(alice, "080-2222-3333")
	r.setDefault(alice, voice)
	got := make(chan answer, 1)
	go func() {
		conn, err := net.DialUDP("udp", nil, r.addr)
		if err != nil {
			return
		}
		defer conn.Close()
		a, err := r.roundTrip(conn, ask{user: alice}.build(), 15*time.Second)
		if err == nil {
			got <- a
		}
		close(got)
	}()
	var o mfa.Outgoing
	for {
		var ok bool
		var err error
		o, ok, err = r.modem.Take(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.svc.Report(t.Context(), o.Job, mfa.Outcome{Kind: mfa.OutcomeKeys, Digits: o.Expect}); err != nil {
		t.Fatal(err)
	}
	a, ok := <-got
	if !ok {
		t.Fatal("no answer to the first request")
	}
	r.want(a, codeAccessAccept, "")
}

func TestSwitchMethodByNumber(t *testing.T) {
	r := newRig(t)
	r.enroll()
	r.setDefault(alice, r.mobile)
	a := r.send(ask{user: alice})
	r.want(a, codeAccessChallenge, "SMS")
	smsCode := r.smsCode("")
	// 9 is no option: asked again with the same State.
	b := r.send(ask{user: alice, password: "9", state: a.get(attrState)})
	r.want(b, codeAccessChallenge, "There is no option 9.")
	if !bytes.Equal(b.get(attrState), a.get(attrState)) {
		t.Error("a wrong option number changed the State")
	}
	// 3 is the app: a new challenge with a new State.
	c := r.send(ask{user: alice, password: "3", state: a.get(attrState)})
	r.want(c, codeAccessChallenge, "Enter the code from your authenticator app (Phone app)")
	if bytes.Equal(c.get(attrState), a.get(attrState)) {
		t.Fatal("switching kept the State")
	}
	if !strings.Contains(c.message(), "1 for an SMS") {
		t.Errorf("the app's challenge does not offer the SMS back: %q", c.message())
	}
	// The SMS offer is used up by the switch.
	r.want(r.send(ask{user: alice, password: smsCode, state: c.get(attrState)}), codeAccessReject, "")
	r.clock.Advance(30 * time.Second)
	r.want(r.send(ask{user: alice, password: totp(r.secret, r.clock.Now()), state: c.get(attrState)}), codeAccessAccept, "")
	// 2 is a call to the mobile.
	d := r.send(ask{user: alice})
	r.smsCode("")
	e := r.send(ask{user: alice, password: "2", state: d.get(attrState)})
	r.want(e, codeAccessChallenge, "Answer the call to +81 90-****-5678")
	r.answerCall()
	r.want(r.send(ask{user: alice, state: e.get(attrState)}), codeAccessAccept, "")
}

func TestDroppedPackets(t *testing.T) {
	r := newRig(t)
	r.enroll()
	r.setDefault(alice, r.mobile)
	before, err := r.svc.Events(t.Context(), mfa.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, client, reason string
		b                    []byte
		local                *net.UDPAddr
	}{
		{"wrong secret", "vpn", dropBadMA, ask{user: alice, secret: "another-secret-0123456789"}.build(), nil},
		{"no Message-Authenticator", "vpn", dropNoMA, ask{user: alice, noMA: true}.build(), nil},
		{"unknown client", "unknown", dropUnknownClient, ask{user: alice}.build(), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}},
		{"garbage", "vpn", dropMalformed, []byte("this is not a RADIUS packet at all"), nil},
		{"length past the datagram", "vpn", dropMalformed, func() []byte {
			b := ask{user: alice}.build()
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)+10))
			return b
		}(), nil},
		{"accounting", "vpn", dropCode, func() []byte { b := ask{user: alice}.build(); b[0] = 4; return b }(), nil},
		{"tampered", "vpn", dropBadMA, func() []byte { b := ask{user: alice}.build(); b[len(b)-1] ^= 1; return b }(), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := r.dropped(tt.client, tt.reason)
			conn, err := net.DialUDP("udp", tt.local, r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := r.roundTrip(conn, tt.b, 300*time.Millisecond); !errors.Is(err, errNoReply) {
				t.Fatalf("got a reply, want the packet dropped")
			}
			if got := r.dropped(tt.client, tt.reason); got != n+1 {
				t.Errorf("mfagate_radius_dropped_total{client=%q,reason=%q} = %v, want %v", tt.client, tt.reason, got, n+1)
			}
		})
	}
	after, err := r.svc.Events(t.Context(), mfa.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || !r.outboxEmpty() {
		t.Errorf("dropped packets changed something: %d audit events before, %d after", len(before), len(after))
	}
}

func TestStateOfAnotherUser(t *testing.T) {
	r := newRig(t)
	r.enroll()
	r.enrollBob()
	a := r.send(ask{user: bob})
	r.want(a, codeAccessChallenge, "+81 90-****-0000")
	code := r.smsCode("")
	// Alice sends bob's State and code: rejected, bob's attempt is not spent.
	r.want(r.send(ask{user: alice, password: code, state: a.get(attrState)}), codeAccessReject, "unknown, expired or already answered")
	r.want(r.send(ask{user: alice, password: code, state: []byte("c_notachallengeatall")}), codeAccessReject, "")
	c, err := r.svc.Challenge(t.Context(), string(a.get(attrState)))
	if err != nil || c.AttemptsLeft != 3 {
		t.Fatalf("bob's challenge after alice's tries: %+v %v", c, err)
	}
	r.want(r.send(ask{user: bob, password: code, state: a.get(attrState)}), codeAccessAccept, "")
}

func TestMFAOff(t *testing.T) {
	r := newRig(t)
	r.want(r.send(ask{user: carol}), codeAccessReject, "MFA is not set up")
	r.want(r.send(ask{user: "not-an-id"}), codeAccessReject, "Unknown user")
	acc := newRig(t, func(c *config.Radius) { c.MFAOff = config.MFAOffAccept })
	a := acc.send(ask{user: carol, password: "whatever"})
	acc.want(a, codeAccessAccept, "")
	if string(a.get(attrClass)) != "mfagate-vpn" {
		t.Error("an mfa_off Accept does not carry the configured Class")
	}
	ev, err := acc.svc.Events(t.Context(), mfa.EventFilter{User: carol})
	if err != nil || len(ev) == 0 || ev[0].Actor != "radius:vpn" || !strings.Contains(ev[0].Detail, "result=accept reason=mfa_off") {
		t.Fatalf("audit: %+v %v", ev, err)
	}
}

func TestJapaneseMessages(t *testing.T) {
	r := newRig(t, func(c *config.Radius) { c.Language = "ja" })
	r.enroll()
	r.setDefault(alice, r.mobile)
	a := r.send(ask{user: alice})
	r.want(a, codeAccessChallenge, "+81 90-****-5678 にSMSで送信したコードを入力してください")
	if len(a.get(attrReplyMessage)) > 253 || len(a.get(attrReplyMessage)) != len(a.message()) {
		t.Errorf("the challenge text is not one Reply-Message: %q", a.message())
	}
}

// hostport is the loopback address the fuzz and unit tests say requests
// come from.
var hostport = netip.MustParseAddrPort("127.0.0.1:40000")

// A client with more requests in flight than PerClient has the extra ones
// dropped and counted, and they change nothing.
func TestFloodBoundedPerClient(t *testing.T) {
	r := newRig(t, func(c *config.Radius) { c.Clients[0].Timeout = config.D(2 * time.Second) })
	r.srv.perClient = 1
	r.enroll()
	voice := r.addVoice(alice, "080-2222-3333")
	r.setDefault(alice, voice)
	r.enrollBob()
	// Alice's request holds the one slot while it waits for her call.
	got := make(chan answer, 1)
	go func() {
		conn, err := net.DialUDP("udp", nil, r.addr)
		if err != nil {
			close(got)
			return
		}
		defer conn.Close()
		a, err := r.roundTrip(conn, ask{user: alice}.build(), 10*time.Second)
		if err == nil {
			got <- a
		}
		close(got)
	}()
	waitUntil(t, func() bool {
		_, ok, err := r.modem.Take(t.Context())
		return err == nil && ok
	})
	conn, err := net.DialUDP("udp", nil, r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := r.roundTrip(conn, ask{user: bob}.build(), 300*time.Millisecond); !errors.Is(err, errNoReply) {
		t.Fatal("a request over the client's bound was answered")
	}
	if r.dropped("vpn", dropFlood) != 1 {
		t.Errorf("floods counted %v, want 1", r.dropped("vpn", dropFlood))
	}
	if !r.outboxEmpty() {
		t.Error("the dropped request sent an SMS")
	}
	if a, ok := <-got; !ok || a.code != codeAccessChallenge {
		t.Fatalf("alice's request: %v %+v", ok, a)
	}
	// The slot is free again.
	a, err := r.exchange(ask{user: bob}.build(), nil)
	if err != nil {
		for _, reason := range []string{dropFlood, dropInProgress, dropUnanswered, dropBadMA} {
			t.Logf("%s: %v", reason, r.dropped("vpn", reason))
		}
		t.Fatal(err)
	}
	r.want(a, codeAccessChallenge, "")
}

func waitUntil(t *testing.T, f func() bool) {
	t.Helper()
	for range 500 {
		if f() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timed out")
}
