package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponse bounds what the CLI reads from one response; the largest
// legitimate answer (an audit page) is far smaller.
const maxResponse = 8 << 20

// client calls the gateway's HTTP API. It knows the wire format and
// nothing of the domain: every decision is the daemon's.
type client struct {
	base    *url.URL // scheme, host and an optional path prefix
	display string   // the -url as given, for messages
	token   string
	hc      *http.Client
}

// newClient builds a client for rawURL: "http://host:port[/prefix]",
// "https://…" or "unix:/path/to.sock". timeout bounds each request.
func newClient(rawURL, token string, timeout time.Duration) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the gateway is on-premises; never send its token through a proxy
	var base *url.URL
	if path, ok := strings.CutPrefix(rawURL, "unix:"); ok {
		if path == "" {
			return nil, usagef("-url %q: want unix:/path/to.sock", rawURL)
		}
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
		base = &url.URL{Scheme: "http", Host: "mfagated"}
	} else {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, usagef("-url %q: want http://host:port, https://host:port or unix:/path/to.sock", rawURL)
		}
		if u.User != nil {
			return nil, usagef("-url %q: credentials do not belong in the URL; use -token-file", u.Redacted())
		}
		base = u
	}
	return &client{
		base:    base,
		display: rawURL,
		token:   token,
		hc: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// A redirect would be a misconfigured proxy; following it
			// could send the token somewhere unexpected.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// apiError is a refusal from the gateway: its problem+json body, or the
// bare status when the answer was not a problem document.
type apiError struct {
	Status       int         `json:"status"`
	Code         string      `json:"code"`
	Detail       string      `json:"detail"`
	AttemptsLeft *int        `json:"attempts_left"`
	Lines        []lineError `json:"lines"` // import_rejected
}

type lineError struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (e *apiError) Error() string {
	switch {
	case e.Code != "" && e.Detail != "":
		return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Detail, e.Status)
	case e.Code != "":
		return fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
	case e.Detail != "":
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// do sends one request and returns the body of a 2xx answer. body, when
// non-nil, is sent as JSON. Any other answer becomes an *apiError.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	resp, raw, err := c.roundTrip(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return raw, nil
	}
	return nil, problemFrom(resp, raw)
}

// doAny is do for routes whose refusals carry an answer too (GET /readyz
// is 503 with the same body when not ready): the body of a 2xx answer or
// of one of the statuses in also.
func (c *client) doAny(ctx context.Context, method, path string, also ...int) (int, []byte, error) {
	resp, raw, err := c.roundTrip(ctx, method, path, nil, nil)
	if err != nil {
		return 0, nil, err
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	for _, s := range also {
		ok = ok || resp.StatusCode == s
	}
	if !ok || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return resp.StatusCode, nil, problemFrom(resp, raw)
	}
	return resp.StatusCode, raw, nil
}

// roundTrip sends one request and reads the whole answer.
func (c *client) roundTrip(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, []byte, error) {
	target := strings.TrimSuffix(c.base.String(), "/") + path
	if q := query.Encode(); q != "" {
		target += "?" + q
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "mfagatectl")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, nil, c.transportError(method, path, err)
	}
	if len(raw) > maxResponse {
		return nil, nil, fmt.Errorf("%s %s: the answer is larger than %d bytes; is -url %s an mfagate gateway?", method, path, maxResponse, c.display)
	}
	return resp, raw, nil
}

func problemFrom(resp *http.Response, raw []byte) *apiError {
	e := &apiError{}
	ct := resp.Header.Get("Content-Type")
	if strings.Contains(ct, "json") && json.Unmarshal(raw, e) == nil && e.Code != "" {
		e.Status = resp.StatusCode
		if ra := resp.Header.Get("Retry-After"); ra != "" && resp.StatusCode == http.StatusTooManyRequests {
			e.Detail += "; retry after " + ra + "s"
		}
		return e
	}
	// Not a gateway problem (a proxy, another service): show a little of it.
	e = &apiError{Status: resp.StatusCode}
	if strings.HasPrefix(ct, "text/plain") {
		line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
		if len(line) > 120 {
			line = line[:120] + "…"
		}
		e.Detail = line
	}
	return e
}

// transportError says why the gateway could not be reached, naming the
// URL and the flag that controls the failing part.
func (c *client) transportError(method, path string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", method, path, errInterrupted)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s %s: no answer from %s within -timeout %s", method, path, c.display, c.hc.Timeout)
		}
		err = ue.Err
	}
	return fmt.Errorf("%s %s: cannot reach %s: %v", method, path, c.display, err)
}

// pathf builds an API path, escaping each argument as one path segment.
func pathf(format string, args ...string) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(a)
	}
	return fmt.Sprintf(format, esc...)
}
