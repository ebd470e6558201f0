package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's demo phone flows: an SMS code read from the demo handset,
// a call confirmed by pressing the number to match through the demo API,
// a test sign-in by SMS, applying for MFA, and an operator's test SMS.
func TestDemoPhoneFlows(t *testing.T) {
	g := startDemo(t, "-sim-sms-latency", "200ms", "-sim-answer-after", "300ms")

	var modems []map[string]any
	waitFor(t, "both simulated modems up", 20*time.Second, func() bool {
		modems = nil
		g.call("GET", "/v1/modems", "", &modems)
		return len(modems) == 2 && modems[0]["state"] == "up" && modems[1]["state"] == "up"
	})

	const u = "/v1/users/0123456789"
	// SMS: the code arrives at the handset; confirm with it.
	var added struct {
		Method    struct{ ID string }
		Challenge struct {
			ID          string
			NumberMatch string `json:"number_match"`
		}
	}
	if code := g.call("POST", u+"/methods", `{"kind":"phone","slot":"mobile","phone":"090-1234-5678","channel":"sms","language":"en"}`, &added); code != 201 {
		t.Fatalf("register SMS phone: %d", code)
	}
	code := g.handsetCode("090-1234-5678", 1)
	if c := g.call("POST", u+"/methods/"+added.Method.ID+"/confirm", `{"code":"`+code+`"}`, nil); c != 200 {
		t.Fatalf("confirm with the handset's code: %d", c)
	}

	// Voice: the handset answers; press the number shown, then #.
	if c := g.call("POST", u+"/methods", `{"kind":"phone","slot":"office","phone":"03-1234-5678","channel":"voice","language":"en"}`, &added); c != 201 {
		t.Fatalf("register voice phone: %d", c)
	}
	if len(added.Challenge.NumberMatch) != 2 {
		t.Fatalf("voice challenge has no number to match: %+v", added)
	}
	g.waitChallenge(added.Challenge.ID, "answered")
	if c := g.call("POST", "/v1/demo/phones/03-1234-5678/keys", `{"digits":"`+added.Challenge.NumberMatch+`#"}`, nil); c != 204 {
		t.Fatalf("press keys: %d", c)
	}
	g.waitChallenge(added.Challenge.ID, "approved")
	if c := g.call("POST", u+"/methods/"+added.Method.ID+"/confirm", `{"challenge":"`+added.Challenge.ID+`"}`, nil); c != 200 {
		t.Fatalf("confirm voice phone: %d", c)
	}

	// Try signing in with the default (the SMS phone), then apply.
	var ch struct{ ID string }
	if c := g.call("POST", u+"/challenges", `{"purpose":"test"}`, &ch); c != 201 {
		t.Fatalf("test sign-in: %d", c)
	}
	code = g.handsetCode("090-1234-5678", 2)
	var verified struct{ Status string }
	if c := g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"`+code+`"}`, &verified); c != 200 || verified.Status != "approved" {
		t.Fatalf("verify: %d %+v", c, verified)
	}
	var user struct{ MFA struct{ State string } }
	if c := g.call("PUT", u+"/mfa", `{"enabled":true}`, &user); c != 200 || user.MFA.State != "pending" {
		t.Fatalf("apply: %d %+v", c, user)
	}

	// An operator's test SMS through one named modem.
	var j struct{ ID, State string }
	if c := g.call("POST", "/v1/modems/sim-simcom/test-sms", `{"to":"090-5555-0000","text":"hello from the operator"}`, &j); c != 202 || j.State != "queued" {
		t.Fatalf("test sms: %d %+v", c, j)
	}
	waitFor(t, "the test SMS at the handset", 15*time.Second, func() bool {
		var msgs []struct{ Text, Modem string }
		g.call("GET", "/v1/demo/phones/090-5555-0000/messages", "", &msgs)
		return len(msgs) == 1 && msgs[0].Text == "hello from the operator" && msgs[0].Modem == "359999000000002"
	})
	if c := g.call("POST", "/v1/modems/nope/test-sms", `{"to":"090-5555-0000"}`, nil); c != 404 {
		t.Fatalf("test sms to an unknown modem: %d", c)
	}

	// A wrong code, so that the failure counters have a series too.
	g.call("POST", u+"/challenges", `{"purpose":"test"}`, &ch)
	g.call("POST", "/v1/challenges/"+ch.ID+"/verify", `{"code":"000000"}`, nil)
	checkLiveMetrics(t, g)
}

// checkLiveMetrics lints the demo's /metrics with promtool and checks that
// every metric the shipped alert rules and dashboard use is exported.
func checkLiveMetrics(t *testing.T, g *gateway) {
	t.Helper()
	res, err := g.client.Get("http://mfagate/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if bin, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(bin, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics on the live demo: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed (make deps installs it); lint skipped")
	}
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllSubmatch(body, -1) {
		exported[string(m[1])] = true
	}
	for _, f := range []string{"../../monitoring/mfagate-alerts.yml", "../../monitoring/grafana-dashboard.json"} {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`mfagate_[a-z_]+`).FindAllString(string(text), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if !exported[name] && !exported[base] {
				t.Errorf("%s uses %s, which the gateway does not export", filepath.Base(f), name)
			}
		}
	}
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

// handsetCode waits for the n-th SMS at number and returns its code.
func (g *gateway) handsetCode(number string, n int) string {
	g.t.Helper()
	var msgs []struct{ Text string }
	waitFor(g.t, fmt.Sprintf("SMS %d at the handset", n), 20*time.Second, func() bool {
		msgs = nil
		g.call("GET", "/v1/demo/phones/"+number+"/messages", "", &msgs)
		return len(msgs) >= n
	})
	code := codeRE.FindString(msgs[n-1].Text)
	if code == "" {
		g.t.Fatalf("no code in %q", msgs[n-1].Text)
	}
	return code
}

func (g *gateway) waitChallenge(id, status string) {
	g.t.Helper()
	waitFor(g.t, "challenge "+status, 30*time.Second, func() bool {
		var c struct{ Status string }
		g.call("GET", "/v1/challenges/"+id+"?wait=5s", "", &c)
		return c.Status == status
	})
}
