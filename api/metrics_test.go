package api_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// The live /metrics output passes promtool's lint and carries the
// gateway's series, with no user IDs or numbers in it.
func TestMetricsPassPromtool(t *testing.T) {
	h := newHarness(t)
	_, secret := h.addTOTP()
	h.signin("test", secret)
	c := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{}`).str("id")
	h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"000001"}`), 422, "invalid_code")
	h.want(h.do("POST", "/v1/challenges/"+c+"/verify", tokIDP, `{"code":"12"}`), 422, "invalid_code_format")
	h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`)
	r := h.do("GET", "/metrics", "", "")
	h.want(r, 200, "")
	text := string(r.raw)
	for _, want := range []string{
		`mfagate_http_requests_total{code="201",route="POST /v1/users/{user}/methods"}`,
		`mfagate_challenges_created_total{channel="none",kind="totp"} 2`,
		`mfagate_challenges_finished_total{channel="none",kind="totp",result="approved"} 1`,
		`mfagate_challenges_created_total{channel="sms",kind="phone"} 1`,
		`mfagate_http_request_duration_seconds_bucket`,
		`mfagate_users{state="off"}`,
		// One wrong code; a malformed one is not a verification.
		`mfagate_verification_failures_total{channel="none",kind="totp"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{user, "9012345678", secret} {
		if strings.Contains(text, leak) {
			t.Errorf("metrics disclose %q", leak)
		}
	}
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make deps installs the prometheus package)")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(r.raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
