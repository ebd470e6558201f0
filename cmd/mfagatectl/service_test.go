package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// The demo's simulated modems (cmd/mfagated/demo.go) and their IMEIs.
var demoModems = map[string]string{"sim-quectel": "359999000000001", "sim-simcom": "359999000000002"}

// api calls the daemon on its socket with the admin token, without the
// code under test, and decodes a 2xx JSON answer into v.
func api(t *testing.T, method, path, body string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://mfagated"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken(t))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := socketClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// waitUntil polls cond every 50 ms until it holds, failing the test after
// limit.
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitDemo waits until the demo is all up: the daemon answers before
// its modems have registered and its software key has been found.
func awaitDemo(t *testing.T) {
	t.Helper()
	waitUntil(t, "the demo's modems up and its software key found", 30*time.Second, func() bool {
		var ms []struct {
			State string `json:"state"`
			IMEI  string `json:"imei"`
		}
		var ds []struct{ Path string }
		var ready struct{ Ready bool }
		if api(t, "GET", "/readyz", "", &ready) != 200 || api(t, "GET", "/v1/modems", "", &ms) != 200 || api(t, "GET", "/v1/kiosk/devices", "", &ds) != 200 {
			return false
		}
		up := 0
		for _, m := range ms {
			if m.State == "up" && m.IMEI != "" {
				up++
			}
		}
		return ready.Ready && up == len(demoModems) && len(ds) == 1
	})
}

// lockedBuffer is a bytes.Buffer the test may read while the CLI writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ctlAsync starts the CLI against the test daemon and returns its output
// buffers and a channel for its exit code.
func ctlAsync(args ...string) (stdout, stderr *lockedBuffer, code <-chan int) {
	stdout, stderr = new(lockedBuffer), new(lockedBuffer)
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"-url", "unix:" + daemonSock, "-demo-dir", daemonState}, args...), strings.NewReader(""), stdout, stderr)
	}()
	return stdout, stderr, done
}

func exitOf(t *testing.T, code <-chan int, what string) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not finish within 20s", what)
		return 0
	}
}

// pressKeys keys digits on the demo handset's call once it is answered.
func pressKeys(t *testing.T, number, digits string) {
	t.Helper()
	waitUntil(t, "the call to "+number+" answered", 15*time.Second, func() bool {
		return api(t, "POST", "/v1/demo/phones/"+number+"/keys", `{"digits":"`+digits+`"}`, nil) == http.StatusNoContent
	})
}

// tableRow returns the fields of the row starting with first.
func tableRow(t *testing.T, out, first string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return f
		}
	}
	t.Fatalf("no row %s in:\n%s", first, out)
	return nil
}

