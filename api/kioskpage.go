package api

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"mfagate/kiosk"
	"mfagate/mfa"
)

// The kiosk page: a guided initial setup (the setup guide's four steps) for
// the one person a kiosk session was opened for.
//
// Access model. Staff (an enroll client) open a session with
// POST /v1/kiosk/sessions and point the kiosk browser at its url,
// /kiosk/e_…. The session ID is a 128-bit random capability bound to one
// user that expires after fido.session_ttl. The page's JSON routes live
// under /kiosk/{id}/api/ and need no bearer token: the session is the
// credential, and they act only for the session's user, as actor
// "kiosk:<who opened the session>". An unknown session answers 404 and an
// expired one 410 (problem+json); the page then says the session has ended
// and offers nothing. Static assets hold no data and need no credential.
// The staff status page /kiosk/status is a form: the data behind it,
// GET /v1/kiosk/status, needs an enroll or admin bearer token.

//go:embed kioskui
var kioskUI embed.FS

// kioskPage registers the page, its assets and its session-scoped routes.
func (s *Server) kioskPage() {
	s.handle("GET /kiosk/{id}", nil, s.servePage)
	s.handle("GET /kiosk/assets/{file}", nil, s.serveAsset)
	s.handle("GET /kiosk/status", nil, s.serveStatusPage)
	s.handle("GET /v1/kiosk/status", []Role{RoleEnroll}, s.kioskStatus)

	s.handle("GET /kiosk/{id}/api/state", nil, s.inSession(s.pageState))
	s.handle("POST /kiosk/{id}/api/methods", nil, s.inSession(s.pageAddMethod))
	s.handle("POST /kiosk/{id}/api/methods/{method}/confirm", nil, s.inSession(s.pageConfirm))
	s.handle("DELETE /kiosk/{id}/api/methods/{method}", nil, s.inSession(s.pageRemoveMethod))
	s.handle("PUT /kiosk/{id}/api/default-method", nil, s.inSession(s.pageSetDefault))
	s.handle("POST /kiosk/{id}/api/challenges", nil, s.inSession(s.pageChallenge))
	s.handle("GET /kiosk/{id}/api/challenges/{challenge}", nil, s.inSession(s.pageGetChallenge))
	s.handle("POST /kiosk/{id}/api/challenges/{challenge}/verify", nil, s.inSession(s.pageVerify))
	s.handle("GET /kiosk/{id}/api/devices", nil, s.inSession(s.pageDevices))
	s.handle("POST /kiosk/{id}/api/enroll", nil, s.inSession(s.pageEnroll))
	s.handle("POST /kiosk/{id}/api/assert", nil, s.inSession(s.pageAssert))
	s.handle("POST /kiosk/{id}/api/cancel", nil, s.inSession(s.pageCancel))
	s.handle("POST /kiosk/{id}/api/end", nil, s.inSession(s.pageEnd))
	s.handle("GET /kiosk/{id}/api/events", nil, s.inSession(s.pageEvents))
	s.handle("PUT /kiosk/{id}/api/mfa", nil, s.inSession(s.pageApply))
}

// pageHeaders keep the page to its own origin: no outside scripts, styles,
// fonts or frames, and no Referer carrying the session ID anywhere.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP("'none'"))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// pageCSP is the pages' policy; formAction is where their forms may post
// ('none' for the kiosk; the External MFA page posts its finish form to
// itself).
func pageCSP(formAction string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action " + formAction + "; frame-ancestors 'none'"
}

// servePage serves the page; its status says whether the session is usable
// (the page reads the same from its state call and says so in words).
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, _ *Client) error {
	status := http.StatusOK
	if _, err := s.kiosk.Get(r.Context(), r.PathValue("id")); err != nil {
		p, _ := toProblem(kioskProblem(err))
		status = p.Status
	}
	return s.writeUI(w, "kioskui/index.html", status)
}

func (s *Server) serveStatusPage(w http.ResponseWriter, r *http.Request, _ *Client) error {
	return s.writeUI(w, "kioskui/status.html", http.StatusOK)
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, _ *Client) error {
	name := r.PathValue("file")
	if path.Ext(name) == ".html" {
		return newProblem(http.StatusNotFound, codeNotFound, "no kiosk asset %q", name)
	}
	return s.writeUI(w, "kioskui/"+name, http.StatusOK)
}

