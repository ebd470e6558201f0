package oidc_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mfagate/oidc"
)

// The form_post page posts the fields to the redirect URI, escapes them,
// runs only a script its own CSP allows by hash, and offers a button
// without JavaScript.
func TestWriteFormPost(t *testing.T) {
	rec := httptest.NewRecorder()
	err := oidc.WriteFormPost(rec, entraRedirect, oidc.SuccessFields("eyJ.a.b", `s"><script>alert(1)</script>`))
	if err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `<form method="post" action="`+entraRedirect+`">`) {
		t.Errorf("form does not post to the redirect URI:\n%s", body)
	}
	if !strings.Contains(body, `name="id_token" value="eyJ.a.b"`) {
		t.Errorf("no id_token field:\n%s", body)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, `value="s&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`) {
		t.Errorf("state not escaped:\n%s", body)
	}
	if !strings.Contains(body, "<noscript>") || !strings.Contains(body, `<button type="submit">`) {
		t.Error("no <noscript> submit button")
	}
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(body, -1)
	if len(scripts) != 1 {
		t.Fatalf("%d scripts, want 1", len(scripts))
	}
	sum := sha256.Sum256([]byte(scripts[0][1]))
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not allow exactly the page's script by hash", csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Error("inline handlers or unsafe-inline")
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("headers %v", rec.Header())
	}
}

// No state in the request, no state in the answer (the reference: "this
// value shouldn't be present"); errors carry error, error_description and
// state.
func TestAnswerFields(t *testing.T) {
	if f := oidc.SuccessFields("tok", ""); len(f) != 1 || f[0].Name != "id_token" {
		t.Errorf("SuccessFields without state = %v", f)
	}
	ae := &oidc.AuthError{Code: "access_denied", Description: "user locked", RedirectURI: entraRedirect, State: "s"}
	got := ae.ErrorFields()
	want := []oidc.Field{{Name: "error", Value: "access_denied"}, {Name: "error_description", Value: "user locked"}, {Name: "state", Value: "s"}}
	if len(got) != len(want) {
		t.Fatalf("ErrorFields = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ErrorFields[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
