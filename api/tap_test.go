package api_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"mfagate/mfa"
)

var passRE = regexp.MustCompile(`^[34679ACDEFGHJKMNPQRTUVWXY]{4}-[34679ACDEFGHJKMNPQRTUVWXY]{4}-[34679ACDEFGHJKMNPQRTUVWXY]{4}$`)

func tapOn(p *mfa.Policy) {
	p.TAP = mfa.TAPPolicy{MaxLifetime: 8 * time.Hour, AllowedFor: []string{"enroll", "admin"}}
}

// activeUser gives the test user a confirmed app and active MFA; it
// returns the app's ID and secret.
func (h *harness) activeUser() (string, string) {
	h.t.Helper()
	id, secret := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	h.clock.Advance(41 * time.Minute)
	if r := h.do("GET", "/v1/users/"+user, tokAdmin, ""); r.body["mfa"].(map[string]any)["state"] != "active" {
		h.t.Fatalf("MFA not active: %s", r.raw)
	}
	return id, secret
}

func (h *harness) tapEvents() []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, e := range jsonArray(h.t.(*testing.T), h.do("GET", "/v1/audit?user="+user, tokAdmin, "").raw) {
		if strings.HasPrefix(e["type"].(string), "tap_") {
			out = append(out, e)
		}
	}
	return out
}

