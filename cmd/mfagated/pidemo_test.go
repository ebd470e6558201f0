package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The privacyIDEA-compatible validate API of mfagated -demo, driven as the
// identity-provider plugins written for privacyIDEA drive privacyIDEA
// (privacyidea-pam, the Keycloak provider's Java client, the SimpleSAMLphp
// module's PHP client, FreeRADIUS): their request encodings and
// User-Agents, and the answers they read, as privacyIDEA documents them.
// Every response's signature is checked afterwards by a Python verifier
// (testdata/pi_verify.py) against the published key.
//
// The users are set up through the /v1 API, then the daemon is restarted
// on the same state with its clock moved past the demo's activation delay
// (MFAGATED_E2E_CLOCK_OFFSET), so that their MFA is active without the
// test waiting a minute. TOTP codes are computed for the daemon's clock.
func TestPrivacyIDEADemo(t *testing.T) {
	d := newPIDemo(t)
	d.start()

	// ---- users, set up as the setup guide says, before MFA is active ----
	const (
		uTOTP  = "0123460001" // an authenticator app
		uSMS   = "0123460002" // an SMS phone
		uMulti = "0123460003" // an SMS phone (default) and an authenticator app
		uVoice = "0123460004" // a phone called with number matching
		uTrig  = "0123460005" // an authenticator app, for /validate/triggerchallenge
		uOff   = "0123460006" // an authenticator app, MFA never applied
		uNever = "0123469999" // never seen
		nSMS   = "090-4600-0002"
		nMulti = "090-4600-0003"
		nVoice = "03-4600-0004"
	)
	totpID, totpSecret := d.addTOTP(uTOTP)
	d.testSignin(uTOTP, totpID, totpSecret)
	d.apply(uTOTP)

	smsID := d.addSMS(uSMS, nSMS)
	d.testSigninSMS(uSMS, smsID, nSMS)
	d.apply(uSMS)

	multiSMS := d.addSMS(uMulti, nMulti)
	multiTOTP, multiSecret := d.addTOTP(uMulti)
	d.testSignin(uMulti, multiTOTP, multiSecret)
	d.apply(uMulti)

	voiceID := d.addVoice(uVoice, nVoice)
	d.apply(uVoice)

	trigID, trigSecret := d.addTOTP(uTrig)
	d.testSignin(uTrig, trigID, trigSecret)
	d.apply(uTrig)

	_, offSecret := d.addTOTP(uOff)

	// ---- the daemon again, its clock past the activation delay ----
	d.restart(piClockOffset)
	for _, u := range []string{uTOTP, uSMS, uMulti, uVoice, uTrig} {
		var v struct{ MFA struct{ State string } }
		if c := d.call("GET", "/v1/users/"+u, "", &v); c != 200 || v.MFA.State != "active" {
			t.Fatalf("user %s after the activation delay: HTTP %d, MFA %q, want active", u, c, v.MFA.State)
		}
	}
	pw, err := os.ReadFile(filepath.Join(d.dir, "privacyidea.password"))
	if err != nil {
		t.Fatalf("the demo's service account password: %v", err)
	}
	password := strings.TrimSpace(string(pw))
	pi := &piClient{t: t, base: d.base, c: &http.Client{Timeout: 20 * time.Second}}

	t.Run("TOTP", func(t *testing.T) {
		pi := pi.with(t)
		code := totpAt(totpSecret, 0)
		// SimpleSAMLphp posts multipart/form-data.
		r := pi.check(pluginSSP, "user", uTOTP, "pass", code)
		r.auth(true, "ACCEPT")
		if r.Detail.Message != "matching 1 tokens" || r.Detail.Serial != totpID || r.Detail.Type != "totp" {
			t.Errorf("ACCEPT detail: message %q serial %q type %q, want \"matching 1 tokens\", %s, totp", r.Detail.Message, r.Detail.Serial, r.Detail.Type, totpID)
		}
		// The same code again, from privacyidea-pam: a replay.
		pi.check(pluginPAM, "user", uTOTP, "pass", code).auth(false, "REJECT")
		// The next time step's code as a JSON body, with a nonce the
		// response must echo under its signature.
		nonce := randomHex(16)
		r = pi.check(pluginScript, "user", uTOTP, "pass", totpAt(totpSecret, 1), "nonce", nonce)
		r.auth(true, "ACCEPT")
		if r.Nonce != nonce {
			t.Errorf("nonce %q echoed as %q", nonce, r.Nonce)
		}
		pi.tamper(r.Raw, `"nonce": "`+nonce+`"`, `"nonce": "`+randomHex(16)+`"`)
		pi.tamper(r.Raw, `"value": true`, `"value": false`)
	})

	t.Run("SMS", func(t *testing.T) {
		pi := pi.with(t)
		before := d.messages(nSMS)
		r := pi.check(pluginPAM, "user", uSMS, "pass", "")
		r.auth(false, "CHALLENGE")
		tid := r.challengeShape()
		sms := r.entry("sms")
		if sms.ClientMode != "interactive" || sms.Serial != smsID {
			t.Errorf("sms entry: client_mode %q serial %q, want interactive, %s", sms.ClientMode, sms.Serial, smsID)
		}
		checkMasked(t, sms.Message, nSMS)
		checkMasked(t, r.Detail.Message, nSMS)
		if r.Detail.PreferredClientMode != "interactive" {
			t.Errorf("preferred_client_mode %q, want interactive", r.Detail.PreferredClientMode)
		}
		code := d.nextCode(nSMS, before)
		wrong := otherCode(code)
		r = pi.check(pluginPAM, "user", uSMS, "pass", wrong, "transaction_id", tid)
		r.auth(false, "REJECT")
		if !regexp.MustCompile(`(?i)attempt`).MatchString(r.Detail.Message) || !regexp.MustCompile(`\d`).MatchString(r.Detail.Message) {
			t.Errorf("a wrong code's REJECT says %q, want the attempts left", r.Detail.Message)
		}
		// Another user with this transaction and its right code: refused,
		// and the transaction is still the SMS user's.
		pi.check(pluginPAM, "user", uTOTP, "pass", code, "transaction_id", tid).auth(false, "REJECT")
		r = pi.check(pluginPAM, "user", uSMS, "pass", code, "transaction_id", tid)
		r.auth(true, "ACCEPT")
		if r.Detail.Message != "Found matching challenge" || r.Detail.Serial != smsID {
			t.Errorf("answered challenge: message %q serial %q, want \"Found matching challenge\", %s", r.Detail.Message, r.Detail.Serial, smsID)
		}
		pi.check(pluginPAM, "user", uSMS, "pass", code, "transaction_id", tid).auth(false, "REJECT")
	})

	t.Run("multi_challenge", func(t *testing.T) {
		pi := pi.with(t)
		before := d.messages(nMulti)
		r := pi.check(pluginSSP, "user", uMulti, "pass", "")
		r.auth(false, "CHALLENGE")
		tid := r.challengeShape()
		if len(r.Detail.MultiChallenge) != 2 {
			t.Fatalf("multi_challenge has %d entries, want the SMS phone and the app: %s", len(r.Detail.MultiChallenge), r.Raw)
		}
		sms, app := r.entry("sms"), r.entry("totp")
		if sms.Serial != multiSMS || app.Serial != multiTOTP || app.ClientMode != "interactive" || sms.ClientMode != "interactive" {
			t.Errorf("entries: sms %+v, totp %+v; want serials %s and %s, both interactive", sms, app, multiSMS, multiTOTP)
		}
		if r.Detail.PreferredClientMode != "interactive" {
			t.Errorf("preferred_client_mode %q, want interactive", r.Detail.PreferredClientMode)
		}
		if len(r.Detail.Messages) != 2 {
			t.Errorf("messages %q, want one per entry", r.Detail.Messages)
		}
		d.nextCode(nMulti, before) // the SMS was sent
		// Keycloak answers the SMS transaction with the app's code.
		r = pi.check(pluginKeycloak, "user", uMulti, "pass", totpAt(multiSecret, 0), "transaction_id", tid)
		r.auth(true, "ACCEPT")
		if r.Detail.Message != "Found matching challenge" || r.Detail.Serial != multiTOTP {
			t.Errorf("answered by the app: message %q serial %q, want \"Found matching challenge\", %s", r.Detail.Message, r.Detail.Serial, multiTOTP)
		}
		if n := len(d.messages(nMulti)); n != len(before)+1 {
			t.Errorf("the handset got %d messages for one challenge", n-len(before))
		}
		// FreeRADIUS: the trigger word asks for a challenge, the RADIUS
		// State comes back as "state".
		r = pi.check(pluginFR, "user", uMulti, "pass", "push")
		r.auth(false, "CHALLENGE")
		tid2 := r.challengeShape()
		if tid2 == tid {
			t.Errorf("a new challenge reuses the transaction id %q", tid)
		}
		pi.check(pluginFR, "user", uMulti, "pass", totpAt(multiSecret, 1), "state", tid2).auth(true, "ACCEPT")
	})

	t.Run("voice", func(t *testing.T) {
		pi := pi.with(t)
		r := pi.check(pluginKeycloak, "user", uVoice, "pass", "")
		r.auth(false, "CHALLENGE")
		tid := r.challengeShape()
		push := r.entry("push")
		if push.ClientMode != "poll" || push.Serial != voiceID {
			t.Errorf("voice entry: client_mode %q serial %q, want poll, %s", push.ClientMode, push.Serial, voiceID)
		}
		if r.Detail.PreferredClientMode != "poll" {
			t.Errorf("preferred_client_mode %q, want poll", r.Detail.PreferredClientMode)
		}
		m := numberMatchRE.FindStringSubmatch(push.Message)
		if m == nil {
			t.Fatalf("the voice challenge's message %q does not say the two digits to key, then #", push.Message)
		}
		checkMasked(t, push.Message, nVoice)
		p := pi.poll(tid)
		p.poll(false, "pending", "REJECT")
		// Not confirmed yet: an empty pass is no answer.
		pi.check(pluginKeycloak, "user", uVoice, "pass", "", "transaction_id", tid).auth(false, "REJECT")
		d.pressKeys(nVoice, m[1]+"#")
		deadline := time.Now().Add(30 * time.Second)
		for {
			p = pi.poll(tid)
			if p.value() {
				break
			}
			if p.Detail.ChallengeStatus != "pending" || time.Now().After(deadline) {
				t.Fatalf("after keying the digits, polltransaction says %s", p.Raw)
			}
			time.Sleep(300 * time.Millisecond) // the Keycloak poller's interval
		}
		p.poll(true, "accept", "ACCEPT")
		r = pi.check(pluginKeycloak, "user", uVoice, "pass", "", "transaction_id", tid)
		r.auth(true, "ACCEPT")
		if r.Detail.Message != "Found matching challenge" || r.Detail.Serial != voiceID {
			t.Errorf("finalised: message %q serial %q, want \"Found matching challenge\", %s", r.Detail.Message, r.Detail.Serial, voiceID)
		}
		pi.check(pluginKeycloak, "user", uVoice, "pass", "", "transaction_id", tid).auth(false, "REJECT")
		if p := pi.poll(tid); p.value() {
			t.Errorf("a finalised transaction still polls as accepted: %s", p.Raw)
		}
	})

	t.Run("auth and triggerchallenge", func(t *testing.T) {
		pi := pi.with(t)
		r := pi.do("POST", "/auth", pluginKeycloak, nil, "username", "demo-idp", "password", password)
		if r.HTTP != 200 || !r.Result.Status || r.Result.Authentication != "ACCEPT" || r.ID != 2 {
			t.Fatalf("/auth: HTTP %d %s", r.HTTP, r.Raw)
		}
		var v struct {
			Token, Role, Username string
			Rights                []string
		}
		if err := json.Unmarshal(r.Result.Value, &v); err != nil || v.Token == "" {
			t.Fatalf("/auth result.value: %v %s", err, r.Result.Value)
		}
		if v.Role != "admin" || v.Username != "demo-idp" || !slices.Contains(v.Rights, "triggerchallenge") {
			t.Errorf("/auth result.value: %+v", v)
		}
		checkJavaJWT(t, v.Token)

		// The Java client's header: the raw token, no "Bearer".
		r = pi.do("POST", "/validate/triggerchallenge", pluginKeycloak, map[string]string{"Authorization": v.Token}, "user", uTrig)
		if r.HTTP != 200 || r.ID != 2 || !r.Result.Status || r.Result.Authentication != "CHALLENGE" {
			t.Fatalf("triggerchallenge: HTTP %d %s", r.HTTP, r.Raw)
		}
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(r.Result.Value))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil || !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(n.String()) {
			t.Errorf("triggerchallenge result.value %s, want the number of challenges (an integer ≥ 1)", r.Result.Value)
		}
		tid := r.challengeShape()
		if e := r.entry("totp"); e.Serial != trigID || e.ClientMode != "interactive" {
			t.Errorf("triggered entry %+v, want the app %s, interactive", e, trigID)
		}
		pi.check(pluginKeycloak, "user", uTrig, "pass", totpAt(trigSecret, 0), "transaction_id", tid).auth(true, "ACCEPT")
		// privacyIDEA's own header name works too.
		r = pi.do("GET", "/validate/triggerchallenge", pluginKeycloak, map[string]string{"PI-Authorization": v.Token}, "user", uTrig)
		if r.HTTP != 200 || r.Result.Authentication != "CHALLENGE" {
			t.Errorf("triggerchallenge with PI-Authorization: HTTP %d %s", r.HTTP, r.Raw)
		}

		r = pi.do("POST", "/validate/triggerchallenge", pluginKeycloak, nil, "user", uTrig)
		r.fails(401, 4033)
		if r.Result.Error.Message != "Authentication failure. Missing Authorization header." {
			t.Errorf("no header: message %q", r.Result.Error.Message)
		}
		forged := strings.Join(strings.Split(v.Token, ".")[:2], ".") + "." + base64.RawURLEncoding.EncodeToString([]byte("not the signature"))
		pi.do("POST", "/validate/triggerchallenge", pluginKeycloak, map[string]string{"Authorization": forged}, "user", uTrig).fails(401, 4304)
		r = pi.do("POST", "/auth", pluginKeycloak, nil, "username", "demo-idp", "password", password+"x")
		r.fails(401, 4031)
		if r.Result.Error.Message != "Authentication failure. Wrong credentials" {
			t.Errorf("wrong password: message %q", r.Result.Error.Message)
		}
		// privacyIDEA reads the header's value as the token itself
		// (get_auth_token_from_request); "Bearer …" does not decode.
		pi.do("POST", "/validate/triggerchallenge", pluginKeycloak, map[string]string{"Authorization": "Bearer " + v.Token}, "user", uTrig).fails(401, 4304)
	})

	t.Run("bad input", func(t *testing.T) {
		pi := pi.with(t)
		before := d.messages(nSMS)
		r := pi.check(pluginPAM, "user", uSMS, "user", uSMS, "pass", "")
		r.fails(400, 905)
		r = pi.check(pluginPAM, "pass", totpAt(totpSecret, 1))
		r.fails(400, 905)
		if !strings.HasPrefix(r.Result.Error.Message, "ERR905: ") {
			t.Errorf("missing user: message %q, want privacyIDEA's \"ERR905: …\"", r.Result.Error.Message)
		}
		r = pi.check(pluginPAM, "user", "alice", "pass", "")
		r.fails(400, 904)
		if !strings.HasPrefix(r.Result.Error.Message, "ERR904: ") {
			t.Errorf("a user that is no user ID: message %q, want privacyIDEA's \"ERR904: …\"", r.Result.Error.Message)
		}
		pi.do("GET", "/validate/polltransaction", pluginPAM, nil).fails(400, 905)
		// A transaction that is not the user's: refused, nothing started.
		pi.check(pluginPAM, "user", uSMS, "pass", totpAt(totpSecret, 1), "transaction_id", "no-such-transaction").auth(false, "REJECT")
		time.Sleep(time.Second) // the demo's SMS latency is 200 ms
		if after := d.messages(nSMS); len(after) != len(before) {
			t.Errorf("bad requests sent %d SMS", len(after)-len(before))
		}
	})

	t.Run("mfa off", func(t *testing.T) {
		pi := pi.with(t)
		var msgs []string
		for _, u := range []string{uOff, uNever} {
			r := pi.check(pluginPAM, "user", u, "pass", totpAt(offSecret, 0))
			r.auth(false, "REJECT")
			if !strings.Contains(r.Detail.Message, "no tokens") {
				t.Errorf("user %s: detail.message %q, want privacyIDEA's \"The user has no tokens assigned\"", u, r.Detail.Message)
			}
			msgs = append(msgs, r.Detail.Message)
			pi.check(pluginPAM, "user", u, "pass", "").auth(false, "REJECT")
		}
		if msgs[0] != msgs[1] {
			t.Errorf("a user without MFA and an unknown user are told apart: %q, %q", msgs[0], msgs[1])
		}
	})

	pi.verifySignatures()
}

