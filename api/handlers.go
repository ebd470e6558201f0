package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mfagate/mfa"
)

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ *Client) error {
	v, err := s.svc.GetUser(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

type addMethodBody struct {
	Kind     string `json:"kind"`
	Label    string `json:"label"`
	Slot     string `json:"slot"`
	Phone    string `json:"phone"`
	Channel  string `json:"channel"`
	Language string `json:"language"`
	Proof    string `json:"proof"`
}

func (s *Server) addMethod(w http.ResponseWriter, r *http.Request, c *Client) error {
	return s.registerMethod(w, r, actor(c), r.PathValue("user"))
}

// registerMethod decodes an add-method body and answers 201 with the new
// method and what confirms it (the API's and the kiosk page's route).
func (s *Server) registerMethod(w http.ResponseWriter, r *http.Request, a mfa.Actor, user string) error {
	var b addMethodBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	res, err := s.svc.AddMethod(r.Context(), a, user, mfa.AddMethodRequest{
		Kind: mfa.Kind(b.Kind), Label: b.Label, Slot: mfa.Slot(b.Slot), Phone: b.Phone,
		Channel: mfa.Channel(b.Channel), Language: b.Language, Proof: b.Proof,
	})
	if err != nil {
		return err
	}
	out := map[string]any{"method": s.methodView(res.Method)}
	if res.TOTP != nil {
		if out["totp"], err = totpView(res.TOTP); err != nil {
			return err
		}
	}
	if res.Challenge != nil {
		out["challenge"] = challengeView(*res.Challenge)
	}
	return writeJSON(w, http.StatusCreated, out)
}

type confirmBody struct {
	Code      string `json:"code"`
	Challenge string `json:"challenge"`
}

func (s *Server) confirmMethod(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b confirmBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	m, err := s.svc.ConfirmMethod(r.Context(), actor(c), r.PathValue("user"), r.PathValue("id"), mfa.ConfirmRequest{Code: b.Code, Challenge: b.Challenge})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"method": s.methodView(m)})
}

func (s *Server) removeMethod(w http.ResponseWriter, r *http.Request, c *Client) error {
	if err := onlyQuery(r, "proof", "reason"); err != nil {
		return err
	}
	a, err := staffActor(r, c, r.URL.Query().Get("reason"), "removing a method on the user's behalf")
	if err != nil {
		return err
	}
	if err := s.svc.RemoveMethod(r.Context(), a, r.PathValue("user"), r.PathValue("id"), r.URL.Query().Get("proof")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type renameBody struct {
	Label *string `json:"label"`
}

func (s *Server) renameMethod(w http.ResponseWriter, r *http.Request, c *Client) error {
	return s.relabel(w, r, actor(c), r.PathValue("user"), r.PathValue("id"))
}

// relabel decodes a rename body and answers 200 with the renamed method
// (the API's route and the Security info page's).
func (s *Server) relabel(w http.ResponseWriter, r *http.Request, a mfa.Actor, user, id string) error {
	var b renameBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Label == nil {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "label is required: the method's new name")
	}
	m, err := s.svc.RenameMethod(r.Context(), a, user, id, *b.Label)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"method": s.methodView(m)})
}

type defaultBody struct {
	Method string `json:"method"`
}

func (s *Server) setDefault(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b defaultBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Method == "" {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "method is required: the ID (m_…) of a confirmed method")
	}
	v, err := s.svc.SetDefault(r.Context(), actor(c), r.PathValue("user"), b.Method)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

type mfaBody struct {
	Enabled *bool `json:"enabled"`
}

