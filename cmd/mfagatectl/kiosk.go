package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

type sessionView struct {
	ID           string      `json:"id"`
	User         string      `json:"user"`
	URL          string      `json:"url"`
	State        string      `json:"state"`
	Message      string      `json:"message"`
	ExpiresAt    time.Time   `json:"expires_at"`
	MinPINLength int         `json:"min_pin_length"`
	Method       *methodView `json:"method"`
}

// final reports whether the session's operation has ended: done or
// failed, a PIN to enter again, or the session over.
func (s sessionView) final() bool {
	switch s.State {
	case "done", "failed", "need_pin", "expired":
		return true
	}
	return false
}

// pageURL makes the session's page path absolute: base, else the -url
// when it is http(s). It returns "" when there is no base to use.
func (e *env) pageURL(base, path string) (string, error) {
	if base == "" {
		if err := e.g.resolveURL(); err != nil {
			return "", err
		}
		if strings.HasPrefix(e.g.url, "unix:") {
			return "", nil
		}
		base = e.g.url
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", usagef("-base %q: want http://host:port or https://host[:port], as the kiosk's browser reaches the gateway", base)
	}
	return strings.TrimSuffix(u.String(), "/") + path, nil
}

func setupKioskOpen(fs *flag.FlagSet) action {
	base := fs.String("base", "", "base `URL` of the kiosk page as the kiosk's browser reaches the gateway (default: -url; needed when -url is a unix socket)")
	proof := fs.String("proof", "", "`CHALLENGE_ID` of an approved challenge of the user, less than 10 minutes old; needed once MFA is on, unless the token is admin")
	return func(e *env, args []string) error {
		if *base != "" {
			// Checked before the session is opened.
			if _, err := e.pageURL(*base, "/"); err != nil {
				return err
			}
		}
		body := map[string]string{"user": args[0]}
		if *proof != "" {
			body["proof"] = *proof
		}
		raw, err := e.call("POST", "/v1/kiosk/sessions", nil, body)
		if err := kioskErr(err); err != nil {
			return err
		}
		var s sessionView
		if err := decodeAnswer(raw, &s); err != nil {
			return err
		}
		page, err := e.pageURL(*base, s.URL)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
		} else {
			tw := e.table()
			fmt.Fprintf(tw, "session\t%s\n", s.ID)
			fmt.Fprintf(tw, "user\t%s\n", s.User)
			if page != "" {
				fmt.Fprintf(tw, "page\t%s\n", page)
			} else {
				fmt.Fprintf(tw, "page\t%s (on the gateway's HTTP listener)\n", s.URL)
			}
			fmt.Fprintf(tw, "expires\t%s (in %s)\n", stamp(s.ExpiresAt), time.Until(s.ExpiresAt).Round(time.Second))
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if page == "" {
			e.note("Pass -base http://HOST:PORT to print the page's full address.\n")
		}
		return nil
	}
}

// kioskErr turns the 404 of a gateway without the kiosk routes into
// errNoKiosk.
func kioskErr(err error) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == 404 && ae.Code == "not_found" {
		return errNoKiosk
	}
	return err
}

func setupKioskDevices(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, ds, err := e.fetchDevices()
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
			return nil
		}
		return e.printDevices(ds)
	}
}

// sessionPoll is how often "kiosk enroll" reads the session.
const sessionPoll = 250 * time.Millisecond

func setupKioskEnroll(fs *flag.FlagSet) action {
	device := fs.String("device", "", "`PATH` of the security key, as \"kiosk devices\" lists it (default: the only key present)")
	pin := fs.String("pin", "", "the key's `PIN`; it becomes the key's PIN when none is set (default: read from standard input)")
	label := fs.String("label", "", "`LABEL` the user sees for the key")
	proof := fs.String("proof", "", "`CHALLENGE_ID` of an approved challenge of the user; needed once MFA is on, unless the token is admin")
	return func(e *env, args []string) error {
		user := args[0]
		_, ds, err := e.fetchDevices()
		if err != nil {
			return err
		}
		dev, err := pickDevice(ds, *device)
		if err != nil {
			return err
		}
		if *pin == "" {
			p, err := e.readCode("Enter the security key's PIN (a key without one gets it as its PIN):")
			if errors.Is(err, errNoCode) {
				return usagef("kiosk enroll: no PIN: pass -pin or type it on standard input")
			}
			if err != nil {
				return err
			}
			*pin = p
		}
		body := map[string]string{"user": user}
		if *proof != "" {
			body["proof"] = *proof
		}
		raw, err := e.call("POST", "/v1/kiosk/sessions", nil, body)
		if err != nil {
			return err
		}
		var s sessionView
		if err := decodeAnswer(raw, &s); err != nil {
			return err
		}
		// The gateway sets pin as the PIN of a key that has none.
		req := map[string]string{"device": dev.Path, "pin": *pin}
		if *label != "" {
			req["label"] = *label
		}
		if _, err := e.call("POST", pathf("/v1/kiosk/sessions/%s/enroll", s.ID), nil, req); err != nil {
			return err
		}
		s, raw, err = e.awaitSession(s)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
		}
		if s.State != "done" || s.Method == nil {
			return fmt.Errorf("enrollment %s: %s", s.State, strings.TrimSuffix(s.Message, "."))
		}
		if !e.g.json {
			fmt.Fprintf(e.stdout, "Registered security key %s %q for user %s.\n", s.Method.ID, s.Method.Label, user)
		}
		return nil
	}
}

// pickDevice finds the key at path, or the only key present.
func pickDevice(ds []deviceView, path string) (deviceView, error) {
	if path != "" {
		for _, d := range ds {
			if d.Path == path {
				return d, nil
			}
		}
		return deviceView{}, fmt.Errorf("no security key at %s; \"mfagatectl kiosk devices\" lists those present", path)
	}
	switch len(ds) {
	case 0:
		return deviceView{}, errors.New("no security key present at the kiosk; insert one and try again")
	case 1:
		return ds[0], nil
	}
	return deviceView{}, usagef("kiosk enroll: %d security keys are present; choose one with -device PATH", len(ds))
}

// awaitSession reads the session until its operation ends, showing its
// message as progress ("Touch your security key."). The gateway ends the
// session at its expiry, which bounds the wait.
func (e *env) awaitSession(s sessionView) (sessionView, []byte, error) {
	p := e.newProgress()
	defer p.end()
	for {
		raw, err := e.call("GET", pathf("/v1/kiosk/sessions/%s", s.ID), nil, nil)
		if err != nil {
			return s, nil, err
		}
		s = sessionView{}
		if err := decodeAnswer(raw, &s); err != nil {
			return s, nil, err
		}
		// need_pin and failed are shown by the error that follows.
		if s.State != "ready" && s.State != "need_pin" && s.State != "failed" {
			p.set("kiosk session %s: %s", s.ID, s.Message)
		}
		if s.final() {
			return s, raw, nil
		}
		select {
		case <-e.ctx.Done():
			return s, nil, errInterrupted
		case <-time.After(sessionPoll):
		}
	}
}

func setupFraudClear(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("POST", pathf("/v1/users/%s/unlock", args[0]), nil, nil)
		if err != nil {
			return err
		}
		if !e.g.json {
			fmt.Fprintf(e.stdout, "Cleared the fraud block and the failure lock of user %s.\n\n", args[0])
		}
		return e.printUser(raw)
	}
}
