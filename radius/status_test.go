package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mfagate/config"
)

// statusServer builds a Status-Server (RFC 5997 §3): code 12, a random
// Request Authenticator, and Message-Authenticator unless left out.
func statusServer(sec string, withMA bool) []byte {
	b := []byte{12, 77, 0, 20}
	ra := make([]byte, 16)
	rand.Read(ra)
	b = append(b, ra...)
	if withMA {
		b = append(b, attrMessageAuthen, 18)
		b = append(b, make([]byte, 16)...)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	if withMA {
		m := hmac.New(md5.New, []byte(sec))
		m.Write(b)
		copy(b[22:38], m.Sum(nil))
	}
	return b
}

func TestStatusServer(t *testing.T) {
	// Message-Authenticator is required of Status-Server even from a
	// client that may leave it out of its Access-Requests.
	r := newRig(t, func(c *config.Radius) { c.Clients[0].RequireMessageAuthenticator = false })
	a, err := r.exchange(statusServer(secret, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	// checkReply verified the Response Authenticator and the
	// Message-Authenticator, first.
	if a.code != codeAccessAccept || len(a.attrs) != 1 {
		t.Errorf("Status-Server answered with code %d and %v, want a bare Access-Accept", a.code, a.attrs)
	}
	if n := testutil.ToFloat64(r.metrics.RadiusRequestsCounter("vpn", "second_factor", "status")); n != 1 {
		t.Errorf("status requests counted %v, want 1", n)
	}
	if r.requests("accept") != 0 {
		t.Error("a Status-Server was counted as a sign-in accepted")
	}
	if _, err := r.exchange(statusServer(secret, false), nil); err != errNoReply {
		t.Errorf("a Status-Server without Message-Authenticator was answered (%v)", err)
	}
	if _, err := r.exchange(statusServer("another-secret-0123456789", true), nil); err != errNoReply {
		t.Errorf("a Status-Server signed with another secret was answered (%v)", err)
	}
	if r.dropped("vpn", dropNoMA) != 1 || r.dropped("vpn", dropBadMA) != 1 {
		t.Errorf("dropped no_message_authenticator %v bad_message_authenticator %v, want 1 and 1",
			r.dropped("vpn", dropNoMA), r.dropped("vpn", dropBadMA))
	}
	if !r.outboxEmpty() {
		t.Error("a Status-Server sent something")
	}
}

// radclient (freeradius-utils), an outside client, sees the server as up.
func TestStatusServerRadclient(t *testing.T) {
	bin, err := exec.LookPath("radclient")
	if err != nil {
		t.Skip("radclient is not installed (Debian package freeradius-utils; scripts/deps.sh installs it)")
	}
	r := newRig(t)
	cmd := exec.Command(bin, "-x", "-r", "1", "-t", "2", r.addr.String(), "status", secret)
	cmd.Stdin = strings.NewReader("Message-Authenticator = 0x00\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Received Access-Accept") {
		t.Fatalf("radclient status: %v\n%s", err, out)
	}
}
