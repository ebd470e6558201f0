package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
)

// Field is one form field of a form_post answer.
type Field struct{ Name, Value string }

// autoSubmit is the whole script of the form_post page. It is constant, so
// the page's CSP can allow exactly it by hash and nothing else runs.
const autoSubmit = `document.forms[0].submit();`

var autoSubmitHash = func() string {
	h := sha256.Sum256([]byte(autoSubmit))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}()

// FormPostCSP is the Content-Security-Policy of the form_post page: no
// source at all but the one auto-submit script, allowed by its hash. A
// sign-in page's own policy must allow the same hash if it serves the page.
// form-action is left out: Entra's endpoint may redirect after the POST,
// and browsers apply form-action to redirects too.
func FormPostCSP() string {
	return "default-src 'none'; script-src " + autoSubmitHash + "; base-uri 'none'; frame-ancestors 'none'"
}

var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Continuing sign-in / サインインを続行しています</title>
</head>
<body>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>JavaScript is off: press the button to continue. / JavaScript が無効です。ボタンを押して続行してください。</p>
<button type="submit">Continue / 続行</button></noscript>
</form>
<script>{{.Script}}</script>
</body>
</html>
`))

// WriteFormPost answers with the auto-submitting page that POSTs fields to
// action (response_mode=form_post, OAuth 2.0 Form Post Response Mode). The
// caller has checked that action is one of the client's redirect_uris.
// The page works under its own strict CSP (FormPostCSP) and without
// JavaScript (a <noscript> button).
func WriteFormPost(w http.ResponseWriter, action string, fields []Field) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", FormPostCSP())
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	var buf []byte
	bw := &byteWriter{&buf}
	err := formPostPage.Execute(bw, struct {
		Action string
		Fields []Field
		Script template.JS
	}{action, fields, template.JS(autoSubmit)})
	if err != nil {
		return err
	}
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf)
	return err
}

type byteWriter struct{ b *[]byte }

func (w *byteWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

// SuccessFields are the fields of a successful answer: id_token, and state
// only if the request had one (the reference: "Otherwise, this value
// shouldn't be present").
func SuccessFields(idToken, state string) []Field {
	f := []Field{{"id_token", idToken}}
	if state != "" {
		f = append(f, Field{"state", state})
	}
	return f
}
