package sim

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEchoAndReset(t *testing.T) {
	n := NewNetwork(NetworkOptions{})
	m, err := Start(testCtx(t), Options{Profile: "simcom", Network: n})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := openClient(t, m.Path())
	boot := c.expect("PB DONE\r\n")
	for _, u := range []string{"RDY", "+CPIN: READY", "SMS DONE"} {
		if !strings.Contains(boot, u) {
			t.Errorf("boot burst %q lacks %s", boot, u)
		}
	}
	c.write("AT\r")
	if got := c.expect("OK\r\n"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("echoed exchange %q", got)
	}
	c.write("ATE0\r")
	c.expect("OK\r\n")
	c.write("AT\r")
	if got := c.expect("OK\r\n"); got != "\r\nOK\r\n" {
		t.Errorf("exchange after ATE0 %q", got)
	}
	c.write("ATZ\r")
	c.expect("OK\r\n")
	c.write("AT\r")
	if got := c.expect("OK\r\n"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("ATZ did not restore echo: %q", got)
	}
}

func TestIdentityPerProfile(t *testing.T) {
	for _, tc := range []struct {
		profile, cmd, want string
	}{
		{"quectel", "AT+QCCID", "+QCCID: 8981100000000000001"},
		{"simcom", "AT+CICCID", "ICCID: 8981100000000000001"},
		{"huawei", "AT^ICCID?", "^ICCID: 8981100000000000001"},
		{"generic", "AT+CCID", "+CCID: 8981100000000000001"},
		{"quectel", "AT+GCAP", "+GCAP: +CGSM"},
		{"simcom", "AT+CGMM", "SIMCOM_SIM7600G-H"},
		{"quectel", "AT+CIMI", "440101234567890"},
		{"quectel", "AT+COPS?", `+COPS: 0,0,"NTT DOCOMO",7`},
		{"quectel", "AT+CEREG?", "+CEREG: 0,1"},
		{"quectel", "AT+QINISTAT", "+QINISTAT: 7"},
		{"generic", "AT+CEREG?", "ERROR"},
		{"simcom", "AT+QCCID", "ERROR"},
		{"quectel", "AT+CPROT=?", "ERROR"},
		{"quectel", "AT+CSCA?", `+CSCA: "+819020000000",145`},
	} {
		t.Run(tc.profile+" "+tc.cmd, func(t *testing.T) {
			t.Parallel()
			_, _, c := startModem(t, tc.profile, NetworkOptions{})
			if got := c.cmd(tc.cmd); got[0] != tc.want {
				t.Errorf("%s: %q, want %s first", tc.cmd, got, tc.want)
			}
		})
	}
}

func TestCMEEModes(t *testing.T) {
	m, _, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	if err := m.SetSIMFault(ctx, 13); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cmee, want string }{
		{"0", "ERROR"}, {"1", "+CME ERROR: 13"}, {"2", "+CME ERROR: SIM failure"},
	} {
		mustOK(t, c, "AT+CMEE="+tc.cmee)
		if got := c.cmd("AT+CPIN?"); last(got) != tc.want {
			t.Errorf("CMEE=%s: %q, want %s", tc.cmee, got, tc.want)
		}
	}
	mustOK(t, c, "AT+CMEE=0") // +CMS ERROR is not governed by CMEE
	if got := c.cmd("AT+CMGS=24"); last(got) != "+CMS ERROR: 313" {
		t.Errorf("CMGS with SIM failure: %q", got)
	}
	mustOK(t, c, "AT+CMEE=1")
	if got := c.cmd("AT+CREG?"); got[0] != "+CREG: 0,0" {
		t.Errorf("CREG with SIM failure: %q", got)
	}
	m.SetSIMFault(ctx, 10)
	if got := c.cmd("AT+CIMI"); last(got) != "+CME ERROR: 10" {
		t.Errorf("CIMI without SIM: %q", got)
	}
	if err := m.SetSIMFault(ctx, 99); err == nil {
		t.Error("SetSIMFault accepted 99")
	}
	m.SetSIMFault(ctx, 0)
	if got := c.cmd("AT+CPIN?"); got[0] != "+CPIN: READY" {
		t.Errorf("after clearing: %q", got)
	}
}

