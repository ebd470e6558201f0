package api

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"mfagate/selfservice"
)

// The help-desk console (/console) and its OpenID Connect staff sign-in
// ([console] oidc_issuer).
//
// Staff sign in either with their own API token, which the page keeps in
// memory and sends as a bearer token to the /v1 routes, or, when [console]
// is configured, through the institution's OpenID provider: /console/login
// sends the browser there (the Security info page's relying party, with
// its own client registration and purpose "console": authorization code
// flow, PKCE S256, state and nonce, the ID token checked against the
// issuer's JWKS), bound to the browser by the cookie mfagate_staff_login
// (HttpOnly, SameSite=Lax for the provider's cross-site redirect back,
// Path /console/, 10 minutes). /console/callback maps the ID token's
// groups to a role (helpdesk_group: enroll; admin_group: admin; neither:
// a refusal page, 403 login_staff) and opens a staff session: the cookie
// mfagate_staff holds a 256-bit random secret (only a hash is stored, in
// the Security info page's session table, marked via=staff:<role>),
// HttpOnly, SameSite=Strict, Secure under https, Path /console, Max-Age
// [console] session_lifetime.
//
// The page then calls /console/v1/…, which this file forwards into the
// very /v1/… handlers with the staff member as the client
// "staff:<name>" of that one role: the role checks, the reasons and the
// audit are exactly the token's (403 and nothing changed when the role may
// not), and the audit names staff:<name> with the client address. Every
// forwarded request but GET also needs the header X-CSRF-Token with the
// csrf of GET /console/api/session (403 csrf otherwise); a missing,
// forged, signed-out or expired session is 401 no_session.

// Console holds the parts of the console's staff sign-in.
type Console struct {
	Login    *selfservice.RP // Purpose "console"
	Sessions *selfservice.StaffSessions
	Staff    selfservice.StaffPolicy
	// Secure marks the cookies Secure (the console is served over https).
	Secure bool
}

const (
	staffCookie      = "mfagate_staff"
	staffLoginCookie = "mfagate_staff_login"
	consolePath      = "/console"
	staffPrefix      = "staff:"
)

// consolePage registers the page, its assets and, with [console], the
// staff sign-in.
func (s *Server) consolePage() {
	s.handle("GET /console", nil, s.serveConsolePage)
	s.handle("GET /console/assets/{file}", nil, s.serveAsset)
	if s.console == nil {
		return
	}
	s.handle("GET /console/login", nil, s.staffLogin)
	s.handle("GET /console/callback", nil, s.staffCallback)
	s.handle("GET /console/api/session", nil, s.staffState)
	s.handle("POST /console/api/logout", nil, s.staffLogout)
	// Not a route of its own (openapi.json describes it with the session
	// routes): every /v1 route again, for the staff session.
	refused := s.metrics.HTTPRoute("/console/v1/")
	s.mux.Handle("/console/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if err := s.staffForward(w, r); err != nil {
			p, _ := toProblem(err)
			refused.Observe(p.Status, time.Since(start))
			s.fail(w, r, err)
		}
	}))
}

func (s *Server) serveConsolePage(w http.ResponseWriter, r *http.Request, _ *Client) error {
	return s.writeUI(w, "kioskui/console.html", http.StatusOK)
}

type staffKey struct{}

// staffOf is the staff member a console session forwarded the request
// for, or nil.
func staffOf(ctx context.Context) *Client {
	c, _ := ctx.Value(staffKey{}).(*Client)
	return c
}

// staffSession returns the request's staff session and its secret, or
// the 401.
func (s *Server) staffSession(r *http.Request) (selfservice.Session, selfservice.Staff, string, error) {
	secret := ""
	if c, err := r.Cookie(staffCookie); err == nil {
		secret = c.Value
	}
	sess, st, err := s.console.Sessions.Session(r.Context(), secret)
	switch {
	case errors.Is(err, selfservice.ErrNoSession):
		return sess, st, "", newProblem(http.StatusUnauthorized, codeNoSession, "you are not signed in to the console; sign in again (/console/login) or use your API token")
	case errors.Is(err, selfservice.ErrSessionExpired):
		return sess, st, "", newProblem(http.StatusUnauthorized, codeNoSession, "your console session has ended (it lasts %s); sign in again (/console/login)", formatTTL(s.console.Sessions.TTL()))
	case err != nil:
		return sess, st, "", err
	}
	return sess, st, secret, nil
}

func staffCSRF(r *http.Request, secret string) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || selfservice.CheckCSRF(secret, r.Header.Get(csrfHeader)) {
		return nil
	}
	return newProblem(http.StatusForbidden, codeCSRF, "the request did not come from the console (missing or wrong %s header); reload the page and try again", csrfHeader)
}

// staffForward serves /console/v1/… as /v1/… for the session's staff
// member.
func (s *Server) staffForward(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_, st, secret, err := s.staffSession(r)
	if err != nil {
		return err
	}
	if err := staffCSRF(r, secret); err != nil {
		return err
	}
	c := &Client{Name: staffPrefix + st.Name, Roles: []Role{Role(st.Role)}}
	r2 := r.Clone(context.WithValue(r.Context(), staffKey{}, c))
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, consolePath)
	r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, consolePath)
	r2.Header.Del("Authorization")
	// A staff session acts from the console only: removals and
	// terminations need a reason.
	r2.Header.Set(ConsoleHeader, "1")
	s.mux.ServeHTTP(w, r2)
	return nil
}

