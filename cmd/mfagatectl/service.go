package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type readinessView struct {
	Ready      bool `json:"ready"`
	Components []struct {
		Name   string `json:"name"`
		Ready  bool   `json:"ready"`
		Detail string `json:"detail"`
	} `json:"components"`
}

type modemView struct {
	ID           string   `json:"id"`
	Profile      string   `json:"profile"`
	Port         string   `json:"port"`
	State        string   `json:"state"`
	Busy         bool     `json:"busy"`
	Channels     []string `json:"channels"`
	IMEI         string   `json:"imei"`
	Operator     string   `json:"operator"`
	SignalDBm    int      `json:"signal_dbm"`
	Registration string   `json:"registration"`
	SentToday    int      `json:"sent_today"`
	DailyCap     int      `json:"daily_cap"`
	LastError    string   `json:"last_error"`
	SMSSent      int64    `json:"sms_sent"`
	SMSFailed    int64    `json:"sms_failed"`
	Calls        int64    `json:"calls"`
	Reopens      int64    `json:"reopens"`
}

// signal shows a modem's signal strength; 0 means unknown.
func (m modemView) signal() string {
	if m.SignalDBm == 0 {
		return "-"
	}
	return fmt.Sprintf("%d dBm", m.SignalDBm)
}

// today shows the SMS sent today against the SIM's daily cap.
func (m modemView) today() string {
	if m.DailyCap == 0 {
		return fmt.Sprintf("%d (no cap)", m.SentToday)
	}
	return fmt.Sprintf("%d/%d", m.SentToday, m.DailyCap)
}

func (m modemView) channels() string {
	if len(m.Channels) == 0 {
		return "-"
	}
	return strings.Join(m.Channels, ",")
}