// The lost-phone recovery through the API: the help desk issues a pass,
// the user proves themselves with it and registers a new app; the pass is
// then used up and shows nowhere but in the answer that issued it.
func TestTAPRecoveryOverHTTP(t *testing.T) {
	h := newHarness(t, tapOn)
	lost, _ := h.activeUser()
	tapPath := "/v1/users/" + user + "/tap"

	// Without a proof a new method is refused once MFA is on.
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp","label":"new phone"}`), 403, "proof_required")

	r := h.do("POST", tapPath, tokEnroll, `{"lifetime":"1h","one_time":true}`)
	h.want(r, 201, "")
	pass := r.str("pass")
	if !passRE.MatchString(pass) {
		t.Fatalf("pass %q", pass)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	m := r.body["method"].(map[string]any)
	tapID := m["id"].(string)
	wantExp := h.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if m["kind"] != "tap" || m["one_time"] != true || m["expires_at"] != wantExp || m["confirmed"] != true || m["default"] != false {
		t.Fatalf("method %v, want kind tap, one_time, expires_at %s", m, wantExp)
	}
	view := h.do("GET", "/v1/users/"+user, tokAdmin, "")
	if strings.Contains(view.string(), strings.ReplaceAll(pass, "-", "")) || strings.Contains(view.string(), pass) {
		t.Fatal("the user's view shows the pass")
	}
	if got := h.method(tapID); got["kind"] != "tap" || got["expires_at"] != wantExp {
		t.Fatalf("listed pass %v", got)
	}

	// The kiosk's proof: a challenge of the pass, verified with it.
	c := h.do("POST", "/v1/users/"+user+"/challenges", tokEnroll, `{"method":"`+tapID+`","purpose":"proof"}`)
	h.want(c, 201, "")
	if c.str("kind") != "tap" {
		t.Fatalf("challenge %s", c.raw)
	}
	v := h.do("POST", "/v1/challenges/"+c.str("id")+"/verify", tokEnroll, `{"code":"`+strings.ToLower(pass)+`"}`)
	h.want(v, 200, "")
	if v.str("status") != "approved" {
		t.Fatalf("verify %s", v.raw)
	}
	add := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp","label":"new phone","proof":"`+c.str("id")+`"}`)
	h.want(add, 201, "")
	newID := add.body["method"].(map[string]any)["id"].(string)
	newSecret := add.body["totp"].(map[string]any)["secret"].(string)
	h.want(h.do("POST", "/v1/users/"+user+"/methods/"+newID+"/confirm", tokEnroll, `{"code":"`+totpCode(newSecret, h.clock.Now())+`"}`), 200, "")
	// The lost app goes with the same proof, while it is fresh.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+lost+"?proof="+c.str("id"), tokEnroll, ""), 204, "")

	// Used up: gone from the user, refused as used.
	if strings.Contains(h.do("GET", "/v1/users/"+user, tokAdmin, "").string(), tapID) {
		t.Fatal("a used one-time pass is still listed")
	}
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokEnroll, `{"method":"`+tapID+`","purpose":"proof"}`), 410, "tap_used")

	// A sign-in with a pass is off by default.
	r = h.do("POST", tapPath, tokAdmin, `{}`)
	h.want(r, 201, "")
	second := r.body["method"].(map[string]any)
	if second["one_time"] != true || second["expires_at"] != h.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339) {
		t.Fatalf("defaults: %v, want one-time for 1h", second)
	}
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{"method":"`+second["id"].(string)+`"}`), 403, "tap_signin_disabled")
	h.want(h.do("PUT", "/v1/users/"+user+"/default-method", tokEnroll, `{"method":"`+second["id"].(string)+`"}`), 422, "tap_cannot_be_default")

	// Audit: who issued and who used, never the pass.
	audit := h.do("GET", "/v1/audit?user="+user, tokAdmin, "").string()
	for _, p := range []string{pass, r.str("pass")} {
		if strings.Contains(audit, p) || strings.Contains(audit, strings.ReplaceAll(p, "-", "")) {
			t.Fatalf("the audit log shows a pass")
		}
	}
	types := map[string]string{}
	for _, e := range h.tapEvents() {
		if _, seen := types[e["type"].(string)]; !seen {
			types[e["type"].(string)] = e["actor"].(string)
		}
	}
	if types["tap_issued"] != "ops" || types["tap_used"] != "kiosk" || types["tap_revoked"] != "ops" {
		t.Fatalf("tap events by actor: %v (newest first), want the replacement by ops and the use by kiosk", types)
	}

	// Metrics: issues by role, the pass's challenges as kind tap, no pass.
	met := h.do("GET", "/metrics", "", "").string()
	for _, want := range []string{
		`mfagate_tap_issued_total{role="enroll"} 1`,
		`mfagate_tap_issued_total{role="admin"} 1`,
		`mfagate_challenges_created_total{channel="none",kind="tap"} 1`,
		`mfagate_challenges_finished_total{channel="none",kind="tap",result="approved"} 1`,
	} {
		if !strings.Contains(met, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(met, pass) || strings.Contains(met, strings.ReplaceAll(pass, "-", "")) {
		t.Fatal("metrics show the pass")
	}

	// Revoke, then nothing to revoke.
	h.want(h.do("DELETE", tapPath, tokEnroll, ""), 204, "")
	h.want(h.do("DELETE", tapPath, tokEnroll, ""), 404, "no_tap")
}

// Who may issue: an idp-only client is refused and nothing changes; so is
// a role [policy] tap_allowed_for leaves out.
func TestTAPRoles(t *testing.T) {
	h := newHarness(t, tapOn)
	h.activeUser()
	tapPath := "/v1/users/" + user + "/tap"
	before := h.state()
	h.want(h.do("POST", tapPath, tokIDP, `{"lifetime":"1h"}`), 403, "forbidden")
	h.want(h.do("DELETE", tapPath, tokIDP, ""), 403, "forbidden")
	h.want(h.do("POST", tapPath, "", `{}`), 401, "unauthorized")
	if after := h.state(); after != before {
		t.Fatalf("a refused issue changed the user:\n%s\n%s", before, after)
	}
	if evs := h.tapEvents(); len(evs) != 0 {
		t.Fatalf("tap events after refusals: %v", evs)
	}

	p := testPolicy()
	p.TAP = mfa.TAPPolicy{AllowedFor: []string{"admin"}}
	if err := h.svc.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", tapPath, tokEnroll, `{}`)
	h.want(r, 403, "forbidden")
	if !strings.Contains(r.str("detail"), "tap_allowed_for") {
		t.Errorf("refusal does not say why: %s", r.raw)
	}
	h.want(h.do("POST", tapPath, tokAdmin, `{}`), 201, "")

	p.TAP.AllowedFor = nil
	if err := h.svc.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	r = h.do("POST", tapPath, tokAdmin, `{}`)
	h.want(r, 403, "forbidden")
	if !strings.Contains(r.str("detail"), "tap_allowed_for = []") {
		t.Errorf("refusal with an empty list: %s", r.raw)
	}
}

func TestTAPBadRequests(t *testing.T) {
	h := newHarness(t, tapOn)
	h.activeUser()
	tapPath := "/v1/users/" + user + "/tap"
	before := h.state()
	for _, tc := range []struct {
		name, body, code, detail string
	}{
		{"too short", `{"lifetime":"9m"}`, "invalid_request", "lifetime 9m is too short: a Temporary Access Pass lives from 10m to 8h"},
		{"too long", `{"lifetime":"8h30m"}`, "invalid_request", "lifetime 8h30m is too long"},
		{"days", `{"lifetime":"2d"}`, "invalid_request", `lifetime "2d" is not a duration`},
		{"zero", `{"lifetime":"0s"}`, "invalid_request", "is not a duration"},
		{"negative", `{"lifetime":"-1h"}`, "invalid_request", "is not a duration"},
		{"number", `{"lifetime":3600}`, "invalid_type", ""},
		{"one_time string", `{"one_time":"yes"}`, "invalid_type", ""},
		{"unknown field", `{"lifetime":"1h","pass":"AAAA-AAAA-AAAA"}`, "unknown_field", ""},
	} {
		r := h.do("POST", tapPath, tokEnroll, tc.body)
		if r.status != 400 || r.code() != tc.code || !strings.Contains(r.str("detail"), tc.detail) {
			t.Errorf("%s: %d %s; want 400 %s saying %q", tc.name, r.status, r.raw, tc.code, tc.detail)
		}
	}
	h.want(h.do("POST", "/v1/users/nope/tap", tokEnroll, `{}`), 400, "invalid_user_id")
	if after := h.state(); after != before {
		t.Fatalf("refused requests changed the user:\n%s\n%s", before, after)
	}
	if evs := h.tapEvents(); len(evs) != 0 {
		t.Fatalf("tap events after refusals: %v", evs)
	}
}

// Guessing: wrong passes count toward the consecutive-failure lock.
func TestTAPGuessesLockOverHTTP(t *testing.T) {
	h := newHarness(t, tapOn, func(p *mfa.Policy) { p.MaxConsecutiveFailures = 2 })
	h.activeUser()
	r := h.do("POST", "/v1/users/"+user+"/tap", tokEnroll, `{"one_time":false}`)
	h.want(r, 201, "")
	id, pass := r.body["method"].(map[string]any)["id"].(string), r.str("pass")
	if r.body["method"].(map[string]any)["one_time"] != false {
		t.Fatalf("one_time false not kept: %s", r.raw)
	}
	for _, guess := range []string{"AAAA-AAAA-AAAA", "CCCC-CCCC-CCCC"} {
		c := h.do("POST", "/v1/users/"+user+"/challenges", tokEnroll, `{"method":"`+id+`","purpose":"proof"}`)
		h.want(c, 201, "")
		h.want(h.do("POST", "/v1/challenges/"+c.str("id")+"/verify", tokEnroll, `{"code":"`+guess+`"}`), 422, "invalid_code")
	}
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokEnroll, `{"method":"`+id+`","purpose":"proof"}`), 423, "user_locked")
	h.want(h.do("POST", "/v1/users/"+user+"/unlock", tokAdmin, ""), 200, "")
	c := h.do("POST", "/v1/users/"+user+"/challenges", tokEnroll, `{"method":"`+id+`","purpose":"proof"}`)
	h.want(h.do("POST", "/v1/challenges/"+c.str("id")+"/verify", tokEnroll, `{"code":"`+pass+`"}`), 200, "")
	met := h.do("GET", "/metrics", "", "").string()
	if !strings.Contains(met, `mfagate_verification_failures_total{channel="none",kind="tap"} 2`) {
		t.Error("wrong passes are not counted as kind tap verification failures")
	}
}