// piClockOffset moves the restarted daemon's clock past the demo's
// one-minute activation delay.
const piClockOffset = 90 * time.Second

// totpAt is the app's code for the restarted daemon's time step plus steps.
func totpAt(secret string, steps int) string {
	return totpFor(secret, time.Now().Add(piClockOffset+time.Duration(steps)*30*time.Second))
}

// numberMatchRE finds the two digits a voice challenge asks to key, then #.
var numberMatchRE = regexp.MustCompile(`\b(\d{2})\b[^\d]*#`)

// checkMasked checks that a message names the phone by its last digits
// only.
func checkMasked(t *testing.T, msg, number string) {
	t.Helper()
	digits := strings.ReplaceAll(number, "-", "")
	middle := strings.Split(number, "-")[1]
	if !strings.Contains(msg, digits[len(digits)-4:]) || strings.Contains(msg, middle) || strings.Contains(msg, digits) || !strings.Contains(msg, "*") {
		t.Errorf("message %q should name %s masked, by its last 4 digits", msg, number)
	}
}

func otherCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// checkJavaJWT checks the token the way privacyIDEA's Java client reads it
// (JSONParser.getJWT): three parts, the payload decoded with Java's
// standard (not URL-safe) Base64 decoder, with an exp claim about an hour
// ahead of the daemon's clock.
func checkJavaJWT(t *testing.T, tok string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("the /auth token is not a JWT: %d parts", len(parts))
	}
	raw, err := base64.StdEncoding.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		t.Fatalf("the Java client cannot decode the token's payload with the standard Base64 decoder: %v", err)
	}
	var claims struct{ Exp float64 }
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Exp == 0 {
		t.Fatalf("the token's payload has no exp: %v %s", err, raw)
	}
	left := time.Until(time.Unix(int64(claims.Exp), 0).Add(-piClockOffset))
	if left < 55*time.Minute || left > 61*time.Minute {
		t.Errorf("the token expires in %s, want about an hour", left)
	}
}

