package radius

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mfagate/config"
	"mfagate/mfa"
)

// Proxy mode against a real upstream: Debian's FreeRADIUS, started on
// loopback with a throw-away configuration that knows one directory user.

const (
	dirUser     = "0123456789"
	dirPassword = "directory-pass"
	// The upstream rejects dirUser unless the request carries this
	// NAS-Identifier: proof that the gateway's attributes are copied.
	gatewayNAS     = "vpn-gw-1"
	upstreamSecret = "upstream-shared-secret-0123456789"
	// A user the upstream answers with Access-Challenge, as an upstream
	// with an MFA of its own does.
	upstreamMFAUser = "0123456780"
)

const attrNASIdentifier = 32
const attrProxyState = 33

type freeRADIUS struct {
	addr string
	log  string // its -X output
}

// startFreeRADIUS runs freeradius -X in the foreground as the current user
// with a configuration written into a temporary directory. signReplies
// puts Message-Authenticator into every reply, as FreeRADIUS 3.2.5 and
// later do by themselves (Debian 12 ships 3.2.1, which needs it
// configured).
func startFreeRADIUS(t *testing.T, signReplies bool) *freeRADIUS {
	t.Helper()
	bin, err := exec.LookPath("freeradius")
	if err != nil {
		t.Skip("freeradius is not installed (Debian package freeradius; scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	port := freeUDPPort(t)
	sign, signAccept := "", ""
	if signReplies {
		sign = "Message-Authenticator := 0x00"
		signAccept = "update reply {\n\t\t\t" + sign + "\n\t\t}"
	}
	conf := fmt.Sprintf(`prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = %[1]s
sbindir = /usr/sbin
logdir = %[1]s
raddbdir = %[1]s
radacctdir = %[1]s
name = freeradius
confdir = %[1]s
modconfdir = %[1]s
run_dir = %[1]s
db_dir = %[1]s
libdir = /usr/lib/freeradius
pidfile = %[1]s/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
client mfagate {
	ipaddr = 127.0.0.1
	secret = %[3]s
	require_message_authenticator = yes
}
modules {
	pap {
	}
	always handled {
		rcode = handled
	}
	files {
		filename = %[1]s/users
		acctusersfile = %[1]s/users
		preproxy_usersfile = %[1]s/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %[2]d
	}
	authorize {
		if (User-Name == "%[5]s") {
			update reply {
				Reply-Message := "Enter your upstream OTP"
				State := 0x75707374
				%[4]s
			}
			update control {
				Response-Packet-Type := Access-Challenge
			}
			handled
		}
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	post-auth {
		%[6]s
		Post-Auth-Type REJECT {
			update reply {
				Reply-Message := "Directory: the password is wrong or expired"
				%[4]s
			}
		}
	}
}
`, dir, port, upstreamSecret, sign, upstreamMFAUser, signAccept)
	users := fmt.Sprintf(`%s	Cleartext-Password := %q, NAS-Identifier == %q
	Reply-Message := "Welcome from the directory",
	Class := "upstream-class"
`, dirUser, dirPassword, gatewayNAS)
	for name, body := range map[string]string{"radiusd.conf": conf, "users": users} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "-XC", "-d", dir).CombinedOutput(); err != nil {
		t.Fatalf("freeradius -C rejects the test configuration: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "radiusd.out")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-X", "-d", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fr := &freeRADIUS{addr: fmt.Sprintf("127.0.0.1:%d", port), log: logPath}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("freeradius output:\n%s", out)
		}
	})
	for range 500 {
		out, _ := os.ReadFile(logPath)
		if bytes.Contains(out, []byte("Ready to process requests")) {
			return fr
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, _ := os.ReadFile(logPath)
	t.Fatalf("freeradius did not start:\n%s", out)
	return nil
}

func (f *freeRADIUS) output(t *testing.T) string {
	t.Helper()
	out, err := os.ReadFile(f.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// proxyRig is the rig with its client "vpn" in proxy mode towards upstream.
func proxyRig(t *testing.T, upstream string) *rig {
	t.Helper()
	return newRig(t, func(c *config.Radius) {
		c.Clients[0].Mode = config.RadiusProxy
		c.Clients[0].Upstream = upstream
		c.Clients[0].UpstreamSecret = []byte(upstreamSecret)
	})
}

// enrollDirUser gives the directory user a confirmed mobile, the default,
// and applies MFA.
func (r *rig) enrollDirUser() {
	r.t.Helper()
	ctx := r.t.Context()
	m := r.addPhone(dirUser, "090-1234-5678")
	c, err := r.svc.CreateChallenge(ctx, admin, dirUser, mfa.ChallengeRequest{Method: m, Purpose: mfa.PurposeTest})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.Verify(ctx, admin, c.ID, r.smsCode(c.ID)); err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.ApplyMFA(ctx, admin, dirUser); err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(61 * time.Second)
}

func (r *rig) proxyRequests(result string) float64 {
	return testutil.ToFloat64(r.metrics.RadiusRequestsCounter("vpn", "proxy", result))
}

var gatewayAttrs = []attr{{attrNASIdentifier, []byte(gatewayNAS)}, {attrProxyState, []byte("gw-proxy-state-7")}}

func TestProxyMode(t *testing.T) {
	fr := startFreeRADIUS(t, true)
	r := proxyRig(t, fr.addr)
	r.enrollDirUser()

	t.Run("wrong directory password", func(t *testing.T) {
		a := r.send(ask{user: dirUser, password: "not-the-password", extra: gatewayAttrs})
		// The upstream's Reject, with its Reply-Message, and nothing sent.
		r.want(a, codeAccessReject, "Directory: the password is wrong or expired")
		if !bytes.Equal(a.get(attrProxyState), []byte("gw-proxy-state-7")) {
			t.Errorf("the reply does not echo the gateway's Proxy-State: %v", a.attrs)
		}
		if !r.outboxEmpty() {
			t.Error("a wrong directory password started a challenge")
		}
	})

	t.Run("attributes are copied", func(t *testing.T) {
		// Without NAS-Identifier the upstream's user entry does not match.
		r.want(r.send(ask{user: dirUser, password: dirPassword}), codeAccessReject, "Directory:")
		if !r.outboxEmpty() {
			t.Error("a rejected request started a challenge")
		}
	})

	t.Run("right password, then the SMS code", func(t *testing.T) {
		a := r.send(ask{user: dirUser, password: dirPassword, extra: gatewayAttrs})
		r.want(a, codeAccessChallenge, "Enter the code sent by SMS to +81 90-****-5678")
		if strings.Contains(a.message(), "Welcome from the directory") || len(a.get(attrClass)) != 0 {
			t.Errorf("the upstream's Accept attributes reached the gateway: %v", a.attrs)
		}
		if !bytes.Equal(a.get(attrProxyState), []byte("gw-proxy-state-7")) {
			t.Errorf("the challenge does not echo the gateway's Proxy-State: %v", a.attrs)
		}
		code := r.smsCode("")
		before := strings.Count(fr.output(t), "Sent Access-")
		// The answer to our challenge is ours: it never goes upstream,
		// so the directory password is not needed (nor wanted) again.
		b := r.send(ask{user: dirUser, password: code, state: a.get(attrState)})
		r.want(b, codeAccessAccept, "")
		if string(b.get(attrClass)) != "mfagate-vpn" || string(b.get(attrFilterID)) != "vpn-users" {
			t.Errorf("the Accept lacks the client's Class and Filter-Id: %v", b.attrs)
		}
		if after := strings.Count(fr.output(t), "Sent Access-"); after != before {
			t.Errorf("the answer to our challenge was sent upstream (%d upstream answers, want %d)", after, before)
		}
		// Used up: the same State again is refused.
		r.want(r.send(ask{user: dirUser, password: code, state: a.get(attrState)}), codeAccessReject, "")
	})

	t.Run("the password is never taken for a code", func(t *testing.T) {
		// An app code as the password is a wrong directory password.
		r.want(r.send(ask{user: dirUser, password: "123456", extra: gatewayAttrs}), codeAccessReject, "Directory:")
		if !r.outboxEmpty() {
			t.Error("a rejected request started a challenge")
		}
	})

	t.Run("upstream challenge", func(t *testing.T) {
		r.want(r.send(ask{user: upstreamMFAUser, password: dirPassword}), codeAccessReject, "does not support")
	})

	t.Run("the upstream sees no Proxy-State of the gateway", func(t *testing.T) {
		out := fr.output(t)
		if !strings.Contains(out, "NAS-Identifier = \""+gatewayNAS+"\"") {
			t.Fatalf("the upstream's log shows no request with the gateway's NAS-Identifier")
		}
		if strings.Contains(out, "Proxy-State") {
			t.Error("the gateway's Proxy-State was forwarded upstream")
		}
	})

	if got := r.proxyRequests("reject"); got != 5 {
		t.Errorf("proxy rejects counted %v, want 5", got)
	}
	if r.proxyRequests("challenge") != 1 || r.proxyRequests("accept") != 1 {
		t.Errorf("proxy challenge %v accept %v, want 1 and 1", r.proxyRequests("challenge"), r.proxyRequests("accept"))
	}
	ev, err := r.svc.Events(t.Context(), mfa.EventFilter{User: dirUser})
	if err != nil {
		t.Fatal(err)
	}
	rejects := 0
	for _, e := range ev {
		if e.Actor == "radius:vpn" && strings.Contains(e.Detail, "upstream_reject") {
			rejects++
		}
		if strings.Contains(e.Detail, dirPassword) {
			t.Errorf("the audit log holds the directory password: %+v", e)
		}
	}
	if rejects != 3 {
		t.Errorf("%d upstream rejects audited as radius:vpn, want 3", rejects)
	}
}

// An upstream that gets no answer leaves the gateway's request unanswered,
// so that the gateway retransmits or fails over to another server, rather
// than telling the user the password is wrong.
func TestProxyUpstreamDown(t *testing.T) {
	saved := upstreamTry
	upstreamTry = 100 * time.Millisecond
	t.Cleanup(func() { upstreamTry = saved })

	// Nothing listens on the port (ICMP port unreachable) ...
	closed := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	// ... or something listens and never answers.
	mute, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	for _, up := range []string{closed, mute.LocalAddr().String()} {
		r := proxyRig(t, up)
		r.enrollDirUser()
		if _, err := r.exchange(ask{user: dirUser, password: dirPassword}.build(), nil); err != errNoReply {
			t.Fatalf("upstream %s down: got a reply (%v), want none", up, err)
		}
		waitUntil(t, func() bool { return r.dropped("vpn", dropUpstreamUnreachable) == 1 })
		if !r.outboxEmpty() {
			t.Error("an unchecked password started a challenge")
		}
		if r.proxyRequests("reject") != 0 || r.proxyRequests("challenge") != 0 {
			t.Error("an unanswered request was counted as answered")
		}
	}
	// The mute upstream got the request and its retransmissions, all the
	// same packet.
	buf := make([]byte, 4096)
	var first []byte
	for i := range upstreamTries {
		mute.SetReadDeadline(time.Now().Add(time.Second))
		n, err := mute.Read(buf)
		if err != nil {
			t.Fatalf("the upstream got %d tries, want %d", i, upstreamTries)
		}
		if first == nil {
			first = append([]byte(nil), buf[:n]...)
		} else if !bytes.Equal(first, buf[:n]) {
			t.Error("a retransmission differs from the first try")
		}
	}
}

// A FreeRADIUS that does not sign its replies (3.2.1 as configured by
// default) is not trusted: a Blast-RADIUS forger could turn its Reject
// into an Accept. The gateway gets no answer and the operator a reason.
func TestProxyUpstreamWithoutMessageAuthenticator(t *testing.T) {
	saved := upstreamTry
	upstreamTry = 300 * time.Millisecond
	t.Cleanup(func() { upstreamTry = saved })
	fr := startFreeRADIUS(t, false)
	r := proxyRig(t, fr.addr)
	r.enrollDirUser()
	if _, err := r.exchange(ask{user: dirUser, password: dirPassword, extra: gatewayAttrs}.build(), nil); err != errNoReply {
		t.Fatalf("got a reply (%v), want none", err)
	}
	waitUntil(t, func() bool { return r.dropped("vpn", dropUpstreamUnauthentic) == 1 })
	if !strings.Contains(fr.output(t), "Sent Access-Accept") {
		t.Error("the upstream did not accept the password; the test proves nothing")
	}
	if !r.outboxEmpty() {
		t.Error("an unauthentic Accept started a challenge")
	}
}

// An upstream secret that differs from the upstream's: its replies fail
// the Response Authenticator check.
func TestProxyWrongUpstreamSecret(t *testing.T) {
	saved := upstreamTry
	upstreamTry = 300 * time.Millisecond
	t.Cleanup(func() { upstreamTry = saved })
	fr := startFreeRADIUS(t, true)
	r := newRig(t, func(c *config.Radius) {
		c.Clients[0].Mode = config.RadiusProxy
		c.Clients[0].Upstream = fr.addr
		c.Clients[0].UpstreamSecret = []byte("another-secret-of-enough-length")
	})
	r.enrollDirUser()
	if _, err := r.exchange(ask{user: dirUser, password: dirPassword, extra: gatewayAttrs}.build(), nil); err != errNoReply {
		t.Fatalf("got a reply (%v), want none", err)
	}
	// FreeRADIUS drops a request whose Message-Authenticator fails with
	// its secret, so nothing comes back at all.
	waitUntil(t, func() bool {
		return r.dropped("vpn", dropUpstreamUnreachable)+r.dropped("vpn", dropUpstreamUnauthentic) == 1
	})
	if !r.outboxEmpty() {
		t.Error("a request the upstream could not check started a challenge")
	}
}