type staffStateJSON struct {
	Name      string    `json:"name"`
	Actor     string    `json:"actor"`
	Role      string    `json:"role"`
	CSRF      string    `json:"csrf"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) staffState(w http.ResponseWriter, r *http.Request, _ *Client) error {
	w.Header().Set("Cache-Control", "no-store")
	sess, st, secret, err := s.staffSession(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, staffStateJSON{Name: st.Name, Actor: staffPrefix + st.Name, Role: st.Role,
		CSRF: selfservice.CSRF(secret), ExpiresAt: sess.Expires.UTC()})
}

func (s *Server) staffLogout(w http.ResponseWriter, r *http.Request, _ *Client) error {
	sess, _, secret, err := s.staffSession(r)
	if err != nil {
		return err
	}
	if err := staffCSRF(r, secret); err != nil {
		return err
	}
	if err := s.console.Sessions.End(r.Context(), sess); err != nil {
		return err
	}
	s.setStaffCookie(w, "", -1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) setStaffCookie(w http.ResponseWriter, secret string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: staffCookie, Value: secret, Path: consolePath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.console.Secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) staffLoginCookie(w http.ResponseWriter, secret string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: staffLoginCookie, Value: secret, Path: consolePath + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.console.Secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) staffLogin(w http.ResponseWriter, r *http.Request, _ *Client) error {
	if err := onlyQuery(r); err != nil {
		return err
	}
	u, secret, err := s.console.Login.Begin(r.Context())
	var le *selfservice.LoginError
	if errors.As(err, &le) {
		s.log.Warn("console staff sign-in not started", "err", err)
		return s.consolePageError(w, http.StatusServiceUnavailable, le.Code, le.Msg)
	} else if err != nil {
		return err
	}
	s.staffLoginCookie(w, secret, int(selfservice.LoginTTL/time.Second))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

func (s *Server) staffCallback(w http.ResponseWriter, r *http.Request, _ *Client) error {
	q := r.URL.Query()
	secret := ""
	if c, err := r.Cookie(staffLoginCookie); err == nil {
		secret = c.Value
	}
	claims, err := s.console.Login.FinishClaims(r.Context(), selfservice.Callback{Code: q.Get("code"), State: q.Get("state"),
		Error: q.Get("error"), ErrorDesc: q.Get("error_description")}, secret)
	var le *selfservice.LoginError
	if !errors.As(err, &le) || le.Code != "login_state" {
		// Used up; a callback that matched no sign-in leaves it.
		s.staffLoginCookie(w, "", -1)
	}
	var st selfservice.Staff
	if err == nil {
		st, err = s.console.Staff.Staff(claims)
	}
	if errors.As(err, &le) {
		s.log.Warn("console staff sign-in refused", "code", le.Code, "err", err)
		status, ok := loginStatus[le.Code]
		if !ok {
			status = http.StatusForbidden
		}
		return s.consolePageError(w, status, le.Code, le.Msg)
	} else if err != nil {
		return err
	}
	_, sec, err := s.console.Sessions.Open(r.Context(), st)
	if err != nil {
		return err
	}
	s.log.Info("console staff signed in", "staff", st.Name, "role", st.Role, "from", clientAddr(r))
	s.setStaffCookie(w, sec, int(s.console.Sessions.TTL()/time.Second))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, consolePath, http.StatusSeeOther)
	return nil
}

var consoleErrorPage = template.Must(template.ParseFS(kioskUI, "kioskui/console-error.html"))

// consolePageErrorText is the page's headline for each code, in both
// languages.
var consolePageErrorText = map[string][2]string{
	"login_staff":       {"ヘルプデスクの担当者として登録されていません", "You are not registered as help desk staff"},
	"login_user":        {"このアカウントではサインインできません", "This account cannot sign in to the console"},
	"login_failed":      {"サインインできませんでした", "Sign-in did not succeed"},
	"login_expired":     {"サインインの有効期限が切れました", "The sign-in took too long"},
	"login_used":        {"このサインインは完了済みです", "This sign-in has already been completed"},
	"login_state":       {"サインインを確認できません", "The sign-in cannot be matched to this browser"},
	"login_provider":    {"ID プロバイダーがサインインを拒否しました", "The identity provider refused the sign-in"},
	"login_unavailable": {"ID プロバイダーに接続できません", "The identity provider cannot be reached"},
}

// consolePageError is the page for a staff sign-in that did not work:
// what went wrong, in Japanese and English, and the code and detail.
func (s *Server) consolePageError(w http.ResponseWriter, status int, code, detail string) error {
	t, ok := consolePageErrorText[code]
	if !ok {
		t = consolePageErrorText["login_failed"]
	}
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return consoleErrorPage.Execute(w, struct{ Code, Detail, TitleJA, TitleEN string }{code, detail, t[0], t[1]})
}
