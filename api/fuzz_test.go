package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Whatever arrives as a body, every write route answers with a success or
// a problem (never a 5xx), and a refused request stores nothing.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"kind":"totp"}`, `{"kind":"phone","slot":"mobile","phone":"090-1234-5678"}`,
		`{"kind":"phone","slot":"office","phone":"03-1234-5678","channel":"voice"}`,
		`{"code":"123456"}`, `{"challenge":"c_x"}`, `{"enabled":true}`, `{"method":"m_x"}`,
		`{"purpose":"test"}`, `{"kind":"totp","label":"\u0000"}`, `{"kind":1e999}`, `[]`, `null`, `"x"`,
		`{"kind":"totp"}{}`, `{"phone":"+` + strings.Repeat("9", 40) + `"}`, "\xff\xfe", `{"kind":"phone","phone":"0"}`,
		`{"code":"123456","method":"m_x","purpose":"test"}`,
	} {
		f.Add(s)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		h.t = t
		for _, r := range []struct{ method, path string }{
			{"POST", "/v1/users/" + user + "/methods"},
			{"POST", "/v1/users/" + user + "/methods/m_x/confirm"},
			{"PUT", "/v1/users/" + user + "/default-method"},
			{"PUT", "/v1/users/" + user + "/mfa"},
			{"POST", "/v1/users/" + user + "/challenges"},
			{"POST", "/v1/challenges/c_x/verify"},
			{"POST", "/v1/users/" + user + "/verify"}, // no confirmed app: every answer is a refusal
		} {
			before := h.state()
			got := h.do(r.method, r.path, tokAdmin, body)
			if got.status >= 500 {
				t.Fatalf("%s %s with %q: %d\n%s", r.method, r.path, body, got.status, got.raw)
			}
			if got.status >= 400 && got.status != http.StatusTooManyRequests && h.state() != before {
				t.Fatalf("%s %s with %q was refused (%s) but changed state", r.method, r.path, body, got.code())
			}
		}
	})
}