// ---- the daemon ----

// piDemo is mfagated -demo on a loopback TCP port (the privacyIDEA routes
// answer only allowed networks), restartable on its state directory.
type piDemo struct {
	*gateway
	addr, base string
	cmd        *exec.Cmd
	banner     string // what the last start printed
}

func newPIDemo(t *testing.T) *piDemo {
	t.Helper()
	bin, addr := binariesAndPort(t)
	d := &piDemo{addr: addr, base: "http://" + addr}
	d.gateway = &gateway{t: t, bin: bin, dir: t.TempDir()}
	// The /v1 helpers address "http://mfagate"; every connection goes to
	// the daemon's port.
	d.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}}}
	return d
}

func (d *piDemo) start(env ...string) {
	t := d.t
	t.Helper()
	cmd := exec.Command(filepath.Join(d.bin, "mfagated"), "-demo", "-state-dir", d.dir, "-listen", d.addr,
		"-log-level", "warn", "-sim-sms-latency", "200ms", "-sim-answer-after", "300ms")
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(stdout)
	banner := readUntil(t, br, "Stop it with Ctrl-C")
	go io.Copy(io.Discard, br)
	d.cmd, d.banner = cmd, banner
	_, port, _ := net.SplitHostPort(d.addr)
	announced := false
	for _, line := range strings.Split(banner, "\n") {
		announced = announced || strings.Contains(line, "privacyIDEA") && strings.Contains(line, ":"+port)
	}
	if !announced {
		t.Fatalf("the demo does not announce its privacyIDEA-compatible API:\n%s", banner)
	}
	tok, _ := os.ReadFile(filepath.Join(d.dir, "admin.token"))
	d.token = strings.TrimSpace(string(tok))
}

