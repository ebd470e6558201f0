package api_test

import (
	"net/url"
	"strings"
	"testing"
)

// auditDetail is the detail of the newest event of type typ for the test
// user, read back through GET /v1/audit.
func auditDetail(t *testing.T, h *harness, typ string) (detail, actor string, found bool) {
	t.Helper()
	r := h.do("GET", "/v1/audit?user="+user, tokAdmin, "")
	h.want(r, 200, "")
	for _, e := range jsonArray(t, r.raw) {
		if e["type"] == typ {
			d, _ := e["detail"].(string)
			return d, e["actor"].(string), true
		}
	}
	return "", "", false
}

// Staff actions from the console must say why; the reason lands in the
// audit log, and a refused action changes nothing.
func TestStaffReasons(t *testing.T) {
	h := newHarness(t)
	app, secret := h.addTOTP()
	spare, _ := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	console := []string{"Mfagate-Console", "1"}
	methods := func() int {
		return len(h.do("GET", "/v1/users/"+user, tokIDP, "").body["methods"].([]any))
	}

	// Unlock takes its reason in the body (optional there).
	failures := func() float64 {
		return h.do("GET", "/v1/users/"+user, tokIDP, "").body["mfa"].(map[string]any)["consecutive_failures"].(float64)
	}
	ch := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{"purpose":"test"}`)
	h.want(ch, 201, "")
	h.want(h.do("POST", "/v1/challenges/"+ch.str("id")+"/verify", tokIDP, `{"code":"000000"}`), 422, "invalid_code")
	if failures() != 1 {
		t.Fatalf("a wrong code left %v failures", failures())
	}
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, `{"reason":"`+strings.Repeat("x", 201)+`"}`, console...), 400, "invalid_request")
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, `{"reason":"called from the desk","why":1}`), 400, "unknown_field")
	if failures() != 1 {
		t.Fatal("a refused unlock cleared the failures")
	}
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, `{"reason":"called from the desk"}`, console...), 200, "")
	if d, _, _ := auditDetail(t, h, "user_unlocked"); failures() != 0 || d != "reason: called from the desk; from: 127.0.0.1" {
		t.Fatalf("after unlock: %v failures, detail %q", failures(), d)
	}
	// The body stays optional.
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, ""), 200, "")

	// Removal from the console without a reason, or with too long a
	// one: refused, the method stays.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+spare, tokAdmin, "", console...), 400, "reason_required")
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+spare+"?reason=+++", tokAdmin, "", console...), 400, "reason_required")
	long := url.QueryEscape(strings.Repeat("あ", 201))
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+spare+"?reason="+long, tokAdmin, "", console...), 400, "invalid_request")
	if n := methods(); n != 2 {
		t.Fatalf("refused removals left %d methods, want 2", n)
	}
	if _, _, found := auditDetail(t, h, "method_removed"); found {
		t.Fatal("a refused removal was audited as method_removed")
	}
	// 200 characters are fine; control characters become spaces.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+spare+"?reason="+url.QueryEscape("lost phone\nat station"), tokAdmin, "", console...), 204, "")
	if d, a, _ := auditDetail(t, h, "method_removed"); d != "totp; reason: lost phone at station; from: 127.0.0.1" || a != "ops" {
		t.Fatalf("method_removed detail %q by %q", d, a)
	}
	// Without the console's header the reason stays optional (scripts).
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+app, tokAdmin, ""), 204, "")
	if d, _, _ := auditDetail(t, h, "method_removed"); d != "totp; from: 127.0.0.1" {
		t.Fatalf("removal without a reason: detail %q", d)
	}

	// Termination from the console needs a reason; enroll may not at all.
	h.want(h.do("DELETE", "/v1/users/"+user+"/mfa?reason=x", tokEnroll, "", console...), 403, "forbidden")
	r := h.do("DELETE", "/v1/users/"+user+"/mfa", tokAdmin, "", console...)
	h.want(r, 400, "reason_required")
	if !strings.Contains(r.str("detail"), "terminating MFA use") {
		t.Fatalf("refusal does not say what needs a reason: %s", r.raw)
	}
	h.want(h.do("DELETE", "/v1/users/"+user+"/mfa?reason=x&force=1", tokAdmin, "", console...), 400, "unknown_field")
	if st := h.do("GET", "/v1/users/"+user, tokIDP, "").body["mfa"].(map[string]any)["state"]; st == "off" {
		t.Fatal("a refused termination turned MFA off")
	}
	h.want(h.do("DELETE", "/v1/users/"+user+"/mfa?reason="+url.QueryEscape(strings.Repeat("é", 200)), tokAdmin, "", console...), 200, "")
	if d, _, _ := auditDetail(t, h, "mfa_terminated"); d != "reason: "+strings.Repeat("é", 200)+"; from: 127.0.0.1" {
		t.Fatalf("mfa_terminated detail %q", d)
	}

}