// fetchList reads a GET route answering a JSON array: the raw answer (for
// -json) and its entries.
func fetchList[T any](e *env, path string) ([]byte, []T, error) {
	raw, err := e.call("GET", path, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	var out []T
	if err := decodeAnswer(raw, &out); err != nil {
		return nil, nil, err
	}
	return raw, out, nil
}

// fetchModems reads GET /v1/modems.
func (e *env) fetchModems() ([]byte, []modemView, error) {
	return fetchList[modemView](e, "/v1/modems")
}

// nodeView is one entry of GET /v1/nodes.
type nodeView struct {
	ID          string    `json:"id"`
	Self        bool      `json:"self"`
	Alive       bool      `json:"alive"`
	Version     string    `json:"version"`
	SeenAt      time.Time `json:"seen_at"`
	JobsSending int       `json:"jobs_sending"`
	Modems      []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"modems"`
}

// fetchNodes reads GET /v1/nodes.
func (e *env) fetchNodes() ([]byte, []nodeView, error) { return fetchList[nodeView](e, "/v1/nodes") }

func setupModems(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, ms, err := e.fetchModems()
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
			return nil
		}
		if len(ms) == 0 {
			fmt.Fprintln(e.stdout, "no modems configured: phone methods cannot be delivered")
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tPROFILE\tPORT\tSTATE\tBUSY\tCHANNELS\tSIGNAL\tREGISTRATION\tOPERATOR\tIMEI\tSMS TODAY\tSENT\tFAILED\tCALLS\tREOPENS\tLAST ERROR")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", m.ID, m.Profile, m.Port, m.State,
				yesNo(m.Busy), m.channels(), m.signal(), m.Registration, dash(m.Operator), dash(m.IMEI), m.today(),
				m.SMSSent, m.SMSFailed, m.Calls, m.Reopens, dash(m.LastError))
		}
		return tw.Flush()
	}
}

type deviceView struct {
	Path         string `json:"path"`
	Product      string `json:"product"`
	AAGUID       string `json:"aaguid"`
	PINSet       bool   `json:"pin_set"`
	PINRetries   *int   `json:"pin_retries"`
	MinPINLength int    `json:"min_pin_length"`
	ResidentKey  bool   `json:"resident_key"`
}

func (d deviceView) pin() string {
	switch {
	case !d.PINSet:
		return "not set"
	case d.PINRetries != nil:
		return fmt.Sprintf("set, %d retries left", *d.PINRetries)
	}
	return "set"
}

// errNoKiosk is the answer of a gateway without security-key enrollment.
var errNoKiosk = errors.New("kiosk not enabled: this gateway has no security-key enrollment (the [fido] section of its configuration)")

// fetchDevices reads GET /v1/kiosk/devices; errNoKiosk when the gateway
// does not serve the route.
func (e *env) fetchDevices() ([]byte, []deviceView, error) {
	raw, ds, err := fetchList[deviceView](e, "/v1/kiosk/devices")
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == "not_found" {
		return nil, nil, errNoKiosk
	}
	return raw, ds, err
}

// printDevices shows the security keys present at the kiosk.
func (e *env) printDevices(ds []deviceView) error {
	if len(ds) == 0 {
		fmt.Fprintln(e.stdout, "no security key present at the kiosk")
		return nil
	}
	tw := e.table()
	fmt.Fprintln(tw, "PATH\tPRODUCT\tAAGUID\tPIN\tMIN PIN\tRESIDENT KEYS")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", d.Path, dash(d.Product), dash(d.AAGUID), d.pin(), d.MinPINLength, yesNo(d.ResidentKey))
	}
	return tw.Flush()
}

// outboxLimit is the most jobs one GET /v1/outbox returns.
const outboxLimit = 1000

// countJobs counts the outbox jobs in state; at outboxLimit the count is
// a lower bound.
func (e *env) countJobs(state string) (int, error) {
	raw, err := e.call("GET", "/v1/outbox", map[string]string{"state": state, "limit": strconv.Itoa(outboxLimit)}, nil)
	if err != nil {
		return 0, err
	}
	var jobs []json.RawMessage
	if err := decodeAnswer(raw, &jobs); err != nil {
		return 0, err
	}
	return len(jobs), nil
}

func countText(n int) string {
	if n >= outboxLimit {
		return fmt.Sprintf("%d+", n)
	}
	return strconv.Itoa(n)
}

// statusJSON is what "status -json" prints: the gateway's answers
// unchanged, under one object.
type statusJSON struct {
	Readiness json.RawMessage `json:"readiness"`
	Modems    json.RawMessage `json:"modems"`
	Nodes     json.RawMessage `json:"nodes"`
	Devices   json.RawMessage `json:"kiosk_devices"` // null: kiosk not enabled
	Outbox    map[string]int  `json:"outbox"`
	Secrets   json.RawMessage `json:"secrets"`
	Errors    []string        `json:"errors,omitempty"`
}

var errNotReady = errors.New("the gateway is not ready")

func setupStatus(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		c, err := e.client()
		if err != nil {
			return err
		}
		// Readiness first: when the daemon cannot be reached, that is
		// the one line worth printing.
		_, rawReady, err := c.doAny(e.ctx, "GET", "/readyz", http.StatusServiceUnavailable)
		if err != nil {
			return err
		}
		var ready readinessView
		if err := decodeAnswer(rawReady, &ready); err != nil {
			return err
		}
		// The other sections are read even when one fails, so the screen
		// shows all that can be known.
		var problems []string
		rawModems, modems, errModems := e.fetchModems()
		rawNodes, nodes, errNodes := e.fetchNodes()
		rawDevices, devices, errDevices := e.fetchDevices()
		rawSecrets, errSecrets := e.call("GET", "/v1/secrets", nil, nil)
		var secrets secretsView
		if errSecrets == nil {
			errSecrets = decodeAnswer(rawSecrets, &secrets)
		}
		counts := map[string]int{}
		var errOutbox error
		for _, st := range []string{"queued", "sending"} {
			n, err := e.countJobs(st)
			if err != nil {
				errOutbox = err
				break
			}
			counts[st] = n
		}
		for _, p := range []struct {
			what string
			err  error
		}{{"modems", errModems}, {"nodes", errNodes}, {"security keys", errDevices}, {"outbox", errOutbox}, {"secrets", errSecrets}} {
			if p.err != nil && !errors.Is(p.err, errNoKiosk) {
				problems = append(problems, p.what+": "+p.err.Error())
			}
		}

		if e.g.json {
			out := statusJSON{Readiness: rawReady, Modems: rawModems, Nodes: rawNodes, Devices: rawDevices, Secrets: rawSecrets, Errors: problems}
			if errOutbox == nil {
				out.Outbox = counts
			}
			b, err := json.Marshal(out)
			if err != nil {
				return err
			}
			e.printJSON(b)
		} else {
			e.printStatus(ready, modems, errModems, devices, errDevices, counts, errOutbox)
			e.printNodes(nodes, errNodes)
			e.printSecrets(secrets, errSecrets)
		}
		switch {
		case len(problems) > 0:
			return fmt.Errorf("status incomplete: %s", strings.Join(problems, "; "))
		case !ready.Ready:
			return errNotReady
		}
		return nil
	}
}

func (e *env) printStatus(ready readinessView, modems []modemView, errModems error, devices []deviceView, errDevices error, counts map[string]int, errOutbox error) {
	w := e.stdout
	state := "ready"
	if !ready.Ready {
		state = "NOT READY"
	}
	fmt.Fprintf(w, "Gateway: %s\n", state)
	tw := e.table()
	for _, c := range ready.Components {
		st := "ready"
		if !c.Ready {
			st = "NOT READY"
		}
		if c.Detail != "" {
			st += "\t" + c.Detail
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, st)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nModems:")
	switch {
	case errModems != nil:
		fmt.Fprintf(w, "  cannot read: %s\n", oneLine(errModems))
	case len(modems) == 0:
		fmt.Fprintln(w, "  none configured: phone methods cannot be delivered")
	default:
		tw = e.table()
		fmt.Fprintln(tw, "  ID\tSTATE\tSIGNAL\tREGISTRATION\tSMS TODAY\tLAST ERROR")
		for _, m := range modems {
			st := m.State
			if m.Busy {
				st += " (busy)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", m.ID, st, m.signal(), m.Registration, m.today(), dash(m.LastError))
		}
		tw.Flush()
	}

	fmt.Fprintln(w, "\nSecurity keys:")
	switch {
	case errors.Is(errDevices, errNoKiosk):
		fmt.Fprintln(w, "  kiosk not enabled")
	case errDevices != nil:
		fmt.Fprintf(w, "  cannot read: %s\n", oneLine(errDevices))
	case len(devices) == 0:
		fmt.Fprintln(w, "  none present at the kiosk")
	default:
		tw = e.table()
		for _, d := range devices {
			fmt.Fprintf(tw, "  %s\t%s\tPIN %s\n", d.Path, dash(d.Product), d.pin())
		}
		tw.Flush()
	}

	fmt.Fprintln(w, "\nOutbox:")
	if errOutbox != nil {
		fmt.Fprintf(w, "  cannot read: %s\n", oneLine(errOutbox))
	} else {
		fmt.Fprintf(w, "  %s queued, %s sending\n", countText(counts["queued"]), countText(counts["sending"]))
	}
}

// printNodes ends the status screen with every node sharing the store.
func (e *env) printNodes(nodes []nodeView, err error) {
	w := e.stdout
	fmt.Fprintln(w, "\nNodes:")
	if err != nil {
		fmt.Fprintf(w, "  cannot read: %s\n", oneLine(err))
		return
	}
	if len(nodes) == 0 {
		fmt.Fprintln(w, "  none has sent a heartbeat yet")
		return
	}
	tw := e.table()
	fmt.Fprintln(tw, "  NODE\tSTATE\tLAST HEARTBEAT\tMODEMS UP\tJOBS SENDING\tVERSION")
	for _, n := range nodes {
		id, st := n.ID, "alive"
		if n.Self {
			id += " (this)"
		}
		if !n.Alive {
			st = "SILENT"
		}
		up := 0
		for _, m := range n.Modems {
			if m.State == "up" || m.State == "busy" {
				up++
			}
		}
		ago := time.Since(n.SeenAt).Round(time.Second)
		fmt.Fprintf(tw, "  %s\t%s\t%s ago\t%d/%d\t%d\t%s\n", id, st, max(ago, 0), up, len(n.Modems), n.JobsSending, dash(n.Version))
	}
	tw.Flush()
}

// oneLine flattens an error for a line of a report.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// followInterval is how often test-sms -wait looks at the outbox.
const followInterval = 250 * time.Millisecond

func setupTestSMS(fs *flag.FlagSet) action {
	text := fs.String("text", "", "the message `TEXT`, at most 300 characters (default: \"mfagate test message from modem MODEM_ID\")")
	wait := fs.Bool("wait", false, "follow the job in the outbox until it is sent or failed, for at most -timeout")
	return func(e *env, args []string) error {
		modemID, to := args[0], args[1]
		body := map[string]string{"to": to}
		if *text != "" {
			body["text"] = *text
		}
		raw, err := e.call("POST", pathf("/v1/modems/%s/test-sms", modemID), nil, body)
		if err != nil {
			return err
		}
		var j jobView
		if err := decodeAnswer(raw, &j); err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
		} else {
			fmt.Fprintf(e.stdout, "Queued test SMS %s to %s through %s.\n", j.ID, j.To, modemID)
		}
		if !*wait {
			if !e.g.json {
				e.note("Follow it with: mfagatectl outbox\n")
			}
			return nil
		}
		j, raw, err = e.followJob(j)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
		} else {
			line := fmt.Sprintf("Test SMS %s: %s", j.ID, j.State)
			if j.Modem != "" {
				line += " by " + j.Modem
			}
			if j.Reason != "" {
				line += " (" + j.Reason + ")"
			}
			fmt.Fprintf(e.stdout, "%s, %d attempt(s).\n", line, j.Attempts)
		}
		if j.State != "sent" {
			return fmt.Errorf("test SMS %s %s: %s", j.ID, j.State, dash(j.Reason))
		}
		return nil
	}
}

// followJob polls GET /v1/outbox/{id} until the job is sent or failed,
// showing its progress, for at most -timeout. It returns the job and its
// JSON as the gateway answered it.
func (e *env) followJob(j jobView) (jobView, []byte, error) {
	deadline := time.Now().Add(e.g.timeout)
	p := e.newProgress()
	defer p.end()
	show := func(j jobView) {
		s := j.State
		if j.Modem != "" {
			s += " by " + j.Modem
		}
		if j.Attempts > 1 {
			s += fmt.Sprintf(", attempt %d", j.Attempts)
		}
		p.set("job %s: %s", j.ID, s)
	}
	show(j)
	for {
		raw, err := e.call("GET", "/v1/outbox/"+url.PathEscape(j.ID), nil, nil)
		if err != nil {
			return j, nil, err
		}
		if err := decodeAnswer(raw, &j); err != nil {
			return j, nil, err
		}
		show(j)
		if j.State == "sent" || j.State == "failed" {
			return j, raw, nil
		}
		if time.Now().After(deadline) {
			return j, nil, fmt.Errorf("job %s is still %s after -timeout %s; follow it with \"mfagatectl outbox\"", j.ID, j.State, e.g.timeout)
		}
		select {
		case <-e.ctx.Done():
			return j, nil, fmt.Errorf("%w; job %s stays in the outbox: follow it with \"mfagatectl outbox\"", errInterrupted, j.ID)
		case <-time.After(followInterval):
		}
	}
}

// secretsView is GET /v1/secrets: the re-seal after a key rotation.
type secretsView struct {
	PreviousKeys       int  `json:"previous_keys"`
	SealedWithPrevious int  `json:"sealed_with_previous"`
	Resealed           int  `json:"resealed"`
	Unreadable         int  `json:"unreadable"`
	Running            bool `json:"running"`
	Done               bool `json:"done"`
}

func (e *env) printSecrets(s secretsView, err error) {
	w := e.stdout
	fmt.Fprintln(w, "\nServer key:")
	switch {
	case err != nil:
		fmt.Fprintf(w, "  cannot read: %s\n", oneLine(err))
	case s.PreviousKeys == 0:
		fmt.Fprintln(w, "  one key, no rotation under way")
	case s.Running:
		fmt.Fprintf(w, "  re-sealing to the new key: %d left on %d previous key(s), %d re-sealed\n", s.SealedWithPrevious, s.PreviousKeys, s.Resealed)
	case s.SealedWithPrevious == 0:
		fmt.Fprintf(w, "  re-seal done (%d re-sealed): the %d previous key(s) may be removed once the passes and codes issued before have expired\n", s.Resealed, s.PreviousKeys)
	default:
		fmt.Fprintf(w, "  re-seal stopped: %d values still on %d previous key(s); restart the daemon to resume\n", s.SealedWithPrevious, s.PreviousKeys)
	}
	if err == nil && s.Unreadable > 0 {
		fmt.Fprintf(w, "  %d values open with no configured key: an old key is missing from secrets.previous_key_files\n", s.Unreadable)
	}
}