func TestFailNextSends(t *testing.T) {
	m, n, c := startModem(t, "quectel", NetworkOptions{})
	phone := addPhone(t, n, Behavior{})
	ctx := testCtx(t)
	if err := m.FailNextSends(ctx, 2, 42); err != nil {
		t.Fatal(err)
	}
	hx, l := handPDU(0x11)
	for i := 0; i < 2; i++ {
		if got := sendPDU(t, c, hx, l); last(got) != "+CMS ERROR: 42" {
			t.Errorf("send %d: %q", i, got)
		}
	}
	if got := sendPDU(t, c, hx, l); last(got) != "OK" {
		t.Errorf("third send: %q", got)
	}
	if msgs := phone.Messages(); len(msgs) != 1 {
		t.Errorf("phone has %d messages, want 1", len(msgs))
	}
	if k := m.Counters(); k.SMSRejected != 2 || k.SMSSubmitted != 1 {
		t.Errorf("counters %+v", k)
	}
	if err := m.FailNextSends(ctx, 1, 0); err == nil {
		t.Error("FailNextSends accepted code 0")
	}
}

func TestNoNetwork(t *testing.T) {
	m, n, c := startModem(t, "quectel", NetworkOptions{})
	addPhone(t, n, Behavior{})
	ctx := testCtx(t)
	mustOK(t, c, "AT+CREG=1")
	m.SetNoNetwork(ctx, true)
	c.expect("\r\n+CREG: 2\r\n")
	for cmd, want := range map[string]string{
		"AT+CSQ": "+CSQ: 99,99", "AT+CREG?": "+CREG: 1,2", "AT+COPS?": "+COPS: 0",
	} {
		if got := c.cmd(cmd); got[0] != want {
			t.Errorf("%s: %q, want %s", cmd, got, want)
		}
	}
	hx, l := handPDU(0x11)
	if got := sendPDU(t, c, hx, l); last(got) != "+CMS ERROR: 331" {
		t.Errorf("send without network: %q", got)
	}
	if got := c.cmd("ATD" + callee + ";"); last(got) != "NO CARRIER" {
		t.Errorf("dial without network: %q", got)
	}
	m.SetRegistration(ctx, 3)
	c.expect("\r\n+CREG: 3\r\n")
	m.SetNoNetwork(ctx, false)
	c.expect("\r\n+CREG: 1\r\n")
	if got := c.cmd("AT+CSQ"); got[0] != "+CSQ: 20,99" {
		t.Errorf("CSQ back: %q", got)
	}
	m.SetRegistration(ctx, 5) // roaming still works
	c.expect("\r\n+CREG: 5\r\n")
	m.SetRSSI(ctx, 7)
	if got := c.cmd("AT+CSQ"); got[0] != "+CSQ: 7,99" {
		t.Errorf("CSQ roaming: %q", got)
	}
	if got := sendPDU(t, c, hx, l); last(got) != "OK" {
		t.Errorf("send while roaming: %q", got)
	}
	if m.SetRegistration(ctx, 6) == nil || m.SetRSSI(ctx, 40) == nil {
		t.Error("out-of-range fault values accepted")
	}
}

func TestHangAndSlowReplies(t *testing.T) {
	m, _, c := startModem(t, "generic", NetworkOptions{})
	ctx := testCtx(t)
	m.SetHang(ctx, true)
	c.write("AT\r")
	if out := c.quiet(150 * time.Millisecond); out != "" {
		t.Errorf("hung modem answered %q", out)
	}
	m.SetHang(ctx, false)
	mustOK(t, c, "AT")
	m.SetReplyDelay(ctx, 80*time.Millisecond)
	// Two commands typed back to back are both answered, in order.
	c.write("AT+CSQ\rAT+CGMI\r")
	got := c.expect("Generic\r\n\r\nOK\r\n")
	if !strings.Contains(got, "+CSQ: 20,99") || strings.Index(got, "+CSQ") > strings.Index(got, "Generic") {
		t.Errorf("slow replies: %q", got)
	}
	if err := m.SetReplyDelay(ctx, -time.Second); err == nil {
		t.Error("negative reply delay accepted")
	}
}

