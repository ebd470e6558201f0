package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPAMRadius signs in as sshd does with pam_radius_auth in its auth
// stack, pamtester playing sshd's PAM conversation, with the SMS code from
// the demo handset. Debian 12's pam_radius_auth (2.0.0) sends no
// Message-Authenticator, which the demo's client demo-vpn requires (the
// Blast-RADIUS defence): what it sends is caught first, and when it has
// none its requests to demo-vpn must be dropped and counted, with no SMS
// sent; it then signs in as demo-ssh, the demo's client from 127.0.0.2
// that does not require one.
func testPAMRadius(t *testing.T, d *piDemo, addr, secret, user, number string) {
	pamtester := needTool(t, "pamtester", "pamtester")
	if _, err := pamModule("pam_radius_auth.so"); err != nil {
		t.Skip(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("PAM reads service files only from /etc/pam.d, which only root can write; run the test as root to drive pam_radius_auth with pamtester")
	}

	// What pam_radius_auth sends, caught on a socket of the test's.
	pc, conf := pamProbe(t, secret)
	svc := pamService(t, conf)
	done := make(chan string, 1)
	go func() {
		out, _ := pamRun(pamtester, svc, user, "push\n")
		done <- out
	}()
	b := readDatagram(t, pc)
	<-done
	sendsMA := attributeAt(b, 80) >= 0

	conf = pamConf(t, addr, secret)
	svc = pamService(t, conf)
	if !sendsMA {
		before, sms := radiusDropped(t, d.base, "no_message_authenticator"), d.messages(number)
		out, err := pamRun(pamtester, svc, user, "push\n")
		if err == nil || strings.Contains(out, "successfully authenticated") {
			t.Fatalf("pam_radius_auth without Message-Authenticator signed in:\n%s", out)
		}
		if !strings.Contains(out, "Authentication service cannot retrieve authentication info") {
			t.Errorf("pamtester's failure %q, want PAM_AUTHINFO_UNAVAIL (no RADIUS server answered)", out)
		}
		if after := radiusDropped(t, d.base, "no_message_authenticator"); after <= before {
			t.Errorf("no_message_authenticator drops stayed at %d after pam_radius_auth's requests", after)
		}
		time.Sleep(time.Second) // the demo's SMS latency is 200 ms
		if n := len(d.messages(number)) - len(sms); n != 0 {
			t.Errorf("a dropped request sent %d SMS", n)
		}
		t.Log("this pam_radius_auth sends no Message-Authenticator: demo-vpn drops its requests; signing in as demo-ssh")
		ssh, err := os.ReadFile(filepath.Join(d.dir, "radius-demo-ssh.secret"))
		if err != nil {
			t.Fatal(err)
		}
		conf = filepath.Join(t.TempDir(), "pam_radius_auth.conf")
		// server secret timeout source_ip: the requests come from 127.0.0.2.
		if err := os.WriteFile(conf, []byte(addr+" "+strings.TrimSpace(string(ssh))+" 3 127.0.0.2\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		svc = pamService(t, conf)
	}
	pamSignin(t, d, pamtester, svc, user, number)
}

// pamSignin answers pam_radius_auth's prompts: the trigger word as the
// password, then the SMS code at the challenge's prompt, which must name
// the phone masked. A wrong code fails.
func pamSignin(t *testing.T, d *piDemo, pamtester, svc, user, number string) {
	for _, right := range []bool{true, false} {
		before := d.messages(number)
		cmd := exec.Command(pamtester, svc, user, "authenticate")
		stdin, _ := cmd.StdinPipe()
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pam_radius_auth's password prompt", 10*time.Second, func() bool { return strings.Contains(out.String(), "Password: ") })
		fmt.Fprintln(stdin, "push")
		code := d.nextCode(number, before)
		waitFor(t, "the challenge's prompt", 10*time.Second, func() bool { return strings.Contains(out.String(), "****") })
		prompt := out.String()[strings.Index(out.String(), "Password: ")+len("Password: "):]
		checkMasked(t, prompt, number)
		if !right {
			code = otherCode(code)
		}
		fmt.Fprintln(stdin, code)
		stdin.Close()
		err := cmd.Wait()
		ok := strings.Contains(out.String(), "successfully authenticated")
		if right && (err != nil || !ok) {
			t.Fatalf("pamtester with the SMS code: %v\n%s", err, out)
		}
		if !right && (err == nil || ok) {
			t.Fatalf("pamtester with a wrong code signed in:\n%s", out)
		}
	}
}

// pamModule finds a PAM module in the multiarch directories.
func pamModule(name string) (string, error) {
	for _, pat := range []string{"/lib/*/security/", "/usr/lib/*/security/", "/lib/security/", "/usr/lib/security/"} {
		if m, _ := filepath.Glob(pat + name); len(m) > 0 {
			return m[0], nil
		}
	}
	return "", fmt.Errorf("%s is not installed (Debian package libpam-radius-auth; make deps installs it)", name)
}

// pamConf writes a pam_radius_auth configuration naming one server, 3 s
// timeout (its minimum).
func pamConf(t *testing.T, addr, secret string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "pam_radius_auth.conf")
	if err := os.WriteFile(conf, []byte(addr+" "+secret+" 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// pamProbe is a UDP socket of the test's and a configuration naming it.
func pamProbe(t *testing.T, secret string) (net.PacketConn, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc, pamConf(t, pc.LocalAddr().String(), secret)
}

// pamService writes /etc/pam.d/mfagate-test-<random> with pam_radius_auth
// as its only auth module, removed when the test ends.
func pamService(t *testing.T, conf string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "mfagate-test-" + hex.EncodeToString(b)
	path := filepath.Join("/etc/pam.d", name)
	// client_id names the NAS; pam_radius_auth waits at most its
	// timeout for each answer.
	line := "auth required pam_radius_auth.so conf=" + conf + " client_id=mfagate-test\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return name
}

// pamRun runs pamtester's authenticate with stdin and returns what it
// printed.
func pamRun(pamtester, svc, user, stdin string) (string, error) {
	cmd := exec.Command(pamtester, svc, user, "authenticate")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
