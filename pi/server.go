package pi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
)

// Options configure the door.
type Options struct {
	Service *mfa.Service
	Keys    *mfa.Keys // MACs the /auth tokens, so any node accepts them
	Signer  *Signer   // nil: responses go out unsigned
	Config  config.PrivacyIDEA
	Metrics *metrics.Metrics // nil: a private registry
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
}

// Server serves privacyIDEA's /auth and /validate routes.
type Server struct {
	svc     *mfa.Service
	keys    *mfa.Keys
	signer  *Signer
	cfg     config.PrivacyIDEA
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	routes  []string
	logins  *failureLimiter
}

// Version is what the envelope's version fields say: the privacyIDEA API
// release whose behaviour this door follows. Plugins compare versionnumber
// to decide which features to use.
const (
	apiVersion    = "3.11"
	versionString = "privacyIDEA " + apiVersion + " (mfagate)"
)

// Route patterns, for the API's route list and documentation.
const (
	RouteAuth    = "POST /auth"
	RouteKey     = "GET /privacyidea/response-key.pem"
	RoutePoll    = "GET /validate/polltransaction"
	routeCheck   = "/validate/check"
	routeTrigger = "/validate/triggerchallenge"
)

// New builds the door. The configuration must have passed config.Validate.
func New(o Options) (*Server, error) {
	if o.Service == nil || o.Keys == nil {
		return nil, errors.New("pi: Service and Keys are required")
	}
	if len(o.Config.Networks) == 0 {
		return nil, errors.New("pi: the configuration names no allowed networks; run it through config.Validate")
	}
	s := &Server{svc: o.Service, keys: o.Keys, signer: o.Signer, cfg: o.Config, metrics: o.Metrics, log: o.Logger,
		now: o.Now, mux: http.NewServeMux(), logins: newFailureLimiter(loginFailures, loginWindow)}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.handle(RouteAuth, "auth", s.auth)
	s.handle("GET "+routeCheck, "check", s.check)
	s.handle("POST "+routeCheck, "check", s.check)
	s.handle("GET "+routeTrigger, "triggerchallenge", s.triggerChallenge)
	s.handle("POST "+routeTrigger, "triggerchallenge", s.triggerChallenge)
	s.handle(RoutePoll, "polltransaction", s.pollTransaction)
	s.routes = append(s.routes, RouteKey)
	s.mux.HandleFunc(RouteKey, func(w http.ResponseWriter, r *http.Request) {
		if !s.allowed(r) {
			s.write(w, r, "response_key", nil, answer{}, errNotAllowed(r))
			return
		}
		if s.signer == nil {
			http.Error(w, "responses are not signed: no response key is configured", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(s.signer.PublicKeyPEM())
	})
	return s, nil
}

// Handler serves the door's routes.
func (s *Server) Handler() http.Handler { return s.mux }

// Routes lists the door's route patterns.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// answer is one reply: a result value with privacyIDEA's authentication
// verdict and detail, or an error.
type answer struct {
	value  any            // result.value
	auth   string         // result.authentication: ACCEPT, REJECT, CHALLENGE, DECLINED
	detail map[string]any // nil: no detail
}

// Verdicts of result.authentication.
const (
	accept    = "ACCEPT"
	reject    = "REJECT"
	challenge = "CHALLENGE"
	declined  = "DECLINED"
)

// apiError is privacyIDEA's error envelope: an error id and message, and
// the HTTP status its error class maps to (privacyidea/api/lib/utils.py
// map_error_to_code).
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// privacyIDEA's error ids (privacyidea/lib/error.py).
const (
	errPolicy          = 303
	errUser            = 904
	errParameter       = 905
	errWrongCredential = 4031
	errAuthHeader      = 4033
	errTokenDecoding   = 4304
	errTokenExpired    = 4305
)

// parameterError is privacyIDEA's ParameterError: HTTP 400, "ERR905: …".
func parameterError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: errParameter, msg: "ERR905: " + fmt.Sprintf(format, args...)}
}

// userError is privacyIDEA's UserError: HTTP 400, "ERR904: …".
func userError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: errUser, msg: "ERR904: " + fmt.Sprintf(format, args...)}
}

// authError is privacyIDEA's AuthError: HTTP 401, the message unprefixed.
func authError(code int, format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: code, msg: fmt.Sprintf(format, args...)}
}

func errNotAllowed(r *http.Request) *apiError {
	return &apiError{status: http.StatusForbidden, code: errPolicy,
		msg: fmt.Sprintf("ERR303: client %s is not in [privacyidea] allow; add its network there", clientAddr(r))}
}

type handler func(r *http.Request, p params) (answer, error)

// handle registers a route: network check, parameters, the handler, then
// one signed envelope and one count in mfagate_privacyidea_requests_total.
func (s *Server) handle(pattern, name string, h handler) {
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var p params
		var a answer
		var err error
		if !s.allowed(r) {
			err = errNotAllowed(r)
		} else if p, err = readParams(r); err == nil {
			a, err = h(r, p)
		}
		s.write(w, r, name, p, a, err)
	})
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, route string, p params, a answer, err error) {
	status := http.StatusOK
	var body map[string]any
	var pe *paramError
	var ae *apiError
	switch {
	case errors.As(err, &pe):
		ae = parameterError("%s", pe.msg)
	case errors.As(err, &ae):
	case err != nil:
		s.log.Error("privacyIDEA request failed", "route", route, "err", err)
		ae = &apiError{status: http.StatusInternalServerError, code: -500, msg: "the gateway could not answer; see its log"}
	}
	result := "error"
	if ae != nil {
		status = ae.status
		// send_error: detail always present (null), id 1, no versionnumber.
		body = map[string]any{"jsonrpc": "2.0", "id": 1, "detail": nil, "version": versionString,
			"result": map[string]any{"status": false, "error": map[string]any{"code": ae.code, "message": ae.msg}}}
	} else {
		res := map[string]any{"status": true, "value": a.value}
		if a.auth != "" {
			res["authentication"] = a.auth
			result = strings.ToLower(a.auth)
		}
		body = map[string]any{"jsonrpc": "2.0", "id": 2, "result": res, "version": versionString, "versionnumber": apiVersion}
		if route == "auth" {
			result = "accept"
		}
		if a.detail != nil {
			a.detail["threadid"] = 1
			body["detail"] = a.detail
		}
	}
	body["time"] = float64(s.now().UnixMicro()) / 1e6
	if n := p["nonce"]; n != "" {
		body["nonce"] = n
	}
	if s.signer != nil {
		body["signature"] = s.signer.Sign(pyJSON(body))
	}
	s.metrics.PrivacyIDEARequest(route, result)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write([]byte(pyJSON(body)))
}

// allowed reports whether the client's address is in [privacyidea] allow.
func (s *Server) allowed(r *http.Request) bool {
	a, ok := remoteAddr(r)
	if !ok {
		return false
	}
	for _, n := range s.cfg.Networks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// clientAddr is the client's address without its port, for audit actors
// and messages.
func clientAddr(r *http.Request) string {
	if a, ok := remoteAddr(r); ok {
		return a.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "unknown"
	}
	return host
}

// actor is how the audit log names a request through this door.
func actor(r *http.Request) mfa.Actor { return mfa.Actor{Name: "pi:" + clientAddr(r)} }

// retryIn words a wait for messages.
func retryIn(d time.Duration) string {
	return strconv.Itoa(int(d.Round(time.Second).Seconds())) + " s"
}
