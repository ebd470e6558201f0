package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// The demo's RADIUS server, asked by Debian's RADIUS clients: radclient
// and radtest (freeradius-utils) as a VPN concentrator asks, and
// pam_radius_auth driven by pamtester as sshd asks. One daemon serves every
// subtest; its users are set up through /v1, then it is restarted with its
// clock past the activation delay. App codes come from the test's own
// RFC 6238 code (totpAt), SMS codes from the demo handset.
func TestRadiusClients(t *testing.T) {
	radclient := needTool(t, "radclient", "freeradius-utils")
	d := newPIDemo(t)
	d.start()
	const (
		uApp = "0123480001" // an authenticator app
		uSMS = "0123480002" // an SMS phone
		uPAM = "0123480003" // an SMS phone, for pam_radius_auth
		uCtl = "0123480004" // an authenticator app, for mfagatectl
		nSMS = "090-4800-0002"
		nPAM = "090-4800-0003"
	)
	appID, appSecret := d.addTOTP(uApp)
	d.testSignin(uApp, appID, appSecret)
	d.apply(uApp)
	ctlID, ctlSecret := d.addTOTP(uCtl)
	d.testSignin(uCtl, ctlID, ctlSecret)
	d.apply(uCtl)
	for u, n := range map[string]string{uSMS: nSMS, uPAM: nPAM} {
		id := d.addSMS(u, n)
		d.testSigninSMS(u, id, n)
		d.apply(u)
	}
	d.restart(piClockOffset)
	addr, secret := demoRadius(t, d.banner)
	rc := &radclientRun{bin: radclient, addr: addr, secret: secret}

	t.Run("radclient's Message-Authenticator", func(t *testing.T) {
		// What radclient sends for "Message-Authenticator = 0x00",
		// caught on a socket of the test's and checked from RFC 3579
		// §3.2: the demo requires it, so the subtests below rely on it.
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		other := &radclientRun{bin: radclient, addr: pc.LocalAddr().String(), secret: secret}
		done := make(chan *radclientReply, 1)
		go func() {
			done <- other.send(t, `User-Name = "`+uApp+`", User-Password = "push", Message-Authenticator = 0x00`)
		}()
		b := readDatagram(t, pc)
		<-done
		off := attributeAt(b, 80)
		if off < 0 || b[off+1] != 18 {
			t.Fatalf("radclient sent no 18-octet Message-Authenticator: % x", b)
		}
		z := bytes.Clone(b)
		clear(z[off+2 : off+18])
		mac := hmac.New(md5.New, []byte(secret))
		mac.Write(z)
		if !hmac.Equal(mac.Sum(nil), b[off+2:off+18]) {
			t.Fatalf("radclient's Message-Authenticator is not HMAC-MD5 of the request with the secret: % x", b)
		}
		p, err := radius.Parse(b, []byte(secret))
		if err != nil || rfc2865.UserPassword_GetString(p) != "push" {
			t.Fatalf("radclient's User-Password does not decode to the trigger: %v", err)
		}
	})

	t.Run("app code", func(t *testing.T) {
		code := totpAt(appSecret, 0)
		r := rc.send(t, `User-Name = "`+uApp+`", User-Password = "`+code+`", Message-Authenticator = 0x00`)
		r.want(t, "Access-Accept")
		if r.exit != 0 {
			t.Errorf("radclient exits %d on Access-Accept, want 0", r.exit)
		}
		// The same code again is a replay.
		r = rc.send(t, `User-Name = "`+uApp+`", User-Password = "`+code+`", Message-Authenticator = 0x00`)
		r.want(t, "Access-Reject")
		if r.one(t, "Reply-Message") == "" {
			t.Error("a replayed code's Access-Reject says nothing")
		}
	})

	t.Run("wrong code", func(t *testing.T) {
		code := otherCode(totpAt(appSecret, 1))
		r := rc.send(t, `User-Name = "`+uApp+`", User-Password = "`+code+`", Message-Authenticator = 0x00`)
		r.want(t, "Access-Reject")
		if r.exit == 0 {
			t.Error("radclient exits 0 on Access-Reject")
		}
		if msg := r.one(t, "Reply-Message"); !strings.Contains(msg, "コード") && !strings.Contains(strings.ToLower(msg), "code") {
			t.Errorf("a wrong code's Reply-Message %q does not speak of the code", msg)
		}
	})

	t.Run("challenge", func(t *testing.T) {
		d := d.with(t)
		before := d.messages(nSMS)
		r := rc.send(t, `User-Name = "`+uSMS+`", User-Password = "push", Message-Authenticator = 0x00`)
		r.want(t, "Access-Challenge")
		checkMasked(t, r.one(t, "Reply-Message"), nSMS)
		state := r.one(t, "State")
		if !regexp.MustCompile(`^0x[0-9a-f]+$`).MatchString(state) {
			t.Fatalf("State %q, want radclient's hex of the octets", state)
		}
		if n, err := strconv.Atoi(r.one(t, "Session-Timeout")); err != nil || n < 30 || n > 600 {
			t.Errorf("Session-Timeout %q, want the challenge's lifetime in seconds", r.one(t, "Session-Timeout"))
		}
		code := d.nextCode(nSMS, before)
		// A retransmission of the first request (radclient -r sends the
		// same packet again when no answer comes) is tested in the radius
		// package; here the answer goes back with the State.
		r = rc.send(t, `User-Name = "`+uSMS+`", User-Password = "`+code+`", State = `+state+`, Message-Authenticator = 0x00`)
		r.want(t, "Access-Accept")
		// The State is used up.
		r = rc.send(t, `User-Name = "`+uSMS+`", User-Password = "`+code+`", State = `+state+`, Message-Authenticator = 0x00`)
		r.want(t, "Access-Reject")
		if got := len(d.messages(nSMS)); got != len(before)+1 {
			t.Errorf("the handset got %d SMS for one challenge", got-len(before))
		}
		// An empty User-Password asks for a challenge too.
		before = d.messages(nSMS)
		r = rc.send(t, `User-Name = "`+uSMS+`", User-Password = "", Message-Authenticator = 0x00`)
		r.want(t, "Access-Challenge")
		d.nextCode(nSMS, before)
	})

	t.Run("wrong secret", func(t *testing.T) {
		before := radiusDropped(t, d.base, "bad_message_authenticator")
		wrong := &radclientRun{bin: radclient, addr: addr, secret: secret + "x"}
		r := wrong.send(t, `User-Name = "`+uApp+`", User-Password = "`+totpAt(appSecret, 2)+`", Message-Authenticator = 0x00`)
		r.want(t, "")
		sent := strings.Count(r.out, "Sent Access-Request")
		if after := radiusDropped(t, d.base, "bad_message_authenticator"); sent == 0 || after != before+sent {
			t.Errorf("bad_message_authenticator drops went from %d to %d, want one more per packet radclient sent (%d)", before, after, sent)
		}
	})

	t.Run("no Message-Authenticator", func(t *testing.T) {
		before := radiusDropped(t, d.base, "no_message_authenticator")
		r := rc.send(t, `User-Name = "`+uApp+`", User-Password = "`+totpAt(appSecret, 2)+`"`)
		r.want(t, "")
		sent := strings.Count(r.out, "Sent Access-Request")
		if after := radiusDropped(t, d.base, "no_message_authenticator"); sent == 0 || after != before+sent {
			t.Errorf("no_message_authenticator drops went from %d to %d, want one more per packet radclient sent (%d)", before, after, sent)
		}
	})

	t.Run("radtest", func(t *testing.T) {
		radtest := needTool(t, "radtest", "freeradius-utils")
		// radtest USER PASSWORD SERVER NAS-PORT SECRET: it adds
		// Message-Authenticator itself and exits 0 on Access-Accept only.
		// The app's code of the next time step: step 0's was used above.
		out, err := exec.Command(radtest, "-x", "-t", "pap", uApp, totpAt(appSecret, 1), addr, "0", secret).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Received Access-Accept") {
			t.Fatalf("radtest with an app code: %v\n%s", err, out)
		}
		out, err = exec.Command(radtest, "-x", "-t", "pap", uApp, otherCode(totpAt(appSecret, 1)), addr, "0", secret).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Received Access-Reject") {
			t.Fatalf("radtest with a wrong code: %v\n%s", err, out)
		}
	})

	t.Run("mfagatectl radius test", func(t *testing.T) {
		d := d.with(t)
		ctl := filepath.Join(t.TempDir(), "mfagatectl")
		if out, err := exec.Command("go", "build", "-o", ctl, "../mfagatectl").CombinedOutput(); err != nil {
			t.Fatalf("build mfagatectl: %v\n%s", err, out)
		}
		run := func(stdin io.Reader, args ...string) (string, error) {
			cmd := exec.Command(ctl, append([]string{"-demo-dir", d.dir, "-timeout", "8s", "radius", "test", "-server", addr}, args...)...)
			cmd.Stdin = stdin
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		out, err := run(nil, "-code", totpAt(ctlSecret, 0), uCtl)
		if err != nil || !strings.Contains(out, "Access-Accept") {
			t.Fatalf("an app code: %v\n%s", err, out)
		}
		out, err = run(nil, "-code", otherCode(totpAt(ctlSecret, 1)), uCtl)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out, "Access-Reject: ") {
			t.Fatalf("a wrong code: %v, want exit 1 and the Reply-Message\n%s", err, out)
		}
		// Enter for a challenge, then the SMS code at its prompt.
		before := d.messages(nSMS)
		in := &lazyLines{lines: []func() string{
			func() string { return "" },
			func() string { return d.nextCode(nSMS, before) },
		}}
		out, err = run(in, uSMS)
		if err != nil || !strings.Contains(out, "Access-Challenge: ") || !strings.Contains(out, "Access-Accept") {
			t.Fatalf("a challenge answered with the SMS code: %v\n%s", err, out)
		}
		checkMasked(t, out[strings.Index(out, "Access-Challenge: "):strings.Index(out, "Access-Accept")], nSMS)
		// A wrong secret gets no answer.
		bad := filepath.Join(t.TempDir(), "wrong.secret")
		os.WriteFile(bad, []byte(secret+"x\n"), 0o600)
		out, err = run(nil, "-secret-file", bad, "-code", totpAt(ctlSecret, 1), uCtl)
		if err == nil || !strings.Contains(out, "no answer from "+addr) {
			t.Fatalf("a wrong secret: %v, want no answer\n%s", err, out)
		}
	})

	t.Run("pam_radius_auth", func(t *testing.T) {
		testPAMRadius(t, d.with(t), addr, secret, uPAM, nPAM)
	})
}

