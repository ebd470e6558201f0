package api

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"mfagate/mfa"
	"mfagate/selfservice"
)

// The Security info page (/me): a user manages their own methods and
// passkeys in their own browser. It is package mfa's client like the kiosk
// page; its JSON routes are the kiosk page's twins (kioskpage.go's shared
// user* operations), bound to a self-service session instead of a kiosk
// session, and act as actor "self:<user>".
//
// Getting in. An identity provider that has signed the user in asks
// POST /v1/users/{user}/selfservice-links (enroll role) and sends the
// browser to the answer's url, /me/link/<token>: a 256-bit random,
// single-use token valid [selfservice] link_ttl, stored only as its
// SHA-256. Opening it starts a session and redirects to /me. With
// oidc_issuer set, /me/login signs the user in with OpenID Connect
// instead (selfservice_oidc.go).
//
// Session and CSRF. The session cookie mfagate_self holds a 256-bit
// random secret (only its SHA-256 is stored, in the database every node
// shares): HttpOnly, SameSite=Strict, Secure under https, Path /me,
// Max-Age the session's lifetime. A Strict cookie is not sent on the
// navigation that follows a cross-site link, so GET /me is a static page
// that never reads it; the page's own same-origin fetches carry it. Every
// /me/api route needs it (401 no_session otherwise), and every non-GET
// also needs the header X-CSRF-Token with the token /me/api/state gives,
// derived from the secret (403 csrf otherwise): a cross-site page can
// neither send the cookie nor read the token. Each answer is counted in
// mfagate_selfservice_requests_total{action,result}; page sign-ins (a
// link opened, an OpenID Connect login) are audited as external_signin
// with actor self:<user>.

// SelfService holds the parts of the Security info page. A nil
// Options.SelfService leaves every /me route unserved.
type SelfService struct {
	Sessions *selfservice.Manager
	// Links serves POST /v1/users/{user}/selfservice-links and /me/link/….
	Links bool
	// Secure marks the cookies Secure (the page is served over https).
	Secure bool
	// Passkeys registers passkeys made in the browser; nil: not offered.
	Passkeys *Passkeys
	// Login is the OpenID Connect sign-in to the page; nil: off.
	Login *selfservice.RP
}

const (
	selfCookie      = "mfagate_self"
	selfLoginCookie = "mfagate_self_login"
	selfPath        = "/me"
)

// Problem codes of the Security info page.
const (
	codeNoSession       = "no_session"
	codeUnknownLink     = "unknown_link"
	codeLinkUsed        = "link_used"
	codeLinkExpired     = "link_expired"
	codeLinksOff        = "links_off"
	codeUnknownCeremony = "unknown_ceremony"
	codeCeremonyExpired = "ceremony_expired"
)

func selfActor(user string) mfa.Actor { return mfa.Actor{Name: "self:" + user} }

func (s *Server) selfServiceRoutes() {
	enroll := []Role{RoleEnroll}
	s.handle("POST /v1/users/{user}/selfservice-links", enroll, s.createSelfLink)
	s.handle("GET /me", nil, s.serveMePage)
	s.handle("GET /me/assets/{file}", nil, s.serveAsset)
	if s.self.Links {
		s.handle("GET /me/link/{token}", nil, s.openSelfLink)
	}
	if s.self.Login != nil {
		s.handle("GET /me/login", nil, s.selfLogin)
		s.handle("GET /me/callback", nil, s.selfCallback)
	}
	s.handle("GET /me/api/state", nil, s.inSelf("state", s.selfState))
	s.handle("POST /me/api/logout", nil, s.inSelf("logout", s.selfLogout))
	s.handle("POST /me/api/methods", nil, s.inSelf("add_method", func(w http.ResponseWriter, r *http.Request, sess selfservice.Session, a mfa.Actor) error {
		return s.registerMethod(w, r, a, sess.User)
	}))
	s.handle("POST /me/api/methods/{method}/confirm", nil, s.inSelf("confirm", s.selfUser(s.userConfirm)))
	s.handle("PATCH /me/api/methods/{method}", nil, s.inSelf("rename", s.selfUser(s.userRename)))
	s.handle("DELETE /me/api/methods/{method}", nil, s.inSelf("remove", s.selfUser(s.userRemoveMethod)))
	s.handle("PUT /me/api/default-method", nil, s.inSelf("set_default", s.selfUser(s.userSetDefault)))
	s.handle("PUT /me/api/mfa", nil, s.inSelf("apply", s.selfUser(s.userApply)))
	s.handle("POST /me/api/challenges", nil, s.inSelf("challenge", func(w http.ResponseWriter, r *http.Request, sess selfservice.Session, a mfa.Actor) error {
		return s.userChallenge(w, r, sess.User, a, "on the Security info page", true)
	}))
	s.handle("GET /me/api/challenges/{challenge}", nil, s.inSelf("get_challenge", func(w http.ResponseWriter, r *http.Request, sess selfservice.Session, _ mfa.Actor) error {
		return s.userGetChallenge(w, r, sess.User)
	}))
	s.handle("POST /me/api/challenges/{challenge}/verify", nil, s.inSelf("verify", s.selfUser(s.userVerify)))
	s.handle("POST /me/api/passkeys/options", nil, s.inSelf("passkey_options", s.passkeyOptions))
	s.handle("POST /me/api/passkeys", nil, s.inSelf("register_passkey", s.registerPasskey))
}

