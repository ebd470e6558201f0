package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Every malformed request gets a specific problem and leaves stored state
// exactly as it was.
func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.addTOTP()
	before := h.state()
	methods := "/v1/users/" + user + "/methods"
	big := `{"kind":"totp","label":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, tc := range []struct {
		name, method, path, token, body string
		hdr                             []string
		status                          int
		code, mention                   string
	}{
		{"malformed json", "POST", methods, tokEnroll, `{"kind":"totp"`, nil, 400, "malformed_json", ""},
		{"not json", "POST", methods, tokEnroll, `kind=totp`, nil, 400, "malformed_json", "byte"},
		{"unknown field", "POST", methods, tokEnroll, `{"kind":"totp","colour":"red"}`, nil, 400, "unknown_field", "colour"},
		{"wrong type", "POST", methods, tokEnroll, `{"kind":7}`, nil, 400, "invalid_type", "kind"},
		{"array body", "POST", methods, tokEnroll, `[1,2]`, nil, 400, "invalid_type", "object"},
		{"two values", "POST", methods, tokEnroll, `{"kind":"totp"} {"kind":"totp"}`, nil, 400, "malformed_json", "more than one"},
		{"empty body", "POST", methods, tokEnroll, ``, nil, 400, "malformed_json", "empty"},
		{"too large", "POST", methods, tokEnroll, big, nil, 413, "body_too_large", "65536"},
		{"wrong media type", "POST", methods, tokEnroll, `{"kind":"totp"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", "application/json"},
		{"missing kind", "POST", methods, tokEnroll, `{}`, nil, 400, "invalid_request", "kind"},
		{"unknown kind", "POST", methods, tokEnroll, `{"kind":"sms"}`, nil, 400, "invalid_request", "totp"},
		{"app password", "POST", methods, tokEnroll, `{"kind":"app_password"}`, nil, 422, "method_not_allowed_for_signin", "app_password"},
		{"email", "POST", methods, tokEnroll, `{"kind":"email"}`, nil, 422, "method_not_allowed_for_signin", "email"},
		{"fido through methods", "POST", methods, tokEnroll, `{"kind":"fido"}`, nil, 422, "unsupported_method_kind", "kiosk"},
		{"bad user id", "POST", "/v1/users/alice/methods", tokEnroll, `{"kind":"totp"}`, nil, 400, "invalid_user_id", "pattern"},
		{"short user id", "GET", "/v1/users/12345", tokIDP, ``, nil, 400, "invalid_user_id", ""},
		{"control chars in label", "POST", methods, tokEnroll, `{"kind":"totp","label":"a\u0007b"}`, nil, 400, "invalid_request", "control"},
		{"label too long", "POST", methods, tokEnroll, `{"kind":"totp","label":"` + strings.Repeat("長", 65) + `"}`, nil, 400, "invalid_request", "64"},
		{"unknown language", "POST", methods, tokEnroll, `{"kind":"totp","language":"fr"}`, nil, 400, "invalid_request", "ja"},
		{"totp with phone", "POST", methods, tokEnroll, `{"kind":"totp","phone":"09012345678"}`, nil, 400, "invalid_request", "phone"},
		{"unknown method confirm", "POST", methods + "/m_nope/confirm", tokEnroll, `{"code":"123456"}`, nil, 404, "unknown_method", ""},
		{"confirm with both", "POST", methods + "/m_nope/confirm", tokEnroll, `{"code":"123456","challenge":"c_x"}`, nil, 400, "invalid_request", "exactly one"},
		{"unknown challenge", "POST", "/v1/challenges/c_nope/verify", tokIDP, `{"code":"123456"}`, nil, 404, "unknown_challenge", ""},
		{"verify without code", "POST", "/v1/challenges/c_nope/verify", tokIDP, `{}`, nil, 400, "invalid_request", "code"},
		{"unknown purpose", "POST", "/v1/users/" + user + "/challenges", tokIDP, `{"purpose":"confirm"}`, nil, 400, "invalid_request", "purpose"},
		{"unknown channel", "POST", "/v1/users/" + user + "/challenges", tokIDP, `{"channel":"fax"}`, nil, 400, "invalid_request", "channel"},
		{"unknown method challenge", "POST", "/v1/users/" + user + "/challenges", tokIDP, `{"method":"m_nope"}`, nil, 404, "unknown_method", ""},
		{"apply without enabled", "PUT", "/v1/users/" + user + "/mfa", tokEnroll, `{}`, nil, 400, "invalid_request", "enabled"},
		{"apply enabled false", "PUT", "/v1/users/" + user + "/mfa", tokEnroll, `{"enabled":false}`, nil, 400, "invalid_request", "admin"},
		{"default unknown", "PUT", "/v1/users/" + user + "/default-method", tokEnroll, `{"method":"m_nope"}`, nil, 404, "unknown_method", ""},
		{"default missing", "PUT", "/v1/users/" + user + "/default-method", tokEnroll, `{}`, nil, 400, "invalid_request", ""},
		{"bad wait", "GET", "/v1/challenges/c_x?wait=1h", tokIDP, ``, nil, 400, "invalid_request", "25s"},
		{"unknown query", "GET", "/v1/challenges/c_x?colour=red", tokIDP, ``, nil, 400, "unknown_field", "colour"},
		{"bad limit", "GET", "/v1/audit?limit=-3", tokAdmin, ``, nil, 400, "invalid_request", "limit"},
		{"bad outbox state", "GET", "/v1/outbox?state=lost", tokAdmin, ``, nil, 400, "invalid_request", "queued"},
		{"unknown outbox cursor", "GET", "/v1/outbox?before=j_gone", tokAdmin, ``, nil, 400, "invalid_cursor", "j_gone"},
		{"unknown outbox after", "GET", "/v1/outbox?after=j_gone", tokAdmin, ``, nil, 400, "invalid_cursor", "newest"},
		{"garbled outbox cursor", "GET", "/v1/outbox?before=%00x", tokAdmin, ``, nil, 400, "invalid_cursor", "not a job ID"},
		{"two outbox cursors", "GET", "/v1/outbox?before=j_a&after=j_b", tokAdmin, ``, nil, 400, "invalid_cursor", "not both"},
		{"audit cursor not a number", "GET", "/v1/audit?before=abc", tokAdmin, ``, nil, 400, "invalid_cursor", "before"},
		{"audit cursor zero", "GET", "/v1/audit?after=0", tokAdmin, ``, nil, 400, "invalid_cursor", "after"},
		{"two audit cursors", "GET", "/v1/audit?before=5&after=2", tokAdmin, ``, nil, 400, "invalid_cursor", "not both"},
		{"unknown route", "GET", "/v1/nothing", tokAdmin, ``, nil, 404, "not_found", "openapi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, tc.token, tc.body, tc.hdr...)
			h.want(r, tc.status, tc.code)
			if !strings.Contains(r.str("detail"), tc.mention) {
				t.Errorf("detail %q does not mention %q", r.str("detail"), tc.mention)
			}
			if after := h.state(); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, method, path, token, auth string
		status                          int
		code                            string
	}{
		{"no token", "GET", "/v1/users/" + user, "", "", 401, "unauthorized"},
		{"wrong token", "GET", "/v1/users/" + user, "not-a-token", "", 401, "unauthorized"},
		{"basic scheme", "GET", "/v1/users/" + user, "", "Basic dXNlcjpwYXNz", 401, "unauthorized"},
		{"openapi needs a token", "GET", "/v1/openapi.json", "", "", 401, "unauthorized"},
		{"idp cannot register", "POST", "/v1/users/" + user + "/methods", tokIDP, "", 403, "forbidden"},
		{"enroll cannot terminate", "DELETE", "/v1/users/" + user + "/mfa", tokEnroll, "", 403, "forbidden"},
		{"idp cannot read audit", "GET", "/v1/audit", tokIDP, "", 403, "forbidden"},
		{"enroll cannot read outbox", "GET", "/v1/outbox", tokEnroll, "", 403, "forbidden"},
		{"idp reads users", "GET", "/v1/users/" + user, tokIDP, "", 200, ""},
		{"admin does everything", "GET", "/v1/outbox", tokAdmin, "", 200, ""},
		{"healthz is open", "GET", "/healthz", "", "", 200, ""},
		{"readyz is open", "GET", "/readyz", "", "", 200, ""},
		{"metrics open on loopback", "GET", "/metrics", "", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			body := ""
			if tc.method == "POST" {
				body = `{"kind":"totp"}`
			}
			r := h.do(tc.method, tc.path, tc.token, body, hdr...)
			h.want(r, tc.status, tc.code)
			if r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if ms := h.do("GET", "/v1/users/"+user, tokAdmin, "").body["methods"].([]any); len(ms) != 0 {
		t.Fatalf("a refused registration stored a method: %v", ms)
	}
}
