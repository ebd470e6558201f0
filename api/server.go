package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mfagate/metrics"
	"mfagate/mfa"
)

// Role is what an API client may do.
type Role string

// Roles of API.md. Admin may do everything.
const (
	RoleIDP    Role = "idp"
	RoleEnroll Role = "enroll"
	RoleAdmin  Role = "admin"
)

// Client is one configured API client: a name, the SHA-256 of its bearer
// token, and its roles.
type Client struct {
	Name      string
	TokenHash [32]byte
	Roles     []Role

	from string // the request's client address, set per request by handle
}

func (c *Client) has(r Role) bool {
	for _, have := range c.Roles {
		if have == r || have == RoleAdmin {
			return true
		}
	}
	return false
}

// Component is one line of the readiness report.
type Component struct {
	Name   string `json:"name"`
	Ready  bool   `json:"ready"`
	Detail string `json:"detail,omitempty"`
}

// Options configure a Server.
type Options struct {
	Service       *mfa.Service
	Clients       []Client
	Metrics       *metrics.Metrics
	MetricsPublic bool // serve /metrics without a token to non-loopback clients too
	// Readiness reports components besides the store (modems, keys).
	Readiness func(ctx context.Context) []Component
	Modems    Modems     // nil: no modems
	Demo      DemoPhones // non-nil only in -demo: serves /v1/demo/phones/…
	Kiosk     Kiosk      // nil: no security-key enrollment
	OIDC      *OIDC      // nil: no External MFA provider (no /oidc routes)
	// SelfService is the Security info page; nil: no /me routes.
	SelfService *SelfService
	// Console is the help-desk console's OpenID Connect staff sign-in;
	// nil: staff sign in to /console with their API tokens only.
	Console *Console
	// Mounts are routes of other front doors (the privacyIDEA-compatible
	// API) that authenticate their own clients; the server instruments
	// and lists them with its own.
	Mounts []Mount
	// Models names a security key's model by its AAGUID from FIDO
	// metadata ("" when unknown); nil: methods show the AAGUID only.
	Models func(aaguid [16]byte) string
	// Reseal reports the re-seal after a server key rotation; nil: none.
	Reseal func() mfa.ResealProgress
	// Backup writes a consistent copy of the database to w, headers first
	// set by the caller; nil: the store is not copied by the gateway.
	Backup func(ctx context.Context, w io.Writer) error
	Logger *slog.Logger
}

// Mount is one route served by another package's handler.
type Mount struct {
	Pattern string
	Handler http.Handler
}

// Server is the HTTP API.
type Server struct {
	svc           *mfa.Service
	clients       atomic.Pointer[[]Client]
	metrics       *metrics.Metrics
	metricsPublic atomic.Bool
	readiness     func(ctx context.Context) []Component
	modems        Modems
	demo          DemoPhones
	kiosk         Kiosk
	oidc          *OIDC
	self          *SelfService
	console       *Console
	models        func([16]byte) string
	reseal        func() mfa.ResealProgress
	backupTo      func(context.Context, io.Writer) error
	log           *slog.Logger
	mux           *http.ServeMux
	routes        []route
}

type route struct {
	pattern string
	roles   []Role // nil: no authentication
}

//go:embed openapi.json
var openAPI []byte