// lazyLines is a stdin whose lines are computed when they are read, so
// that a line can wait for what the command made happen.
type lazyLines struct {
	lines []func() string
	buf   []byte
}

func (l *lazyLines) Read(p []byte) (int, error) {
	if len(l.buf) == 0 {
		if len(l.lines) == 0 {
			return 0, io.EOF
		}
		l.buf = []byte(l.lines[0]() + "\n")
		l.lines = l.lines[1:]
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// demoRadius reads the RADIUS server's address and secret from the demo's
// banner.
func demoRadius(t *testing.T, banner string) (addr, secret string) {
	t.Helper()
	m := regexp.MustCompile(`RADIUS \(VPN, Citrix, SSH\): udp (\S+), client demo-vpn from 127\.0\.0\.1/32, secret in (\S+)\n`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("the demo does not announce its RADIUS server:\n%s", banner)
	}
	b, err := os.ReadFile(m[2])
	if err != nil {
		t.Fatal(err)
	}
	return m[1], strings.TrimSpace(string(b))
}

// with is d for subtest t: its helpers fail t, not the parent test.
func (d *piDemo) with(t *testing.T) *piDemo {
	g := *d.gateway
	g.t = t
	c := *d
	c.gateway = &g
	return &c
}

// needTool finds a Debian tool the test drives; without it the test is
// skipped with the package to install.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s; make deps installs it)", name, pkg)
	}
	return p
}