// restart stops the daemon and starts it again on the same state with its
// clock ahead by offset.
func (d *piDemo) restart(offset time.Duration) {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d.start("MFAGATED_E2E_CLOCK_OFFSET=" + offset.String())
}

func (d *piDemo) ok(code, want int, what string) {
	d.t.Helper()
	if code != want {
		d.t.Fatalf("%s: HTTP %d, want %d", what, code, want)
	}
}

type addedMethod struct {
	Method struct{ ID string }
	TOTP   struct{ Secret string }
}

// addTOTP registers and confirms an authenticator app (with the previous
// time step's code, so that later steps are fresh).
func (d *piDemo) addTOTP(user string) (string, string) {
	var a addedMethod
	d.ok(d.call("POST", "/v1/users/"+user+"/methods", `{"kind":"totp"}`, &a), 201, "add totp for "+user)
	d.ok(d.call("POST", "/v1/users/"+user+"/methods/"+a.Method.ID+"/confirm", `{"code":"`+totpFor(a.TOTP.Secret, time.Now().Add(-30*time.Second))+`"}`, nil), 200, "confirm totp for "+user)
	return a.Method.ID, a.TOTP.Secret
}

func (d *piDemo) testSignin(user, method, secret string) {
	var ch struct{ ID string }
	d.ok(d.call("POST", "/v1/users/"+user+"/challenges", `{"purpose":"test","method":"`+method+`"}`, &ch), 201, "test sign-in of "+user)
	d.ok(d.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+totpNow(secret)+`"}`, nil), 200, "verify the test sign-in of "+user)
}

