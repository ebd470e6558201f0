package oidc_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mfagate/oidc"
)

const entraRedirect = "https://login.microsoftonline.com/common/federation/externalauthprovider"

func testClients() oidc.Clients {
	return oidc.Clients{"app": &oidc.Client{ID: "app", RedirectURIs: []string{entraRedirect}, HintIssuer: "https://login.microsoftonline.com/t/v2.0",
		UserClaim: "preferred_username", UserPattern: regexp.MustCompile(`^([0-9]{10})@`)}}
}

// entraForm is the request as Entra POSTs it.
func entraForm() url.Values {
	return url.Values{
		"scope": {"openid"}, "response_type": {"id_token"}, "response_mode": {"form_post"},
		"client_id": {"app"}, "redirect_uri": {entraRedirect}, "nonce": {"n-1"}, "state": {"s-1"},
		"id_token_hint": {"a.b.c"}, "client-request-id": {"72826bb4-abb7-4221-b253-100f530b4b0a"},
		"claims":        {`{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}`},
		"unknown_param": {"ignored"},
	}
}

func post(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, oidc.AuthorizePath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestParseAuthRequestEntra(t *testing.T) {
	for _, r := range []*http.Request{post(entraForm()), httptest.NewRequest(http.MethodGet, oidc.AuthorizePath+"?"+entraForm().Encode(), nil)} {
		req, err := oidc.ParseAuthRequest(httptest.NewRecorder(), r, testClients())
		if err != nil {
			t.Fatalf("%s: %v", r.Method, err)
		}
		if req.Client.ID != "app" || req.RedirectURI != entraRedirect || req.Nonce != "n-1" || req.State != "s-1" ||
			req.IDTokenHint != "a.b.c" || req.ACR != "possessionorinherence" || req.ClientRequestID != "72826bb4-abb7-4221-b253-100f530b4b0a" {
			t.Errorf("%s: %+v", r.Method, req)
		}
		if !req.AMRAllowed("tel") || req.AMRAllowed("pwd") {
			t.Errorf("amr values not read: %v", req.AMRValues)
		}
	}
}

// A POST's parameters come from the body only.
func TestParseAuthRequestPostIgnoresQuery(t *testing.T) {
	f := entraForm()
	r := post(f)
	r.URL.RawQuery = "nonce=attacker&redirect_uri=https%3A%2F%2Fevil.example%2F"
	req, err := oidc.ParseAuthRequest(httptest.NewRecorder(), r, testClients())
	if err != nil || req.Nonce != "n-1" {
		t.Fatalf("query overrode the body: %+v, %v", req, err)
	}
}

func TestParseAuthRequestErrors(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(url.Values)
		code       string
		reason     string
		redirected bool
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "other") }, "unauthorized_client", "unknown_client", false},
		{"no client", func(v url.Values) { v.Del("client_id") }, "unauthorized_client", "missing_client", false},
		{"redirect not registered", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, "invalid_redirect_uri", "bad_redirect_uri", false},
		{"redirect prefix only", func(v url.Values) { v.Set("redirect_uri", entraRedirect+"/x") }, "invalid_redirect_uri", "bad_redirect_uri", false},
		{"redirect repeated", func(v url.Values) { v.Add("redirect_uri", "https://evil.example/cb") }, "invalid_redirect_uri", "bad_redirect_uri", false},
		{"response_type code", func(v url.Values) { v.Set("response_type", "code") }, "unsupported_response_type", "bad_response_type", true},
		{"response_mode fragment", func(v url.Values) { v.Set("response_mode", "fragment") }, "invalid_request", "bad_response_mode", true},
		{"response_mode missing", func(v url.Values) { v.Del("response_mode") }, "invalid_request", "bad_response_mode", true},
		{"scope without openid", func(v url.Values) { v.Set("scope", "profile") }, "invalid_scope", "missing_openid_scope", true},
		{"nonce missing", func(v url.Values) { v.Del("nonce") }, "invalid_request", "missing_nonce", true},
		{"nonce repeated", func(v url.Values) { v.Add("nonce", "x") }, "invalid_request", "repeated_parameter", true},
		{"hint missing", func(v url.Values) { v.Del("id_token_hint") }, "login_required", "missing_hint", true},
		{"claims not JSON", func(v url.Values) { v.Set("claims", "{") }, "invalid_request", "bad_claims", true},
		{"acr knowledge only", func(v url.Values) {
			v.Set("claims", `{"id_token":{"acr":{"essential":true,"values":["knowledge"]}}}`)
		}, "access_denied", "unsupported_acr", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := entraForm()
			tt.edit(f)
			_, err := oidc.ParseAuthRequest(httptest.NewRecorder(), post(f), testClients())
			var ae *oidc.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *AuthError", err)
			}
			if ae.Code != tt.code || ae.Reason != tt.reason || ae.Redirectable() != tt.redirected {
				t.Fatalf("got code %s reason %s redirectable %v; want %s %s %v", ae.Code, ae.Reason, ae.Redirectable(), tt.code, tt.reason, tt.redirected)
			}
			if tt.redirected && (ae.RedirectURI != entraRedirect || ae.State != "s-1") {
				t.Errorf("redirectable error to %q with state %q", ae.RedirectURI, ae.State)
			}
		})
	}
}

// An acr the client asks for that a possession factor satisfies is the one
// answered.
func TestParseAuthRequestACRChoice(t *testing.T) {
	f := entraForm()
	f.Set("claims", `{"id_token":{"acr":{"values":["knowledge","possession"]}}}`)
	req, err := oidc.ParseAuthRequest(httptest.NewRecorder(), post(f), testClients())
	if err != nil || req.ACR != "possession" {
		t.Fatalf("ACR = %v, %v; want possession", req, err)
	}
	f.Del("claims")
	if req, err = oidc.ParseAuthRequest(httptest.NewRecorder(), post(f), testClients()); err != nil || req.ACR != "possessionorinherence" || len(req.AMRValues) != 0 {
		t.Fatalf("without claims: %+v, %v", req, err)
	}
}

func TestParseAuthRequestTransport(t *testing.T) {
	r := post(entraForm())
	r.Header.Set("Content-Type", "application/json")
	if _, err := oidc.ParseAuthRequest(httptest.NewRecorder(), r, testClients()); err == nil {
		t.Error("a JSON body was accepted")
	}
	big := entraForm()
	big.Set("pad", strings.Repeat("x", oidc.MaxRequestBytes))
	if _, err := oidc.ParseAuthRequest(httptest.NewRecorder(), post(big), testClients()); err == nil {
		t.Error("a body over MaxRequestBytes was accepted")
	}
	if _, err := oidc.ParseAuthRequest(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, oidc.AuthorizePath, nil), testClients()); err == nil {
		t.Error("PUT was accepted")
	}
}

func TestHintRefusedAnswer(t *testing.T) {
	req, err := oidc.ParseAuthRequest(httptest.NewRecorder(), post(entraForm()), testClients())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		code string
	}{
		{&oidc.HintError{Reason: oidc.HintKeysUnavailable}, "temporarily_unavailable"},
		{&oidc.HintError{Reason: oidc.HintUserClaimMismatch}, "access_denied"},
		{&oidc.HintError{Reason: oidc.HintBadSignature}, "invalid_request"},
	} {
		ae := req.HintRefused(tc.err)
		if ae.Code != tc.code || !ae.Redirectable() || ae.State != "s-1" || ae.Reason != "hint_"+string(tc.err.(*oidc.HintError).Reason) {
			t.Errorf("HintRefused(%v) = %+v, want code %s, redirectable", tc.err, ae, tc.code)
		}
	}
}
