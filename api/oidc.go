package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"mfagate/mfa"
	"mfagate/oidc"
)

// The External MFA front door: mfagate as the OpenID provider Microsoft
// Entra ID sends a user to after the first factor (package oidc has the
// protocol; this file is the browser's side of it).
//
//  1. Entra POSTs the authorization request with its id_token_hint to
//     /oidc/authorize. A verified request starts a flow (stored, so any
//     node can carry it on), sets the browser-binding cookie and sends the
//     browser to the sign-in page /oidc/flows/{flow}/ (303).
//  2. The page is another client of package mfa: it lists the methods the
//     user may sign in with, starts a challenge with the one they pick and
//     verifies it, through JSON routes under /oidc/flows/{flow}/api/ that
//     act only for the flow's user, as actor "oidc:<client_id>".
//  3. When the flow's challenge is approved, the page POSTs the finish form
//     and the answer goes back to Entra as an auto-submitting form_post of
//     the id_token (or of an OAuth error).
//
// The cookie holds a secret whose hash the flow stores: HttpOnly,
// SameSite=Strict, Secure under https, and scoped to the flow's path, so
// two tabs keep two flows apart. Entra's cross-site POST sets it; only the
// page's own same-origin requests send it back. POSTs also carry a CSRF
// token derived from the secret, which only a page that read api/state
// knows. Every refusal is audited as external_signin and counted in
// mfagate_oidc_signins_total.

// OIDC holds the parts of the External MFA provider. A nil Options.OIDC
// leaves every /oidc route (and the discovery document) unserved.
type OIDC struct {
	Issuer  string
	Clients oidc.Clients
	Hints   *oidc.HintVerifier
	Keys    *oidc.KeyManager
	Flows   oidc.FlowStore
	Minter  *oidc.Minter
	Now     func() time.Time // default time.Now
}

const (
	flowCookie   = "mfagate_flow"
	csrfHeader   = "X-CSRF-Token"
	flowPathBase = "/oidc/flows/"
)

// Problem codes of the sign-in page's own routes.
const (
	codeUnknownFlow  = "unknown_flow"
	codeFlowBinding  = "flow_binding"
	codeFlowAnswered = "flow_answered"
	codeFlowExpired  = "flow_expired"
	codeCSRF         = "csrf"
)

func (s *Server) oidcRoutes() {
	o := s.oidc
	s.mux.Handle("GET "+oidc.DiscoveryPath, s.instrument("GET "+oidc.DiscoveryPath, oidc.DiscoveryHandler(o.Issuer)))
	s.mux.Handle("GET "+oidc.JWKSPath, s.instrument("GET "+oidc.JWKSPath, o.Keys.JWKSHandler()))
	s.routes = append(s.routes, route{pattern: "GET " + oidc.DiscoveryPath}, route{pattern: "GET " + oidc.JWKSPath})
	s.handle("GET "+oidc.AuthorizePath, nil, s.authorize)
	s.handle("POST "+oidc.AuthorizePath, nil, s.authorize)
	s.handle("GET /oidc/assets/{file}", nil, s.serveAsset)
	s.handle("GET /oidc/flows/{flow}/{$}", nil, s.serveSigninPage)
	s.handle("GET /oidc/flows/{flow}/api/state", nil, s.inFlow(s.flowState))
	s.handle("POST /oidc/flows/{flow}/api/challenges", nil, s.inFlow(s.flowChallenge))
	s.handle("GET /oidc/flows/{flow}/api/challenges/{challenge}", nil, s.inFlow(s.flowGetChallenge))
	s.handle("POST /oidc/flows/{flow}/api/challenges/{challenge}/verify", nil, s.inFlow(s.flowVerify))
	s.handle("POST /oidc/flows/{flow}/finish", nil, s.finishFlow)
	s.handle("GET /v1/oidc/keys", []Role{RoleAdmin}, s.oidcKeys)
	s.handle("POST /v1/oidc/keys", []Role{RoleAdmin}, s.rotateOIDCKey)
}

func (o *OIDC) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func oidcActor(client string) mfa.Actor { return mfa.Actor{Name: "oidc:" + client} }