func (d *piDemo) addSMS(user, number string) string {
	var a addedMethod
	before := d.messages(number)
	d.ok(d.call("POST", "/v1/users/"+user+"/methods", `{"kind":"phone","slot":"mobile","phone":"`+number+`","channel":"sms","language":"en"}`, &a), 201, "add an SMS phone for "+user)
	d.ok(d.call("POST", "/v1/users/"+user+"/methods/"+a.Method.ID+"/confirm", `{"code":"`+d.nextCode(number, before)+`"}`, nil), 200, "confirm the SMS phone of "+user)
	return a.Method.ID
}

func (d *piDemo) testSigninSMS(user, method, number string) {
	var ch struct{ ID string }
	before := d.messages(number)
	d.ok(d.call("POST", "/v1/users/"+user+"/challenges", `{"purpose":"test","method":"`+method+`"}`, &ch), 201, "test sign-in of "+user)
	d.ok(d.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+d.nextCode(number, before)+`"}`, nil), 200, "verify the test sign-in of "+user)
}

// addVoice registers a phone called with number matching, confirms it by
// a call and signs in once the same way.
func (d *piDemo) addVoice(user, number string) string {
	var a struct {
		Method    struct{ ID string }
		Challenge struct {
			ID          string
			NumberMatch string `json:"number_match"`
		}
	}
	d.ok(d.call("POST", "/v1/users/"+user+"/methods", `{"kind":"phone","slot":"office","phone":"`+number+`","channel":"voice","language":"en"}`, &a), 201, "add a voice phone for "+user)
	d.answerCall(a.Challenge.ID, number, a.Challenge.NumberMatch)
	d.ok(d.call("POST", "/v1/users/"+user+"/methods/"+a.Method.ID+"/confirm", `{"challenge":"`+a.Challenge.ID+`"}`, nil), 200, "confirm the voice phone of "+user)
	var ch struct {
		ID          string
		NumberMatch string `json:"number_match"`
	}
	d.ok(d.call("POST", "/v1/users/"+user+"/challenges", `{"purpose":"test"}`, &ch), 201, "test sign-in of "+user)
	d.answerCall(ch.ID, number, ch.NumberMatch)
	return a.Method.ID
}

func (d *piDemo) answerCall(challenge, number, match string) {
	d.t.Helper()
	if len(match) != 2 {
		d.t.Fatalf("voice challenge %s has no number to match: %q", challenge, match)
	}
	d.waitChallenge(challenge, "answered")
	d.pressKeys(number, match+"#")
	d.waitChallenge(challenge, "approved")
}

// pressKeys keys digits on the demo handset once its call is up.
func (d *piDemo) pressKeys(number, digits string) {
	d.t.Helper()
	waitFor(d.t, "the call at "+number+" to take the keys", 20*time.Second, func() bool {
		return d.call("POST", "/v1/demo/phones/"+number+"/keys", `{"digits":"`+digits+`"}`, nil) == 204
	})
}