// radclientRun sends requests with radclient to one server.
type radclientRun struct {
	bin, addr, secret string
}

// radclientReply is what radclient -x printed of the reply: its code
// ("" when none came) and attributes as radclient decoded them.
type radclientReply struct {
	code  string
	attrs map[string][]string
	exit  int
	out   string
}

var (
	radclientReceived = regexp.MustCompile(`(?m)^Received (Access-\w+) Id \d+ from `)
	radclientAttr     = regexp.MustCompile(`^\s+([\w-]+) = (.*)$`)
)

// send gives radclient one request's attributes on stdin, waiting 1 s for
// the reply and retransmitting once.
func (r *radclientRun) send(t *testing.T, attrs string) *radclientReply {
	t.Helper()
	cmd := exec.Command(r.bin, "-x", "-t", "1", "-r", "1", r.addr, "auth", r.secret)
	cmd.Stdin = strings.NewReader(attrs + "\n")
	out, err := cmd.CombinedOutput()
	rep := &radclientReply{attrs: map[string][]string{}, out: string(out)}
	if ee, ok := err.(*exec.ExitError); ok {
		rep.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run radclient: %v", err)
	}
	m := radclientReceived.FindStringSubmatchIndex(rep.out)
	if m == nil {
		return rep
	}
	rep.code = rep.out[m[2]:m[3]]
	for _, l := range strings.Split(rep.out[m[1]:], "\n")[1:] {
		a := radclientAttr.FindStringSubmatch(l)
		if a == nil {
			break
		}
		v := a[2]
		if s, err := strconv.Unquote(v); err == nil {
			v = s
		}
		rep.attrs[a[1]] = append(rep.attrs[a[1]], v)
	}
	return rep
}

