package pi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// params are a request's parameters. privacyIDEA reads them from the query
// string, a form body and a JSON body alike (privacyidea/api/lib/utils.py
// get_all_params); its plugins send forms (Keycloak, SimpleSAMLphp, PAM,
// the credential provider) or JSON. Each name may appear once across all
// three: a repeated parameter is refused rather than resolved by order,
// since two plugins layered in front of each other could otherwise smuggle
// a second pass or user past the first.
type params map[string]string

// maxBody bounds a request body: the largest honest one is a WebAuthn
// answer of a few kilobytes.
const maxBody = 64 << 10

// maxValue bounds one parameter value.
const maxValue = 16 << 10

// paramError is a request whose parameters cannot be read; privacyIDEA
// answers these with its ParameterError (code 905).
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func paramErrorf(format string, args ...any) error {
	return &paramError{msg: fmt.Sprintf(format, args...)}
}

// readParams parses the query string and, for POST, a form or JSON body.
func readParams(r *http.Request) (params, error) {
	p := params{}
	again := unquotesTwice(r.UserAgent())
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, paramErrorf("the query string is not valid URL encoding: %v", err)
	}
	if err := p.addValues(q, "query string", again); err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, paramErrorf("the request body could not be read: %v", err)
	}
	if len(body) > maxBody {
		return nil, paramErrorf("the request body is larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, mp, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/x-www-form-urlencoded", nil
	}
	if err != nil {
		return nil, paramErrorf("the Content-Type %q cannot be parsed: %v", truncate(ct, 80), err)
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, paramErrorf("the form body is not valid URL encoding: %v", err)
		}
		return p, p.addValues(f, "form body", again)
	case mt == "multipart/form-data":
		f, err := multipart.NewReader(bytes.NewReader(body), mp["boundary"]).ReadForm(maxBody)
		if err != nil {
			return nil, paramErrorf("the multipart form body cannot be read: %v", err)
		}
		defer f.RemoveAll()
		if len(f.File) > 0 {
			return nil, paramErrorf("the multipart form carries a file; these routes take parameters only")
		}
		return p, p.addValues(f.Value, "form body", again)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return p, p.addJSON(body)
	default:
		return nil, paramErrorf("the body's Content-Type %q is not supported: send application/x-www-form-urlencoded or application/json", truncate(mt, 80))
	}
}

func (p params) add(name, value, where string) error {
	switch {
	case !utf8.ValidString(name) || !utf8.ValidString(value):
		return paramErrorf("parameter %q in the %s is not valid UTF-8", truncate(strings.ToValidUTF8(name, "?"), 40), where)
	case len(value) > maxValue:
		return paramErrorf("parameter %q is longer than %d bytes", truncate(name, 40), maxValue)
	}
	if _, dup := p[name]; dup {
		return paramErrorf("parameter %q is given more than once; send each parameter once", truncate(name, 40))
	}
	p[name] = value
	return nil
}

func (p params) addValues(v url.Values, where string, again bool) error {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	slices.Sort(names) // the error names the same parameter every time
	for _, k := range names {
		for _, val := range v[k] {
			if again {
				val = unquote(val)
			}
			if err := p.add(k, val, where); err != nil {
				return err
			}
		}
	}
	return nil
}

// addJSON takes a JSON object's members as parameters: strings as they
// are, numbers in their JSON spelling (a plugin may send a code as a
// number), booleans as "true"/"false", null as absent. Nested objects and
// arrays are refused: no parameter of these routes is one. A member that
// appears twice in the object is refused like any repeated parameter.
func (p params) addJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return paramErrorf("the JSON body must be one object of parameters")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return paramErrorf("the JSON body is not valid JSON: %v", err)
		}
		name := kt.(string) // object keys are always strings
		vt, err := dec.Token()
		if err != nil {
			return paramErrorf("the JSON body is not valid JSON: %v", err)
		}
		var val string
		switch v := vt.(type) {
		case string:
			val = v
		case json.Number:
			val = v.String()
		case bool:
			val = fmt.Sprint(v)
		case nil:
			continue
		default:
			return paramErrorf("parameter %q must be a string, not a JSON object or array", truncate(name, 40))
		}
		if err := p.add(name, val, "JSON body"); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return paramErrorf("the JSON body is not valid JSON: %v", err)
	}
	if dec.More() {
		return paramErrorf("the JSON body must hold one object only")
	}
	if _, err := dec.Token(); err != io.EOF {
		return paramErrorf("the JSON body must hold one object only")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// unquotesTwice reports whether form values from this client are percent-
// decoded a second time. privacyIDEA does so for every client but its
// credential provider, its LDAP proxy and the SimpleSAMLphp module
// (privacyidea/api/lib/utils.py get_all_params with check_unquote), because
// its Java client and the FreeRADIUS plugin encode values twice; a value
// that was encoded once passes through unchanged unless it holds a '%'.
func unquotesTwice(userAgent string) bool {
	product, _, _ := strings.Cut(userAgent, "/")
	switch strings.ToLower(strings.TrimSpace(product)) {
	case "privacyidea-cp", "privacyidea-ldap-proxy", "simplesamlphp":
		return false
	}
	return true
}

// unquote is Python's urllib.parse.unquote: each %XX becomes its byte,
// a '%' not followed by two hex digits stays, '+' stays, and bytes that
// do not form UTF-8 become U+FFFD.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