func (s *Server) writeUI(w http.ResponseWriter, name string, status int, headers ...func(http.Header)) error {
	b, err := fs.ReadFile(kioskUI, name)
	if err != nil {
		return newProblem(http.StatusNotFound, codeNotFound, "no kiosk asset %q", path.Base(name))
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // not left to the system's MIME table
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	pageHeaders(w.Header())
	for _, f := range headers {
		f(w.Header())
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

type sessionFunc func(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error

// inSession authenticates a page route by its session: it must exist and
// not have expired. The handler acts for the session's user only.
func (s *Server) inSession(h sessionFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *Client) error {
		sess, err := s.kiosk.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return kioskProblem(err)
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		return h(w, r, sess, mfa.Actor{Name: "kiosk:" + sess.Actor})
	}
}

type pageStateJSON struct {
	Session sessionJSON `json:"session"`
	User    userJSON    `json:"user"`
}

func (s *Server) pageState(w http.ResponseWriter, r *http.Request, sess kiosk.Session, _ mfa.Actor) error {
	v, err := s.svc.GetUser(r.Context(), sess.User)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageStateJSON{Session: s.sessionView(sess), User: s.userView(v)})
}

func (s *Server) pageAddMethod(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.registerMethod(w, r, a, sess.User)
}

func (s *Server) pageConfirm(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.userConfirm(w, r, sess.User, a)
}

func (s *Server) pageRemoveMethod(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.userRemoveMethod(w, r, sess.User, a)
}

func (s *Server) pageSetDefault(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.userSetDefault(w, r, sess.User, a)
}

// pageChallenge starts a test sign-in (step 3) or a proof. A kiosk session
// never produces a sign-in approval for the identity provider.
func (s *Server) pageChallenge(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.userChallenge(w, r, sess.User, a, "at the kiosk", false)
}

func (s *Server) pageGetChallenge(w http.ResponseWriter, r *http.Request, sess kiosk.Session, _ mfa.Actor) error {
	return s.userGetChallenge(w, r, sess.User)
}

func (s *Server) pageVerify(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.userVerify(w, r, sess.User, a)
}

// The page operations the kiosk and the Security info page share: each
// acts for one user (the session's) as one actor, and a challenge of
// another user is answered as one that does not exist.

func (s *Server) userConfirm(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error {
	var b confirmBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	m, err := s.svc.ConfirmMethod(r.Context(), a, user, r.PathValue("method"), mfa.ConfirmRequest{Code: b.Code, Challenge: b.Challenge})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"method": s.methodView(m)})
}

func (s *Server) userRemoveMethod(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error {
	if err := onlyQuery(r, "proof"); err != nil {
		return err
	}
	if err := s.svc.RemoveMethod(r.Context(), a, user, r.PathValue("method"), r.URL.Query().Get("proof")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) userSetDefault(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error {
	var b defaultBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Method == "" {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "method is required: the ID (m_…) of a confirmed method")
	}
	v, err := s.svc.SetDefault(r.Context(), a, user, b.Method)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

// userChallenge starts a test sign-in or a proof (where names the page in
// the refusal of another purpose; discoverable allows kind "fido", a
// challenge any of the user's keys answers). A security key's challenge
// carries the browser's WebAuthn request options.
func (s *Server) userChallenge(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor, where string, discoverable bool) error {
	var b challengeBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	switch mfa.Purpose(b.Purpose) {
	case "":
		b.Purpose = string(mfa.PurposeTest)
	case mfa.PurposeTest, mfa.PurposeProof:
	default:
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "purpose %q is not available %s: use \"test\" (try signing in) or \"proof\"", truncate(b.Purpose, 32), where)
	}
	if b.Kind != "" && !discoverable {
		// The kiosk's security keys answer their own method's challenge
		// through libfido2 (api/assert), which names no credential.
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "kind is not available at the kiosk: name the method (a security key answers through api/assert)")
	}
	ch, err := s.svc.CreateChallenge(r.Context(), a, user, b.request())
	if err != nil {
		return err
	}
	view := challengeView(ch)
	if view.WebAuthn, err = s.svc.AssertionOptions(r.Context(), ch); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, view)
}

// ownChallenge returns a challenge of user; another user's challenge is
// reported exactly like one that does not exist.
func (s *Server) ownChallenge(r *http.Request, user string) (mfa.Challenge, error) {
	id := r.PathValue("challenge")
	if id == "" {
		id = "-"
	}
	c, err := s.svc.Challenge(r.Context(), id)
	if err == nil && c.User != user {
		return mfa.Challenge{}, newProblem(http.StatusNotFound, string(mfa.CodeUnknownChallenge), "challenge %s does not exist", truncate(id, 40))
	}
	return c, err
}

func (s *Server) userGetChallenge(w http.ResponseWriter, r *http.Request, user string) error {
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	c, err := s.ownChallenge(r, user)
	if err != nil {
		return err
	}
	if c, err = s.svc.WaitChallenge(r.Context(), c.ID, wait); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeView(c))
}