func (r *radclientReply) want(t *testing.T, code string) {
	t.Helper()
	if r.code != code {
		if code == "" {
			code = "no reply"
		}
		t.Fatalf("radclient got %q, want %s:\n%s", r.code, code, r.out)
	}
	if code != "" && len(r.attrs["Message-Authenticator"]) != 1 {
		t.Errorf("the %s carries %d Message-Authenticators, want 1:\n%s", code, len(r.attrs["Message-Authenticator"]), r.out)
	}
}

// one is the attribute's value, which must occur once.
func (r *radclientReply) one(t *testing.T, name string) string {
	t.Helper()
	if v := r.attrs[name]; len(v) == 1 {
		return v[0]
	}
	t.Fatalf("the %s has %d %s attributes, want 1:\n%s", r.code, len(r.attrs[name]), name, r.out)
	return ""
}

// readDatagram waits up to 10 s for one datagram on pc.
func readDatagram(t *testing.T, pc net.PacketConn) []byte {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return buf[:n]
}

// attributeAt is the offset of the first attribute of type typ in RADIUS
// packet b, or -1.
func attributeAt(b []byte, typ byte) int {
	for i := 20; i+2 <= len(b) && b[i+1] >= 2; i += int(b[i+1]) {
		if b[i] == typ {
			return i
		}
	}
	return -1
}

// radiusDropped reads mfagate_radius_dropped_total for the demo's client
// and reason from /metrics.
func radiusDropped(t *testing.T, base, reason string) int {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(fmt.Sprintf(`(?m)^mfagate_radius_dropped_total\{client="demo-vpn",reason="%s"\} (\d+)$`, reason)).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
