package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Finding, exporting and importing users (GET /v1/users,
// GET /v1/export/users, POST /v1/users/import).

// userFilterFlags are the filters user list and user export share.
type userFilterFlags struct {
	state, kind, warning *string
	only                 *bool
}

func defineUserFilters(fs *flag.FlagSet) userFilterFlags {
	return userFilterFlags{
		state:   fs.String("state", "", "only users whose MFA is `STATE`: off, pending or active"),
		kind:    fs.String("method-kind", "", "only users with a usable method of `KIND`: totp, phone, fido or tap"),
		only:    fs.Bool("only", false, "with -method-kind: only users all of whose usable methods are of that kind"),
		warning: fs.String("warning", "", "only users with `WARNING`: single_method, no_default_method, phone_blocked or locked"),
	}
}

func (f userFilterFlags) query() (url.Values, error) {
	q := url.Values{}
	if *f.state != "" {
		if err := oneOf("state", *f.state, "off", "pending", "active"); err != nil {
			return nil, err
		}
		q.Set("state", *f.state)
	}
	if *f.kind != "" {
		if err := oneOf("method-kind", *f.kind, "totp", "phone", "fido", "tap"); err != nil {
			return nil, err
		}
		q.Set("method_kind", *f.kind)
	}
	if *f.only {
		if *f.kind == "" || *f.kind == "tap" {
			return nil, usagef("-only needs -method-kind totp, phone or fido")
		}
		q.Set("only", "true")
	}
	if *f.warning != "" {
		if err := oneOf("warning", *f.warning, "single_method", "no_default_method", "phone_blocked", "locked"); err != nil {
			return nil, err
		}
		q.Set("warning", *f.warning)
	}
	return q, nil
}

type userPageView struct {
	Users      []userView `json:"users"`
	NextCursor *string    `json:"next_cursor"`
}

func setupUserList(fs *flag.FlagSet) action {
	filters := defineUserFilters(fs)
	maxUsers := fs.Int("max", 0, "stop after `N` users (default: every matching user)")
	return func(e *env, args []string) error {
		q, err := filters.query()
		if err != nil {
			return err
		}
		if *maxUsers < 0 {
			return usagef("-max %d: give a positive number, or none for every user", *maxUsers)
		}
		c, err := e.client()
		if err != nil {
			return err
		}
		tw := e.table()
		shown := 0
		if !e.g.json {
			fmt.Fprintln(tw, "USER\tMFA\tMETHODS\tDEFAULT\tWARNINGS")
		}
		for {
			if *maxUsers > 0 {
				q.Set("limit", strconv.Itoa(min(*maxUsers-shown, 1000)))
			} else {
				q.Set("limit", "1000")
			}
			raw, err := c.do(e.ctx, "GET", "/v1/users", q, nil)
			if err != nil {
				return err
			}
			var page userPageView
			if err := decodeAnswer(raw, &page); err != nil {
				return err
			}
			if e.g.json {
				e.printJSON(raw)
			}
			for _, u := range page.Users {
				shown++
				if !e.g.json {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.User, u.MFA.State, methodSummary(u.Methods), dash(deref(u.DefaultMethod)), dash(strings.Join(u.Warnings, ",")))
				}
			}
			if page.NextCursor == nil || (*maxUsers > 0 && shown >= *maxUsers) {
				break
			}
			q.Set("cursor", *page.NextCursor)
		}
		if e.g.json {
			return nil
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		e.note("%d users\n", shown)
		return nil
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// methodSummary names a user's methods by kind, unconfirmed ones marked.
func methodSummary(ms []methodView) string {
	if len(ms) == 0 {
		return "-"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Kind
		if m.Kind == "phone" && m.Channel != "" {
			parts[i] += "/" + m.Channel
		}
		if !m.Confirmed {
			parts[i] += "(unconfirmed)"
		}
	}
	return strings.Join(parts, ",")
}

func setupUserExport(fs *flag.FlagSet) action {
	filters := defineUserFilters(fs)
	format := fs.String("format", "csv", "`FORMAT` of the export: csv or json")
	return func(e *env, args []string) error {
		q, err := filters.query()
		if err != nil {
			return err
		}
		if err := oneOf("format", *format, "csv", "json"); err != nil {
			return err
		}
		q.Set("format", *format)
		c, err := e.client()
		if err != nil {
			return err
		}
		return c.stream(e.ctx, "GET", "/v1/export/users", q, "", nil, e.stdout)
	}
}

func setupUserImport(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		var in io.Reader = e.in
		if args[0] != "-" {
			f, err := os.Open(args[0])
			if err != nil {
				return usagef("user import: %v", err)
			}
			defer f.Close()
			in = f
		}
		c, err := e.client()
		if err != nil {
			return err
		}
		var answer strings.Builder
		err = c.stream(e.ctx, "POST", "/v1/users/import", nil, "text/csv", in, &answer)
		if ae, ok := err.(*apiError); ok && len(ae.Lines) > 0 {
			for _, l := range ae.Lines {
				e.note("line %d: %s: %s\n", l.Line, l.Code, l.Detail)
			}
			return fmt.Errorf("%s: %d lines refused; nothing was imported", ae.Code, len(ae.Lines))
		}
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON([]byte(answer.String()))
			return nil
		}
		var a struct{ Imported int }
		if err := decodeAnswer([]byte(answer.String()), &a); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "imported %d phones, unconfirmed: each user confirms theirs by registering it at a kiosk or on the Security info page\n", a.Imported)
		return nil
	}
}

// stream sends body (with contentType) and copies a 2xx answer to w as it
// arrives, without the size limit of do: an export can be large.
func (c *client) stream(ctx context.Context, method, path string, query url.Values, contentType string, body io.Reader, w io.Writer) error {
	target := strings.TrimSuffix(c.base.String(), "/") + path
	if q := query.Encode(); q != "" {
		target += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "mfagatectl")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// An export takes as long as it takes; -timeout bounds the wait for
	// its first byte, not the whole answer.
	hc := *c.hc
	hc.Timeout = 0
	if tr, ok := c.hc.Transport.(*http.Transport); ok {
		t := tr.Clone()
		t.ResponseHeaderTimeout = c.hc.Timeout
		hc.Transport = t
	}
	resp, err := hc.Do(req)
	if err != nil {
		return c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return problemFrom(resp, raw)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("%s %s: the answer was cut off: %v", method, path, err)
	}
	return nil
}
