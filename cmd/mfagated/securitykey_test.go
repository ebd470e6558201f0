package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/keys-pub/go-libfido2"
)

// The demo's software key enrolled through the kiosk API, exported, and
// used for a browser-style sign-in whose WebAuthn response the test builds
// itself (clientDataJSON, authenticator data and signature from the key
// through libfido2), not with the gateway's helpers.
func TestDemoSecurityKey(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	g := &gateway{t: t, bin: bin, dir: state, sock: filepath.Join(state, "api.sock")}
	g.client = &http.Client{Timeout: 30 * time.Second, Transport: unixTransport(g.sock)}
	cmd := exec.Command(filepath.Join(bin, "mfagated"), "-demo", "-state-dir", state, "-listen", "unix:"+g.sock)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	readUntil(t, bufio.NewReader(stdout), "Stop it with Ctrl-C")
	tok, _ := os.ReadFile(filepath.Join(state, "admin.token"))
	g.token = strings.TrimSpace(string(tok))

	var devices []struct {
		Path   string
		PINSet bool `json:"pin_set"`
	}
	waitFor(t, "the software key at the kiosk", 15*time.Second, func() bool {
		devices = nil
		g.call("GET", "/v1/kiosk/devices", "", &devices)
		return len(devices) == 1
	})
	var sess struct{ ID, URL, State string }
	if c := g.call("POST", "/v1/kiosk/sessions", `{"user":"0123456789"}`, &sess); c != 201 || sess.URL != "/kiosk/"+sess.ID {
		t.Fatalf("open session: %d %+v", c, sess)
	}
	if c := g.call("POST", "/v1/kiosk/sessions/"+sess.ID+"/enroll", `{"device":"`+devices[0].Path+`","new_pin":"123"}`, nil); c != 202 {
		t.Fatalf("enroll: %d", c)
	}
	var got struct {
		State, Message string
		Method         struct{ ID, Kind string }
	}
	waitFor(t, "the short PIN refused", 15*time.Second, func() bool {
		g.call("GET", "/v1/kiosk/sessions/"+sess.ID, "", &got)
		return got.State == "need_pin"
	})
	if !strings.Contains(got.Message, "at least 6") {
		t.Fatalf("need_pin message %q", got.Message)
	}
	g.call("POST", "/v1/kiosk/sessions/"+sess.ID+"/enroll", `{"device":"`+devices[0].Path+`","new_pin":"482910","label":"Demo key"}`, nil)
	waitFor(t, "enrollment done", 20*time.Second, func() bool {
		g.call("GET", "/v1/kiosk/sessions/"+sess.ID, "", &got)
		return got.State == "done" || got.State == "failed"
	})
	if got.State != "done" || got.Method.Kind != "fido" {
		t.Fatalf("enrollment: %+v", got)
	}

	// The export is standard WebAuthn JSON.
	var reg struct {
		ID       string
		Response struct{ ClientDataJSON, AttestationObject string }
	}
	if c := g.call("GET", "/v1/users/0123456789/methods/"+got.Method.ID+"/credential", "", &reg); c != 200 || reg.ID == "" || reg.Response.AttestationObject == "" {
		t.Fatalf("export: %d %+v", c, reg)
	}
	credID, _ := base64.RawURLEncoding.DecodeString(reg.ID)

	// A security key cannot be the default.
	if c := g.call("PUT", "/v1/users/0123456789/default-method", `{"method":"`+got.Method.ID+`"}`, nil); c != 422 {
		t.Fatalf("fido as default: %d", c)
	}

	// Browser-style sign-in.
	var ch struct {
		ID       string
		WebAuthn struct {
			PublicKey struct {
				Challenge string
				RPID      string `json:"rpId"`
			} `json:"publicKey"`
		} `json:"webauthn"`
	}
	if c := g.call("POST", "/v1/users/0123456789/challenges", `{"method":"`+got.Method.ID+`","purpose":"test"}`, &ch); c != 201 || ch.WebAuthn.PublicKey.Challenge == "" {
		t.Fatalf("fido challenge: %d %+v", c, ch)
	}
	clientData := `{"type":"webauthn.get","challenge":"` + ch.WebAuthn.PublicKey.Challenge + `","origin":"http://localhost","crossOrigin":false}`
	hash := sha256.Sum256([]byte(clientData))
	dev, err := libfido2.NewDevice(devices[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	as, err := dev.Assertion(ch.WebAuthn.PublicKey.RPID, hash[:], [][]byte{credID}, "482910", &libfido2.AssertionOpts{UV: libfido2.True})
	if err != nil {
		t.Fatalf("assertion from the key: %v", err)
	}
	var authData []byte
	if err := cbor.Unmarshal(as.AuthDataCBOR, &authData); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	resp, _ := json.Marshal(map[string]any{
		"id": reg.ID, "rawId": reg.ID, "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64([]byte(clientData)), "authenticatorData": b64(authData), "signature": b64(as.Sig)},
	})
	var verified struct{ Status string }
	if c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"webauthn":`+string(resp)+`}`, &verified); c != 200 || verified.Status != "approved" {
		t.Fatalf("browser-style verify: %d %+v", c, verified)
	}
	// Replaying the same response is refused (the challenge is used up).
	if c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"webauthn":`+string(resp)+`}`, nil); c != 409 {
		t.Fatalf("replay: %d", c)
	}
}
