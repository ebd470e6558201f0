package driver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInitPerProfile(t *testing.T) {
	common := []string{"Z", "E0", "+GCAP", "+CMGF=0", "+CMEE=1", "+CNMI=2,0,0,2,0", "+COLP=0", "+CVHU=0"}
	tests := []struct {
		profile string
		want    []string
	}{
		{"quectel", append(slices.Clone(common), "^DSCI=1", "+QTONEDET=1")},
		{"simcom", common},
		{"huawei", common},
		{"generic", common},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			m, f := startModem(t, tt.profile)
			if got := f.commands(); !slices.Equal(got, tt.want) {
				t.Fatalf("init commands\n got %q\nwant %q", got, tt.want)
			}
			// ATZ resets vendor settings, so a re-init must send them again.
			if err := m.Init(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			got := f.commands()[len(tt.want):]
			if !slices.Equal(got, tt.want) {
				t.Fatalf("re-init commands\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestInitDirectStatusReports(t *testing.T) {
	_, f := startModem(t, "generic", WithDirectStatusReports())
	cmds := f.commands()
	if !slices.Contains(cmds, "+CSMS=1") || !slices.Contains(cmds, "+CNMI=2,0,0,1,0") {
		t.Fatalf("direct routing not configured: %q", cmds)
	}
}

func TestInitFailures(t *testing.T) {
	t.Run("not GSM", func(t *testing.T) {
		f, conn := newFake(t, "quectel")
		f.set("+GCAP", "+GCAP: +FCLASS", "OK")
		p, _ := ProfileByName("quectel")
		_, err := New(testCtx(t), conn, p)
		if err == nil || !strings.Contains(err.Error(), "+CGSM") {
			t.Fatalf("want an error naming +CGSM, got %v", err)
		}
	})
	t.Run("silent modem", func(t *testing.T) {
		f, conn := newFake(t, "quectel")
		f.set("Z") // never answers
		p, _ := ProfileByName("quectel")
		_, err := New(testCtx(t), conn, p, WithTimeouts(Timeouts{Init: 100 * time.Millisecond}))
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("want ErrTimeout, got %v", err)
		}
	})
	t.Run("optional DSCI refused falls back to polling", func(t *testing.T) {
		f, conn := newFake(t, "quectel")
		f.set("^DSCI=1", "ERROR")
		p, _ := ProfileByName("quectel")
		m, err := New(testCtx(t), conn, p)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.do(testCtx(t), func(context.Context) error {
			if !m.pollCalls {
				return errors.New("pollCalls not enabled")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown profile", func(t *testing.T) {
		_, err := ProfileByName("nokia")
		if err == nil || !strings.Contains(err.Error(), "quectel") {
			t.Fatalf("want error listing known profiles, got %v", err)
		}
	})
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		profile string
		want    Identity
	}{
		{"quectel", Identity{"Quectel", "EC25", "EC25ECGAR06A04M1G", "867123456789012", "8981100000123456789", "440101234567890"}},
		{"simcom", Identity{"SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H", "LE20B04SIM7600G22", "867123456789012", "89811000001234567891", "440101234567890"}},
		{"huawei", Identity{"huawei", "ME909s-120", "11.617.01.00.00", "867123456789012", "89811000001234567892", "440101234567890"}},
		{"generic", Identity{"Generic", "Model X", "1.0", "867123456789012", "89811000001234567890", "440101234567890"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			m, f := startModem(t, tt.profile)
			// A DTMF URC and a RING leaking into a reply must not be taken
			// for the value.
			f.set("+CGSN", "+QTONEDET: 35", "RING", "867123456789012", "OK")
			id, err := m.Identity(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if id != tt.want {
				t.Fatalf("identity\n got %+v\nwant %+v", id, tt.want)
			}
		})
	}
	t.Run("no SIM", func(t *testing.T) {
		m, f := startModem(t, "quectel")
		f.set("+CIMI", "+CME ERROR: 10")
		f.set("+QCCID", "+CME ERROR: 10")
		f.set("+CCID", "+CME ERROR: 10")
		id, err := m.Identity(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if id.IMEI == "" || id.IMSI != "" || id.ICCID != "" {
			t.Fatalf("want IMEI only, got %+v", id)
		}
	})
	t.Run("ICCID fallback to +CCID", func(t *testing.T) {
		m, f := startModem(t, "simcom")
		f.set("+CICCID", "ERROR")
		id, err := m.Identity(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if id.ICCID != "89811000001234567890" {
			t.Fatalf("ICCID = %q", id.ICCID)
		}
	})
	t.Run("no ICCID command at all", func(t *testing.T) {
		m, f := startModem(t, "simcom")
		f.set("+CICCID", "ERROR")
		f.set("+CCID", "ERROR")
		id, err := m.Identity(testCtx(t))
		if err != nil || id.ICCID != "" || id.IMEI == "" {
			t.Fatalf("want identity without ICCID, got %+v, %v", id, err)
		}
	})
	t.Run("garbage IMEI", func(t *testing.T) {
		m, f := startModem(t, "generic")
		f.set("+CGSN", "NOT AN IMEI", "OK")
		if _, err := m.Identity(testCtx(t)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("want ErrMalformed, got %v", err)
		}
	})
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name  string
		rules map[string][]string
		want  Health
	}{
		{"home", nil, Health{SignalDBm: -79, SignalOK: true, Registration: RegHome, Operator: "NTT DOCOMO", SIMReady: true, SIMState: "READY"}},
		{"LTE only: CREG 0 but CEREG 1", map[string][]string{"+CREG?": {"+CREG: 0,0", "OK"}, "+CEREG?": {`+CEREG: 2,1,"1A2B","01C3D4E5",7`, "OK"}},
			Health{SignalDBm: -79, SignalOK: true, Registration: RegHome, Operator: "NTT DOCOMO", SIMReady: true, SIMState: "READY"}},
		{"roaming, no CEREG support", map[string][]string{"+CREG?": {"+CREG: 0,5", "OK"}, "+CEREG?": {"ERROR"}},
			Health{SignalDBm: -79, SignalOK: true, Registration: RegRoaming, Operator: "NTT DOCOMO", SIMReady: true, SIMState: "READY"}},
		{"no signal, searching", map[string][]string{"+CSQ": {"+CSQ: 99,99", "OK"}, "+CREG?": {"+CREG: 0,2", "OK"}, "+CEREG?": {"+CEREG: 0,2", "OK"}, "+COPS?": {"+COPS: 0", "OK"}},
			Health{Registration: RegSearching, SIMReady: true, SIMState: "READY"}},
		{"weak signal", map[string][]string{"+CSQ": {"+CSQ: 2,99", "OK"}},
			Health{SignalDBm: -109, Registration: RegHome, Operator: "NTT DOCOMO", SIMReady: true, SIMState: "READY"}},
		{"denied", map[string][]string{"+CREG?": {"+CREG: 0,3", "OK"}, "+CEREG?": {"+CEREG: 0,3", "OK"}},
			Health{SignalDBm: -79, SignalOK: true, Registration: RegDenied, Operator: "NTT DOCOMO", SIMReady: true, SIMState: "READY"}},
		{"no SIM", map[string][]string{"+CPIN?": {"+CME ERROR: 10"}, "+CREG?": {"+CREG: 0,0", "OK"}, "+CEREG?": {"+CEREG: 0,0", "OK"}, "+COPS?": {"+COPS: 0", "OK"}},
			Health{SignalDBm: -79, SignalOK: true, Registration: RegNone, SIMState: "absent"}},
		{"PIN locked", map[string][]string{"+CPIN?": {"+CPIN: SIM PIN", "OK"}},
			Health{SignalDBm: -79, SignalOK: true, Registration: RegHome, Operator: "NTT DOCOMO", SIMState: "SIM PIN"}},
		{"URC inside CSQ reply", map[string][]string{"+CSQ": {"+QTONEDET: 35", "+CSQ: 20,99", "OK"}},
			Health{SignalDBm: -73, SignalOK: true, Registration: RegHome, Operator: "NTT DOCOMO", SIMReady: true, SIMState: "READY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := startModem(t, "quectel")
			for k, v := range tt.rules {
				f.set(k, v...)
			}
			h, err := m.Health(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.want {
				t.Fatalf("health\n got %+v\nwant %+v", h, tt.want)
			}
		})
	}
}

func TestHealthTimeoutThenRecovers(t *testing.T) {
	m, f := startModem(t, "quectel", WithTimeouts(Timeouts{Command: 500 * time.Millisecond}))
	f.set("+CSQ") // silent
	_, err := m.Health(testCtx(t))
	if !errors.Is(err, ErrTimeout) || !Transient(err) {
		t.Fatalf("want transient ErrTimeout, got %v", err)
	}
	f.set("+CSQ", "+CSQ: 17,99", "OK")
	if _, err := m.Health(testCtx(t)); err != nil {
		t.Fatalf("after the modem answers again: %v", err)
	}
}

func TestContextBoundsRequest(t *testing.T) {
	m, f := startModem(t, "quectel")
	f.set("+CSQ") // silent; the default command timeout is 2 s
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := m.Health(ctx)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("want the context deadline to bound Health, got %v", err)
	}
}

func TestRestartReinitialises(t *testing.T) {
	m, f := startModem(t, "quectel")
	before := f.count("^DSCI=1")
	// The modem rebooted on its own: boot URCs, vendor settings lost.
	f.urc("RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE")
	f.waitCount("+QTONEDET=1", 2) // the last vendor setting of a re-init
	if got := f.count("^DSCI=1"); got != before+1 {
		t.Fatalf("AT^DSCI=1 sent %d times after RDY, want %d", got, before+1)
	}
	if _, err := m.Health(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestReset(t *testing.T) {
	m, f := startModem(t, "simcom")
	if err := m.Reset(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if f.count("+CFUN=1,1") != 1 {
		t.Fatalf("commands %q", f.commands())
	}
}

func TestProfileByNameReturnsCopies(t *testing.T) {
	p, err := ProfileByName(" Quectel ")
	if err != nil {
		t.Fatal(err)
	}
	n := len(p.Setup)
	p.Setup = append(p.Setup[:1], Setting{Cmd: `+QURCCFG="urcport","usbat"`, Optional: true})
	p.Hangup[0] = "H"
	q, _ := ProfileByName("quectel")
	if len(q.Setup) != n || q.Setup[1].Cmd != "+CVHU=0" || q.Hangup[0] != "+CHUP" {
		t.Fatalf("changing a returned profile changed the table: %+v", q)
	}
	if tts, file := q.Prompt(); !tts || !file {
		t.Fatal("quectel profile must play TTS and files")
	}
	if g, _ := ProfileByName("generic"); g.DTMF || !g.PollCalls {
		t.Fatal("generic profile must poll calls and detect no DTMF")
	}
}

func TestExtraSettingFromConfig(t *testing.T) {
	f, conn := newFake(t, "quectel")
	f.set(`+QURCCFG="urcport","usbat"`, "OK")
	p, _ := ProfileByName("quectel")
	p.Setup = append(p.Setup, Setting{Cmd: `+QURCCFG="urcport","usbat"`})
	m, err := New(testCtx(t), conn, p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if f.count(`+QURCCFG="urcport","usbat"`) != 1 {
		t.Fatalf("extra setting not sent: %q", f.commands())
	}
}
