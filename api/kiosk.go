package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"mfagate/device"
	"mfagate/fido"
	"mfagate/kiosk"
	"mfagate/mfa"
)

// Kiosk is the security-key enrollment service (*kiosk.Kiosk).
type Kiosk interface {
	Open(ctx context.Context, actor mfa.Actor, user, proof string) (kiosk.Session, error)
	Get(ctx context.Context, id string) (kiosk.Session, error)
	Subscribe(ctx context.Context, id string) (<-chan kiosk.Session, error)
	Enroll(ctx context.Context, actor mfa.Actor, id string, r kiosk.EnrollRequest) (string, error)
	Assert(ctx context.Context, actor mfa.Actor, id string, r kiosk.AssertRequest) (string, error)
	Cancel(ctx context.Context, id string) (kiosk.Session, error)
	End(ctx context.Context, id string) error
	Devices() []device.Info
}

type sessionJSON struct {
	ID           string         `json:"id"`
	User         string         `json:"user"`
	URL          string         `json:"url"`
	State        string         `json:"state"`
	Message      string         `json:"message"`
	Operation    string         `json:"operation,omitempty"`
	Kind         string         `json:"kind,omitempty"`
	ExpiresAt    time.Time      `json:"expires_at"`
	PINRetries   *int           `json:"pin_retries,omitempty"`
	MinPINLength int            `json:"min_pin_length"`
	CodeLength   int            `json:"code_length"` // digits of a code sent by SMS or voice
	TOTPDigits   int            `json:"totp_digits"` // digits of an authenticator app's code
	Method       *methodJSON    `json:"method,omitempty"`
	Challenge    *challengeJSON `json:"challenge,omitempty"`
}

// sessionView carries the policy's code lengths too, so that the kiosk
// page sizes its code inputs to them.
func (s *Server) sessionView(sess kiosk.Session) sessionJSON {
	j := sessionJSON{ID: sess.ID, User: sess.User, URL: "/kiosk/" + sess.ID, State: string(sess.State), Message: sess.Message,
		Operation: sess.Operation, Kind: sess.Kind, ExpiresAt: sess.ExpiresAt.UTC(), MinPINLength: sess.MinPINLength}
	j.CodeLength, j.TOTPDigits = s.svc.CodeLengths()
	if sess.PINRetries >= 0 {
		n := sess.PINRetries
		j.PINRetries = &n
	}
	if sess.Method != nil {
		m := s.methodView(*sess.Method)
		j.Method = &m
	}
	if sess.Challenge != nil {
		c := challengeView(*sess.Challenge)
		j.Challenge = &c
	}
	return j
}

func kioskProblem(err error) error {
	switch {
	case errors.Is(err, kiosk.ErrUnknownSession):
		return newProblem(http.StatusNotFound, codeUnknownSession, "no kiosk session with this ID; open one with POST /v1/kiosk/sessions")
	case errors.Is(err, kiosk.ErrExpired):
		return newProblem(http.StatusGone, codeSessionExpired, "%v", err)
	case errors.Is(err, kiosk.ErrBusy):
		return newProblem(http.StatusConflict, codeSessionBusy, "%v", err)
	case errors.Is(err, kiosk.ErrBadRequest):
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "%v", err)
	case errors.Is(err, kiosk.ErrUnknownDevice):
		return newProblem(http.StatusUnprocessableEntity, codeUnknownDevice, "%v", err)
	case errors.Is(err, kiosk.ErrElsewhere):
		return newProblem(http.StatusConflict, codeSessionBusy, "%v", err)
	}
	var short *kiosk.PINTooShortError
	if errors.As(err, &short) {
		p := newProblem(http.StatusUnprocessableEntity, codePINTooShort, "%v", err)
		p.MinLength = short.MinLength
		return p
	}
	return err
}

type openSessionBody struct {
	User  string `json:"user"`
	Proof string `json:"proof"`
}