// errPageWritten marks a page route's refusal, written and counted by
// selfPageFail.
var errPageWritten = errors.New("page written")

// countPage counts the answer of a page route (an HTML page or a
// redirect), unless selfPageFail has; it clears errPageWritten.
func (s *Server) countPage(action string, err *error) {
	if errors.Is(*err, errPageWritten) {
		*err = nil
		return
	}
	s.countSelf(action, *err)
}

// selfPageFail writes the page of a way in that did not work and counts
// it under its code.
func (s *Server) selfPageFail(w http.ResponseWriter, action string, status int, code, detail string) error {
	s.metrics.SelfServiceRequest(action, code)
	if err := s.mePageError(w, status, code, detail); err != nil {
		return err
	}
	return errPageWritten
}

// count records one answer of the page's routes.
func (s *Server) countSelf(action string, err error) {
	result := "ok"
	if err != nil {
		p, _ := toProblem(err)
		result = p.Code
	}
	s.metrics.SelfServiceRequest(action, result)
}

func (s *Server) signinView() *selfSigninJSON {
	return &selfSigninJSON{OIDC: s.self.Login != nil, Links: s.self.Links}
}

type selfSigninJSON struct {
	OIDC  bool `json:"oidc"`
	Links bool `json:"links"`
}

// noSession is the answer of a page route without a usable session; its
// signin member says how to get back in.
func (s *Server) noSession(expired bool) *problem {
	how := "open a new link from your sign-in portal"
	switch {
	case s.self.Login != nil && s.self.Links:
		how = "sign in again (/me/login) or open a new link from your sign-in portal"
	case s.self.Login != nil:
		how = "sign in again (/me/login)"
	}
	p := newProblem(http.StatusUnauthorized, codeNoSession, "you are not signed in to the Security info page; %s", how)
	if expired {
		p.Detail = "your session on the Security info page has ended (it lasts " + formatTTL(s.self.Sessions.SessionTTL()) + "); " + how
	}
	p.Signin = s.signinView()
	return p
}

func formatTTL(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	}
	return d.String()
}

type selfFunc func(w http.ResponseWriter, r *http.Request, sess selfservice.Session, a mfa.Actor) error

// selfUser adapts a shared page operation to a session route.
func (s *Server) selfUser(op func(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error) selfFunc {
	return func(w http.ResponseWriter, r *http.Request, sess selfservice.Session, a mfa.Actor) error {
		return op(w, r, sess.User, a)
	}
}

// selfSecret is the session cookie's value ("" when absent).
func selfSecret(r *http.Request) string {
	if c, err := r.Cookie(selfCookie); err == nil {
		return c.Value
	}
	return ""
}

// inSelf authenticates a page JSON route by the session cookie and, for
// every method but GET, the CSRF header; then h acts for the session's
// user only.
func (s *Server) inSelf(action string, h selfFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *Client) (err error) {
		defer func() { s.countSelf(action, err) }()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		secret := selfSecret(r)
		sess, err := s.self.Sessions.Session(r.Context(), secret)
		switch {
		case errors.Is(err, selfservice.ErrNoSession):
			return s.noSession(false)
		case errors.Is(err, selfservice.ErrSessionExpired):
			return s.noSession(true)
		case err != nil:
			return err
		}
		if r.Method != http.MethodGet && !selfservice.CheckCSRF(secret, r.Header.Get(csrfHeader)) {
			return newProblem(http.StatusForbidden, codeCSRF, "the request did not come from the Security info page (missing or wrong %s header); reload the page and try again", csrfHeader)
		}
		r = r.WithContext(withSelfSecret(r.Context(), secret))
		return h(w, r, sess, selfActor(sess.User))
	}
}

type secretKey struct{}

func withSelfSecret(ctx context.Context, secret string) context.Context {
	return context.WithValue(ctx, secretKey{}, secret)
}

func selfSecretOf(ctx context.Context) string {
	v, _ := ctx.Value(secretKey{}).(string)
	return v
}

type selfStateJSON struct {
	User       userJSON       `json:"user"`
	CSRF       string         `json:"csrf"`
	ExpiresAt  time.Time      `json:"expires_at"`
	CodeLength int            `json:"code_length"`
	TOTPDigits int            `json:"totp_digits"`
	Signin     selfSigninJSON `json:"signin"`
	Passkeys   bool           `json:"passkeys"`
}

