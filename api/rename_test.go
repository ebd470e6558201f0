package api_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mfagate/fido"
	"mfagate/mfa"
	"mfagate/mfa/mfatest"
)

// method finds a method in the user as GET /v1/users/{user} shows it.
func (h *harness) method(id string) map[string]any {
	h.t.Helper()
	r := h.do("GET", "/v1/users/"+user, tokAdmin, "")
	h.want(r, 200, "")
	for _, m := range r.body["methods"].([]any) {
		if m := m.(map[string]any); m["id"] == id {
			return m
		}
	}
	h.t.Fatalf("no method %s in %s", id, r.raw)
	return nil
}

func TestRenameMethod(t *testing.T) {
	h := newHarness(t)
	id, secret := h.addTOTP()
	h.signin("test", secret)
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")

	path := "/v1/users/" + user + "/methods/" + id
	r := h.do("PATCH", path, tokEnroll, `{"label":"  研究室のスマホ "}`)
	h.want(r, 200, "")
	if m := r.body["method"].(map[string]any); m["label"] != "研究室のスマホ" || m["id"] != id || m["confirmed"] != true {
		t.Fatalf("rename answer %s", r.raw)
	}
	if m := h.method(id); m["label"] != "研究室のスマホ" {
		t.Fatalf("stored label %v", m["label"])
	}
	before := h.state()
	for _, tc := range []struct {
		name, body, code, detail string
	}{
		{"empty", `{"label":""}`, "invalid_request", "label is required"},
		{"spaces", `{"label":"   "}`, "invalid_request", "label is required"},
		{"missing", `{}`, "invalid_request", "label is required"},
		{"too long", `{"label":"` + strings.Repeat("x", 65) + `"}`, "invalid_request", "at most 64 characters"},
		{"control character", `{"label":"a\u0001b"}`, "invalid_request", "control characters"},
		{"not a string", `{"label":5}`, "invalid_type", ""},
		{"unknown field", `{"label":"x","kind":"totp"}`, "unknown_field", ""},
	} {
		r := h.do("PATCH", path, tokEnroll, tc.body)
		if r.status != 400 || r.code() != tc.code || !strings.Contains(r.str("detail"), tc.detail) {
			t.Errorf("%s: %d %s; want 400 %s saying %q", tc.name, r.status, r.raw, tc.code, tc.detail)
		}
	}
	if after := h.state(); after != before {
		t.Fatalf("refused renames changed the user:\n%s\n%s", before, after)
	}

	// Another user's method is not found through this user.
	other := h.do("POST", "/v1/users/9876543210/methods", tokEnroll, `{"kind":"totp","label":"theirs"}`)
	h.want(other, 201, "")
	oid := other.body["method"].(map[string]any)["id"].(string)
	h.want(h.do("PATCH", "/v1/users/"+user+"/methods/"+oid, tokEnroll, `{"label":"mine"}`), 404, "unknown_method")
	r = h.do("GET", "/v1/users/9876543210", tokAdmin, "")
	if !strings.Contains(r.string(), `"label":"theirs"`) {
		t.Fatalf("the other user's method was renamed: %s", r.raw)
	}
	// The identity provider's role cannot rename.
	h.want(h.do("PATCH", path, tokIDP, `{"label":"x"}`), 403, "forbidden")

	evs := jsonArray(t, h.do("GET", "/v1/audit?user="+user, tokAdmin, "").raw)
	renamed := 0
	for _, e := range evs {
		if e["type"] == mfa.EventMethodRenamed {
			renamed++
			if e["actor"] != "kiosk" || e["method"] != id || strings.Contains(e["detail"].(string), "スマホ") {
				t.Errorf("rename event %v", e)
			}
		}
	}
	if renamed != 1 {
		t.Fatalf("%d method_renamed events, want 1", renamed)
	}
}

// last_used_at is null until the method answers a challenge, then when.
func TestMethodLastUsedAt(t *testing.T) {
	h := newHarness(t)
	id, secret := h.addTOTP()
	if m := h.method(id); m["last_used_at"] != nil {
		t.Fatalf("confirmed app shows last_used_at %v", m["last_used_at"])
	}
	h.signin("signin", secret)
	if m := h.method(id); m["last_used_at"] != h.clock.Now().UTC().Format(time.RFC3339) {
		t.Fatalf("after a sign-in last_used_at = %v, want %s", m["last_used_at"], h.clock.Now().UTC().Format(time.RFC3339))
	}
}