func (s *Server) openSession(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b openSessionBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.User == "" {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "user is required")
	}
	sess, err := s.kiosk.Open(r.Context(), actor(c), b.User, b.Proof)
	if err != nil {
		return kioskProblem(err)
	}
	w.Header().Set("Location", "/v1/kiosk/sessions/"+sess.ID)
	return writeJSON(w, http.StatusCreated, s.sessionView(sess))
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, _ *Client) error {
	sess, err := s.kiosk.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return kioskProblem(err)
	}
	return writeJSON(w, http.StatusOK, s.sessionView(sess))
}

// cancelOperation abandons the session's running operation: the key's
// pending call is cancelled and the session is ready again.
func (s *Server) cancelOperation(w http.ResponseWriter, r *http.Request, _ *Client) error {
	sess, err := s.kiosk.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		return kioskProblem(err)
	}
	return writeJSON(w, http.StatusOK, s.sessionView(sess))
}

// endSession ends a session before its TTL; it then answers 410.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, _ *Client) error {
	if err := s.kiosk.End(r.Context(), r.PathValue("id")); err != nil {
		return kioskProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type deviceJSON struct {
	Path         string `json:"path"`
	Product      string `json:"product"`
	AAGUID       string `json:"aaguid"`
	PINSet       bool   `json:"pin_set"`
	PINRetries   *int   `json:"pin_retries,omitempty"`
	MinPINLength int    `json:"min_pin_length"`
	ResidentKey  bool   `json:"resident_key"`
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, _ *Client) error {
	out := []deviceJSON{}
	for _, d := range s.kiosk.Devices() {
		j := deviceJSON{Path: d.Path, Product: d.Product, AAGUID: fido.FormatAAGUID(d.AAGUID), PINSet: d.PINSet,
			MinPINLength: d.MinPINLength, ResidentKey: d.ResidentKey}
		if d.PINRetries >= 0 {
			n := d.PINRetries
			j.PINRetries = &n
		}
		out = append(out, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

type enrollBody struct {
	Device string `json:"device"`
	PIN    string `json:"pin"`
	NewPIN string `json:"new_pin"`
	Label  string `json:"label"`
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b enrollBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	op, err := s.kiosk.Enroll(r.Context(), actor(c), r.PathValue("id"), kiosk.EnrollRequest{Device: b.Device, PIN: b.PIN, NewPIN: b.NewPIN, Label: b.Label})
	if err != nil {
		return kioskProblem(err)
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"operation": op})
}

type assertBody struct {
	Device    string `json:"device"`
	PIN       string `json:"pin"`
	Challenge string `json:"challenge"`
}

func (s *Server) kioskAssert(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b assertBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	op, err := s.kiosk.Assert(r.Context(), actor(c), r.PathValue("id"), kiosk.AssertRequest{Device: b.Device, PIN: b.PIN, Challenge: b.Challenge})
	if err != nil {
		return kioskProblem(err)
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"operation": op})
}

// sessionEvents streams the session as server-sent events: one "state"
// event per change, until the session ends or the client leaves.
func (s *Server) sessionEvents(w http.ResponseWriter, r *http.Request, _ *Client) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := s.kiosk.Subscribe(ctx, r.PathValue("id"))
	if err != nil {
		return kioskProblem(err)
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		// Each write extends the deadline: the stream outlives the server's
		// write timeout as long as it carries something.
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		select {
		case <-ctx.Done():
			return nil
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case sess, ok := <-ch:
			if !ok {
				return nil
			}
			data, _ := json.Marshal(s.sessionView(sess))
			if _, err := fmt.Fprintf(w, "event: state\nid: %d\ndata: %s\n\n", sess.Seq, data); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

func (s *Server) exportCredential(w http.ResponseWriter, r *http.Request, _ *Client) error {
	m, err := s.svc.Method(r.Context(), r.PathValue("user"), r.PathValue("id"))
	if err != nil {
		return err
	}
	reg, err := kiosk.RegistrationJSON(m)
	if err != nil {
		return newProblem(http.StatusUnprocessableEntity, string(mfa.CodeWrongVerification), "method %s is a %s method, not a security key", m.ID, m.Kind)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(reg)
	return err
}
