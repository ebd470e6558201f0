package driver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

const callee = "+819012345678"

// events reads a call's events until the channel closes (bounded).
func events(t *testing.T, c *Call) []CallEvent {
	t.Helper()
	var out []CallEvent
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("call did not end; events so far %v", out)
		}
	}
}

// expect reads the next event and checks it.
func expect(t *testing.T, c *Call, want CallEvent) {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events closed, want %v", want)
		}
		if ev != want {
			t.Fatalf("event %+v, want %+v", ev, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event, want %+v", want)
	}
}

func digit(r rune) CallEvent      { return CallEvent{Kind: EventDigit, Digit: r} }
func ended(r EndReason) CallEvent { return CallEvent{Kind: EventEnded, Reason: r} }

var (
	ringing  = CallEvent{Kind: EventRinging}
	answered = CallEvent{Kind: EventAnswered}
)

func TestCallQuectelAnsweredWithDigits(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	// The first key arrives inside the reply to the prompt command.
	f.set(`+QWTTS=1,1,2,"Press 4 2 then hash"`, "+QTONEDET: 52", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{Prompt: "Press 4 2 then hash"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.commands(), "+QTONEDET=1") {
		t.Fatal("DTMF detection not enabled before dialling")
	}
	f.urc(`^DSCI: 1,0,2,0,"+819012345678",145`, `^DSCI: 1,0,7,0,"+819012345678",145`)
	expect(t, c, ringing)
	f.urc(`^DSCI: 1,0,3,0,"+819012345678",145`)
	expect(t, c, answered)
	expect(t, c, digit('4'))
	f.urc("+QTONEDET: 50", "+QTONEDET: 35")
	expect(t, c, digit('2'))
	expect(t, c, digit('#'))
	if err := c.Hangup(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := events(t, c); !slices.Equal(got, []CallEvent{ended(EndLocalHangup)}) {
		t.Fatalf("after hangup: %v", got)
	}
	if f.count("+CHUP") != 1 {
		t.Fatalf("AT+CHUP sent %d times", f.count("+CHUP"))
	}
	if c.Reason() != EndLocalHangup {
		t.Fatalf("Reason() = %v", c.Reason())
	}
}

func TestCallOutcomes(t *testing.T) {
	dsci := func(stat string) string { return `^DSCI: 1,0,` + stat + `,0,"+819012345678",145` }
	tests := []struct {
		name    string
		profile string
		dial    []string // reply to ATD
		urcs    []string
		opts    CallOptions
		want    []CallEvent
		hangup  bool // the driver must have hung up
	}{
		{"busy via URC after OK", "quectel", []string{"OK"}, []string{dsci("2"), dsci("6"), "BUSY"}, CallOptions{},
			[]CallEvent{ended(EndBusy)}, false},
		{"busy as ATD final", "quectel", []string{"BUSY"}, nil, CallOptions{}, []CallEvent{ended(EndBusy)}, false},
		{"network no answer", "quectel", []string{"OK"}, []string{dsci("7"), "NO ANSWER"}, CallOptions{},
			[]CallEvent{ringing, ended(EndNoAnswer)}, false},
		{"ring timeout hangs up", "quectel", []string{dsci("7"), "OK"}, nil, CallOptions{RingTimeout: 300 * time.Millisecond},
			[]CallEvent{ringing, ended(EndNoAnswer)}, true},
		{"ended without reason", "quectel", []string{"OK"}, []string{dsci("6")}, CallOptions{},
			[]CallEvent{ended(EndNoCarrier)}, false},
		{"remote hang-up", "quectel", []string{"OK"}, []string{dsci("7"), dsci("3"), dsci("6"), "NO CARRIER"}, CallOptions{},
			[]CallEvent{ringing, answered, ended(EndRemoteHangup)}, false},
		{"input timeout hangs up", "quectel", []string{"OK"}, []string{dsci("3")}, CallOptions{InputTimeout: 100 * time.Millisecond},
			[]CallEvent{answered, ended(EndInputTimeout)}, true},
		{"simcom remote hang-up", "simcom", []string{"OK"}, []string{"VOICE CALL: BEGIN", "+RXDTMF: 7", "VOICE CALL: END: 000012", "NO CARRIER"}, CallOptions{},
			[]CallEvent{answered, digit('7'), ended(EndRemoteHangup)}, false},
		{"simcom \\r\\r\\n framing", "simcom", []string{"OK"}, []string{"VOICE CALL: BEGIN\r", "\r+RXDTMF: *\r", "VOICE CALL: END: 000012\r"}, CallOptions{},
			[]CallEvent{answered, digit('*'), ended(EndRemoteHangup)}, false},
		{"huawei answered", "huawei", []string{"OK"}, []string{"^ORIG:1,0", "^CONF:1", "^CONN:1,0", "^DDTMF: 9", "^DDTMF: #", "^CEND:1,5,29,16"}, CallOptions{},
			[]CallEvent{ringing, answered, digit('9'), digit('#'), ended(EndRemoteHangup)}, false},
		{"huawei busy cause", "huawei", []string{"OK"}, []string{"^ORIG:1,0", "^CEND:1,0,29,17"}, CallOptions{},
			[]CallEvent{ended(EndBusy)}, false},
		{"huawei no answer cause", "huawei", []string{"OK"}, []string{"^ORIG:1,0", "^CONF:1", "^CEND:1,0,29,19"}, CallOptions{},
			[]CallEvent{ringing, ended(EndNoAnswer)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := startModem(t, tt.profile)
			f.set("D"+callee+";", tt.dial...)
			c, err := m.Call(testCtx(t), callee, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.urcs) > 0 {
				f.urc(tt.urcs...)
			}
			if got := events(t, c); !slices.Equal(got, tt.want) {
				t.Fatalf("events\n got %v\nwant %v", got, tt.want)
			}
			if hung := f.count("+CHUP") > 0; hung != tt.hangup {
				t.Fatalf("hung up = %v, want %v (commands %q)", hung, tt.hangup, f.commands())
			}
		})
	}
}

// clccFake answers AT+CLCC from a list of successive states; the last one
// repeats.
type clccFake struct {
	mu     sync.Mutex
	states [][]string
}

func (c *clccFake) next() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.states[0]
	if len(c.states) > 1 {
		c.states = c.states[1:]
	}
	return s
}

func TestCallPollingGenericFiltersDataBearer(t *testing.T) {
	m, f := startModem(t, "generic", WithCallPollInterval(10*time.Millisecond))
	bearer := `+CLCC: 1,0,0,1,0,"",128` // EC2x lists the LTE data bearer as a call
	voice := func(stat string) string { return `+CLCC: 2,0,` + stat + `,0,0,"+819012345678",145` }
	cl := &clccFake{states: [][]string{
		{bearer, voice("2"), "OK"},
		{bearer, voice("3"), "OK"},
		{bearer, voice("3"), "OK"},
		{bearer, voice("0"), "OK"},
		{bearer, voice("0"), "OK"},
		{bearer, "OK"},
	}}
	f.setHook(func(cmd string) ([]string, bool) {
		if cmd == "+CLCC" {
			return cl.next(), true
		}
		return nil, false
	})
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []CallEvent{ringing, answered, ended(EndRemoteHangup)}
	if got := events(t, c); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}

func TestCallDigitsInOrderAcrossReplies(t *testing.T) {
	// SIMCom polls +CLCC; keys arrive inside poll replies, inside the
	// prompt reply and as plain URCs, and must come out in wire order.
	m, f := startModem(t, "simcom", WithCallPollInterval(10*time.Millisecond))
	voice := func(stat string) string { return `+CLCC: 1,0,` + stat + `,0,0,"+819012345678",145` }
	cl := &clccFake{states: [][]string{
		{voice("3"), "OK"},
		{voice("0"), "OK"},
		{"+RXDTMF: 2", voice("0"), "OK"},
		{voice("0"), "OK"},
	}}
	var once sync.Once
	f.setHook(func(cmd string) ([]string, bool) {
		switch cmd {
		case "+CLCC":
			return cl.next(), true
		case `+CTTS=2,"Enter the number"`:
			return []string{"+RXDTMF: 4", "OK"}, true
		case "+CDTAM=1":
			return []string{"OK"}, true
		}
		return nil, false
	})
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{Prompt: "Enter the number"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, ringing)
	expect(t, c, answered)
	expect(t, c, digit('4'))
	expect(t, c, digit('2'))
	once.Do(func() { f.urc("+RXDTMF: #") })
	expect(t, c, digit('#'))
	if err := c.Hangup(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := events(t, c); !slices.Equal(got, []CallEvent{ended(EndLocalHangup)}) {
		t.Fatalf("after hangup: %v", got)
	}
	cmds := f.commands()
	if i, j := slices.Index(cmds, "+CDTAM=1"), slices.Index(cmds, `+CTTS=2,"Enter the number"`); i < 0 || j < i {
		t.Fatalf("want AT+CDTAM=1 before AT+CTTS; got %q", cmds)
	}
}

func TestCallPromptRepeatsUntilFirstKey(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	f.set(`+QPSND=1,"otp_ja.wav",0,1,1`, "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{PromptFile: "otp_ja.wav", RepeatPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	f.urc(`^DSCI: 1,0,3,0,"+819012345678",145`)
	expect(t, c, answered)
	f.urc("+QPSND: 0")
	expect(t, c, CallEvent{Kind: EventPromptDone})
	f.urc("+QTONEDET: 35", "+QPSND: 0")
	expect(t, c, digit('#'))
	expect(t, c, CallEvent{Kind: EventPromptDone})
	if err := c.Hangup(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	events(t, c)
	if n := f.count(`+QPSND=1,"otp_ja.wav",0,1,1`); n != 2 {
		t.Fatalf("prompt played %d times, want 2 (once, then once more before the first key)", n)
	}
}

func TestCallContextCancelHangsUp(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	ctx, cancel := context.WithCancel(context.Background())
	c, err := m.Call(ctx, callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.urc(`^DSCI: 1,0,3,0,"+819012345678",145`)
	expect(t, c, answered)
	cancel()
	if got := events(t, c); !slices.Equal(got, []CallEvent{ended(EndLocalHangup)}) {
		t.Fatalf("events %v", got)
	}
	if f.count("+CHUP") != 1 {
		t.Fatalf("no hang-up on cancel: %q", f.commands())
	}
	// The modem is free for the next request.
	if _, err := m.Health(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestCallHangupFallsBackToATH(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	f.set("+CHUP", "ERROR")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hangup(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	events(t, c)
	if f.count("H") != 1 {
		t.Fatalf("ATH not tried after AT+CHUP failed: %q", f.commands())
	}
}

func TestCallErrors(t *testing.T) {
	t.Run("prompt unsupported", func(t *testing.T) {
		m, f := startModem(t, "generic")
		_, err := m.Call(testCtx(t), callee, CallOptions{Prompt: "hello"})
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("want ErrUnsupported, got %v", err)
		}
		if slices.ContainsFunc(f.commands(), func(c string) bool { return c[0] == 'D' }) {
			t.Fatal("dialled although the prompt cannot be played")
		}
	})
	t.Run("prompt too long", func(t *testing.T) {
		m, _ := startModem(t, "quectel")
		long := make([]byte, 600)
		for i := range long {
			long[i] = 'a'
		}
		if _, err := m.Call(testCtx(t), callee, CallOptions{Prompt: string(long)}); err == nil {
			t.Fatal("want an error for a 600-byte prompt")
		}
	})
	t.Run("bad number", func(t *testing.T) {
		m, _ := startModem(t, "quectel")
		if _, err := m.Call(testCtx(t), "12345", CallOptions{}); !errors.Is(err, ErrBadNumber) {
			t.Fatalf("want ErrBadNumber, got %v", err)
		}
	})
	t.Run("no network", func(t *testing.T) {
		m, f := startModem(t, "quectel")
		f.set("D"+callee+";", "+CME ERROR: 30")
		_, err := m.Call(testCtx(t), callee, CallOptions{})
		var cme *CMEError
		if !errors.As(err, &cme) || cme.Code != 30 || !Transient(err) {
			t.Fatalf("want transient CME 30, got %v", err)
		}
	})
	t.Run("dial timeout hangs up", func(t *testing.T) {
		m, f := startModem(t, "quectel", WithTimeouts(Timeouts{Dial: 100 * time.Millisecond}))
		f.set("D" + callee + ";") // silent
		_, err := m.Call(testCtx(t), callee, CallOptions{})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("want ErrTimeout, got %v", err)
		}
		if f.count("+CHUP") != 1 {
			t.Fatalf("no hang-up after dial timeout: %q", f.commands())
		}
	})
	t.Run("second call while active", func(t *testing.T) {
		m, f := startModem(t, "quectel")
		f.set("D"+callee+";", "OK")
		c, err := m.Call(testCtx(t), callee, CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Call(testCtx(t), callee, CallOptions{}); !errors.Is(err, ErrCallActive) {
			t.Fatalf("want ErrCallActive, got %v", err)
		}
		c.Hangup(testCtx(t))
	})
}

func TestRequestsServedDuringCall(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Health(testCtx(t)); err != nil {
		t.Fatalf("health during a call: %v", err)
	}
	f.urc(`^DSCI: 1,0,3,0,"+819012345678",145`, "+QTONEDET: 49")
	expect(t, c, answered)
	expect(t, c, digit('1'))
	c.Hangup(testCtx(t))
}

func TestStaleURCDoesNotEndNextCall(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.urc("NO CARRIER") // left over from an earlier call
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.urc(`^DSCI: 1,0,3,0,"+819012345678",145`)
	expect(t, c, answered)
	c.Hangup(testCtx(t))
	if got := events(t, c); !slices.Equal(got, []CallEvent{ended(EndLocalHangup)}) {
		t.Fatalf("events %v", got)
	}
}

func TestIncomingCallRejected(t *testing.T) {
	m, f := startModem(t, "simcom")
	f.urc("RING", "+CLIP: \"+819011112222\",145")
	f.waitFor("+CHUP")
	// An incoming RING during our own call must not hang it up.
	f.set("D"+callee+";", "OK")
	c, err := m.Call(testCtx(t), callee, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.urc("VOICE CALL: BEGIN", "\r+CRING: VOICE", "+RXDTMF: 5")
	expect(t, c, answered)
	expect(t, c, digit('5'))
	if n := f.count("+CHUP"); n != 1 {
		t.Fatalf("AT+CHUP sent %d times during our call", n)
	}
	c.Hangup(testCtx(t))
}