func TestURCInsideResponse(t *testing.T) {
	m, n, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{})
	mustOK(t, c, "AT+QTONEDET=1", "ATD"+callee+";")
	call, _ := phone.NextCall(ctx)
	call.WaitState(ctx, CallActive)
	m.HoldURCs(ctx, true)
	call.PressKeys(ctx, "#")
	got := c.cmd("AT+CSQ")
	want := []string{"+QTONEDET: 35", "+CSQ: 20,99", "OK"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUnplugReplug(t *testing.T) {
	m, _, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	first := m.DevicePath()
	if err := m.Unplug(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(m.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("symlink still there after unplug: %v", err)
	}
	// The open client notices: writes fail (EIO) or reads hit EOF/error.
	failed := false
	for i := 0; i < 50 && !failed; i++ {
		_, werr := c.port.Write([]byte("AT\r"))
		failed = werr != nil || !c.readMore()
	}
	if !failed {
		t.Error("client did not notice the unplug")
	}
	if err := m.Unplug(ctx); err == nil {
		t.Error("second unplug succeeded")
	}
	if err := m.Replug(ctx); err != nil {
		t.Fatal(err)
	}
	if m.DevicePath() == "" {
		t.Errorf("no device path after replug (was %s)", first)
	}
	c2 := openClient(t, m.Path())
	c2.expect("RDY")
	c2.expect("+QIND: PB DONE")
	c2.write("AT\r")
	c2.expect("AT\r\r\nOK\r\n") // a fresh boot: echo is on again
	if k := m.Counters(); k.Unplugs != 1 || k.Boots != 2 {
		t.Errorf("counters %+v", k)
	}
}

func TestRebootAndCFUN(t *testing.T) {
	m, n, c := startModem(t, "quectel", NetworkOptions{})
	ctx := testCtx(t)
	phone := addPhone(t, n, Behavior{})
	mustOK(t, c, "ATD"+callee+";")
	call, _ := phone.NextCall(ctx)
	if err := m.Reboot(ctx); err != nil {
		t.Fatal(err)
	}
	c.expect("RDY\r\n")
	c.expect("+QIND: PB DONE\r\n")
	if st, _ := call.WaitState(ctx, CallEnded); st != CallEnded || call.EndReason() != EndModemReset {
		t.Errorf("call after reboot: %v %v", st, call.EndReason())
	}
	mustOK(t, c, "ATE0")
	if got := c.cmd("AT+CFUN=1,1"); last(got) != "OK" {
		t.Fatalf("CFUN=1,1: %q", got)
	}
	c.expect("RDY\r\n")
	c.expect("+QIND: PB DONE\r\n")
	mustOK(t, c, "ATE0")
	if got := c.cmd("AT+CFUN=0,1"); last(got) != "+CME ERROR: 50" {
		t.Errorf("CFUN=0,1: %q", got)
	}
	mustOK(t, c, "AT+CFUN=4")
	if got := c.cmd("AT+CSQ"); got[0] != "+CSQ: 99,99" {
		t.Errorf("CSQ with radio off: %q", got)
	}
}

func TestGarbage(t *testing.T) {
	m, _, c := startModem(t, "generic", NetworkOptions{})
	noise := []byte{0xff, 0x00, 'x', '\r', 0x80}
	if err := m.InjectGarbage(testCtx(t), noise); err != nil {
		t.Fatal(err)
	}
	if got := c.expect("\x80"); !strings.HasSuffix(got, string(noise)) {
		t.Errorf("garbage %q", got)
	}
	// Junk typed by the client is answered, not ignored.
	if got := c.cmd("\x00\xffjunk"); last(got) != "ERROR" {
		t.Errorf("junk line: %q", got)
	}
	mustOK(t, c, "AT")
	if k := m.Counters(); k.BytesIn == 0 || k.BytesOut == 0 || k.Commands == 0 || k.Errors == 0 {
		t.Errorf("counters %+v", k)
	}
	if h := m.History(); last(h) != "AT" {
		t.Errorf("history %q", h)
	}
}

func TestCloseRemovesLinkAndStops(t *testing.T) {
	n := NewNetwork(NetworkOptions{})
	dir := t.TempDir()
	m, err := Start(testCtx(t), Options{Network: n, LinkDir: dir, LinkName: "ttyMFA0"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Path() != dir+"/ttyMFA0" {
		t.Errorf("path %s", m.Path())
	}
	m.Close()
	if _, err := os.Lstat(m.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link after close: %v", err)
	}
	if err := m.Reboot(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Reboot after Close: %v", err)
	}
	if _, err := Start(testCtx(t), Options{Network: n, Profile: "nokia"}); err == nil ||
		!strings.Contains(err.Error(), "quectel") {
		t.Errorf("unknown profile error %v", err)
	}
	if _, err := Start(testCtx(t), Options{}); err == nil {
		t.Error("Start without a network succeeded")
	}
}