func (s *Server) selfState(w http.ResponseWriter, r *http.Request, sess selfservice.Session, _ mfa.Actor) error {
	v, err := s.svc.GetUser(r.Context(), sess.User)
	if err != nil {
		return err
	}
	out := selfStateJSON{User: s.userView(v), CSRF: selfservice.CSRF(selfSecretOf(r.Context())), ExpiresAt: sess.Expires.UTC(),
		Signin: *s.signinView(), Passkeys: s.self.Passkeys != nil}
	out.CodeLength, out.TOTPDigits = s.svc.CodeLengths()
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) setSelfCookie(w http.ResponseWriter, secret string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: selfCookie, Value: secret, Path: selfPath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.self.Secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) selfLogout(w http.ResponseWriter, r *http.Request, sess selfservice.Session, _ mfa.Actor) error {
	if err := s.self.Sessions.End(r.Context(), sess); err != nil {
		return err
	}
	s.setSelfCookie(w, "", -1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) userRename(w http.ResponseWriter, r *http.Request, user string, a mfa.Actor) error {
	return s.relabel(w, r, a, user, r.PathValue("method"))
}

func (s *Server) serveMePage(w http.ResponseWriter, _ *http.Request, _ *Client) error {
	return s.writeUI(w, "kioskui/me.html", http.StatusOK)
}

type selfLinkJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createSelfLink hands an identity provider a one-time link to the page
// for a user it has signed in.
func (s *Server) createSelfLink(w http.ResponseWriter, r *http.Request, c *Client) (err error) {
	defer func() { s.countSelf("create_link", err) }()
	if err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	if !s.self.Links {
		return newProblem(http.StatusNotFound, codeLinksOff, "one-time links to the Security info page are off on this gateway ([selfservice] links = false)")
	}
	user := r.PathValue("user")
	if err := s.svc.CheckUserID(user); err != nil {
		return err
	}
	tok, exp, err := s.self.Sessions.NewLink(r.Context(), user)
	if err != nil {
		return err
	}
	s.log.Info("Security info page link created", "user", user, "by", c.Name, "expires_at", exp)
	return writeJSON(w, http.StatusCreated, selfLinkJSON{URL: "/me/link/" + tok, ExpiresAt: exp.UTC()})
}

// openSelfLink opens a session from a one-time link. A link that cannot
// be used is a page saying why; nothing changes.
func (s *Server) openSelfLink(w http.ResponseWriter, r *http.Request, _ *Client) (err error) {
	defer s.countPage("link", &err)
	sess, secret, err := s.self.Sessions.OpenLink(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, selfservice.ErrLinkNotFound):
		return s.selfPageFail(w, "link", http.StatusNotFound, codeUnknownLink, "this link to the Security info page is not valid; open the page again from your sign-in portal")
	case errors.Is(err, selfservice.ErrLinkUsed):
		return s.selfPageFail(w, "link", http.StatusGone, codeLinkUsed, "this link to the Security info page has already been used; each link opens the page once: open the page again from your sign-in portal")
	case errors.Is(err, selfservice.ErrLinkExpired):
		return s.selfPageFail(w, "link", http.StatusGone, codeLinkExpired, "this link to the Security info page has expired; open the page again from your sign-in portal")
	case err != nil:
		return err
	}
	s.selfSignedIn(r.Context(), sess, "")
	s.setSelfCookie(w, secret, int(s.self.Sessions.SessionTTL()/time.Second))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, selfPath, http.StatusSeeOther)
	return nil
}

// selfSignedIn audits a page sign-in.
func (s *Server) selfSignedIn(ctx context.Context, sess selfservice.Session, extra string) {
	detail := "page=me via=" + sess.Via + " result=success" + extra
	if err := s.svc.AuditExternalSignin(context.WithoutCancel(ctx), selfActor(sess.User), sess.User, "", detail); err != nil {
		s.log.Warn("Security info page sign-in not audited", "user", sess.User, "err", err)
	}
}

var meErrorPage = template.Must(template.ParseFS(kioskUI, "kioskui/me-error.html"))

// mePageErrorText is the page's headline for each code, in both languages.
var mePageErrorText = map[string][2]string{
	codeUnknownLink:  {"このリンクは無効です", "This link is not valid"},
	codeLinkUsed:     {"このリンクは使用済みです", "This link has already been used"},
	codeLinkExpired:  {"このリンクは有効期限が切れています", "This link has expired"},
	"login_failed":   {"サインインできませんでした", "Sign-in did not succeed"},
	"login_expired":  {"サインインの有効期限が切れました", "The sign-in took too long"},
	"login_used":     {"このサインインは完了済みです", "This sign-in has already been completed"},
	"login_state":    {"サインインを確認できません", "The sign-in cannot be matched to this browser"},
	"login_user":     {"このアカウントは利用できません", "This account cannot use the page"},
	"login_provider": {"ID プロバイダーがサインインを拒否しました", "The identity provider refused the sign-in"},
}

// mePageError is the page for a way in that did not work: what went
// wrong, in Japanese and English, and the code and detail for the help
// desk.
func (s *Server) mePageError(w http.ResponseWriter, status int, code, detail string) error {
	t, ok := mePageErrorText[code]
	if !ok {
		t = mePageErrorText["login_failed"]
	}
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return meErrorPage.Execute(w, struct{ Code, Detail, TitleJA, TitleEN string }{code, detail, t[0], t[1]})
}
