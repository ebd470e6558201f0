package api_test

import (
	"testing"
	"time"
)

// Once MFA is on, changing methods needs a fresh verification (proof), the
// last usable method stays, and only an admin can turn MFA off.
func TestMethodChangesOnceMFAIsOn(t *testing.T) {
	h := newHarness(t)
	app, secret := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	// Applying twice changes nothing.
	before := h.state()
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	if h.state() != before {
		t.Fatal("applying again changed the user")
	}

	add := `{"kind":"phone","slot":"mobile","phone":"090-1234-5678","channel":"voice"`
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, add+`}`), 403, "proof_required")
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, add+`,"proof":"c_unknown"}`), 403, "proof_required")

	// A challenge that is not approved is no proof.
	pending := h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{"purpose":"proof"}`).str("id")
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, add+`,"proof":"`+pending+`"}`), 403, "proof_required")

	proof := h.signin("proof", secret)
	r := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, add+`,"proof":"`+proof+`"}`)
	h.want(r, 201, "")
	phone := r.body["method"].(map[string]any)["id"].(string)

	// The last usable method cannot be removed by the user.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+app+"?proof="+proof, tokEnroll, ""), 409, "last_method")
	// An unconfirmed registration can go.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+phone+"?proof="+proof, tokEnroll, ""), 204, "")

	// A proof older than 10 minutes no longer counts.
	h.clock.Advance(10*time.Minute + time.Second)
	h.want(h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp","proof":"`+proof+`"}`), 403, "proof_required")

	// An admin may remove the last method; the default goes with it.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+app, tokAdmin, ""), 204, "")
	r = h.do("GET", "/v1/users/"+user, tokIDP, "")
	if r.body["default_method"] != nil || len(r.body["methods"].([]any)) != 0 {
		t.Fatalf("after removal: %s", r.raw)
	}

	// Only an admin terminates MFA use.
	h.want(h.do("DELETE", "/v1/users/"+user+"/mfa", tokEnroll, ""), 403, "forbidden")
	r = h.do("DELETE", "/v1/users/"+user+"/mfa", tokAdmin, "")
	h.want(r, 200, "")
	if st := r.body["mfa"].(map[string]any)["state"]; st != "off" {
		t.Fatalf("state after termination = %v", st)
	}
}

func TestDefaultMethodRules(t *testing.T) {
	h := newHarness(t)
	first, _ := h.addTOTP()
	h.clock.Advance(30 * time.Second)
	second, _ := h.addTOTP()
	r := h.do("GET", "/v1/users/"+user, tokIDP, "")
	if r.body["default_method"] != first {
		t.Fatal("the second method took the default")
	}
	if len(r.body["warnings"].([]any)) != 0 {
		t.Fatalf("two methods still warn: %s", r.raw)
	}
	r = h.do("PUT", "/v1/users/"+user+"/default-method", tokEnroll, `{"method":"`+second+`"}`)
	h.want(r, 200, "")
	if r.body["default_method"] != second {
		t.Fatalf("default not changed: %s", r.raw)
	}
	// Unconfirmed methods cannot be default.
	u := h.do("POST", "/v1/users/"+user+"/methods", tokEnroll, `{"kind":"totp"}`)
	third := u.body["method"].(map[string]any)["id"].(string)
	h.want(h.do("PUT", "/v1/users/"+user+"/default-method", tokEnroll, `{"method":"`+third+`"}`), 409, "method_not_confirmed")
	h.want(h.do("POST", "/v1/users/"+user+"/challenges", tokIDP, `{"method":"`+third+`"}`), 409, "method_not_confirmed")

	// Removing the default hands it to the next confirmed method.
	h.want(h.do("DELETE", "/v1/users/"+user+"/methods/"+second, tokEnroll, ""), 204, "")
	if d := h.do("GET", "/v1/users/"+user, tokIDP, "").body["default_method"]; d != first {
		t.Fatalf("default after removing it = %v, want %s", d, first)
	}
	// Another user's method is unknown here.
	h.want(h.do("PUT", "/v1/users/9999999999/default-method", tokEnroll, `{"method":"`+first+`"}`), 404, "unknown_method")
}

// A new method resets the test sign-in requirement: the guide asks for a
// test after the last change.
func TestTestSigninMustFollowLastChange(t *testing.T) {
	h := newHarness(t)
	_, secret := h.addTOTP()
	h.signin("test", secret)
	h.clock.Advance(time.Minute)
	h.addTOTP()
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 409, "no_test_signin")
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
}

func TestNewUserIsOff(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/users/5555555555", tokIDP, "")
	h.want(r, 200, "")
	if r.body["mfa"].(map[string]any)["state"] != "off" || len(r.body["methods"].([]any)) != 0 {
		t.Fatalf("unknown user: %s", r.raw)
	}
	h.want(h.do("POST", "/v1/users/5555555555/challenges", tokIDP, `{}`), 409, "no_confirmed_method")
}
