package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"mfagate/mfa"
	"mfagate/modem"
)

// Modems is the modem pool as the API sees it.
type Modems interface {
	Status() []modem.Status
}

// DemoPhones is the demo's virtual phone network: handsets that received
// SMS and calls from the simulated modems.
type DemoPhones interface {
	Messages(number string) ([]DemoSMS, error)
	// PressKeys presses digits on the handset's ongoing call.
	PressKeys(ctx context.Context, number, digits string) error
}

// DemoSMS is one message a demo handset received.
type DemoSMS struct {
	From     string    `json:"from,omitempty"`
	Modem    string    `json:"modem"`
	Text     string    `json:"text"`
	Parts    int       `json:"parts"`
	UCS2     bool      `json:"ucs2"`
	Received time.Time `json:"received"`
}

type modemJSON struct {
	ID           string   `json:"id"`
	Node         string   `json:"node"`
	Profile      string   `json:"profile"`
	Port         string   `json:"port"`
	State        string   `json:"state"`
	Busy         bool     `json:"busy"`
	Channels     []string `json:"channels"`
	Model        string   `json:"model,omitempty"`
	IMEI         string   `json:"imei,omitempty"`
	ICCID        string   `json:"iccid,omitempty"`
	Operator     string   `json:"operator,omitempty"`
	SignalDBm    int      `json:"signal_dbm"`
	Registration string   `json:"registration"`
	SentToday    int      `json:"sent_today"`
	DailyCap     int      `json:"daily_cap"`
	LastError    string   `json:"last_error,omitempty"`
	Since        string   `json:"since,omitempty"`
	SMSSent      int64    `json:"sms_sent"`
	SMSFailed    int64    `json:"sms_failed"`
	Calls        int64    `json:"calls"`
	Reopens      int64    `json:"reopens"`
}

func modemView(s modem.Status) modemJSON {
	j := modemJSON{ID: s.ID, Profile: s.Profile, Port: s.Port, State: s.State, Busy: s.Busy, Model: s.Model, IMEI: s.IMEI, ICCID: s.ICCID,
		Operator: s.Operator, SignalDBm: s.SignalDBm, Registration: s.Registration, SentToday: s.SentToday,
		DailyCap: s.DailyCap, LastError: s.LastError, SMSSent: s.SMSSent, SMSFailed: s.SMSFailed, Calls: s.Calls, Reopens: s.Reopens}
	if j.Registration == "" {
		j.Registration = "none"
	}
	for _, c := range s.Channels {
		j.Channels = append(j.Channels, string(c))
	}
	if !s.Since.IsZero() {
		j.Since = s.Since.UTC().Format(time.RFC3339)
	}
	return j
}

func (s *Server) modemList() []modem.Status {
	if s.modems == nil {
		return nil
	}
	return s.modems.Status()
}

func (s *Server) listModems(w http.ResponseWriter, r *http.Request, _ *Client) error {
	out := []modemJSON{}
	for _, st := range s.modemList() {
		v := modemView(st)
		v.Node = s.svc.NodeID()
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, out)
}

type nodeJSON struct {
	ID          string          `json:"id"`
	Self        bool            `json:"self"`
	Alive       bool            `json:"alive"`
	Version     string          `json:"version"`
	StartedAt   string          `json:"started_at"`
	SeenAt      string          `json:"seen_at"`
	JobsSending int             `json:"jobs_sending"`
	Modems      []nodeModemJSON `json:"modems"`
}

type nodeModemJSON struct {
	ID       string   `json:"id"`
	State    string   `json:"state"`
	Channels []string `json:"channels"`
}

// listNodes shows every node sharing the store, as its last heartbeat
// described it: a node is alive while its heartbeat is younger than the
// lease, that is, while its claims on outbox jobs stand.
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, _ *Client) error {
	nodes, err := s.svc.Nodes(r.Context())
	if err != nil {
		return err
	}
	out := []nodeJSON{}
	for _, n := range nodes {
		if n.ID == s.svc.NodeID() && s.modems != nil {
			n.Modems = modem.Describe(s.modemList()) // live, not as of the last heartbeat
		}
		v := nodeJSON{ID: n.ID, Self: n.ID == s.svc.NodeID(), Alive: s.svc.Alive(n), Version: n.Version,
			StartedAt: n.StartedAt.UTC().Format(time.RFC3339), SeenAt: n.SeenAt.UTC().Format(time.RFC3339Nano),
			JobsSending: n.Sending, Modems: []nodeModemJSON{}}
		for _, m := range n.Modems {
			mv := nodeModemJSON{ID: m.Name, State: m.State, Channels: []string{}}
			for _, c := range m.Channels {
				mv.Channels = append(mv.Channels, string(c))
			}
			v.Modems = append(v.Modems, mv)
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, out)
}

type testSMSBody struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

func (s *Server) testSMS(w http.ResponseWriter, r *http.Request, c *Client) error {
	id := r.PathValue("id")
	var b testSMSBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.To == "" {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "to is required: the mobile number to send the test message to")
	}
	j, err := s.svc.TestSMS(r.Context(), actor(c), modem.Describe(s.modemList()), id, b.To, b.Text)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, jobView(j))
}

func (s *Server) demoMessages(w http.ResponseWriter, r *http.Request, _ *Client) error {
	msgs, err := s.demo.Messages(r.PathValue("number"))
	var invalid *mfa.Error
	if errors.As(err, &invalid) {
		return err // a number that is not one: its specific refusal
	}
	if err != nil {
		return newProblem(http.StatusNotFound, codeUnknownPhone, "%v", err)
	}
	if msgs == nil {
		msgs = []DemoSMS{}
	}
	return writeJSON(w, http.StatusOK, msgs)
}

type keysBody struct {
	Digits string `json:"digits"`
}

func (s *Server) demoKeys(w http.ResponseWriter, r *http.Request, _ *Client) error {
	var b keysBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Digits == "" || len(b.Digits) > 16 {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "digits must be 1 to 16 keypad keys (0-9, *, #), like \"42#\"")
	}
	for _, d := range b.Digits {
		if (d < '0' || d > '9') && d != '*' && d != '#' {
			return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "digits may hold only 0-9, * and #")
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.demo.PressKeys(ctx, r.PathValue("number"), b.Digits); err != nil {
		return newProblem(http.StatusConflict, codeNoCall, "%v", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
