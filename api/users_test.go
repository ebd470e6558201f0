package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// importCSV posts an import as text/csv.
func (h *harness) importCSV(token, body string) resp {
	h.t.Helper()
	return h.do("POST", "/v1/users/import", token, body, "Content-Type", "text/csv")
}

// listIDs pages through GET /v1/users with query q, limit users a page,
// and returns the user IDs in the order listed.
func (h *harness) listIDs(token, q string, limit int) []string {
	h.t.Helper()
	var ids []string
	cursor := ""
	for range 1000 {
		v, _ := url.ParseQuery(q)
		v.Set("limit", strconv.Itoa(limit))
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		r := h.do("GET", "/v1/users?"+v.Encode(), token, "")
		h.want(r, 200, "")
		var page struct {
			Users []struct {
				User string
			}
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.raw, &page); err != nil {
			h.t.Fatal(err)
		}
		for _, u := range page.Users {
			ids = append(ids, u.User)
		}
		if page.NextCursor == nil {
			return ids
		}
		cursor = *page.NextCursor
	}
	h.t.Fatal("the listing does not end")
	return nil
}

// A rollout's import: users with the phones the institution has on file,
// registered unconfirmed, listed and found by filters afterwards.
func TestImportAndListUsers(t *testing.T) {
	h := newHarness(t)
	r := h.importCSV(tokAdmin, "user,phone,slot,channel,language,label\r\n"+
		"1000000003,090-1111-0003,mobile,sms,ja,\r\n"+
		"1000000001,+81 90 1111 0001,mobile,,en,Work phone\r\n"+
		"1000000002,03-1111-0002,office,voice,,Desk\r\n"+
		"1000000002,080-1111-0022,mobile,,,\r\n")
	h.want(r, 200, "")
	if r.body["imported"] != float64(4) {
		t.Fatalf("imported: %s", r.raw)
	}
	u := h.do("GET", "/v1/users/1000000002", tokAdmin, "")
	var shown struct {
		MFA     struct{ State string }
		Methods []struct {
			Kind, Slot, Channel, Phone string
			Confirmed                  bool
		}
	}
	json.Unmarshal(u.raw, &shown)
	if len(shown.Methods) == 2 && shown.Methods[0].Slot != "office" {
		shown.Methods[0], shown.Methods[1] = shown.Methods[1], shown.Methods[0]
	}
	if shown.MFA.State != "off" || len(shown.Methods) != 2 || shown.Methods[0].Confirmed || shown.Methods[0].Slot != "office" ||
		shown.Methods[0].Channel != "voice" || strings.Contains(shown.Methods[0].Phone, "1111") || shown.Methods[1].Channel != "sms" {
		t.Fatalf("an imported user: %s", u.raw)
	}
	// Nothing was sent: an import is not a confirmation.
	if r := h.do("GET", "/v1/outbox", tokAdmin, ""); len(jsonArray(t, r.raw)) != 0 {
		t.Fatalf("the import queued messages: %s", r.raw)
	}

	// The test user gets a confirmed app and a test sign-in: one method.
	_, secret := h.addTOTP()
	h.signin("test", secret)

	all := []string{"0123456789", "1000000001", "1000000002", "1000000003"}
	for _, limit := range []int{1, 2, 3, 100} {
		if got := h.listIDs(tokEnroll, "", limit); !slices.Equal(got, all) {
			t.Errorf("pages of %d: %v, want %v", limit, got, all)
		}
	}
	for q, want := range map[string][]string{
		"warning=single_method":        {"0123456789"},
		"method_kind=totp":             {"0123456789"},
		"method_kind=phone":            {}, // unconfirmed phones are not usable methods
		"method_kind=totp&only=true":   {"0123456789"},
		"state=off":                    all,
		"state=pending":                {},
		"warning=phone_blocked":        {},
		"state=off&warning=locked":     {},
		"warning=no_default_method":    {},
		"state=off&method_kind=totp":   {"0123456789"},
		"method_kind=fido&only=true":   {},
		"state=active&method_kind=tap": {},
	} {
		if got := h.listIDs(tokAdmin, q, 2); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	h.want(h.do("PUT", "/v1/users/"+user+"/mfa", tokEnroll, `{"enabled":true}`), 200, "")
	if got := h.listIDs(tokAdmin, "state=pending", 10); !slices.Equal(got, []string{user}) {
		t.Errorf("pending after applying: %v", got)
	}

	// Refusals are specific and name what is accepted.
	for _, c := range []struct {
		q, code, says string
	}{
		{"cursor=***", "invalid_cursor", "next_cursor"},
		{"cursor=YWxpY2U", "invalid_cursor", "next_cursor"}, // "alice": not a user ID
		{"state=on", "invalid_filter", "off, pending or active"},
		{"method_kind=email", "invalid_filter", "totp, phone, fido or tap"},
		{"warning=lonely", "invalid_filter", "single_method"},
		{"only=true", "invalid_filter", "method_kind"},
		{"only=yes&method_kind=phone", "invalid_filter", "true or false"},
		{"limit=0", "invalid_filter", "1 to 1000"},
		{"limit=ten", "invalid_filter", "not a number"},
		{"stat=active", "invalid_filter", `unknown parameter "stat"`},
		{"state=off&state=active", "invalid_filter", "once"},
	} {
		r := h.do("GET", "/v1/users?"+c.q, tokAdmin, "")
		h.want(r, 400, c.code)
		if !strings.Contains(r.str("detail"), c.says) {
			t.Errorf("%s: detail %q does not say %q", c.q, r.str("detail"), c.says)
		}
	}
	h.want(h.do("GET", "/v1/users", tokIDP, ""), 403, "forbidden")
	h.want(h.do("GET", "/v1/users", "", ""), 401, "unauthorized")
	h.want(h.importCSV(tokEnroll, "user,phone,slot\n1000000009,090-1111-0009,mobile\n"), 403, "forbidden")
}

// An import with bad lines is refused whole, each bad line named with its
// reason, and changes nothing: no user, no method, no audit event.
func TestImportBadLinesChangeNothing(t *testing.T) {
	h := newHarness(t)
	before := h.do("GET", "/v1/audit", tokAdmin, "").raw
	if len(jsonArray(t, before)) != 0 {
		t.Fatalf("a new gateway has audit events: %s", before)
	}
	r := h.importCSV(tokAdmin, "user,phone,slot,channel\n"+
		"1000000001,090-1111-0001,mobile,sms\n"+ // good
		"alice,090-1111-0002,mobile,sms\n"+ // line 3: user ID
		"1000000003,03-1111-0003,mobile,sms\n"+ // line 4: a landline by SMS
		"1000000004,12345,mobile,sms\n"+ // line 5: not a number
		"1000000005,090-1111-0005,desk,sms\n"+ // line 6: slot
		"1000000001,090-1111-0006,mobile,sms\n"+ // line 7: the user's mobile again
		"1000000007,+1 202 555 0100,mobile,sms\n") // line 8: a region not allowed
	h.want(r, 422, "import_rejected")
	var p struct {
		Lines []struct {
			Line         int
			Code, Detail string
		}
	}
	json.Unmarshal(r.raw, &p)
	var got []string
	for _, l := range p.Lines {
		got = append(got, strconv.Itoa(l.Line)+":"+l.Code)
		if l.Detail == "" {
			t.Errorf("line %d has no reason", l.Line)
		}
	}
	want := []string{"3:invalid_user_id", "4:not_a_mobile_number", "5:invalid_phone", "6:invalid_request", "7:slot_taken", "8:region_not_allowed"}
	if !slices.Equal(got, want) {
		t.Errorf("refused lines %v, want %v\n%s", got, want, r.raw)
	}
	if strings.Contains(string(r.raw), "1111-000") || strings.Contains(string(r.raw), "9011110") {
		t.Errorf("the refusal repeats a full number: %s", r.raw)
	}
	if ids := h.listIDs(tokAdmin, "", 100); len(ids) != 0 {
		t.Errorf("a refused import stored users %v", ids)
	}
	// The audit log holds the refusal, and nothing else new.
	events := jsonArray(t, h.do("GET", "/v1/audit", tokAdmin, "").raw)
	if len(events) != len(jsonArray(t, before))+1 || events[0]["type"] != "request_refused" ||
		!strings.Contains(events[0]["detail"].(string), "import_rejected (6 lines refused, first line 3)") || events[0]["actor"] != "ops" {
		t.Errorf("the audit log after a refused import: %v", events)
	}

	// A confirmed phone in the slot refuses its line inside the
	// transaction: the good line before it is not kept either, and an
	// unconfirmed phone in a slot is replaced by the import.
	h.registerVoice("office", "03-1234-5678")
	h.want(h.importCSV(tokAdmin, "user,phone,slot\n"+user+",090-2222-0001,mobile\n"), 200, "")
	methods := func() string { return string(h.do("GET", "/v1/users/"+user, tokAdmin, "").raw) }
	held := methods()
	r = h.importCSV(tokAdmin, "user,phone,slot,channel\n1000000011,090-2222-0011,mobile,sms\n"+user+",03-2222-0002,office,voice\n")
	h.want(r, 422, "import_rejected")
	json.Unmarshal(r.raw, &p)
	if len(p.Lines) != 1 || p.Lines[0].Line != 3 || p.Lines[0].Code != "slot_taken" {
		t.Errorf("a confirmed office phone: %s", r.raw)
	}
	if ids := h.listIDs(tokAdmin, "", 100); !slices.Equal(ids, []string{user}) {
		t.Errorf("the good line of a refused import was kept: %v", ids)
	}
	if after := methods(); after != held {
		t.Errorf("a refused import changed the user:\n%s\n%s", held, after)
	}
	h.want(h.importCSV(tokAdmin, "user,phone,slot\n"+user+",090-2222-0009,mobile\n"), 200, "")
	if m := methods(); strings.Count(m, `"slot":"mobile"`) != 1 || !strings.Contains(m, "+81 90-****-0009") {
		t.Errorf("the unconfirmed mobile phone was not replaced: %s", m)
	}

	for _, c := range []struct {
		name, body, code string
		line             int
	}{
		{"empty", "", "import_rejected", 1},
		{"unknown column", "user,phone,slot,pin\n", "import_rejected", 1},
		{"missing column", "user,phone\n1000000001,090-1111-0001\n", "import_rejected", 1},
		{"header only", "user,phone,slot\n", "import_rejected", 2},
		{"short line", "user,phone,slot\n1000000001,090-1111-0001,mobile\n1000000002,090\n", "import_rejected", 3},
		{"bad quote", "user,phone,slot\n1000000001,\"090,mobile\n", "import_rejected", 2},
	} {
		r := h.importCSV(tokAdmin, c.body)
		h.want(r, 422, c.code)
		json.Unmarshal(r.raw, &p)
		if len(p.Lines) != 1 || p.Lines[0].Line != c.line {
			t.Errorf("%s: lines %+v, want line %d", c.name, p.Lines, c.line)
		}
	}
	h.want(h.do("POST", "/v1/users/import", tokAdmin, `{"user":"1000000001"}`), 415, "unsupported_media_type")
	if ids := h.listIDs(tokAdmin, "", 100); !slices.Equal(ids, []string{user}) {
		t.Errorf("after the refusals: %v", ids)
	}
}

// The export holds users and their methods with masked numbers, never a
// full number, an authenticator secret or a pass.
func TestExportNeverHoldsSecrets(t *testing.T) {
	h := newHarness(t, tapOn)
	h.want(h.importCSV(tokAdmin, "user,phone,slot,label\n"+
		user+",090-3141-5926,alternate,\"=HYPERLINK(\"\"x\"\")\"\n"+
		"1000000001,080-2718-2818,mobile,\n"), 200, "")
	_, secret := h.addTOTP()
	r := h.do("POST", "/v1/users/"+user+"/tap", tokEnroll, `{"lifetime":"1h","one_time":true}`)
	h.want(r, 201, "")
	pass := r.str("pass")

	secrets := []string{secret, strings.ToLower(secret), pass, "31415926", "3141-5926", "9031415926", "27182818", "8027182818"}
	check := func(what string, body []byte) {
		t.Helper()
		for _, s := range secrets {
			if s != "" && bytes.Contains(body, []byte(s)) {
				t.Errorf("the %s export holds %q:\n%s", what, s, body)
			}
		}
	}

	c := h.do("GET", "/v1/export/users?format=csv", tokAdmin, "")
	h.want(c, 200, "")
	if ct := c.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV export Content-Type %q", ct)
	}
	check("CSV", c.raw)
	rows, err := csv.NewReader(bytes.NewReader(c.raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Header; the test user's phone, app and pass; the other user's phone.
	if len(rows) != 5 || rows[0][0] != "user" || rows[0][12] != "phone" {
		t.Fatalf("CSV rows: %q", rows)
	}
	var phones, labels []string
	for _, row := range rows[1:] {
		if row[6] == "phone" {
			phones = append(phones, row[12])
		}
		labels = append(labels, row[7])
	}
	if len(phones) != 2 || !strings.HasSuffix(phones[0], "26") || !strings.Contains(phones[0], "*") {
		t.Errorf("masked phones: %q", phones)
	}
	if !slices.Contains(labels, `'=HYPERLINK("x")`) {
		t.Errorf("a formula-looking label is exported as is: %q", labels)
	}

	j := h.do("GET", "/v1/export/users?format=json&state=off", tokAdmin, "")
	h.want(j, 200, "")
	check("JSON", j.raw)
	users := jsonArray(t, j.raw)
	if len(users) != 2 || users[0]["user"] != user || len(users[0]["methods"].([]any)) != 3 {
		t.Fatalf("JSON export: %s", j.raw)
	}
	// Filters apply to the export as to the listing.
	one := jsonArray(t, h.do("GET", "/v1/export/users?format=json&method_kind=totp", tokAdmin, "").raw)
	if len(one) != 1 || one[0]["user"] != user {
		t.Errorf("export of app users: %v", one)
	}
	h.want(h.do("GET", "/v1/export/users?format=xml", tokAdmin, ""), 400, "invalid_filter")
	h.want(h.do("GET", "/v1/export/users?warning=lonely", tokAdmin, ""), 400, "invalid_filter")
	h.want(h.do("GET", "/v1/export/users", tokEnroll, ""), 403, "forbidden")
}

// BenchmarkImport10k imports 10 000 users' phones in one request (one
// transaction) on a real SQLite file. Run:
// go test -run '^$' -bench Import10k -benchtime 3x ./api
func BenchmarkImport10k(b *testing.B) {
	h := newHarness(b)
	round := 0
	for b.Loop() {
		round++
		var csv strings.Builder
		csv.WriteString("user,phone,slot\n")
		for i := range 10000 {
			fmt.Fprintf(&csv, "%02d%08d,090-%04d-%04d,mobile\n", round, i, 1000+round, i)
		}
		r := h.importCSV(tokAdmin, csv.String())
		if r.status != 200 {
			b.Fatalf("import: %d %s", r.status, r.raw)
		}
	}
}
