package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The answers of design/API.md, as far as the CLI shows them. Unknown
// fields are ignored, so the gateway may add some.

type userView struct {
	User string `json:"user"`
	MFA  struct {
		State            string     `json:"state"`
		ActivatesAt      *time.Time `json:"activates_at"`
		LastTestSigninAt *time.Time `json:"last_test_signin_at"`
		PhoneBlocked     bool       `json:"phone_blocked"`
		Failures         int        `json:"consecutive_failures"`
	} `json:"mfa"`
	DefaultMethod *string      `json:"default_method"`
	Methods       []methodView `json:"methods"`
	Warnings      []string     `json:"warnings"`
}

type methodView struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Label     string `json:"label"`
	Confirmed bool   `json:"confirmed"`
	Default   bool   `json:"default"`
	Slot      string `json:"slot"`
	Channel   string `json:"channel"`
	Phone     string `json:"phone"`
}

type challengeView struct {
	ID           string     `json:"id"`
	User         string     `json:"user"`
	Method       string     `json:"method"`
	Kind         string     `json:"kind"`
	Channel      string     `json:"channel"`
	Purpose      string     `json:"purpose"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason"`
	ExpiresAt    time.Time  `json:"expires_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	AttemptsLeft int        `json:"attempts_left"`
	NumberMatch  string     `json:"number_match"`
	Delivery     *struct {
		Modem    string `json:"modem"`
		Attempts int    `json:"attempts"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
	} `json:"delivery"`
}

// final reports whether the challenge can no longer change (API.md's
// final statuses).
func (c challengeView) final() bool {
	switch c.Status {
	case "approved", "denied", "expired", "failed", "locked", "no_answer", "busy":
		return true
	}
	return false
}

type addMethodAnswer struct {
	Method methodView `json:"method"`
	TOTP   *struct {
		Secret string `json:"secret"`
		URI    string `json:"uri"`
	} `json:"totp"`
	Challenge *challengeView `json:"challenge"`
}

type confirmAnswer struct {
	Method methodView `json:"method"`
}

type eventView struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	User      string    `json:"user"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor"`
	Method    string    `json:"method"`
	Challenge string    `json:"challenge"`
	Detail    string    `json:"detail"`
}

type jobView struct {
	ID        string    `json:"id"`
	Challenge string    `json:"challenge"`
	Channel   string    `json:"channel"`
	To        string    `json:"to"`
	State     string    `json:"state"`
	Modem     string    `json:"modem"`
	Attempts  int       `json:"attempts"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// decodeAnswer parses a 2xx body into v.
func decodeAnswer(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("the gateway's answer is not the expected JSON (%v); is -url pointing at mfagated?", err)
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(*t)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// printUser shows a user: a summary, then the methods table.
func (e *env) printUser(raw []byte) error {
	if e.g.json {
		e.printJSON(raw)
		return nil
	}
	var u userView
	if err := decodeAnswer(raw, &u); err != nil {
		return err
	}
	tw := e.table()
	fmt.Fprintf(tw, "user\t%s\n", u.User)
	fmt.Fprintf(tw, "mfa\t%s\n", u.MFA.State)
	fmt.Fprintf(tw, "activates at\t%s\n", stampPtr(u.MFA.ActivatesAt))
	fmt.Fprintf(tw, "last test sign-in\t%s\n", stampPtr(u.MFA.LastTestSigninAt))
	def := "-"
	if u.DefaultMethod != nil {
		def = *u.DefaultMethod
	}
	fmt.Fprintf(tw, "default method\t%s\n", def)
	if u.MFA.Failures > 0 {
		fmt.Fprintf(tw, "failed verifications\t%d in a row (mfagatectl user unlock clears a lock)\n", u.MFA.Failures)
	}
	if u.MFA.PhoneBlocked {
		fmt.Fprintf(tw, "phone verification\tblocked after a fraud report\n")
	}
	warnings := "-"
	if len(u.Warnings) > 0 {
		warnings = strings.Join(u.Warnings, ", ")
	}
	fmt.Fprintf(tw, "warnings\t%s\n", warnings)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	if len(u.Methods) == 0 {
		fmt.Fprintln(e.stdout, "no methods registered")
		return nil
	}
	tw = e.table()
	fmt.Fprintln(tw, "ID\tKIND\tLABEL\tCONFIRMED\tDEFAULT\tSLOT\tCHANNEL\tPHONE")
	for _, m := range u.Methods {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Kind, dash(m.Label), yesNo(m.Confirmed), yesNo(m.Default),
			dash(m.Slot), dash(m.Channel), dash(m.Phone))
	}
	return tw.Flush()
}

// printChallenge shows a challenge as aligned key/value lines.
func (e *env) printChallenge(c challengeView) error {
	tw := e.table()
	fmt.Fprintf(tw, "challenge\t%s\n", c.ID)
	fmt.Fprintf(tw, "user\t%s\n", c.User)
	kind := c.Kind
	if c.Channel != "" {
		kind += ", " + c.Channel
	}
	fmt.Fprintf(tw, "method\t%s (%s)\n", c.Method, kind)
	fmt.Fprintf(tw, "purpose\t%s\n", dash(c.Purpose))
	status := c.Status
	if c.Reason != "" {
		status += " (" + c.Reason + ")"
	}
	fmt.Fprintf(tw, "status\t%s\n", status)
	fmt.Fprintf(tw, "expires\t%s\n", stamp(c.ExpiresAt))
	if c.FinishedAt != nil {
		fmt.Fprintf(tw, "finished\t%s\n", stampPtr(c.FinishedAt))
	}
	fmt.Fprintf(tw, "attempts left\t%d\n", c.AttemptsLeft)
	if c.NumberMatch != "" {
		fmt.Fprintf(tw, "number to match\t%s\n", c.NumberMatch)
	}
	if d := c.Delivery; d != nil {
		line := d.Status
		if d.Modem != "" {
			line += " via " + d.Modem
		}
		line += fmt.Sprintf(", %d attempt(s)", d.Attempts)
		if d.Reason != "" {
			line += " (" + d.Reason + ")"
		}
		fmt.Fprintf(tw, "delivery\t%s\n", line)
	}
	return tw.Flush()
}

// showChallenge prints a challenge answer: raw with -json, else the table.
func (e *env) showChallenge(raw []byte) (challengeView, error) {
	var c challengeView
	if err := decodeAnswer(raw, &c); err != nil {
		return c, err
	}
	if e.g.json {
		e.printJSON(raw)
		return c, nil
	}
	return c, e.printChallenge(c)
}
