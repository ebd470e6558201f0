package api

import (
	"errors"
	"net/http"
	"time"

	"mfagate/selfservice"
)

// The OpenID Connect sign-in to the Security info page ([selfservice]
// oidc_issuer): /me/login sends the browser to the identity provider with
// a state, a nonce and a PKCE challenge, and binds the sign-in to the
// browser by the cookie mfagate_self_login (HttpOnly, SameSite=Lax, since
// the provider's redirect back is a cross-site top-level GET, which a
// Strict cookie would not accompany; Path /me/; 10 minutes). /me/callback
// takes the answer, opens the session and sends the browser to /me. A
// callback that fails is a page saying why, and opens nothing.

func (s *Server) selfLogin(w http.ResponseWriter, r *http.Request, _ *Client) (err error) {
	defer s.countPage("login", &err)
	if err := onlyQuery(r); err != nil {
		return err
	}
	u, secret, err := s.self.Login.Begin(r.Context())
	var le *selfservice.LoginError
	if errors.As(err, &le) {
		s.log.Warn("Security info page sign-in not started", "err", err)
		return s.selfPageFail(w, "login", http.StatusServiceUnavailable, le.Code, le.Msg)
	} else if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: selfLoginCookie, Value: secret, Path: selfPath + "/", MaxAge: int(selfservice.LoginTTL / time.Second),
		HttpOnly: true, Secure: s.self.Secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// loginStatus is the page status of each way a sign-in fails.
var loginStatus = map[string]int{
	"login_state": http.StatusBadRequest, "login_used": http.StatusConflict, "login_expired": http.StatusGone,
	"login_provider": http.StatusForbidden, "login_failed": http.StatusBadGateway, "login_user": http.StatusForbidden,
	"login_unavailable": http.StatusServiceUnavailable,
}

func (s *Server) selfCallback(w http.ResponseWriter, r *http.Request, _ *Client) (err error) {
	defer s.countPage("callback", &err)
	q := r.URL.Query()
	secret := ""
	if c, err := r.Cookie(selfLoginCookie); err == nil {
		secret = c.Value
	}
	user, err := s.self.Login.Finish(r.Context(), selfservice.Callback{Code: q.Get("code"), State: q.Get("state"),
		Error: q.Get("error"), ErrorDesc: q.Get("error_description")}, secret)
	var le *selfservice.LoginError
	if !errors.As(err, &le) || le.Code != "login_state" {
		// The sign-in of this cookie is used up; a callback that matched
		// none (a forged one, another browser's) leaves it for the real one.
		http.SetCookie(w, &http.Cookie{Name: selfLoginCookie, Path: selfPath + "/", MaxAge: -1, HttpOnly: true, Secure: s.self.Secure, SameSite: http.SameSiteLaxMode})
	}
	if err == nil {
		if cerr := s.svc.CheckUserID(user); cerr != nil {
			err = &selfservice.LoginError{Code: "login_user", Msg: "the account's user ID " + truncate(user, 40) + " is not one this gateway serves"}
		}
	}
	if errors.As(err, &le) {
		s.log.Warn("Security info page sign-in refused", "code", le.Code, "err", err)
		status, ok := loginStatus[le.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		return s.selfPageFail(w, "callback", status, le.Code, le.Msg)
	} else if err != nil {
		return err
	}
	sess, sec, err := s.self.Sessions.Open(r.Context(), user, selfservice.ViaOIDC)
	if err != nil {
		return err
	}
	s.selfSignedIn(r.Context(), sess, "")
	s.setSelfCookie(w, sec, int(s.self.Sessions.SessionTTL()/time.Second))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, selfPath, http.StatusSeeOther)
	return nil
}