// clientLabel is the metrics label of a client ID: configured ones by
// name, anything else "unknown".
func (o *OIDC) clientLabel(id string) string {
	if _, ok := o.Clients[id]; ok {
		return id
	}
	return "unknown"
}

// record audits and counts how an External MFA request ended.
func (s *Server) record(ctx context.Context, client, user, challenge, result, amr, reason string) {
	label := s.oidc.clientLabel(client) // an unconfigured client_id is outside input: never recorded as sent
	detail := "client=" + label + " result=" + result
	if amr != "" {
		detail += " amr=" + amr
	}
	if reason != "" {
		detail += " reason=" + reason
	}
	actor := oidcActor(label)
	if err := s.svc.AuditExternalSignin(context.WithoutCancel(ctx), actor, user, challenge, detail); err != nil {
		s.log.Warn("External MFA audit event not recorded", "client", client, "err", err)
	}
	s.metrics.OIDCSignin(label, result, amr)
}

// authorize is the authorization endpoint (GET or form POST).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, _ *Client) error {
	o := s.oidc
	req, err := oidc.ParseAuthRequest(w, r, o.Clients)
	if err != nil {
		return s.refuseAuth(w, r, "", err)
	}
	hint, err := o.Hints.Verify(r.Context(), req.Client, req.IDTokenHint)
	if err != nil {
		return s.refuseAuth(w, r, "", req.HintRefused(err))
	}
	if _, err := s.svc.GetUser(r.Context(), hint.User); mfa.CodeOf(err) == mfa.CodeInvalidUserID {
		// user_pattern matched, but the result is not a user ID of this
		// gateway's policy: a configuration mismatch, not the user's doing.
		return s.refuseAuth(w, r, "", &oidc.AuthError{Code: oidc.ErrCodeAccessDenied, Reason: "user_id_policy",
			Description: "the user is not one this provider verifies", RedirectURI: req.RedirectURI, State: req.State, ClientID: req.Client.ID})
	} else if err != nil {
		return s.refuseAuth(w, r, hint.User, &oidc.AuthError{Code: oidc.ErrCodeTemporarilyUnavailable, Reason: "store",
			Description: "the provider cannot read its data now", RedirectURI: req.RedirectURI, State: req.State, ClientID: req.Client.ID})
	}
	f, secret := oidc.NewFlow(req, hint, o.now())
	if err := o.Flows.CreateFlow(r.Context(), f); err != nil {
		s.log.Error("External MFA flow not stored", "client", req.Client.ID, "err", err)
		return s.refuseAuth(w, r, hint.User, &oidc.AuthError{Code: oidc.ErrCodeTemporarilyUnavailable, Reason: "store",
			Description: "the provider cannot store the sign-in now", RedirectURI: req.RedirectURI, State: req.State, ClientID: req.Client.ID})
	}
	http.SetCookie(w, &http.Cookie{
		Name: flowCookie, Value: secret, Path: flowPathBase + f.ID + "/", MaxAge: int(oidc.FlowTTL / time.Second),
		HttpOnly: true, Secure: strings.HasPrefix(o.Issuer, "https://"), SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, flowPathBase+f.ID+"/", http.StatusSeeOther)
	return nil
}

// refuseAuth answers a refused authorization request: the OIDC way to a
// verified redirect URI, else as a plain page.
func (s *Server) refuseAuth(w http.ResponseWriter, r *http.Request, user string, err error) error {
	var ae *oidc.AuthError
	if !errors.As(err, &ae) {
		return err
	}
	if !ae.Redirectable() {
		s.record(r.Context(), ae.ClientID, user, "", "error_page", "", ae.Reason)
		return s.errorPage(w, http.StatusBadRequest, ae.Code, ae.Description)
	}
	s.record(r.Context(), ae.ClientID, user, "", ae.Code, "", ae.Reason)
	return oidc.WriteFormPost(w, ae.RedirectURI, ae.ErrorFields())
}

var signinErrorPage = template.Must(template.ParseFS(kioskUI, "kioskui/signin-error.html"))

