package api_test

import (
	"net/url"
	"testing"
)

// Whatever an import's CSV holds, the answer is 200 or a problem naming
// lines (never a 5xx), and a refused import changes no user.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"user,phone,slot\n1000000001,090-1111-0001,mobile\n",
		"user,phone,slot,channel,language,label\r\n1000000001,03-1111-0001,office,voice,en,\"a,b\"\r\n",
		"\xef\xbb\xbfUSER,Phone,Slot\n1000000001,+819011110001,alternate\n",
		"user,phone,slot\n1000000001,\"090\n", "user,user\n", "", "\x00,\n", "user,phone,slot\n,,\n",
		"user,phone,slot\n1000000001,090-1111-0001,mobile\n1000000001,090-1111-0002,mobile\n",
	} {
		f.Add(s)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		h.t = t
		before := h.do("GET", "/v1/export/users?format=json", tokAdmin, "").raw
		r := h.importCSV(tokAdmin, body)
		switch {
		case r.status == 200:
		case r.status >= 500:
			t.Fatalf("import answered %d: %s", r.status, r.raw)
		default:
			if after := h.do("GET", "/v1/export/users?format=json", tokAdmin, "").raw; string(after) != string(before) {
				t.Fatalf("a refused import (%d %s) changed users", r.status, r.code())
			}
		}
	})
}

// Whatever the query of a listing, it answers 200 or 400 with a code.
func FuzzUserListQuery(f *testing.F) {
	for _, s := range []string{"state=active", "method_kind=phone&only=true", "warning=single_method&limit=5",
		"cursor=MDEyMzQ1Njc4OQ", "cursor=%ff", "limit=-1", "only=1", "state=active&state=off", "a=b", ";;&&=", "limit=99999999999999999999"} {
		f.Add(s)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, q string) {
		h.t = t
		v, err := url.ParseQuery(q)
		if err != nil {
			return // not a query a client library sends
		}
		q = v.Encode() // as a client sends it: a raw space is no HTTP request
		r := h.do("GET", "/v1/users?"+q, tokAdmin, "")
		if r.status != 200 && r.status != 400 {
			t.Fatalf("GET /v1/users?%s: %d %s", q, r.status, r.raw)
		}
	})
}