func (d *piDemo) apply(user string) {
	var v struct{ MFA struct{ State string } }
	d.ok(d.call("PUT", "/v1/users/"+user+"/mfa", `{"enabled":true}`, &v), 200, "apply for MFA for "+user)
	if v.MFA.State != "pending" {
		d.t.Fatalf("%s applied: MFA %q, want pending", user, v.MFA.State)
	}
}

// messages lists the demo handset's SMS.
func (d *piDemo) messages(number string) []string {
	var msgs []struct{ Text string }
	d.call("GET", "/v1/demo/phones/"+number+"/messages", "", &msgs)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

// nextCode waits for an SMS after before and returns its code.
func (d *piDemo) nextCode(number string, before []string) string {
	d.t.Helper()
	var msgs []string
	waitFor(d.t, "an SMS at "+number, 20*time.Second, func() bool {
		msgs = d.messages(number)
		return len(msgs) > len(before)
	})
	code := codeRE.FindString(msgs[len(before)])
	if code == "" {
		d.t.Fatalf("no code in the SMS %q", msgs[len(before)])
	}
	return code
}

// ---- a privacyIDEA client, as the plugins are ----

// piPlugin is how one plugin sends its requests.
type piPlugin struct {
	userAgent string
	encoding  string // "form", "form-twice" (values URL-encoded before the form encoding), "multipart" or "json"
}

var (
	// privacyidea-pam: curl's default form encoding.
	pluginPAM = piPlugin{"PAM/1.1.0", "form"}
	// The Keycloak provider (privacyIDEA's Java client): okhttp FormBody of
	// values URLEncoder-encoded first.
	pluginKeycloak = piPlugin{"privacyIDEA-Keycloak/1.5.1 Keycloak/26.1.4", "form-twice"}
	// The SimpleSAMLphp module (PHP client): curl with an array, so
	// multipart/form-data.
	pluginSSP = piPlugin{"simpleSAMLphp", "multipart"}
	// FreeRADIUS's perl module: LWP's form post of pre-encoded values.
	pluginFR = piPlugin{"FreeRADIUS", "form-twice"}
	// A script posting JSON, which privacyIDEA reads as well.
	pluginScript = piPlugin{"python-requests/2.32.3", "json"}
)

type piClient struct {
	t    *testing.T
	base string
	c    *http.Client
	rec  *piRecord
}

// piRecord keeps every body received, and the tampered copies that must
// fail verification, for one run of the verifier.
type piRecord struct {
	mu       sync.Mutex
	bodies   []string
	tampered []string
}

func (p *piClient) with(t *testing.T) *piClient {
	if p.rec == nil {
		p.rec = &piRecord{}
	}
	return &piClient{t: t, base: p.base, c: p.c, rec: p.rec}
}

type piChallenge struct {
	TransactionID string `json:"transaction_id"`
	Serial        string
	Type          string
	ClientMode    string `json:"client_mode"`
	Message       string
	Attributes    json.RawMessage
}

type piResponse struct {
	t         *testing.T
	HTTP      int
	Raw       []byte
	top       map[string]json.RawMessage
	JSONRPC   string `json:"jsonrpc"`
	ID        int
	Version   string
	Nonce     string
	Signature string
	Result    struct {
		Status         bool
		Value          json.RawMessage
		Authentication string
		Error          struct {
			Code    int
			Message string
		}
	}
	Detail struct {
		Message             string
		Messages            []string
		Serial              string
		Type                string
		ClientMode          string        `json:"client_mode"`
		TransactionID       string        `json:"transaction_id"`
		TransactionIDs      []string      `json:"transaction_ids"`
		MultiChallenge      []piChallenge `json:"multi_challenge"`
		PreferredClientMode string        `json:"preferred_client_mode"`
		ChallengeStatus     string        `json:"challenge_status"`
	}
}

func (p *piClient) check(pl piPlugin, kv ...string) *piResponse {
	p.t.Helper()
	return p.do("POST", "/validate/check", pl, nil, kv...)
}

// poll is privacyidea-pam's GET of /validate/polltransaction.
func (p *piClient) poll(tid string) *piResponse {
	p.t.Helper()
	return p.do("GET", "/validate/polltransaction", pluginPAM, nil, "transaction_id", tid)
}

// do sends the parameters kv (name, value, name, value, …; a name may
// repeat) encoded as the plugin does, and checks the envelope every
// privacyIDEA response has.
func (p *piClient) do(method, path string, pl piPlugin, header map[string]string, kv ...string) *piResponse {
	t := p.t
	t.Helper()
	var body io.Reader
	contentType := ""
	u := p.base + path
	switch {
	case method == "GET":
		q := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			q.Add(kv[i], kv[i+1])
		}
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
	case pl.encoding == "json":
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		body, contentType = bytes.NewReader(b), "application/json"
	case pl.encoding == "multipart":
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for i := 0; i < len(kv); i += 2 {
			w.WriteField(kv[i], kv[i+1])
		}
		w.Close()
		body, contentType = &buf, w.FormDataContentType()
	default:
		var parts []string
		for i := 0; i < len(kv); i += 2 {
			v := kv[i+1]
			if pl.encoding == "form-twice" {
				v = url.QueryEscape(v)
			}
			parts = append(parts, url.QueryEscape(kv[i])+"="+url.QueryEscape(v))
		}
		body, contentType = strings.NewReader(strings.Join(parts, "&")), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", pl.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := p.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	r := &piResponse{t: t, HTTP: res.StatusCode, Raw: raw}
	if err := json.Unmarshal(raw, &r.top); err != nil {
		t.Fatalf("%s %s answered HTTP %d, not JSON: %v\n%s", method, path, res.StatusCode, err, raw)
	}
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
	}
	p.rec.mu.Lock()
	p.rec.bodies = append(p.rec.bodies, string(raw))
	p.rec.mu.Unlock()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var tm float64
	if r.JSONRPC != "2.0" || !strings.HasPrefix(r.Version, "privacyIDEA") || json.Unmarshal(r.top["time"], &tm) != nil || tm <= 0 {
		t.Errorf("%s %s: not privacyIDEA's envelope (jsonrpc, version, time): %s", method, path, raw)
	}
	if !strings.HasPrefix(r.Signature, "rsa_sha256_pss:") {
		t.Errorf("%s %s: signature %q, want rsa_sha256_pss:<hex>", method, path, r.Signature)
	}
	return r
}