// errorPage is the plain page for a request whose answer cannot go back
// to the client: the redirect URI or the client is not trustworthy, or
// the flow has already ended.
func (s *Server) errorPage(w http.ResponseWriter, status int, code, detail string) error {
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return signinErrorPage.Execute(w, struct{ Code, Detail string }{code, detail})
}

func (s *Server) serveSigninPage(w http.ResponseWriter, _ *http.Request, _ *Client) error {
	return s.writeUI(w, "kioskui/signin.html", http.StatusOK, func(h http.Header) {
		h.Set("Content-Security-Policy", pageCSP("'self'"))
	})
}

// csrfToken is derived from the binding secret: the page learns it from
// api/state (a same-origin read), a cross-site form cannot.
func csrfToken(secret string) string {
	sum := sha256.Sum256([]byte("mfagate oidc csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// flowAuth finds the request's flow and checks that this browser holds it
// and that it can still be answered. For POSTs, csrf is the token sent.
func (s *Server) flowAuth(r *http.Request, csrf string) (oidc.Flow, string, error) {
	o := s.oidc
	f, err := o.Flows.Flow(r.Context(), r.PathValue("flow"))
	if errors.Is(err, oidc.ErrFlowNotFound) {
		return oidc.Flow{}, "", newProblem(http.StatusNotFound, codeUnknownFlow, "this sign-in does not exist or has ended; start again from the Microsoft sign-in")
	}
	if err != nil {
		return oidc.Flow{}, "", err
	}
	secret := ""
	if c, err := r.Cookie(flowCookie); err == nil {
		secret = c.Value
	}
	reason := ""
	var p *problem
	switch err := f.Check(secret, o.now()); {
	case errors.Is(err, oidc.ErrFlowBinding):
		reason, p = codeFlowBinding, newProblem(http.StatusForbidden, codeFlowBinding, "this sign-in was started in another browser; start again from the Microsoft sign-in")
	case errors.Is(err, oidc.ErrFlowConsumed):
		reason, p = codeFlowAnswered, newProblem(http.StatusConflict, codeFlowAnswered, "this sign-in has already been answered")
	case errors.Is(err, oidc.ErrFlowExpired):
		reason, p = codeFlowExpired, newProblem(http.StatusGone, codeFlowExpired, "this sign-in took longer than %s and has ended; start again from the Microsoft sign-in", oidc.FlowTTL)
	case r.Method != http.MethodGet && subtle.ConstantTimeCompare([]byte(csrf), []byte(csrfToken(secret))) != 1:
		reason, p = codeCSRF, newProblem(http.StatusForbidden, codeCSRF, "the request did not come from the sign-in page (missing or wrong CSRF token)")
	}
	if p != nil {
		s.record(r.Context(), f.ClientID, f.User, "", "refused", "", reason)
		return oidc.Flow{}, "", p
	}
	return f, secret, nil
}

type flowFunc func(w http.ResponseWriter, r *http.Request, f oidc.Flow, secret string) error

// inFlow authenticates a page JSON route by the flow cookie (and, for
// POSTs, the CSRF header).
func (s *Server) inFlow(h flowFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *Client) error {
		f, secret, err := s.flowAuth(r, r.Header.Get(csrfHeader))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		return h(w, r, f, secret)
	}
}

type flowStateJSON struct {
	Flow struct {
		ID         string    `json:"id"`
		Client     string    `json:"client"`
		ExpiresAt  time.Time `json:"expires_at"`
		CSRF       string    `json:"csrf"`
		CodeLength int       `json:"code_length"`
		TOTPDigits int       `json:"totp_digits"`
	} `json:"flow"`
	User    string       `json:"user"`
	Methods []methodJSON `json:"methods"`
	// Passkey: the user has a security key this sign-in may use, so the
	// page can offer one "sign in with a passkey" for all of them (a
	// challenge with kind "fido").
	Passkey bool         `json:"passkey"`
	Refusal *refusalJSON `json:"refusal"`
	AMR     []string     `json:"amr_values"` // what the request's claims allow; empty: any
}

type refusalJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// signinMethods is what the flow's user may verify with now: package mfa's
// list, less what the request's claims leave out (a phone method stays
// while one of its channels is allowed).
func (s *Server) signinMethods(ctx context.Context, f oidc.Flow) ([]mfa.Method, mfa.UserView, error) {
	v, ms, err := s.svc.SigninMethods(ctx, f.User)
	if err != nil {
		return nil, v, err
	}
	out := ms[:0:0]
	for _, m := range ms {
		if len(s.allowedChannels(f, m)) > 0 {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, v, &mfa.Error{Code: mfa.CodeNoUsableMethod, Message: "none of the user's methods gives an amr the request allows (" + strings.Join(f.AMRValues, " ") + ")"}
	}
	return out, v, nil
}

// allowedChannels are the ways m may verify under the flow's request: ""
// for a method without channels, the phone's channels (package mfa's
// Channels) whose amr the request allows.
func (s *Server) allowedChannels(f oidc.Flow, m mfa.Method) []mfa.Channel {
	req := oidc.AuthRequest{AMRValues: f.AMRValues}
	chs := s.svc.Channels(m)
	if m.Kind != mfa.KindPhone {
		chs = []mfa.Channel{""}
	}
	var out []mfa.Channel
	for _, ch := range chs {
		if amr, err := oidc.AMR(m.Kind, ch); err == nil && req.AMRAllowed(amr) {
			out = append(out, ch)
		}
	}
	return out
}

func (s *Server) flowState(w http.ResponseWriter, r *http.Request, f oidc.Flow, secret string) error {
	var out flowStateJSON
	out.Flow.ID, out.Flow.Client, out.Flow.ExpiresAt, out.Flow.CSRF = f.ID, f.ClientID, f.Expires.UTC(), csrfToken(secret)
	out.Flow.CodeLength, out.Flow.TOTPDigits = s.svc.CodeLengths()
	out.User, out.Methods, out.AMR = f.User, []methodJSON{}, append([]string{}, f.AMRValues...)
	ms, v, err := s.signinMethods(r.Context(), f)
	var refusal *mfa.Error
	switch {
	case errors.As(err, &refusal):
		out.Refusal = &refusalJSON{Code: string(refusal.Code), Message: refusal.Message}
	case err != nil:
		return err
	}
	for _, m := range ms {
		out.Passkey = out.Passkey || m.Kind == mfa.KindFIDO
		j := s.methodView(m)
		j.Default = m.ID == v.User.DefaultMethod
		if m.Kind == mfa.KindPhone {
			j.Channels = []string{}
			for _, ch := range s.allowedChannels(f, m) {
				j.Channels = append(j.Channels, string(ch))
			}
		}
		out.Methods = append(out.Methods, j)
	}
	return writeJSON(w, http.StatusOK, out)
}

// flowChallenge starts a sign-in challenge with a method the page offered,
// or with kind "fido" one any of the user's security keys answers, and
// makes it the one that can answer the flow.
func (s *Server) flowChallenge(w http.ResponseWriter, r *http.Request, f oidc.Flow, _ string) error {
	var b struct {
		Method  string `json:"method"`
		Kind    string `json:"kind"`
		Channel string `json:"channel"`
	}
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	switch {
	case b.Kind != "" && b.Kind != string(mfa.KindFIDO):
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "kind %q is not possible: only \"fido\" (any of the user's security keys)", truncate(b.Kind, 32))
	case b.Kind != "" && (b.Method != "" || b.Channel != ""):
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "give method (with channel) or kind, not both: kind \"fido\" lets any of the user's security keys answer")
	case b.Kind == "" && b.Method == "":
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "method is required: the ID (m_…) of one of the methods api/state lists, or kind \"fido\" for any security key")
	}
	ms, _, err := s.signinMethods(r.Context(), f)
	if err != nil {
		return err
	}
	var req mfa.ChallengeRequest
	if b.Kind != "" {
		if !slices.ContainsFunc(ms, func(m mfa.Method) bool { return m.Kind == mfa.KindFIDO }) {
			return newProblem(http.StatusNotFound, string(mfa.CodeUnknownMethod), "this sign-in offers no security key: the user has none it may use")
		}
		req = mfa.ChallengeRequest{Kind: mfa.KindFIDO, Purpose: mfa.PurposeSignin}
	} else {
		var m *mfa.Method
		for i := range ms {
			if ms[i].ID == b.Method {
				m = &ms[i]
			}
		}
		if m == nil {
			return newProblem(http.StatusNotFound, string(mfa.CodeUnknownMethod), "method %s is not one this sign-in offers", truncate(b.Method, 40))
		}
		ch := mfa.Channel(b.Channel)
		if m.Kind == mfa.KindPhone && ch == "" {
			ch = m.Channel
		}
		if !slices.Contains(s.allowedChannels(f, *m), ch) {
			return newProblem(http.StatusUnprocessableEntity, string(mfa.CodeChannelNotPossible), "this sign-in cannot verify method %s by %q", m.ID, ch)
		}
		req = mfa.ChallengeRequest{Method: m.ID, Channel: ch, Purpose: mfa.PurposeSignin}
	}
	c, err := s.svc.CreateChallenge(r.Context(), oidcActor(f.ClientID), f.User, req)
	if err != nil {
		return err
	}
	if err := s.oidc.Flows.SetFlowChallenge(r.Context(), f.ID, c.ID); err != nil {
		if errors.Is(err, oidc.ErrFlowConsumed) {
			return newProblem(http.StatusConflict, codeFlowAnswered, "this sign-in has already been answered")
		}
		return err
	}
	view := challengeView(c)
	if view.WebAuthn, err = s.svc.AssertionOptions(r.Context(), c); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, view)
}

