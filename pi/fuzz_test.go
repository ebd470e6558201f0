package pi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadParams feeds request bodies and query strings of every supported
// type to the parameter reader: it never panics, refuses with a
// paramError only, and what it accepts is valid UTF-8 within the bounds.
func FuzzReadParams(f *testing.F) {
	f.Add("user=0000000001&pass=123456", "", "application/x-www-form-urlencoded", "PAM/1.1.0")
	f.Add(`{"user":"0000000001","pass":123456,"x":null,"y":true}`, "nonce=1", "application/json", "")
	f.Add(`{"user":"a","user":"b"}`, "", "application/json", "")
	f.Add("--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\n0000000001\r\n--b--\r\n", "", "multipart/form-data; boundary=b", "simpleSAMLphp")
	f.Add("user=%2530%25", "user=1", "text/plain", "privacyIDEA-Keycloak/1")
	f.Add("clientdata=eyJ0eXBlIjoid2Vi%0D%0AYXV0aG4uZ2V0In0", "state=c_x", "", "FreeRADIUS")
	f.Fuzz(func(t *testing.T, body, query, ct, ua string) {
		r, err := http.NewRequest(http.MethodPost, "http://gw/validate/check", strings.NewReader(body))
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ct)
		r.Header.Set("User-Agent", ua)
		p, err := readParams(r)
		if err != nil {
			var pe *paramError
			if !errors.As(err, &pe) || pe.msg == "" {
				t.Fatalf("refusal %v is not a parameter error with a message", err)
			}
			return
		}
		for k, v := range p {
			if !utf8.ValidString(k) || !utf8.ValidString(v) || len(v) > maxValue {
				t.Fatalf("accepted %q = %q", k, v)
			}
		}
	})
}

func TestUnquoteIsPythons(t *testing.T) {
	// Expected values are urllib.parse.unquote's.
	for in, want := range map[string]string{
		"0000000001%40uni": "0000000001@uni",
		"a+b":              "a+b",
		"100%":             "100%",
		"%zz%4":            "%zz%4",
		"%E8%AA%8D":        "認",
		"%ff":              "\uFFFD",
		"plain":            "plain",
	} {
		if got := unquote(in); got != want {
			t.Errorf("unquote(%q) = %q, want %q", in, got, want)
		}
	}
	for ua, twice := range map[string]bool{"privacyIDEA-Keycloak/1.5": true, "PAM/1.1.0": true, "": true,
		"privacyidea-cp/3.6": false, "simpleSAMLphp": false, "SimpleSAMLphp/2.1": false} {
		if unquotesTwice(ua) != twice {
			t.Errorf("User-Agent %q: unquote twice = %v", ua, !twice)
		}
	}
}