// auth checks a /validate answer: HTTP 200, id 2, a JSON bool value.
func (r *piResponse) auth(value bool, authentication string) {
	r.t.Helper()
	if r.HTTP != 200 || r.ID != 2 || !r.Result.Status || r.Result.Authentication != authentication || r.value() != value {
		r.t.Fatalf("want HTTP 200, id 2, status true, value %v, authentication %s; got HTTP %d:\n%s", value, authentication, r.HTTP, r.Raw)
	}
}

// poll checks a /validate/polltransaction answer.
func (r *piResponse) poll(value bool, status, authentication string) {
	r.t.Helper()
	r.auth(value, authentication)
	if r.Detail.ChallengeStatus != status {
		r.t.Fatalf("challenge_status %q, want %q: %s", r.Detail.ChallengeStatus, status, r.Raw)
	}
}

// value is result.value, which must be a JSON bool (privacyidea-pam reads
// it with get<bool>()).
func (r *piResponse) value() bool {
	r.t.Helper()
	var v bool
	if err := json.Unmarshal(r.Result.Value, &v); err != nil {
		r.t.Fatalf("result.value %s is not a JSON bool: %s", r.Result.Value, r.Raw)
	}
	return v
}

// fails checks privacyIDEA's error envelope: status false, the error code,
// no result.value (the PHP client and PAM tell errors by its absence), a
// detail key, id 1.
func (r *piResponse) fails(httpStatus, code int) {
	r.t.Helper()
	var result map[string]json.RawMessage
	json.Unmarshal(r.top["result"], &result)
	_, hasValue := result["value"]
	_, hasDetail := r.top["detail"]
	if r.HTTP != httpStatus || r.Result.Status || r.Result.Error.Code != code || r.Result.Error.Message == "" || hasValue || r.ID != 1 {
		r.t.Fatalf("want HTTP %d, status false, error code %d with a message, no result.value, id 1; got HTTP %d:\n%s", httpStatus, code, r.HTTP, r.Raw)
	}
	if !hasDetail {
		r.t.Errorf("the error envelope has no \"detail\" key (privacyIDEA's send_error always has one): %s", r.Raw)
	}
}

// challengeShape checks what every plugin reads of a CHALLENGE and returns
// the transaction id.
func (r *piResponse) challengeShape() string {
	r.t.Helper()
	d := r.Detail
	if d.TransactionID == "" || len(d.MultiChallenge) == 0 || d.Message == "" || len(d.Messages) != len(d.MultiChallenge) {
		r.t.Fatalf("a CHALLENGE needs transaction_id, multi_challenge, message and one message per entry: %s", r.Raw)
	}
	if !slices.Contains(d.TransactionIDs, d.TransactionID) {
		r.t.Errorf("transaction_ids %q lack transaction_id %q", d.TransactionIDs, d.TransactionID)
	}
	for _, c := range d.MultiChallenge {
		if c.TransactionID != d.TransactionID || c.Serial == "" || c.Type == "" || c.ClientMode == "" || c.Message == "" {
			r.t.Errorf("multi_challenge entry %+v: every entry needs the transaction id %q, serial, type, client_mode and message", c, d.TransactionID)
		}
	}
	last := d.MultiChallenge[len(d.MultiChallenge)-1]
	if d.Serial != last.Serial || d.Type != last.Type || d.ClientMode != last.ClientMode {
		r.t.Errorf("detail's serial/type/client_mode (%s %s %s) are not the last entry's (%s %s %s)", d.Serial, d.Type, d.ClientMode, last.Serial, last.Type, last.ClientMode)
	}
	valid := map[string]bool{"interactive": true, "poll": true, "webauthn": true, "u2f": true}
	if !valid[d.PreferredClientMode] {
		r.t.Errorf("preferred_client_mode %q is none of privacyIDEA's", d.PreferredClientMode)
	}
	return d.TransactionID
}