// flowOwnChallenge is the flow's current challenge; any other ID is
// answered as unknown.
func (s *Server) flowOwnChallenge(r *http.Request, f oidc.Flow) (mfa.Challenge, error) {
	id := r.PathValue("challenge")
	if f.Challenge == "" || subtle.ConstantTimeCompare([]byte(id), []byte(f.Challenge)) != 1 {
		return mfa.Challenge{}, newProblem(http.StatusNotFound, string(mfa.CodeUnknownChallenge), "challenge %s is not this sign-in's", truncate(id, 40))
	}
	return s.svc.Challenge(r.Context(), id)
}

func (s *Server) flowGetChallenge(w http.ResponseWriter, r *http.Request, f oidc.Flow, _ string) error {
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	c, err := s.flowOwnChallenge(r, f)
	if err != nil {
		return err
	}
	if c, err = s.svc.WaitChallenge(r.Context(), c.ID, wait); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeView(c))
}

func (s *Server) flowVerify(w http.ResponseWriter, r *http.Request, f oidc.Flow, _ string) error {
	var b verifyBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	c, err := s.flowOwnChallenge(r, f)
	if err != nil {
		return err
	}
	if c, err = s.verifyWith(r.Context(), oidcActor(f.ClientID), c.ID, b); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeView(c))
}

