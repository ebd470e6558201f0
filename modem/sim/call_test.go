package sim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const callee = "+815012345678"

func addPhone(t *testing.T, n *Network, b Behavior) *Phone {
	t.Helper()
	p, err := n.AddPhone(callee, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustOK(t *testing.T, c *client, cmds ...string) {
	t.Helper()
	for _, cmd := range cmds {
		if got := c.cmd(cmd); last(got) != "OK" {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
}

func TestQuectelCallPromptAndDTMF(t *testing.T) {
	m, n, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{RingFor: 50 * time.Millisecond, WaitForPrompt: true,
		Keys: []KeyStep{{After: 10 * time.Millisecond, Digits: "12#"}}})
	mustOK(t, c, "AT^DSCI=1", "AT+QTONEDET=1", "AT+CVHU=0")
	if got := c.cmd("AT+QWTTS=1,1,2,\"too early\""); last(got) != "+CME ERROR: 903" {
		t.Errorf("QWTTS outside a call: %q", got)
	}
	mustOK(t, c, "ATD"+callee+";")
	c.expect("^DSCI: 2,0,2,0," + callee + ",145,0")
	c.expect("^DSCI: 2,0,7,0," + callee + ",145,0")
	c.expect("^DSCI: 2,0,3,0," + callee + ",145,0")
	call, err := phone.NextCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := call.WaitState(ctx, CallActive); err != nil || st != CallActive {
		t.Fatalf("call state %v, %v", st, err)
	}
	got := c.cmd("AT+CLCC")
	want := []string{`+CLCC: 1,0,0,1,0,"",128`, `+CLCC: 2,0,0,0,0,"` + callee + `",145`, "OK"}
	if !slices.Equal(got, want) {
		t.Errorf("CLCC: got %q, want %q", got, want)
	}
	// UCS-2 TTS: "Press 12#" is heard by the callee, then the keys come.
	mustOK(t, c, `AT+QWTTS=1,1,1,"`+ucs2Hex("Press 12#")+`"`)
	c.expect("+QWTTS: 0")
	c.expect("+QTONEDET: 49")
	c.expect("+QTONEDET: 50")
	c.expect("+QTONEDET: 35")
	if p := call.Prompts(); len(p) != 1 || p[0].Text != "Press 12#" || p[0].Command != "+QWTTS" {
		t.Errorf("prompts: %+v", p)
	}
	if call.Pressed() != "12#" {
		t.Errorf("pressed %q", call.Pressed())
	}
	mustOK(t, c, "AT+CHUP")
	c.expect("^DSCI: 2,0,6,0," + callee + ",145,0\r\n")
	if st, _ := call.WaitState(ctx, CallEnded); st != CallEnded || call.EndReason() != EndLocalHangup {
		t.Errorf("after CHUP: %v %v", st, call.EndReason())
	}
	if got := c.cmd("AT+CLCC"); len(got) != 2 {
		t.Errorf("CLCC after hang-up should list only the data bearer: %q", got)
	}
	if k := m.Counters(); k.Calls != 1 || k.DTMF != 3 || k.Prompts != 1 {
		t.Errorf("counters %+v", k)
	}
}

func TestQuectelDTMFNeedsEnable(t *testing.T) {
	_, n, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{})
	mustOK(t, c, "ATD"+callee+";")
	call, err := phone.NextCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call.WaitState(ctx, CallActive)
	if err := call.PressKeys(ctx, "5"); err != nil {
		t.Fatal(err)
	}
	if out := c.quiet(100 * time.Millisecond); strings.Contains(out, "QTONEDET") {
		t.Errorf("DTMF reported without AT+QTONEDET=1: %q", out)
	}
	mustOK(t, c, "AT+QTONEDET=1")
	call.PressKeys(ctx, "5")
	c.expect("+QTONEDET: 53")
	// ATZ forgets the (unsaved) detector setting.
	mustOK(t, c, "ATZ", "ATE0")
	call.PressKeys(ctx, "6")
	if out := c.quiet(100 * time.Millisecond); strings.Contains(out, "QTONEDET") {
		t.Errorf("DTMF reported after ATZ: %q", out)
	}
	if err := call.PressKeys(ctx, "x"); err == nil {
		t.Error("PressKeys accepted a non-DTMF key")
	}
}

func TestSIMComCall(t *testing.T) {
	_, n, c := startModem(t, "simcom", NetworkOptions{})
	phone := addPhone(t, n, Behavior{RingFor: 20 * time.Millisecond, WaitForPrompt: true,
		Keys: []KeyStep{{Digits: "4"}, {After: 20 * time.Millisecond, Digits: "#"}}, HangupAfter: 50 * time.Millisecond})
	mustOK(t, c, "AT+CDTAM=1", "AT+CLCC=1", "ATD"+callee+";")
	c.expect(`+CLCC: 1,0,2,0,0,"` + callee + `",145`)
	c.expect(`+CLCC: 1,0,3,0,0,"` + callee + `",145`)
	c.expect("\r\nVOICE CALL: BEGIN\r\n")
	c.expect(`+CLCC: 1,0,0,0,0,"` + callee + `",145`)
	mustOK(t, c, `AT+CTTS=2,"Enter 4 then hash"`)
	c.expect("+CTTS: 0")
	c.expect("\r\r\n+RXDTMF: 4\r\r\n")
	c.expect("\r\r\n+RXDTMF: #\r\r\n")
	c.expect("VOICE CALL: END: 0000")
	c.expect(`+CLCC: 1,0,6,0,0,"` + callee + `",145`)
	c.expect("\r\nNO CARRIER\r\n")
	if got := c.cmd("AT+CEER"); got[0] != "+CEER: Normal call clearing" {
		t.Errorf("CEER: %q", got)
	}
	call := phone.Calls()[0]
	if call.EndReason() != EndRemoteHangup || call.Pressed() != "4#" {
		t.Errorf("end %v pressed %q", call.EndReason(), call.Pressed())
	}
	if p := call.Prompts(); len(p) != 1 || p[0].Text != "Enter 4 then hash" {
		t.Errorf("prompts %+v", p)
	}
}

func TestSIMComLocalTTSIsNotHeardByCallee(t *testing.T) {
	_, n, c := startModem(t, "simcom", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{})
	mustOK(t, c, "ATD"+callee+";")
	c.expect("VOICE CALL: BEGIN")
	mustOK(t, c, `AT+CTTS=2,"local only"`) // AT+CDTAM is 0: module speaker
	c.expect("+CTTS: 0")
	mustOK(t, c, `AT+CCMXPLAY="C:/otp.amr",1,0`)
	c.expect("+AUDIOSTATE: audio play stop")
	call, _ := phone.NextCall(ctx)
	p := call.Prompts()
	if len(p) != 1 || p[0].Text != "C:/otp.amr" {
		t.Errorf("prompts %+v, want only the CCMXPLAY file", p)
	}
}

func TestHuaweiCall(t *testing.T) {
	_, n, c := startModem(t, "huawei", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{Answer: Manual})
	mustOK(t, c, "AT^DDTMFCFG=0,1", "ATD"+callee+";")
	c.expect("^ORIG:1,0")
	c.expect("^CONF:1")
	call, err := phone.NextCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := call.PressKeys(ctx, "1"); err == nil {
		t.Error("PressKeys before answer should fail")
	}
	if err := call.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	c.expect("^CONN:1,0")
	if err := call.PressKeys(ctx, "5*"); err != nil {
		t.Fatal(err)
	}
	c.expect("^DDTMF: 5")
	c.expect("^DDTMF: *")
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	c.expect("^CEND:1,")
	c.expect("NO CARRIER")
}

func TestGenericCallByPolling(t *testing.T) {
	_, n, c := startModem(t, "generic", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{RingFor: 80 * time.Millisecond})
	mustOK(t, c, "AT+DDET=1", "AT+CVHU=1", "ATD"+callee+";")
	seen := map[string]bool{}
	for i := 0; i < 200 && !seen["0"]; i++ {
		for _, l := range c.cmd("AT+CLCC") {
			if strings.HasPrefix(l, "+CLCC: 1,0,") {
				seen[strings.Split(l, ",")[2]] = true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !seen["0"] || !seen["3"] {
		t.Fatalf("CLCC states seen %v, want alerting (3) then active (0)", seen)
	}
	call, _ := phone.NextCall(ctx)
	call.PressKeys(ctx, "9")
	c.expect("+DTMF: 9")
	mustOK(t, c, "ATH") // CVHU=1: ignored
	if call.State() != CallActive {
		t.Fatalf("ATH with CVHU=1 hung up")
	}
	mustOK(t, c, "AT+CVHU=0", "ATH")
	if st, _ := call.WaitState(ctx, CallEnded); st != CallEnded {
		t.Fatalf("ATH with CVHU=0 did not hang up")
	}
	if got := c.cmd("AT+CLCC"); !slices.Equal(got, []string{"OK"}) {
		t.Errorf("CLCC with no call: %q", got)
	}
}

func TestCallOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		b      Behavior
		number string
		final  string
		reason EndReason
	}{
		{"busy", Behavior{Answer: Busy}, callee, "BUSY", EndBusy},
		{"no answer", Behavior{Answer: NoAnswer}, callee, "NO ANSWER", EndNoAnswer},
		{"unreachable", Behavior{Answer: Unreachable}, callee, "NO CARRIER", EndUnreachable},
		{"unknown number", Behavior{}, "+815099999999", "NO CARRIER", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, n, c := startModem(t, "quectel", NetworkOptions{NoAnswerTimeout: 100 * time.Millisecond})
			phone := addPhone(t, n, tc.b)
			mustOK(t, c, "ATD"+tc.number+";")
			c.expect("\r\n" + tc.final + "\r\n")
			if tc.reason != "" {
				calls := phone.Calls()
				if len(calls) != 1 || calls[0].EndReason() != tc.reason {
					t.Errorf("calls %v", calls)
				}
			}
			if got := c.cmd("AT+CLCC"); len(got) != 2 {
				t.Errorf("call still listed: %q", got)
			}
		})
	}
}

func TestCOLPHoldsFinalUntilAnswer(t *testing.T) {
	_, n, c := startModem(t, "quectel", NetworkOptions{})
	addPhone(t, n, Behavior{RingFor: 50 * time.Millisecond})
	mustOK(t, c, "AT+COLP=1")
	got := c.cmd("ATD" + callee + ";")
	if !slices.Contains(got, `+COLP: "`+callee+`",145,,`) || last(got) != "OK" {
		t.Errorf("ATD with COLP=1: %q", got)
	}
}

func TestDialErrors(t *testing.T) {
	_, n, c := startModem(t, "simcom", NetworkOptions{})
	addPhone(t, n, Behavior{})
	if got := c.cmd("ATD" + callee); last(got) != "NO CARRIER" {
		t.Errorf("data call: %q", got)
	}
	if got := c.cmd("ATD12ab;"); last(got) != "+CME ERROR: 27" {
		t.Errorf("bad dial string: %q", got)
	}
	mustOK(t, c, "ATD"+callee+";")
	if got := c.cmd("ATD" + callee + ";"); last(got) != "+CME ERROR: 3" {
		t.Errorf("second call: %q", got)
	}
}

func TestWaitForPromptWithoutPlayback(t *testing.T) {
	_, n, c := startModem(t, "huawei", NetworkOptions{})
	addPhone(t, n, Behavior{WaitForPrompt: true, Keys: []KeyStep{{Digits: "7"}}})
	if got := c.cmd(`AT+QWTTS=1,1,2,"x"`); last(got) != "ERROR" {
		t.Errorf("Huawei has no TTS: %q", got)
	}
	mustOK(t, c, "AT^DDTMFCFG=0,1", "ATD"+callee+";")
	c.expect("^CONN:1,0")
	c.expect("^DDTMF: 7") // keyed at answer: the modem cannot play a prompt
}

func TestIncomingCalls(t *testing.T) {
	const caller = "+818012345678"
	t.Run("quectel answers", func(t *testing.T) {
		_, n, c := startModem(t, "quectel", NetworkOptions{RingInterval: 50 * time.Millisecond})
		ctx := testCtx(t)
		mustOK(t, c, "AT^DSCI=1", "AT+CLIP=1", "AT+QTONEDET=1")
		if got := c.cmd("ATA"); last(got) != "NO CARRIER" {
			t.Errorf("ATA without a call: %q", got)
		}
		call, err := n.CallModem(ctx, caller, "+819011110000", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.expect("^DSCI: 2,1,4,0," + caller + ",145,0")
		c.expect("\r\nRING\r\n")
		c.expect(`+CLIP: "` + caller + `",145,,,,0`)
		c.expect("\r\nRING\r\n") // repeated
		if got := c.cmd("AT+CLCC"); !slices.Contains(got, `+CLCC: 2,1,4,0,0,"`+caller+`",145`) {
			t.Errorf("CLCC while ringing: %q", got)
		}
		mustOK(t, c, "ATA")
		c.expect("^DSCI: 2,1,3,0," + caller + ",145,0")
		if st, _ := call.WaitState(ctx, CallActive); st != CallActive || !call.Incoming {
			t.Fatalf("state %v", st)
		}
		call.PressKeys(ctx, "0")
		c.expect("+QTONEDET: 48")
		call.Hangup(ctx)
		c.expect("^DSCI: 2,1,6,0," + caller + ",145,0")
		c.expect("\r\nNO CARRIER\r\n")
		if _, err := n.CallModem(ctx, caller, "+819099999999", 0); err == nil {
			t.Error("CallModem to a number no modem has succeeded")
		}
		if _, err := Start(ctx, Options{Network: n, Number: "+819011110000"}); err == nil {
			t.Error("two modems with one number")
		}
	})
	t.Run("simcom missed call", func(t *testing.T) {
		_, n, c := startModem(t, "simcom", NetworkOptions{})
		mustOK(t, c, "AT+CRC=1")
		call, err := n.CallModem(testCtx(t), caller, "+819011110000", 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		c.expect("\r\r\n+CRING: VOICE\r\r\n")
		c.expect("\r\r\nMISSED_CALL: ")
		c.expect(caller + "\r\r\n")
		if call.EndReason() != EndNoAnswer {
			t.Errorf("end reason %v", call.EndReason())
		}
	})
	t.Run("generic rejects", func(t *testing.T) {
		_, n, c := startModem(t, "generic", NetworkOptions{})
		call, err := n.CallModem(testCtx(t), caller, "+819011110000", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		c.expect("RING")
		mustOK(t, c, "ATH")
		if st, _ := call.WaitState(testCtx(t), CallEnded); st != CallEnded || call.EndReason() != EndLocalHangup {
			t.Errorf("rejected call: %v %v", st, call.EndReason())
		}
	})
}