// entry is the one multi_challenge entry of the type.
func (r *piResponse) entry(typ string) piChallenge {
	r.t.Helper()
	var found []piChallenge
	for _, c := range r.Detail.MultiChallenge {
		if c.Type == typ {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		r.t.Fatalf("%d multi_challenge entries of type %q, want 1: %s", len(found), typ, r.Raw)
	}
	return found[0]
}

// tamper records a copy of body with old replaced, which must not verify.
func (p *piClient) tamper(body []byte, old, new string) {
	p.t.Helper()
	if !bytes.Contains(body, []byte(old)) {
		p.t.Fatalf("%q is not in %s", old, body)
	}
	p.rec.tampered = append(p.rec.tampered, strings.Replace(string(body), old, new, 1))
}

// verifySignatures checks every body received, and the tampered copies,
// with testdata/pi_verify.py against the key the daemon publishes.
func (p *piClient) verifySignatures() {
	t := p.t
	t.Helper()
	res, err := p.c.Get(p.base + "/privacyidea/response-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.HasPrefix(pem, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("GET /privacyidea/response-key.pem: HTTP %d\n%s", res.StatusCode, pem)
	}
	if p.rec == nil || len(p.rec.bodies) == 0 {
		t.Fatal("no responses to verify")
	}
	if len(p.rec.tampered) == 0 {
		t.Error("no tampered copies: the verifier is not shown to fail")
	}
	dir := t.TempDir()
	keyFile, bodiesFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "bodies.jsonl")
	os.WriteFile(keyFile, pem, 0o600)
	lines := append(slices.Clone(p.rec.bodies), p.rec.tampered...)
	for i, l := range lines {
		if strings.Contains(l, "\n") {
			t.Fatalf("body %d spans lines", i+1)
		}
	}
	os.WriteFile(bodiesFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	out, err := exec.Command("python3", "testdata/pi_verify.py", keyFile, bodiesFile).CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run the verifier (make deps installs python3-cryptography): %v\n%s", err, out)
	}
	verdicts := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(verdicts) != len(lines) {
		t.Fatalf("the verifier judged %d of %d bodies:\n%s", len(verdicts), len(lines), out)
	}
	for i, v := range verdicts {
		tampered := i >= len(p.rec.bodies)
		switch {
		case !tampered && v != fmt.Sprintf("ok %d", i+1):
			t.Errorf("response %d: %s\n%s", i+1, v, lines[i])
		case tampered && !strings.HasPrefix(v, fmt.Sprintf("bad %d:", i+1)):
			t.Errorf("a tampered copy verifies (%s):\n%s", v, lines[i])
		}
	}
	t.Logf("%d signed responses verified, %d tampered copies refused", len(p.rec.bodies), len(p.rec.tampered))
}

// With [privacyidea] realm set, a request naming another realm (as
// user@realm or as realm) is answered as privacyIDEA answers a user it
// does not know: HTTP 400, error 904. The configured realm and no realm
// are served.
func TestPrivacyIDEARealm(t *testing.T) {
	bin, addr := binariesAndPort(t)
	g := &gateway{t: t, bin: bin, dir: t.TempDir()}
	os.WriteFile(filepath.Join(g.dir, "secret.key"), []byte(strings.Repeat("cd", 32)), 0o600)
	os.WriteFile(filepath.Join(g.dir, "mfagate.toml"), []byte(fmt.Sprintf(`[server]
listen = %q
[store]
path = "mfagate.db"
[secrets]
key_file = "secret.key"
[privacyidea]
realm = "campus"
response_key_file = "pi-response.pem"
`, addr)), 0o600)
	g.start()
	pi := (&piClient{t: t, base: "http://" + addr, c: &http.Client{Timeout: 20 * time.Second}}).with(t)

	const u = "0123461234" // unknown: privacyIDEA's "no tokens" answer when served
	var served []*piResponse
	for _, kv := range [][]string{
		{"user", u, "pass", "123456"},
		{"user", u + "@campus", "pass", "123456"},
		{"user", u, "realm", "campus", "pass", "123456"},
	} {
		r := pi.check(pluginPAM, kv...)
		r.auth(false, "REJECT")
		served = append(served, r)
	}
	for _, kv := range [][]string{
		{"user", u + "@elsewhere", "pass", "123456"},
		{"user", u, "realm", "elsewhere", "pass", "123456"},
		{"user", u + "@campus", "realm", "elsewhere", "pass", "123456"},
	} {
		r := pi.check(pluginKeycloak, kv...)
		r.fails(400, 904)
		if !strings.HasPrefix(r.Result.Error.Message, "ERR904: ") {
			t.Errorf("%v: message %q, want privacyIDEA's \"ERR904: …\"", kv, r.Result.Error.Message)
		}
	}
	pi.tamper(served[0].Raw, `"id": 2`, `"id": 1`)
	pi.verifySignatures()
}
