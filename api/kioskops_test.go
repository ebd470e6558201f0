package api_test

import (
	"context"
	"strings"
	"testing"

	"mfagate/mfa"
)

// An unknown device or a too-short PIN is refused at once with a specific
// problem, the session is unchanged, and the refusal is audited without
// the PIN.
func TestKioskEnrollRefusals(t *testing.T) {
	k := newKioskHarness(t)
	id := strings.TrimPrefix(k.sess, "/kiosk/")
	for _, c := range []struct {
		name, path, token, body, code string
		min                           float64
	}{
		{"staff, unknown device", "/v1/kiosk/sessions/" + id + "/enroll", tokEnroll, `{"device":"/dev/hidraw7","new_pin":"246810"}`, "unknown_device", 0},
		{"staff, short PIN", "/v1/kiosk/sessions/" + id + "/enroll", tokEnroll, `{"device":"` + testKeyPath + `","new_pin":"2468"}`, "pin_too_short", 6},
		{"page, unknown device", k.sess + "/api/enroll", "", `{"device":"/dev/hidraw7","pin":"246810"}`, "unknown_device", 0},
		{"page, short PIN", k.sess + "/api/enroll", "", `{"device":"` + testKeyPath + `","pin":"97531"}`, "pin_too_short", 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := k.do("POST", c.path, c.token, c.body)
			k.want(r, 422, c.code)
			if got, _ := r.body["min_length"].(float64); got != c.min {
				t.Fatalf("min_length %v, want %v: %s", r.body["min_length"], c.min, r.raw)
			}
		})
	}
	r := k.page("GET", "/state", "")
	if st := r.body["session"].(map[string]any)["state"]; st != "ready" {
		t.Fatalf("session after refusals: %v", st)
	}
	es, err := k.svc.Events(context.Background(), mfa.EventFilter{User: user})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Type == mfa.EventEnrollmentFailed {
			got = append(got, e.Actor+" "+e.Detail)
			if strings.Contains(e.Detail, "246810") || strings.Contains(e.Detail, "2468") || strings.Contains(e.Detail, "97531") {
				t.Fatalf("a PIN in the audit: %q", e.Detail)
			}
		}
	}
	// Newest first: the page acts as the kiosk for the staff client.
	want := "kiosk:kiosk pin_too_short,kiosk:kiosk unknown_device,kiosk pin_too_short,kiosk unknown_device"
	if strings.Join(got, ",") != want {
		t.Fatalf("audited failures %q, want %q", strings.Join(got, ","), want)
	}
}

// The page's Cancel abandons an operation stuck on the key and leaves the
// session ready; End session closes it for good.
func TestKioskCancelAndEnd(t *testing.T) {
	k := newKioskHarness(t)
	k.want(k.page("POST", "/enroll", `{"device":"`+testKeyPath+`","new_pin":"246810"}`), 202, "")
	k.want(k.page("POST", "/enroll", `{"device":"`+testKeyPath+`","new_pin":"246810"}`), 409, "session_busy")
	r := k.page("POST", "/cancel", "")
	k.want(r, 200, "")
	if r.str("state") != "ready" || !strings.Contains(r.str("message"), "Cancelled") {
		t.Fatalf("after cancel: %s", r.raw)
	}
	k.want(k.page("POST", "/enroll", `{"device":"`+testKeyPath+`","new_pin":"246810"}`), 202, "")

	k.want(k.page("POST", "/end", ""), 204, "")
	k.want(k.page("GET", "/state", ""), 410, "session_expired")
	k.want(k.page("POST", "/end", ""), 410, "session_expired")
	id := strings.TrimPrefix(k.sess, "/kiosk/")
	k.want(k.do("GET", "/v1/kiosk/sessions/"+id, tokEnroll, ""), 410, "session_expired")
	if res, _ := k.get(k.sess); res.StatusCode != 410 {
		t.Fatalf("the page of an ended session: %d, want 410", res.StatusCode)
	}

	// Staff end a session they opened the same way.
	o := k.do("POST", "/v1/kiosk/sessions", tokEnroll, `{"user":"`+user+`"}`)
	k.want(o, 201, "")
	k.want(k.do("POST", "/v1/kiosk/sessions/"+o.str("id")+"/cancel", tokEnroll, ""), 200, "")
	k.want(k.do("DELETE", "/v1/kiosk/sessions/"+o.str("id"), tokIDP, ""), 403, "forbidden")
	k.want(k.do("DELETE", "/v1/kiosk/sessions/"+o.str("id"), tokEnroll, ""), 204, "")
	k.want(k.do("GET", "/v1/kiosk/sessions/"+o.str("id"), tokEnroll, ""), 410, "session_expired")
	k.want(k.do("DELETE", "/v1/kiosk/sessions/e_nope", tokEnroll, ""), 404, "unknown_session")
}

// The session carries the policy's code lengths, which the page sizes its
// code inputs to.
func TestKioskSessionCodeLengths(t *testing.T) {
	k := newKioskHarness(t, func(p *mfa.Policy) { p.CodeLength, p.TOTP.Digits = 8, 7 })
	s := k.page("GET", "/state", "").body["session"].(map[string]any)
	if s["code_length"] != float64(8) || s["totp_digits"] != float64(7) {
		t.Fatalf("page session: code_length %v totp_digits %v, want 8 and 7", s["code_length"], s["totp_digits"])
	}
	id := strings.TrimPrefix(k.sess, "/kiosk/")
	r := k.do("GET", "/v1/kiosk/sessions/"+id, tokEnroll, "")
	if r.body["code_length"] != float64(8) || r.body["totp_digits"] != float64(7) {
		t.Fatalf("staff session: %s", r.raw)
	}
}