// A security-key challenge any of the user's keys answers, through the API.
func TestDiscoverableChallengeAPI(t *testing.T) {
	h := newHarness(t)
	const rpID, origin = "login.example.ac.jp", "https://login.example.ac.jp"
	h.svc.SetWebAuthn(mfatest.WebAuthn(fido.Policy{RPID: rpID, RPName: "Example", Origin: origin, UserVerification: "required"}))
	challenges := "/v1/users/" + user + "/challenges"

	r := h.do("POST", challenges, tokIDP, `{"kind":"fido"}`)
	h.want(r, 409, "no_confirmed_method")
	if !strings.Contains(r.str("detail"), "no confirmed security key") {
		t.Fatalf("no key: %s", r.raw)
	}
	var keys []*mfatest.SoftKey
	var ids []string
	for _, label := range []string{"one", "two"} {
		k := mfatest.NewSoftKey(rpID, origin, []byte(user))
		m, err := h.svc.RegisterFIDO(t.Context(), mfa.Actor{Name: "kiosk"}, user, mfa.FIDORegistration{Label: label, Credential: k.Credential()})
		if err != nil {
			t.Fatal(err)
		}
		keys, ids = append(keys, k), append(ids, m.ID)
	}
	h.want(h.do("POST", challenges, tokIDP, `{"kind":"fido","method":"`+ids[0]+`"}`), 400, "invalid_request")
	r = h.do("POST", challenges, tokIDP, `{"kind":"phone"}`)
	h.want(r, 400, "invalid_request")
	if !strings.Contains(r.str("detail"), `only "fido"`) {
		t.Fatalf("kind phone: %s", r.raw)
	}

	for i := range 2 {
		j := 1 - i // the second key first
		h.clock.Advance(time.Minute)
		r := h.do("POST", challenges, tokIDP, `{"kind":"fido","purpose":"test"}`)
		h.want(r, 201, "")
		if r.body["method"] != "" || r.str("kind") != "fido" {
			t.Fatalf("discoverable challenge %s", r.raw)
		}
		var opts struct {
			PublicKey struct {
				Challenge        string
				RPID             string `json:"rpId"`
				AllowCredentials []any
			}
		}
		raw, _ := json.Marshal(r.body["webauthn"])
		json.Unmarshal(raw, &opts)
		ch, err := base64.RawURLEncoding.DecodeString(opts.PublicKey.Challenge)
		if err != nil || opts.PublicKey.RPID != rpID || opts.PublicKey.AllowCredentials == nil || len(opts.PublicKey.AllowCredentials) != 0 {
			t.Fatalf("options %s: want an empty allowCredentials", raw)
		}
		v := h.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"webauthn":`+string(keys[j].Assert(ch))+`}`)
		h.want(v, 200, "")
		if v.str("status") != "approved" || v.str("method") != ids[j] {
			t.Fatalf("verify with key %d: %s", j, v.raw)
		}
		if m := h.method(ids[j]); m["last_used_at"] != h.clock.Now().UTC().Format(time.RFC3339) {
			t.Fatalf("key %d last_used_at %v", j, m["last_used_at"])
		}
	}

	// Another key's answer is a failed attempt with the reason.
	r = h.do("POST", challenges, tokIDP, `{"kind":"fido"}`)
	var opts struct{ PublicKey struct{ Challenge string } }
	raw, _ := json.Marshal(r.body["webauthn"])
	json.Unmarshal(raw, &opts)
	ch, _ := base64.RawURLEncoding.DecodeString(opts.PublicKey.Challenge)
	stranger := mfatest.NewSoftKey(rpID, origin, []byte(user))
	v := h.do("POST", "/v1/challenges/"+r.str("id")+"/verify", tokIDP, `{"webauthn":`+string(stranger.Assert(ch))+`}`)
	h.want(v, 422, "invalid_assertion")
	if !strings.Contains(v.str("detail"), "not one of user "+user+"'s registered security keys") || v.body["attempts_left"] != float64(4) {
		t.Fatalf("unknown key: %s", v.raw)
	}
}

// The External MFA page's "sign in with a passkey": the state says the
// user has a key, a kind "fido" challenge allows any credential, and the
// id_token of the sign-in it answers says fido.
func TestExternalMFAPasskey(t *testing.T) {
	h := newOIDCHarness(t)
	const rpID, origin = "login.example.ac.jp", "https://login.example.ac.jp"
	h.svc.SetWebAuthn(mfatest.WebAuthn(fido.Policy{RPID: rpID, RPName: "Example", Origin: origin, UserVerification: "required"}))
	_, _ = h.readyUser()
	e := h.oidc.entra
	f := h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
	if f.state.body["passkey"] != false {
		t.Fatalf("a user without a key is offered a passkey: %s", f.state.raw)
	}
	h.want(f.b.json("POST", f.base+"api/challenges", f.csrf, `{"kind":"fido"}`), 404, "unknown_method")

	k := mfatest.NewSoftKey(rpID, origin, []byte(user))
	m, err := h.svc.RegisterFIDO(t.Context(), mfa.Actor{Name: "admin", Admin: true}, user, mfa.FIDORegistration{Label: "key", Credential: k.Credential()})
	if err != nil {
		t.Fatal(err)
	}
	f = h.browser().start(e.sign(t, e.hintClaims(h.clock.Now()), e.key, "entra-1"))
	if f.state.body["passkey"] != true {
		t.Fatalf("a user with a key is not offered a passkey: %s", f.state.raw)
	}
	for _, body := range []string{`{"kind":"fido","method":"` + m.ID + `"}`, `{"kind":"totp"}`, `{"kind":"fido","channel":"sms"}`} {
		h.want(f.b.json("POST", f.base+"api/challenges", f.csrf, body), 400, "invalid_request")
	}
	r := f.b.json("POST", f.base+"api/challenges", f.csrf, `{"kind":"fido"}`)
	h.want(r, 201, "")
	var opts struct {
		PublicKey struct {
			Challenge        string
			AllowCredentials []any
		}
	}
	raw, _ := json.Marshal(r.body["webauthn"])
	json.Unmarshal(raw, &opts)
	ch, _ := base64.RawURLEncoding.DecodeString(opts.PublicKey.Challenge)
	if r.body["method"] != "" || opts.PublicKey.AllowCredentials == nil || len(opts.PublicKey.AllowCredentials) != 0 {
		t.Fatalf("passkey challenge %s", r.raw)
	}
	v := f.b.json("POST", f.base+"api/challenges/"+r.str("id")+"/verify", f.csrf, `{"webauthn":`+string(k.Assert(ch))+`}`)
	h.want(v, 200, "")
	if v.str("method") != m.ID {
		t.Fatalf("verified %s", v.raw)
	}
	_, fields := answer(t, f.finish("complete"))
	c := verifyIDToken(t, h, fields["id_token"])
	if amr, _ := c["amr"].([]any); len(amr) != 1 || amr[0] != "fido" {
		t.Fatalf("id_token amr %v, want [fido]", c["amr"])
	}
}