func TestStatus(t *testing.T) {
	awaitDemo(t)
	r := mustCtl(t, "", "status")
	if !strings.HasPrefix(r.stdout, "Gateway: ready\n") {
		t.Errorf("status does not start with the readiness:\n%s", r.stdout)
	}
	for _, comp := range []string{"store", "modems"} {
		if row := tableRow(t, r.stdout, comp); row[1] != "ready" {
			t.Errorf("component %s: %q", comp, row)
		}
	}
	for id := range demoModems {
		// ID STATE [(busy)] SIGNAL dBm REGISTRATION TODAY LAST-ERROR; a
		// call of an earlier test may still keep a modem busy.
		row := slices.DeleteFunc(tableRow(t, r.stdout, id), func(f string) bool { return f == "(busy)" })
		if len(row) != 7 || row[1] != "up" || !strings.HasPrefix(row[2], "-") || row[3] != "dBm" || row[4] != "home" ||
			!regexp.MustCompile(`^\d+/180$`).MatchString(row[5]) || row[6] != "-" {
			t.Errorf("modem row %q", row)
		}
	}
	keys := regexp.MustCompile(`(?m)^Security keys:\n  (\S+)\s+FIDO2 key\s+PIN `).FindStringSubmatch(r.stdout)
	if keys == nil || filepath.Base(keys[1]) != "softkey" {
		t.Errorf("the demo's software key is not listed:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^Outbox:\n  \d+\+? queued, \d+\+? sending$`).MatchString(r.stdout) {
		t.Errorf("no outbox depth:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^Nodes:\n\s+NODE\s.*\n  \S+ \(this\)\s+alive\s+\d+s ago\s+2/2\s+\d+\s`).MatchString(r.stdout) {
		t.Errorf("the demo's node is not listed alive with its two modems:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, adminToken(t)) {
		t.Error("status shows the token")
	}

	r = mustCtl(t, "", "-json", "status")
	var s struct {
		Readiness struct {
			Ready      bool `json:"ready"`
			Components []struct{ Name string }
		} `json:"readiness"`
		Modems []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"modems"`
		Devices []struct{ Path string } `json:"kiosk_devices"`
		Outbox  map[string]int          `json:"outbox"`
		Errors  []string                `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("-json status is not one JSON line: %v\n%s", err, r.stdout)
	}
	if !s.Readiness.Ready || len(s.Readiness.Components) != 2 || len(s.Modems) != 2 || len(s.Devices) != 1 || s.Errors != nil {
		t.Errorf("-json status: %+v", s)
	}
	if _, ok := s.Outbox["queued"]; !ok {
		t.Errorf("-json status has no queued count: %v", s.Outbox)
	}
	for _, m := range s.Modems {
		if demoModems[m.ID] == "" || m.State != "up" {
			t.Errorf("-json status modem %+v", m)
		}
	}
}

// gatewayProxy serves the test daemon over loopback TCP, answering some
// paths itself.
func gatewayProxy(t *testing.T, override map[string]http.HandlerFunc) string {
	t.Helper()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "mfagated"})
		},
		Transport: socketClient().Transport,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := override[r.URL.Path]; h != nil {
			h(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStatusNotReady checks that a gateway that is not ready still gets
// its whole report, and exit status 1; and that a gateway without the
// kiosk routes shows "kiosk not enabled".
func TestStatusNotReady(t *testing.T) {
	awaitDemo(t)
	base := gatewayProxy(t, map[string]http.HandlerFunc{
		"/readyz": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"components":[{"name":"store","ready":true},{"name":"modems","ready":false,"detail":"0 of 2 modems can send SMS, 0 can call"}],"ready":false}`)
		},
		// What a gateway without [fido] answers: its own no-route 404.
		"/v1/kiosk/devices": func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequest("GET", "http://mfagated/v1/kiosk/no-such-route", nil)
			req.Header = r.Header.Clone()
			resp, err := socketClient().Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
		},
	})
	r := ctlRaw(t, nil, nil, "-url", base, "-demo-dir", daemonState, "status")
	if r.code != 1 {
		t.Errorf("not ready: exit %d, want 1", r.code)
	}
	if r.stderr != "mfagatectl: the gateway is not ready\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "Gateway: NOT READY\n") || !strings.Contains(r.stdout, "0 of 2 modems can send SMS") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if row := tableRow(t, r.stdout, "modems"); row[1] != "NOT" {
		t.Errorf("modems component row %q", row)
	}
	for id := range demoModems {
		tableRow(t, r.stdout, id) // the rest is printed all the same
	}
	if !strings.Contains(r.stdout, "Security keys:\n  kiosk not enabled\n") || !strings.Contains(r.stdout, " queued, ") {
		t.Errorf("stdout:\n%s", r.stdout)
	}

	r = ctlRaw(t, nil, nil, "-url", base, "-demo-dir", daemonState, "kiosk", "devices")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "mfagatectl: kiosk not enabled") {
		t.Errorf("kiosk devices without a kiosk: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ctlRaw(t, nil, nil, "-url", base, "-demo-dir", daemonState, "-json", "status")
	if r.code != 1 || !strings.Contains(r.stdout, `"kiosk_devices":null`) || !strings.Contains(r.stdout, `"ready":false`) {
		t.Errorf("-json status, not ready: exit %d\n%s", r.code, r.stdout)
	}

	// A daemon that cannot be reached is one line.
	r = ctlRaw(t, nil, nil, "-url", "unix:"+daemonState+"/no.sock", "-demo-dir", daemonState, "status")
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "mfagatectl: GET /readyz: cannot reach") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("status of no daemon: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestModems(t *testing.T) {
	awaitDemo(t)
	r := mustCtl(t, "", "modems")
	header := strings.Fields(strings.SplitN(r.stdout, "\n", 2)[0])
	for _, col := range []string{"ID", "PROFILE", "PORT", "STATE", "BUSY", "SIGNAL", "REGISTRATION", "OPERATOR", "IMEI", "SENT", "FAILED", "CALLS", "REOPENS"} {
		if !strings.Contains(" "+strings.Join(header, " ")+" ", " "+col+" ") {
			t.Errorf("no %s column: %q", col, header)
		}
	}
	for id, imei := range demoModems {
		row := tableRow(t, r.stdout, id)
		line := strings.Join(row, " ")
		profile := strings.TrimPrefix(id, "sim-")
		if row[1] != profile || row[3] != "up" || !strings.Contains(line, " NTT DOCOMO "+imei+" ") || !strings.Contains(line, " sms,voice ") {
			t.Errorf("modem row %q", row)
		}
	}

	r = mustCtl(t, "", "-json", "modems")
	var ms []struct {
		ID   string `json:"id"`
		IMEI string `json:"imei"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 2 {
		t.Fatalf("-json modems: %v\n%s", err, r.stdout)
	}
	for _, m := range ms {
		if demoModems[m.ID] != m.IMEI {
			t.Errorf("-json modems: %+v", m)
		}
	}
}

// idleModem returns a demo modem that is not busy: a test SMS waits for
// its modem, and a call of an earlier test may keep one busy for the
// demo's input timeout.
func idleModem(t *testing.T) string {
	t.Helper()
	var id string
	waitUntil(t, "an idle modem", 45*time.Second, func() bool {
		var ms []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Busy  bool   `json:"busy"`
		}
		api(t, "GET", "/v1/modems", "", &ms)
		for _, m := range ms {
			if m.State == "up" && !m.Busy {
				id = m.ID
				return true
			}
		}
		return false
	})
	return id
}

func TestTestSMS(t *testing.T) {
	const number = "090-5555-0101"
	modem := idleModem(t)
	r := mustCtl(t, "", "test-sms", modem, number, "-text", "hello from mfagatectl", "-wait", "-timeout", "15s")
	m := regexp.MustCompile(`(?m)^Queued test SMS (j_\S+) to \+81 90-\*\*\*\*-0101 through ` + modem + `\.$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	if want := "Test SMS " + m[1] + ": sent by " + modem + ", 1 attempt(s).\n"; !strings.HasSuffix(r.stdout, want) {
		t.Errorf("stdout does not end with %q:\n%s", want, r.stdout)
	}
	// Not a terminal: plain progress lines, the last one the outcome.
	if strings.Contains(r.stderr, "\r") || !strings.HasSuffix(r.stderr, "job "+m[1]+": sent by "+modem+"\n") ||
		!strings.HasPrefix(r.stderr, "job "+m[1]+": queued\n") {
		t.Errorf("progress on stderr:\n%q", r.stderr)
	}
	// The handset received it from the SIM of sim-simcom.
	var msgs []struct{ Text, Modem string }
	waitUntil(t, "the test SMS at the handset", 10*time.Second, func() bool {
		msgs = nil
		api(t, "GET", "/v1/demo/phones/"+number+"/messages", "", &msgs)
		return len(msgs) > 0
	})
	if len(msgs) != 1 || msgs[0].Text != "hello from mfagatectl" || msgs[0].Modem != demoModems[modem] {
		t.Errorf("handset messages: %+v", msgs)
	}

	// -json: the queued job, then the sent one, as the gateway wrote them.
	modem = idleModem(t)
	r = mustCtl(t, "", "-json", "test-sms", modem, "090-5555-0102", "-wait", "-timeout", "15s")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var first, last struct{ ID, State, Modem, To string }
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &last) != nil {
		t.Fatalf("-json test-sms -wait:\n%s", r.stdout)
	}
	if first.State != "queued" || last.State != "sent" || last.ID != first.ID || last.Modem != modem || last.To != "+81 90-****-0102" {
		t.Errorf("-json jobs: %+v then %+v", first, last)
	}

	// Without -wait: the job, and how to follow it.
	r = mustCtl(t, "", "test-sms", modem, "090-5555-0103")
	if !strings.HasPrefix(r.stdout, "Queued test SMS j_") || !strings.Contains(r.stderr, "mfagatectl outbox") {
		t.Errorf("test-sms: stdout %q, stderr %q", r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"test-sms", "sim-nope", number}, 1, "unknown_modem: "},
		{[]string{"test-sms", "sim-simcom", "03-5555-0101"}, 1, "not_a_mobile_number: "},
		{[]string{"test-sms", "sim-simcom"}, 2, "missing NUMBER; usage: mfagatectl test-sms MODEM_ID NUMBER [-text TEXT] [-wait]"},
		{[]string{"test-sms", "sim-simcom", number, "-text", strings.Repeat("x", 301)}, 1, "at most 300"},
	} {
		r := ctl(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.want)
		}
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, "5555") {
			t.Errorf("output shows the full number: %q", out)
		}
	}
}

// TestProgressOnTerminal runs test-sms -wait with stderr on a terminal: the
// progress is one line, rewritten with carriage returns and ended once.
func TestProgressOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx) // ends with EIO once the terminal side is closed
		close(copied)
	}()
	var stdout bytes.Buffer
	modem := idleModem(t)
	code := run([]string{"-url", "unix:" + daemonSock, "-demo-dir", daemonState, "test-sms", modem, "090-5555-0104", "-wait", "-timeout", "15s"},
		strings.NewReader(""), &stdout, tty)
	tty.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Fatal("the terminal output did not end")
	}
	if code != 0 || !strings.Contains(stdout.String(), ": sent by "+modem) {
		t.Fatalf("exit %d, stdout %q, terminal %q", code, stdout.String(), screen.String())
	}
	out := screen.String()
	// The terminal turns the one "\n" into "\r\n".
	if !strings.HasPrefix(out, "\rjob j_") || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\r\n") {
		t.Errorf("terminal output %q: want one line redrawn with \\r", out)
	}
	if !regexp.MustCompile(`\rjob j_\S+: sent by ` + modem + ` \(\d+s\)\s*\r\n$`).MatchString(out) {
		t.Errorf("the line does not end with the outcome: %q", out)
	}
}

// TestProgressTicks checks the terminal line's elapsed seconds, without a
// gateway.
func TestProgressTicks(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	p := (&env{stderr: w, errTTY: true}).newProgress()
	p.set("calling %s", "+81 3-****-0101")
	// The ticker redraws the line with the seconds counted.
	waitUntil(t, "the line redrawn", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "(1s)")
	})
	p.set("answered")
	p.end()
	p.end() // harmless twice
	mu.Lock()
	got := out.String()
	mu.Unlock()
	// A shorter line is padded with blanks over the end of the longer one.
	re := regexp.MustCompile(`^\rcalling \+81 3-\*\*\*\*-0101 \(0s\)(\rcalling \+81 3-\*\*\*\*-0101 \(\ds\))+\ranswered \(\ds\)( +)(\ranswered \(\ds\))*\n$`)
	m := re.FindStringSubmatch(got)
	if m == nil || len("answered (1s)")+len(m[2]) != len("calling +81 3-****-0101 (1s)") {
		t.Errorf("terminal output %q", got)
	}

	out.Reset()
	p = (&env{stderr: w}).newProgress()
	p.set("a")
	p.set("a")
	p.set("b")
	p.end()
	if out.String() != "a\nb\n" {
		t.Errorf("plain progress %q", out.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var pageLine = regexp.MustCompile(`(?m)^page\s+(\S+)$`)

func TestKiosk(t *testing.T) {
	awaitDemo(t)
	const user = "2000000101"
	r := mustCtl(t, "", "kiosk", "devices")
	row := tableRow(t, r.stdout, filepath.Join(daemonState, "softkey"))
	if strings.Join(row[1:3], " ") != "FIDO2 key" {
		t.Errorf("device row %q", row)
	}

	// Over TCP the page is on the -url.
	base := gatewayProxy(t, nil)
	r = ctlRaw(t, nil, nil, "-url", base+"/", "-demo-dir", daemonState, "kiosk", "open", user)
	m := pageLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !regexp.MustCompile("^"+regexp.QuoteMeta(base)+`/kiosk/e_[a-z0-9]+$`).MatchString(m[1]) {
		t.Fatalf("kiosk open over TCP: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimPrefix(m[1], base+"/kiosk/")
	var sess struct{ User, State, URL string }
	if c := api(t, "GET", "/v1/kiosk/sessions/"+id, "", &sess); c != 200 || sess.User != user || sess.State != "ready" {
		t.Errorf("the printed session: %d %+v", c, sess)
	}
	if exp := field(t, r.stdout, "expires"); !regexp.MustCompile(`^\S+Z \(in 1[45]m\d+s|15m0s\)$`).MatchString(exp) {
		t.Errorf("expires %q", exp)
	}

	// On a unix socket -base says where the kiosk's browser reaches it.
	r = mustCtl(t, "", "kiosk", "open", user, "-base", "https://kiosk.example:8470")
	if m := pageLine.FindStringSubmatch(r.stdout); m == nil || !regexp.MustCompile(`^https://kiosk\.example:8470/kiosk/e_[a-z0-9]+$`).MatchString(m[1]) {
		t.Errorf("kiosk open -base:\n%s", r.stdout)
	}
	r = mustCtl(t, "", "kiosk", "open", user)
	if got := field(t, r.stdout, "page"); !regexp.MustCompile(`^/kiosk/e_[a-z0-9]+ \(on the gateway's HTTP listener\)$`).MatchString(got) || !strings.Contains(r.stderr, "-base") {
		t.Errorf("kiosk open on a socket without -base: page %q, stderr %q", got, r.stderr)
	}
	r = mustCtl(t, "", "-json", "kiosk", "open", user)
	if err := json.Unmarshal([]byte(r.stdout), &sess); err != nil || !strings.HasPrefix(sess.URL, "/kiosk/e_") {
		t.Errorf("-json kiosk open: %v %q", err, r.stdout)
	}
	r = ctl(t, "", "kiosk", "open", user, "-base", "ftp://kiosk")
	if r.code != 2 || !strings.Contains(r.stderr, `-base "ftp://kiosk"`) {
		t.Errorf("bad -base: exit %d, stderr %q", r.code, r.stderr)
	}

	// Enrollment with the software key: a PIN too short is refused before
	// the key is asked anything, then a good one.
	const pin = "482910"
	r = ctl(t, "", "kiosk", "enroll", user, "-pin", "123")
	if r.code != 1 || !strings.Contains(r.stderr, "mfagatectl: pin_too_short: ") || !strings.Contains(r.stderr, "at least 6") {
		t.Errorf("short PIN: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ctl(t, pin+"\n", "kiosk", "enroll", user, "-label", "Desk key")
	if r.code != 0 {
		t.Fatalf("kiosk enroll: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	em := regexp.MustCompile(`^Registered security key (m_\S+) "Desk key" for user ` + user + `\.\n$`).FindStringSubmatch(r.stdout)
	if em == nil || !strings.Contains(r.stderr, "Your security key is registered.") || strings.Contains(r.stderr, "\r") {
		t.Errorf("kiosk enroll: stdout %q, stderr %q", r.stdout, r.stderr)
	} else if row := methodRow(t, mustCtl(t, "", "user", "show", user).stdout, em[1]); row[1] != "fido" {
		t.Errorf("method row %q", row)
	}
	if strings.Contains(r.stdout+r.stderr, pin) {
		t.Error("kiosk enroll shows the PIN")
	}
}

// TestFraudClear has a user report a verification call as fraud, which
// blocks phone verification, and clears the block.
func TestFraudClear(t *testing.T) {
	const user, number = "2000000102", "03-5555-0105"
	r := mustCtl(t, "", "-json", "user", "add-phone", user, "-slot", "office", "-phone", number, "-channel", "voice", "-no-confirm")
	var a struct {
		Challenge struct{ ID string } `json:"challenge"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || a.Challenge.ID == "" {
		t.Fatalf("add-phone: %v\n%s", err, r.stdout)
	}
	pressKeys(t, number, "0#")
	var c struct{ Status, Reason string }
	waitUntil(t, "the fraud report", 15*time.Second, func() bool {
		api(t, "GET", "/v1/challenges/"+a.Challenge.ID+"?wait=2s", "", &c)
		return c.Status == "denied"
	})
	if c.Reason != "fraud_reported" {
		t.Fatalf("challenge ended %+v", c)
	}
	// wait shows the denied challenge and fails, as its help says.
	for _, json := range []bool{false, true} {
		args := []string{"wait", a.Challenge.ID, "-wait", "0s"}
		if json {
			args = append(args, "-json")
		}
		r = ctl(t, "", args...)
		if want := "mfagatectl: challenge " + a.Challenge.ID + " ended denied (fraud_reported)\n"; r.code != 1 || r.stderr != want {
			t.Errorf("%v on a denied challenge: exit %d, stderr %q; want exit 1, stderr %q", args, r.code, r.stderr, want)
		}
		if !strings.Contains(r.stdout, "denied") {
			t.Errorf("%v did not show the challenge:\n%s", args, r.stdout)
		}
	}
	r = mustCtl(t, "", "user", "show", user)
	if got := field(t, r.stdout, "phone verification"); got != "blocked after a fraud report" {
		t.Fatalf("phone verification %q", got)
	}

	r = mustCtl(t, "", "fraud", "clear", user)
	if !strings.HasPrefix(r.stdout, "Cleared the fraud block and the failure lock of user "+user+".\n") || strings.Contains(r.stdout, "blocked") {
		t.Errorf("fraud clear:\n%s", r.stdout)
	}
	var u struct {
		MFA struct {
			PhoneBlocked bool `json:"phone_blocked"`
		} `json:"mfa"`
	}
	r = mustCtl(t, "", "-json", "fraud", "clear", user)
	if err := json.Unmarshal([]byte(r.stdout), &u); err != nil || u.MFA.PhoneBlocked {
		t.Errorf("-json fraud clear: %v %s", err, r.stdout)
	}
	r = mustCtl(t, "", "help", "fraud", "clear")
	if !strings.Contains(r.stdout, "also clears the lock after too many failed verifications") {
		t.Errorf("help fraud clear:\n%s", r.stdout)
	}
}

// TestCallProgress confirms a phone by a call: the CLI waits for it,
// showing each change of the challenge as a plain line when stderr is not
// a terminal.
func TestCallProgress(t *testing.T) {
	const user, number = "2000000103", "03-5555-0106"
	stdout, stderr, code := ctlAsync("user", "add-phone", user, "-slot", "office", "-phone", number, "-channel", "voice")
	var match string
	waitUntil(t, "the number to match", 10*time.Second, func() bool {
		m := regexp.MustCompile(`(?m)^number to match\s+(\d+)$`).FindStringSubmatch(stdout.String())
		if m != nil {
			match = m[1]
		}
		return m != nil
	})
	pressKeys(t, number, match+"#")
	if c := exitOf(t, code, "user add-phone -channel voice"); c != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", c, stdout.String(), stderr.String())
	}
	if !regexp.MustCompile(`(?m)^Confirmed m_\S+ \(phone, `).MatchString(stdout.String()) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "Calling +81 3-****-0106: answer and key in "+match) ||
		!regexp.MustCompile(`^challenge c_\S+: approved( \(delivery sent\))?$`).MatchString(lines[len(lines)-1]) {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		if seen[l] || strings.Contains(l, "\r") {
			t.Errorf("progress line %q repeated or redrawn:\n%s", l, stderr.String())
		}
		seen[l] = true
	}
}

// TestCompletion sources the bash completion script in bash and completes
// with it as bash would.
func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	r := ctlRaw(t, nil, nil, "completion", "bash") // needs no gateway or token
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("completion bash: exit %d, stderr %q", r.code, r.stderr)
	}
	script := filepath.Join(t.TempDir(), "mfagatectl.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	// Each case is the words of a command line as bash splits them
	// (COMP_WORDBREAKS splits at ":" and "="); the last is being completed.
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"us"}, "user"},
		{[]string{""}, "user challenge verify wait mfa audit outbox fraud oidc backup token status modems test-sms radius kiosk completion help"},
		{[]string{"user", "a"}, "add-totp add-phone"},
		{[]string{"-url", "unix", ":", "/run/mfagate/api.sock", "kiosk", ""}, "open devices enroll"},
		{[]string{"-json", "fr"}, "fraud"},
		{[]string{"fraud", ""}, "clear"},
		{[]string{"oidc", ""}, "keys rotate-key"},
		{[]string{"radius", ""}, "test"},
		{[]string{"radius", "test", "1", "-s"}, "-secret-file -server"},
		{[]string{"test-sms", "-w"}, "-wait"},
		{[]string{"test-sms", "sim-1", "090", "-wait", "-te"}, "-text"},
		{[]string{"-timeout", "5s", "st"}, "status"},
		{[]string{"-timeout", "=", "5s", "mo"}, "modems"},
		{[]string{"user", "add-phone", "1", "-slot", "o"}, "office"},
		{[]string{"user", "add-phone", "1", "-channel", ""}, "sms voice"},
		{[]string{"status", "-"}, "-as -demo-dir -json -timeout -token -token-file -url"},
		{[]string{"kiosk", "enroll", "1", "-p"}, "-pin -proof"},
		{[]string{"help", "ki"}, "kiosk"},
		{[]string{"help", "kiosk", "e"}, "enroll"},
		{[]string{"completion", ""}, "bash zsh"},
		{[]string{"user", "show", ""}, ""},
	}
	var sh strings.Builder
	fmt.Fprintf(&sh, "source %q || exit 1\n", script)
	for _, c := range cases {
		words := []string{"mfagatectl"}
		for _, w := range append([]string{"mfagatectl"}, c.words...)[1:] {
			words = append(words, fmt.Sprintf("%q", w))
		}
		fmt.Fprintf(&sh, "COMP_WORDS=(mfagatectl %s); COMP_CWORD=%d; COMPREPLY=(); _mfagatectl; echo \"${COMPREPLY[*]}\"\n",
			strings.Join(words[1:], " "), len(c.words))
	}
	sh.WriteString("complete -p mfagatectl\n")
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", sh.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for _, c := range cases {
		if !sc.Scan() {
			t.Fatalf("bash printed too little:\n%s", out)
		}
		if got := sc.Text(); got != c.want {
			t.Errorf("mfagatectl %s<TAB>: %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}
	if !sc.Scan() || sc.Text() != "complete -F _mfagatectl mfagatectl" {
		t.Errorf("the function is not registered for mfagatectl:\n%s", out)
	}
}

// TestCompletionCoversCommands checks that both scripts name every
// command and subcommand, and every flag of each.
func TestCompletionCoversCommands(t *testing.T) {
	for shell, write := range map[string]func(io.Writer, []*command) error{
		"bash": writeBashCompletion, "zsh": writeZshCompletion,
	} {
		var b bytes.Buffer
		if err := write(&b, commands); err != nil {
			t.Fatal(err)
		}
		for _, c := range commands {
			for _, w := range strings.Fields(c.name) {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the %s script lacks %q", shell, w)
				}
			}
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			c.setup(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(b.String(), "-"+f.Name) {
					t.Errorf("the %s script lacks %s -%s", shell, c.name, f.Name)
				}
			})
		}
	}
}

// TestCompletionZsh checks the zsh script's syntax with zsh -n, then runs
// its function in zsh with the completion system's builtins replaced by
// functions that print what they would offer, filtered by the word being
// completed as zsh would.
func TestCompletionZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("no zsh (scripts/deps.sh installs it)")
	}
	r := ctlRaw(t, nil, nil, "completion", "zsh") // needs no gateway or token
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("completion zsh: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "#compdef mfagatectl\n") {
		t.Errorf("the script does not start with #compdef, which autoloading from $fpath needs:\n%.200s", r.stdout)
	}
	script := filepath.Join(t.TempDir(), "_mfagatectl")
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"us"}, "user"},
		{[]string{""}, "user challenge verify wait mfa audit outbox fraud oidc backup token status modems test-sms radius kiosk completion help"},
		{[]string{"user", "a"}, "add-totp add-phone"},
		{[]string{"user", ""}, "show add-totp add-phone confirm remove default unlock"},
		{[]string{"-url", "unix:/run/mfagate/api.sock", "kiosk", ""}, "open devices enroll"},
		{[]string{"-json", "fr"}, "fraud"},
		{[]string{"fraud", ""}, "clear"},
		{[]string{"oidc", ""}, "keys rotate-key"},
		{[]string{"radius", ""}, "test"},
		{[]string{"radius", "test", "1", "-s"}, "-secret-file -server"},
		{[]string{"mfa", ""}, "apply terminate"},
		{[]string{"test-sms", "-w"}, "-wait"},
		{[]string{"test-sms", "sim-1", "090", "-wait", "-te"}, "-text"},
		{[]string{"-timeout", "5s", "st"}, "status"},
		{[]string{"-timeout=5s", "mo"}, "modems"},
		{[]string{"user", "add-phone", "1", "-slot", "o"}, "office"},
		{[]string{"user", "add-phone", "1", "-slot=a"}, "alternate"},
		{[]string{"user", "add-phone", "1", "-channel", ""}, "sms voice"},
		{[]string{"status", "-"}, "-as -demo-dir -json -timeout -token -token-file -url"},
		{[]string{"kiosk", "enroll", "1", "-p"}, "-pin -proof"},
		{[]string{"kiosk", "enroll", "1", "-device", ""}, "<files>"},
		{[]string{"-demo-dir", ""}, "<directories>"},
		{[]string{"help", "ki"}, "kiosk"},
		{[]string{"help", "kiosk", "e"}, "enroll"},
		{[]string{"completion", ""}, "bash zsh"},
		{[]string{"user", "show", ""}, ""},
	}
	var sh strings.Builder
	// compadd -a NAME and _describe … NAME offer the array NAME; compset
	// -P moves what its pattern matches out of PREFIX.
	sh.WriteString(`offer() { local m; local -a out; for m in "$@"; do [[ $m == ${PREFIX}* ]] && out+=("$m"); done; print -rn -- "${out[*]}"; }
compadd() { [[ $1 == -a ]] && offer "${(@P)2}"; }
_describe() { local -a items=("${(@P)${@[-1]}}"); offer "${items[@]%%:*}"; }
_files() { if [[ $1 == -/ ]]; then print -rn -- "<directories>"; else print -rn -- "<files>"; fi; }
compset() { [[ $1 == -P ]] && PREFIX=${PREFIX#*=}; }
compdef() { print -r -- "compdef $*"; }
`)
	fmt.Fprintf(&sh, "source %s || exit 1\n", zshQuote(script))
	for _, c := range cases {
		q := []string{"mfagatectl"}
		for _, w := range c.words {
			q = append(q, zshQuote(w))
		}
		fmt.Fprintf(&sh, "words=(%s); CURRENT=%d; PREFIX=${words[CURRENT]}; print -r -- \"[$(_mfagatectl)]\"\n",
			strings.Join(q, " "), len(q))
	}
	out, err := exec.Command(zsh, "-f", "-c", sh.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() || sc.Text() != "compdef _mfagatectl mfagatectl" {
		t.Fatalf("sourcing the script does not register the function for mfagatectl:\n%s", out)
	}
	for _, c := range cases {
		if !sc.Scan() {
			t.Fatalf("zsh printed too little:\n%s", out)
		}
		if got, want := sc.Text(), "["+c.want+"]"; got != want {
			t.Errorf("mfagatectl %s<TAB>: %s, want %s", strings.Join(c.words, " "), got, want)
		}
	}
}

// TestProgressNarrowTerminal checks that the progress line is cut to the
// terminal's width: a line that wraps cannot be rewritten in place.
func TestProgressNarrowTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 30}); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx)
		close(copied)
	}()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// /dev/null is a character device but no terminal.
	if !isTerminal(tty) || isTerminal(null) || isTerminal(&bytes.Buffer{}) {
		t.Errorf("isTerminal: pty %v, %s %v, buffer %v", isTerminal(tty), os.DevNull, isTerminal(null), isTerminal(&bytes.Buffer{}))
	}
	p := (&env{stderr: tty, errTTY: true}).newProgress()
	p.set("challenge c_abcdefghijklmnopqrstuvwxyz: answered (delivery sent)")
	p.end()
	tty.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Fatal("the terminal output did not end")
	}
	if want := "\rchallenge c_abcdefghijklmnop…\r\n"; screen.String() != want {
		t.Errorf("terminal output %q, want %q", screen.String(), want)
	}
}