// userVerify answers one of user's challenges with a code or a security
// key's assertion.
func (s *Server) userVerify(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error {
	var b verifyBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Code == "" && b.WebAuthn == nil {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "code is required: the digits the authenticator app or the SMS shows")
	}
	c, err := s.ownChallenge(r, user)
	if err != nil {
		return err
	}
	if c, err = s.verifyWith(r.Context(), a, c.ID, b); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeView(c))
}

// userApply applies user for MFA; only {"enabled":true} is accepted.
func (s *Server) userApply(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error {
	var b mfaBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Enabled == nil || !*b.Enabled {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest),
			"send {\"enabled\":true} to apply for MFA; only the help desk can turn MFA off")
	}
	v, err := s.svc.ApplyMFA(r.Context(), a, user)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.userView(v))
}

func (s *Server) pageDevices(w http.ResponseWriter, r *http.Request, _ kiosk.Session, _ mfa.Actor) error {
	return s.listDevices(w, r, nil)
}

func (s *Server) pageEnroll(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	var b enrollBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	op, err := s.kiosk.Enroll(r.Context(), a, sess.ID, kiosk.EnrollRequest{Device: b.Device, PIN: b.PIN, NewPIN: b.NewPIN, Label: b.Label})
	if err != nil {
		return kioskProblem(err)
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"operation": op})
}

func (s *Server) pageAssert(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	var b assertBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Challenge == "" {
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "challenge is required: the security-key challenge (c_…) to answer")
	}
	r.SetPathValue("challenge", b.Challenge)
	c, err := s.ownChallenge(r, sess.User)
	if err != nil {
		return err
	}
	if c.Kind != mfa.KindFIDO {
		return newProblem(http.StatusUnprocessableEntity, string(mfa.CodeWrongVerification), "challenge %s is for a %s method, not a security key", c.ID, c.Kind)
	}
	op, err := s.kiosk.Assert(r.Context(), a, sess.ID, kiosk.AssertRequest{Device: b.Device, PIN: b.PIN, Challenge: c.ID})
	if err != nil {
		return kioskProblem(err)
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"operation": op})
}

func (s *Server) pageCancel(w http.ResponseWriter, r *http.Request, _ kiosk.Session, _ mfa.Actor) error {
	return s.cancelOperation(w, r, nil)
}

// pageEnd is the page's "End session": the next person at the kiosk finds
// nothing of this one's.
func (s *Server) pageEnd(w http.ResponseWriter, r *http.Request, _ kiosk.Session, _ mfa.Actor) error {
	return s.endSession(w, r, nil)
}

func (s *Server) pageEvents(w http.ResponseWriter, r *http.Request, _ kiosk.Session, _ mfa.Actor) error {
	return s.sessionEvents(w, r, nil)
}

func (s *Server) pageApply(w http.ResponseWriter, r *http.Request, sess kiosk.Session, a mfa.Actor) error {
	return s.userApply(w, r, sess.User, a)
}

type kioskStatusJSON struct {
	Modems []kioskModemJSON `json:"modems"`
	Keys   []kioskKeyJSON   `json:"keys"`
	Outbox kioskOutboxJSON  `json:"outbox"`
}

type kioskModemJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Up    bool   `json:"up"`
}

type kioskKeyJSON struct {
	Product string `json:"product"`
	PINSet  bool   `json:"pin_set"`
}

type kioskOutboxJSON struct {
	Queued           int     `json:"queued"`
	Sending          int     `json:"sending"`
	OldestAgeSeconds float64 `json:"oldest_queued_age_seconds"`
}

// kioskStatus is what staff at a kiosk need to know: can phones be reached,
// is a key plugged in, is delivery keeping up. No user data.
func (s *Server) kioskStatus(w http.ResponseWriter, r *http.Request, _ *Client) error {
	out := kioskStatusJSON{Modems: []kioskModemJSON{}, Keys: []kioskKeyJSON{}}
	if s.modems != nil {
		for _, m := range s.modems.Status() {
			out.Modems = append(out.Modems, kioskModemJSON{ID: m.ID, State: m.State, Up: m.State == "up"})
		}
	}
	for _, d := range s.kiosk.Devices() {
		out.Keys = append(out.Keys, kioskKeyJSON{Product: d.Product, PINSet: d.PINSet})
	}
	o, err := s.svc.OutboxStats(r.Context())
	if err != nil {
		return err
	}
	out.Outbox = kioskOutboxJSON{Queued: o.Queued, Sending: o.Sending}
	if !o.Oldest.IsZero() {
		out.Outbox.OldestAgeSeconds = time.Since(o.Oldest).Seconds()
	}
	return writeJSON(w, http.StatusOK, out)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
