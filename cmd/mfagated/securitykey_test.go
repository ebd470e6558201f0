package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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
	g := startDemo(t)

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
	// A PIN shorter than fido.min_pin_length is refused before the key is asked.
	var short struct {
		Code      string
		MinLength int `json:"min_length"`
	}
	if c := g.call("POST", "/v1/kiosk/sessions/"+sess.ID+"/enroll", `{"device":"`+devices[0].Path+`","new_pin":"123"}`, &short); c != 422 ||
		short.Code != "pin_too_short" || short.MinLength != 6 {
		t.Fatalf("enroll with a short PIN: %d %+v, want 422 pin_too_short with min_length 6", c, short)
	}
	var got struct {
		State, Message string
		Method         struct{ ID, Kind string }
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
	pubkey := checkWithFido2Cred(t, reg.ID, reg.Response.ClientDataJSON, reg.Response.AttestationObject)

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
	if pubkey != "" {
		// libfido2's own verifier accepts the assertion with the exported key,
		// and refuses it once a bit of the signature is flipped.
		in := strings.Join([]string{base64.StdEncoding.EncodeToString(hash[:]), ch.WebAuthn.PublicKey.RPID,
			base64.StdEncoding.EncodeToString(as.AuthDataCBOR), base64.StdEncoding.EncodeToString(as.Sig)}, "\n") + "\n"
		if out, err := fido2("fido2-assert", in, "-V", "-v", "-i", "-", pubkey, "es256"); err != nil {
			t.Fatalf("fido2-assert -V refused the assertion: %v\n%s", err, out)
		}
		bad := append([]byte(nil), as.Sig...)
		bad[len(bad)/2] ^= 1
		in = strings.Join([]string{base64.StdEncoding.EncodeToString(hash[:]), ch.WebAuthn.PublicKey.RPID,
			base64.StdEncoding.EncodeToString(as.AuthDataCBOR), base64.StdEncoding.EncodeToString(bad)}, "\n") + "\n"
		if _, err := fido2("fido2-assert", in, "-V", "-i", "-", pubkey, "es256"); err == nil {
			t.Fatal("fido2-assert -V accepted a corrupted signature")
		}
	}
	// Replaying the same response is refused (the challenge is used up).
	if c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"webauthn":`+string(resp)+`}`, nil); c != 409 {
		t.Fatalf("replay: %d", c)
	}
}

// checkWithFido2Cred verifies an exported registration with libfido2's
// fido2-cred -V (an independent verifier) and returns the path of the
// public key it wrote, or "" when fido2-tools is absent.
func checkWithFido2Cred(t *testing.T, id, clientDataB64, attObjB64 string) string {
	t.Helper()
	if _, err := exec.LookPath("fido2-cred"); err != nil {
		t.Log("fido2-cred not installed (make deps installs fido2-tools); skipping the outside check")
		return ""
	}
	clientData, err1 := base64.RawURLEncoding.DecodeString(clientDataB64)
	attObj, err2 := base64.RawURLEncoding.DecodeString(attObjB64)
	credID, err3 := base64.RawURLEncoding.DecodeString(id)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("export is not base64url: %v %v %v", err1, err2, err3)
	}
	var ao struct {
		Fmt      string `cbor:"fmt"`
		AuthData []byte `cbor:"authData"`
		AttStmt  struct {
			Sig []byte   `cbor:"sig"`
			X5C [][]byte `cbor:"x5c"`
		} `cbor:"attStmt"`
	}
	if err := cbor.Unmarshal(attObj, &ao); err != nil {
		t.Fatalf("exported attestationObject: %v", err)
	}
	wrapped, _ := cbor.Marshal(ao.AuthData)
	h := sha256.Sum256(clientData)
	b := base64.StdEncoding.EncodeToString
	lines := []string{b(h[:]), "localhost", ao.Fmt, b(wrapped), b(credID), b(ao.AttStmt.Sig)}
	if len(ao.AttStmt.X5C) > 0 {
		lines = append(lines, b(ao.AttStmt.X5C[0]))
	}
	out, err := fido2("fido2-cred", strings.Join(lines, "\n")+"\n", "-V", "-v", "-i", "-", "-o", "-")
	if err != nil {
		t.Fatalf("fido2-cred -V refused the exported registration: %v\n%s", err, out)
	}
	// Output: the credential ID, then the public key in PEM.
	first, pem, _ := strings.Cut(out, "\n")
	if strings.TrimSpace(first) != b(credID) || !strings.Contains(pem, "BEGIN PUBLIC KEY") {
		t.Fatalf("fido2-cred -V output:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "pubkey.pem")
	os.WriteFile(path, []byte(pem), 0o600)
	return path
}

func fido2(tool, stdin string, args ...string) (string, error) {
	cmd := exec.Command(tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