// New builds the API's handler tree.
func New(o Options) *Server {
	s := &Server{svc: o.Service, metrics: o.Metrics, readiness: o.Readiness, modems: o.Modems, demo: o.Demo, kiosk: o.Kiosk,
		oidc: o.OIDC, self: o.SelfService, console: o.Console, models: o.Models, reseal: o.Reseal, backupTo: o.Backup, log: o.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	s.SetClients(o.Clients)
	s.metricsPublic.Store(o.MetricsPublic)

	any := []Role{RoleIDP, RoleEnroll, RoleAdmin}
	reads := []Role{RoleIDP, RoleEnroll}
	enroll := []Role{RoleEnroll}
	admin := []Role{RoleAdmin}
	verify := []Role{RoleIDP, RoleEnroll} // the kiosk's "try signing in" uses enroll

	s.handle("GET /healthz", nil, s.healthz)
	s.handle("GET /readyz", nil, s.readyz)
	s.mux.Handle("GET /metrics", s.instrument("GET /metrics", s.metricsHandler()))
	s.routes = append(s.routes, route{pattern: "GET /metrics"})
	s.handle("GET /v1/openapi.json", any, s.openapi)

	s.handle("GET /v1/users/{user}", reads, s.getUser)
	s.handle("POST /v1/users/{user}/methods", enroll, s.addMethod)
	s.handle("POST /v1/users/{user}/methods/{id}/confirm", enroll, s.confirmMethod)
	s.handle("PATCH /v1/users/{user}/methods/{id}", enroll, s.renameMethod)
	s.handle("DELETE /v1/users/{user}/methods/{id}", enroll, s.removeMethod)
	s.handle("PUT /v1/users/{user}/default-method", enroll, s.setDefault)
	s.handle("PUT /v1/users/{user}/mfa", enroll, s.applyMFA)
	s.handle("DELETE /v1/users/{user}/mfa", admin, s.terminateMFA)
	s.handle("POST /v1/users/{user}/unlock", admin, s.unlock)
	s.handle("POST /v1/users/{user}/tap", enroll, s.issueTAP) // narrowed by [policy] tap_allowed_for (tap.go)
	s.handle("DELETE /v1/users/{user}/tap", enroll, s.revokeTAP)
	s.handle("POST /v1/users/{user}/challenges", verify, s.createChallenge)
	s.handle("POST /v1/users/{user}/verify", verify, s.signIn)
	s.handle("GET /v1/challenges/{id}", verify, s.getChallenge)
	s.handle("POST /v1/challenges/{id}/verify", verify, s.verify)
	s.handle("GET /v1/audit", admin, s.audit)
	s.handle("GET /v1/outbox", admin, s.outbox)
	s.handle("GET /v1/outbox/{id}", admin, s.outboxJob)
	s.handle("GET /v1/modems", admin, s.listModems)
	s.handle("GET /v1/nodes", admin, s.listNodes)
	s.handle("GET /v1/secrets", admin, s.secrets)
	s.handle("GET /v1/backup", admin, s.backup)
	s.handle("POST /v1/modems/{id}/test-sms", admin, s.testSMS)
	if s.kiosk != nil {
		s.handle("POST /v1/kiosk/sessions", enroll, s.openSession)
		s.handle("GET /v1/kiosk/devices", enroll, s.listDevices)
		s.handle("GET /v1/kiosk/sessions/{id}", enroll, s.getSession)
		s.handle("POST /v1/kiosk/sessions/{id}/enroll", enroll, s.enroll)
		s.handle("POST /v1/kiosk/sessions/{id}/assert", enroll, s.kioskAssert)
		s.handle("GET /v1/kiosk/sessions/{id}/events", enroll, s.sessionEvents)
		s.handle("POST /v1/kiosk/sessions/{id}/cancel", enroll, s.cancelOperation)
		s.handle("DELETE /v1/kiosk/sessions/{id}", enroll, s.endSession)
		s.kioskPage()
	}
	s.handle("GET /v1/users/{user}/methods/{id}/credential", admin, s.exportCredential)
	if s.oidc != nil {
		s.oidcRoutes()
	}
	if s.self != nil {
		s.selfServiceRoutes()
	}
	if s.kiosk != nil || s.console != nil {
		s.consolePage()
	}
	for _, m := range o.Mounts {
		s.mux.Handle(m.Pattern, s.instrument(m.Pattern, m.Handler))
		s.routes = append(s.routes, route{pattern: m.Pattern})
	}
	if s.demo != nil {
		s.handle("GET /v1/demo/phones/{number}/messages", any, s.demoMessages)
		s.handle("POST /v1/demo/phones/{number}/keys", any, s.demoKeys)
	}
	s.mux.Handle("/", s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, newProblem(http.StatusNotFound, codeNotFound, "no route %s %s; the API is described at /v1/openapi.json", r.Method, r.URL.Path))
	})))
	return s
}

// SetClients replaces the API clients (configuration reload).
func (s *Server) SetClients(cs []Client) {
	cs = append([]Client(nil), cs...)
	s.clients.Store(&cs)
}

// SetMetricsPublic changes who may scrape /metrics (configuration reload).
func (s *Server) SetMetricsPublic(public bool) { s.metricsPublic.Store(public) }

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.mux }

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *Client) error

// handle registers h behind authentication (when roles is non-nil), error
// mapping and instrumentation.
func (s *Server) handle(pattern string, roles []Role, h handlerFunc) {
	s.routes = append(s.routes, route{pattern: pattern, roles: roles})
	s.mux.Handle(pattern, s.instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var client *Client
		if roles != nil {
			c, err := s.authenticate(r, roles)
			if err != nil {
				s.countStaff(pattern, c, err)
				s.fail(w, r, err)
				return
			}
			cc := *c
			cc.from = clientAddr(r)
			client = &cc
		}
		err := h(w, r, client)
		s.countStaff(pattern, client, err)
		if err != nil {
			s.fail(w, r, err)
		}
	})))
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, known := toProblem(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	writeProblem(w, p)
}