// finishFlow answers Entra: the id_token when the flow's challenge was
// approved (action=complete), access_denied when the user gave up or could
// not sign in (action=cancel). It is a form POST from the page, so its
// errors are pages too.
func (s *Server) finishFlow(w http.ResponseWriter, r *http.Request, _ *Client) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return s.errorPage(w, http.StatusUnsupportedMediaType, oidc.ErrCodeInvalidRequest, "the finish form must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		return s.errorPage(w, http.StatusBadRequest, oidc.ErrCodeInvalidRequest, "the finish form is not URL-encoded or is too large")
	}
	f, _, err := s.flowAuth(r, r.PostForm.Get("csrf"))
	if err != nil {
		var p *problem
		if errors.As(err, &p) {
			return s.errorPage(w, p.Status, p.Code, p.Detail)
		}
		return err
	}
	ctx := r.Context()
	switch action := r.PostForm.Get("action"); action {
	case "cancel":
		desc, reason := "the user cancelled the verification", "cancelled"
		if _, _, err := s.signinMethods(ctx, f); err != nil {
			if code := mfa.CodeOf(err); code != "" {
				desc, reason = "the user cannot be verified now ("+string(code)+")", string(code)
			}
		}
		if err := s.consume(ctx, f); err != nil {
			return err
		}
		ae := &oidc.AuthError{Code: oidc.ErrCodeAccessDenied, Description: desc, State: f.State}
		s.record(ctx, f.ClientID, f.User, f.Challenge, ae.Code, "", reason)
		return oidc.WriteFormPost(w, f.RedirectURI, ae.ErrorFields())
	case "complete":
	default:
		return s.errorPage(w, http.StatusBadRequest, oidc.ErrCodeInvalidRequest, fmt.Sprintf("action %q is unknown: the page sends complete or cancel", truncate(action, 20)))
	}
	c, err := s.svc.Challenge(ctx, f.Challenge)
	switch {
	case f.Challenge == "" || mfa.CodeOf(err) == mfa.CodeUnknownChallenge:
		return s.errorPage(w, http.StatusConflict, string(mfa.CodeChallengeNotApproved), "no verification was started for this sign-in")
	case err != nil:
		return err
	case c.Status != mfa.StatusApproved || c.Purpose != mfa.PurposeSignin || c.User != f.User:
		return s.errorPage(w, http.StatusConflict, string(mfa.CodeChallengeNotApproved), "the verification of this sign-in has not succeeded")
	}
	amr, err := oidc.AMR(c.Kind, c.Channel)
	if err != nil {
		return err
	}
	if err := s.consume(ctx, f); err != nil {
		return err
	}
	tok, err := s.oidc.Minter.Mint(ctx, oidc.Grant{ClientID: f.ClientID, Subject: f.Subject, OID: f.OID, TID: f.TID,
		Nonce: f.Nonce, ACR: f.ACR, AMR: amr, AuthTime: c.FinishedAt})
	if err != nil {
		s.log.Error("External MFA id_token not signed", "client", f.ClientID, "err", err)
		ae := &oidc.AuthError{Code: oidc.ErrCodeTemporarilyUnavailable, Description: "the provider cannot sign its answer now", State: f.State}
		s.record(ctx, f.ClientID, f.User, c.ID, ae.Code, "", "signing")
		return oidc.WriteFormPost(w, f.RedirectURI, ae.ErrorFields())
	}
	s.record(ctx, f.ClientID, f.User, c.ID, "success", amr, "")
	return oidc.WriteFormPost(w, f.RedirectURI, oidc.SuccessFields(tok, f.State))
}