func (s *Server) applyMFA(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b mfaBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Enabled == nil || !*b.Enabled {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest),
			"send {\"enabled\":true} to apply for MFA; turning MFA off is DELETE /v1/users/{user}/mfa (admin only)")
	}
	v, err := s.svc.ApplyMFA(r.Context(), actor(c), r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

func (s *Server) terminateMFA(w http.ResponseWriter, r *http.Request, c *Client) error {
	if err := onlyQuery(r, "reason"); err != nil {
		return err
	}
	a, err := staffActor(r, c, r.URL.Query().Get("reason"), "terminating MFA use")
	if err != nil {
		return err
	}
	v, err := s.svc.TerminateMFA(r.Context(), a, r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

type unlockBody struct {
	Reason string `json:"reason"`
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b unlockBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	a, err := staffActor(r, c, b.Reason, "")
	if err != nil {
		return err
	}
	v, err := s.svc.Unlock(r.Context(), a, r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

type challengeBody struct {
	Method  string `json:"method"`
	Kind    string `json:"kind"` // "fido": any of the user's security keys (discoverable)
	Channel string `json:"channel"`
	Purpose string `json:"purpose"`
}

func (b challengeBody) request() mfa.ChallengeRequest {
	return mfa.ChallengeRequest{Method: b.Method, Kind: mfa.Kind(b.Kind), Channel: mfa.Channel(b.Channel), Purpose: mfa.Purpose(b.Purpose)}
}

func (s *Server) createChallenge(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b challengeBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	ch, err := s.svc.CreateChallenge(r.Context(), actor(c), r.PathValue("user"), b.request())
	if err != nil {
		return err
	}
	view, err := s.challengeWithOptions(r.Context(), ch)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/challenges/"+ch.ID)
	return writeJSON(w, http.StatusCreated, view)
}

// challengeWithOptions is the view of a new challenge with, for a
// security key, the browser's request options.
func (s *Server) challengeWithOptions(ctx context.Context, ch mfa.Challenge) (challengeJSON, error) {
	view := challengeView(ch)
	var err error
	view.WebAuthn, err = s.svc.AssertionOptions(ctx, ch)
	return view, err
}

// MaxWait is the longest long poll GET /v1/challenges/{id}?wait= allows.
const MaxWait = 25 * time.Second

func (s *Server) getChallenge(w http.ResponseWriter, r *http.Request, _ *Client) error {
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	ch, err := s.svc.WaitChallenge(r.Context(), r.PathValue("id"), wait)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeView(ch))
}

// waitParam reads a long poll's ?wait= (the only query parameter a
// challenge read takes).
func waitParam(r *http.Request) (time.Duration, error) {
	if err := onlyQuery(r, "wait"); err != nil {
		return 0, err
	}
	q := r.URL.Query().Get("wait")
	if q == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(q)
	if err != nil || d < 0 || d > MaxWait {
		return 0, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "wait=%q must be a duration from 0s to %s, like 20s", truncate(q, 32), MaxWait)
	}
	return d, nil
}

type signInBody struct {
	Code    string `json:"code"`
	Method  string `json:"method"`
	Purpose string `json:"purpose"`
}

// signIn is a sign-in with an authenticator-app code in one request: the
// challenge create and verify of the two-request path in one transaction.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b signInBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Code == "" {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "code is required: the digits the user's authenticator app shows")
	}
	ch, err := s.svc.SignIn(r.Context(), actor(c), r.PathValue("user"), mfa.CodeSignIn{Code: b.Code, Method: b.Method, Purpose: mfa.Purpose(b.Purpose)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/challenges/"+ch.ID)
	return writeJSON(w, http.StatusOK, challengeView(ch))
}

type verifyBody struct {
	Code     string          `json:"code"`
	WebAuthn json.RawMessage `json:"webauthn"`
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request, c *Client) error {
	var b verifyBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	ch, err := s.verifyWith(r.Context(), actor(c), r.PathValue("id"), b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeView(ch))
}

// verifyWith answers challenge id with a code or a security key's
// assertion, whichever the body carries.
func (s *Server) verifyWith(ctx context.Context, a mfa.Actor, id string, b verifyBody) (mfa.Challenge, error) {
	switch {
	case b.Code != "" && b.WebAuthn != nil:
		return mfa.Challenge{}, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "give either code (authenticator app, SMS) or webauthn (security key), not both")
	case b.Code != "":
		return s.svc.Verify(ctx, a, id, b.Code)
	case b.WebAuthn != nil:
		return s.svc.VerifyFIDO(ctx, a, id, mfa.FIDOAssertion{ResponseJSON: b.WebAuthn})
	}
	return mfa.Challenge{}, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "code is required: the digits the user entered (or webauthn: a security key's AuthenticationResponseJSON)")
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, _ *Client) error {
	if err := onlyQuery(r, "user", "limit", "before", "after"); err != nil {
		return err
	}
	q := r.URL.Query()
	f := mfa.EventFilter{User: q.Get("user")}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), "limit", 1, 1000); err != nil {
		return err
	}
	if f.BeforeID, err = eventCursor(q, "before"); err != nil {
		return err
	}
	if f.AfterID, err = eventCursor(q, "after"); err != nil {
		return err
	}
	es, err := s.svc.Events(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]eventJSON, 0, len(es))
	for _, e := range es {
		out = append(out, eventView(e))
	}
	return writeJSON(w, http.StatusOK, out)
}

// eventCursor is the event ID of the audit route's before or after
// parameter (0 when absent).
func eventCursor(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidCursor),
			"%s=%q must be the id of an event (a whole number from 1), as a previous page listed it", name, truncate(v, 32))
	}
	return n, nil
}

func (s *Server) outbox(w http.ResponseWriter, r *http.Request, _ *Client) error {
	if err := onlyQuery(r, "state", "limit", "before", "after"); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit", 1, 1000)
	if err != nil {
		return err
	}
	js, err := s.svc.ListJobs(r.Context(), mfa.JobFilter{State: mfa.JobState(q.Get("state")), Before: q.Get("before"),
		After: q.Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	out := make([]jobJSON, 0, len(js))
	for _, j := range js {
		out = append(out, jobView(j))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) outboxJob(w http.ResponseWriter, r *http.Request, _ *Client) error {
	j, err := s.svc.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jobView(j))
}

// ConsoleHeader is the header the help-desk console (/console) sends with
// every request. Staff actions sent with it must give a reason, so that
// the audit log says why a method was removed or MFA terminated; scripted
// clients (mfagatectl, identity management) may still omit it.
const ConsoleHeader = "Mfagate-Console"

// MaxReason is the longest reason a staff action takes, in characters.
const MaxReason = 200

// staffActor is c as the actor of a staff action with its reason. what,
// when not empty, names an action that needs a reason when the console
// asks for it.
func staffActor(r *http.Request, c *Client, reason, what string) (mfa.Actor, error) {
	a := actor(c)
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n > MaxReason || !utf8.ValidString(reason) {
		return a, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "reason is %d characters; write at most %d", n, MaxReason)
	}
	if reason == "" && what != "" && r.Header.Get(ConsoleHeader) != "" {
		return a, newProblem(http.StatusBadRequest, codeReasonRequired, "%s from the console needs a reason (reason=…, at most %d characters): the audit log records why staff acted", what, MaxReason)
	}
	a.Reason = reason
	return a, nil
}

func intParam(v, name string, lo, hi int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "%s=%q must be a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// onlyQuery refuses query parameters the route does not know, the query
// string's equivalent of unknown JSON fields.
func onlyQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return newProblem(http.StatusBadRequest, codeUnknownField, "query parameter %q is not part of this route", k)
		}
	}
	return nil
}