// authenticate finds the client whose token hash matches, or the staff
// member a console session forwarded the request for (console.go). Every
// configured hash is compared in constant time, so timing reveals nothing
// about which (if any) matched. A client that lacks the roles is returned
// with the 403.
func (s *Server) authenticate(r *http.Request, roles []Role) (*Client, error) {
	if c := staffOf(r.Context()); c != nil {
		return c, permit(c, roles)
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, newProblem(http.StatusUnauthorized, codeUnauthorized, "this route needs an Authorization: Bearer <token> header")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, newProblem(http.StatusUnauthorized, codeUnauthorized, "the Authorization header must be \"Bearer <token>\"")
	}
	sum := sha256.Sum256([]byte(token))
	var found *Client
	clients := *s.clients.Load()
	for i := range clients {
		if subtle.ConstantTimeCompare(sum[:], clients[i].TokenHash[:]) == 1 {
			found = &clients[i]
		}
	}
	if found == nil {
		return nil, newProblem(http.StatusUnauthorized, codeUnauthorized, "the bearer token is not valid")
	}
	return found, permit(found, roles)
}

// permit says whether c has one of roles: nil, or the 403.
func permit(c *Client, roles []Role) error {
	for _, role := range roles {
		if c.has(role) {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return newProblem(http.StatusForbidden, codeForbidden, "client %q lacks the role this route needs (one of: %s)", c.Name, strings.Join(names, ", "))
}

func actor(c *Client) mfa.Actor {
	if c == nil {
		return mfa.Actor{}
	}
	return mfa.Actor{Name: c.Name, Admin: hasExact(c.Roles, RoleAdmin), From: c.from}
}

// clientAddr is the request's peer address without its port ("" over a
// unix socket). A reverse proxy in front of the gateway is the peer: its
// address is what the audit log records.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// staffActions names the routes that are staff actions for a user, for
// mfagate_staff_actions_total.
var staffActions = map[string]string{
	"POST /v1/users/{user}/unlock":         "unlock",
	"DELETE /v1/users/{user}/methods/{id}": "remove_method",
	"PUT /v1/users/{user}/default-method":  "set_default",
	"DELETE /v1/users/{user}/mfa":          "terminate",
	"POST /v1/users/{user}/tap":            "tap_issue",
	"DELETE /v1/users/{user}/tap":          "tap_revoke",
	"POST /v1/kiosk/sessions":              "kiosk_open",
}

// countStaff counts a staff action's answer by the client's role: ok,
// forbidden (403), refused (another 4xx) or error. A request with no
// valid credential is not a staff action.
func (s *Server) countStaff(pattern string, c *Client, err error) {
	action, ok := staffActions[pattern]
	if !ok || c == nil {
		return
	}
	role := RoleEnroll
	if hasExact(c.Roles, RoleAdmin) {
		role = RoleAdmin
	} else if !c.has(RoleEnroll) {
		role = RoleIDP
	}
	result := "ok"
	if err != nil {
		switch p, _ := toProblem(err); {
		case p.Status == http.StatusForbidden:
			result = "forbidden"
		case p.Status < 500:
			result = "refused"
		default:
			result = "error"
		}
	}
	s.metrics.StaffAction(action, string(role), result)
}

func hasExact(rs []Role, r Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// statusWriter remembers the status code for instrumentation.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	m := s.metrics.HTTPRoute(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.Observe(sw.status, time.Since(start))
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *Client) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *Client) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	store := Component{Name: "store", Ready: true}
	if err := s.svc.Ping(ctx); err != nil {
		store.Ready, store.Detail = false, "store does not answer"
		s.log.Warn("readiness: store check failed", "err", err)
	}
	comps := []Component{store}
	if s.readiness != nil {
		comps = append(comps, s.readiness(ctx)...)
	}
	status := http.StatusOK
	for _, c := range comps {
		if !c.Ready {
			status = http.StatusServiceUnavailable
		}
	}
	return writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "components": comps})
}

func (s *Server) metricsHandler() http.Handler {
	prom := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.metricsPublic.Load() && !isLocal(r) {
			if _, err := s.authenticate(r, []Role{RoleAdmin}); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		prom.ServeHTTP(w, r)
	})
}

// isLocal reports whether the request came over loopback or a unix socket.
func isLocal(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr == "@" || r.RemoteAddr == "" // unix socket peers have no address
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ *Client) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}