// consume marks the flow answered; of two racing finishes (two nodes, a
// replayed form) only one gets past it.
func (s *Server) consume(ctx context.Context, f oidc.Flow) error {
	err := s.oidc.Flows.ConsumeFlow(ctx, f.ID)
	if errors.Is(err, oidc.ErrFlowConsumed) {
		s.record(ctx, f.ClientID, f.User, f.Challenge, "refused", "", codeFlowAnswered)
		return newProblem(http.StatusConflict, codeFlowAnswered, "this sign-in has already been answered")
	}
	return err
}

type keyJSON struct {
	KID         string     `json:"kid"`
	State       string     `json:"state"`
	Created     time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	Until       *time.Time `json:"until"`
	RetiresAt   *time.Time `json:"retires_at"`
}

func keyView(k oidc.KeyInfo) keyJSON {
	return keyJSON{KID: k.KID, State: string(k.State), Created: k.Created.UTC(), ActivatesAt: k.ActivatesAt.UTC(),
		Until: timePtr(k.Until), RetiresAt: timePtr(k.RetiresAt)}
}

func (s *Server) oidcKeys(w http.ResponseWriter, r *http.Request, _ *Client) error {
	ks, err := s.oidc.Keys.Keys(r.Context())
	if err != nil {
		return err
	}
	out := make([]keyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyView(k))
	}
	return writeJSON(w, http.StatusOK, out)
}

// rotateOIDCKey makes a new next key now (mfagatectl oidc rotate-key).
func (s *Server) rotateOIDCKey(w http.ResponseWriter, r *http.Request, c *Client) error {
	if err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	k, err := s.oidc.Keys.Rotate(r.Context())
	if err != nil {
		return err
	}
	s.log.Info("OIDC signing key rotated", "kid", k.KID, "by", c.Name, "activates_at", k.ActivatesAt)
	return writeJSON(w, http.StatusCreated, keyView(k))
}
