// Package metrics owns the gateway's Prometheus registry and the metrics
// every other package reports into. Labels never carry user IDs, phone
// numbers or codes.
package metrics

import (
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"mfagate/mfa"
)

// Metrics holds the registry and the gateway's own collectors.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests       *prometheus.CounterVec
	httpDuration       *prometheus.HistogramVec
	challengesCreated  *prometheus.CounterVec
	challengesFinished *prometheus.CounterVec
	verifyFailures     *prometheus.CounterVec
	fraudReports       prometheus.Counter
	tapIssued          *prometheus.CounterVec
	staffActions       *prometheus.CounterVec
	users              *prometheus.GaugeVec
	pruned             *prometheus.CounterVec
	modemJobs          *prometheus.CounterVec
	modemJobSeconds    *prometheus.HistogramVec
	dtmf               *prometheus.CounterVec
	smsFailures        *prometheus.CounterVec
	outboxQueued       prometheus.Gauge
	outboxSending      prometheus.Gauge
	outboxOldest       prometheus.Gauge
	fidoEnrollments    *prometheus.CounterVec
	oidcSignins        *prometheus.CounterVec
	piRequests         *prometheus.CounterVec
	radiusRequests     *prometheus.CounterVec
	radiusDropped      *prometheus.CounterVec
	selfService        *prometheus.CounterVec
	reloadOK           prometheus.Gauge
	mdsConfigured      prometheus.Gauge
	mdsValid           prometheus.Gauge
	mdsNextUpdate      prometheus.Gauge
	reloadTime         prometheus.Gauge
	nodes              *nodeCollector // nil until WatchNodes
	secrets            secretsMetrics
}

var _ mfa.Observer = (*Metrics)(nil)

// New creates a registry with the Go runtime and process collectors and the
// gateway's metrics.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_http_requests_total",
			Help: "HTTP API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mfagate_http_request_duration_seconds",
			Help:    "HTTP API request latency by route pattern (long polls included).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		challengesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_challenges_created_total",
			Help: "Challenges created by method kind and channel (none for totp).",
		}, []string{"kind", "channel"}),
		challengesFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_challenges_finished_total",
			Help: "Challenges that reached a final status, by kind, channel and result.",
		}, []string{"kind", "channel", "result"}),
		verifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_verification_failures_total",
			Help: "Wrong codes or wrong keypad entries, by kind and channel.",
		}, []string{"kind", "channel"}),
		fraudReports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mfagate_fraud_reports_total",
			Help: "Voice calls in which the callee reported a sign-in they did not start (0#).",
		}),
		tapIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_tap_issued_total",
			Help: "Temporary Access Passes issued, by the API role of the client that issued them (enroll, admin). Their use shows in the challenge metrics with kind \"tap\".",
		}, []string{"role"}),
		staffActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_staff_actions_total",
			Help: "Staff actions for a user (console or API, token or staff sign-in) by action (unlock, remove_method, set_default, terminate, tap_issue, tap_revoke, kiosk_open), the staff role (enroll, admin) and result: ok, forbidden (the role may not), refused (bad input or state) or error.",
		}, []string{"action", "role", "result"}),
		users: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mfagate_users",
			Help: "Users with a stored record, by MFA state.",
		}, []string{"state"}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_store_pruned_rows_total",
			Help: "Rows retention deleted, by table (challenges, outbox, audit), on this node.",
		}, []string{"table"}),
		modemJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_modem_jobs_total",
			Help: "Outbox jobs a modem handled, by channel and result (sent, retry, failed, keys, busy, no_answer, no_input).",
		}, []string{"modem", "channel", "result"}),
		modemJobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mfagate_modem_job_duration_seconds",
			Help:    "Time from a modem claiming a job to its result (SMS accepted by the network, or the call's end).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 90},
		}, []string{"channel"}),
		smsFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_modem_sms_failures_total",
			Help: "SMS a modem failed to submit, by cause: cms_<code> (the +CMS ERROR code, 3GPP TS 27.005), cme_<code>, timeout, port_lost, bad_number, other.",
		}, []string{"modem", "cause"}),
		dtmf: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_modem_dtmf_total",
			Help: "Keypad digits received in calls.",
		}, []string{"modem"}),
		outboxQueued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_outbox_queued",
			Help: "Outbox jobs waiting for a modem.",
		}),
		outboxSending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_outbox_sending",
			Help: "Outbox jobs a modem is working on.",
		}),
		outboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_outbox_oldest_queued_age_seconds",
			Help: "Age of the oldest queued outbox job (0 when none waits).",
		}),
		fidoEnrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_fido_enrollments_total",
			Help: "Security-key enrollments at the kiosk, by result (done, failed).",
		}, []string{"result"}),
		oidcSignins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_oidc_signins_total",
			Help: "External MFA (OpenID Connect) sign-ins by client and result: success, or the OAuth error sent back (access_denied, invalid_request, login_required, temporarily_unavailable), or error_page when the request could not be answered at all; amr names how a successful one verified.",
		}, []string{"client", "result", "amr"}),
		selfService: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_selfservice_requests_total",
			Help: "Requests of the Security info page (/me) by action (link, login, callback, state, logout, add_method, confirm, rename, remove, set_default, apply, challenge, get_challenge, verify, passkey_options, register_passkey, create_link) and result: ok, or the problem code of the refusal (no_session, csrf, link_used, proof_required, …).",
		}, []string{"action", "result"}),
		piRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_privacyidea_requests_total",
			Help: "Requests to the privacyIDEA-compatible routes by route (auth, check, triggerchallenge, polltransaction, response_key) and result: accept, reject, challenge, declined, or error (an error envelope: bad parameters, wrong credentials, a client outside [privacyidea] allow).",
		}, []string{"route", "result"}),
		radiusRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_radius_requests_total",
			Help: "RADIUS Access-Requests answered, by client (its [[radius.client]] name), mode (second_factor, proxy) and result (accept, reject, challenge; status for a Status-Server answered). Retransmissions answered from the duplicate cache are not counted again.",
		}, []string{"client", "mode", "result"}),
		radiusDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfagate_radius_dropped_total",
			Help: "RADIUS packets dropped without an answer, by client (\"unknown\" for a source address no [[radius.client]] has) and reason: unknown_client, malformed, unsupported_code, no_message_authenticator, bad_message_authenticator, bad_password (User-Password undecodable: most likely a wrong secret), in_progress (a retransmission of a request still being answered), flood (too many requests of the client in flight), unanswered (the store failed or the daemon was stopping while the request was answered), upstream_unreachable and upstream_unauthentic (proxy mode: the upstream did not answer, or only with replies that failed the checks).",
		}, []string{"client", "reason"}),
		mdsConfigured: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_fido_metadata_configured",
			Help: "1 when [fido] mds_file names a FIDO metadata BLOB file to read; 0 without one (mfagate_fido_metadata_valid is then 0 too, and means nothing).",
		}),
		mdsValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_fido_metadata_valid",
			Help: "1 when the last read of [fido] mds_file gave a FIDO metadata BLOB that verified; 0 when it failed (the previous BLOB, if any, stays in use) or no mds_file is configured.",
		}),
		mdsNextUpdate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_fido_metadata_next_update_timestamp_seconds",
			Help: "Unix time of the nextUpdate of the FIDO metadata BLOB in use (0: none); below time() the BLOB is overdue for replacement but still used.",
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_config_last_reload_successful",
			Help: "1 when the last configuration load (start or SIGHUP) succeeded; 0 when the daemon kept its previous configuration.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mfagate_build_info",
		Help: "Always 1; labels name the build.",
	}, []string{"version", "goversion"})
	version, goVersion := "devel", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	info.WithLabelValues(version, goVersion).Set(1)
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info, m.httpRequests, m.httpDuration, m.challengesCreated, m.challengesFinished,
		m.verifyFailures, m.fraudReports, m.users, m.modemJobs, m.modemJobSeconds, m.dtmf, m.smsFailures,
		m.outboxQueued, m.outboxSending, m.outboxOldest, m.reloadOK, m.reloadTime, m.fidoEnrollments,
		m.oidcSignins, m.selfService, m.piRequests, m.radiusRequests, m.radiusDropped, m.mdsConfigured, m.mdsValid, m.mdsNextUpdate,
		m.tapIssued, m.pruned, m.staffActions,
	)
	m.secrets = newSecretsMetrics()
	m.Registry.MustRegister(m.secrets.collectors()...)
	// Both series exist from the start, so that a rate over them is
	// defined before the first pass.
	m.tapIssued.WithLabelValues("enroll")
	m.tapIssued.WithLabelValues("admin")
	for _, action := range StaffActions {
		for _, role := range []string{"enroll", "admin"} {
			m.staffActions.WithLabelValues(action, role, "ok")
		}
	}
	m.fidoEnrollments.WithLabelValues("done")
	m.fidoEnrollments.WithLabelValues("failed")
	for _, s := range []mfa.State{mfa.StateOff, mfa.StatePending, mfa.StateActive} {
		m.users.WithLabelValues(string(s))
	}
	for _, t := range []string{"challenges", "outbox", "audit"} {
		m.pruned.WithLabelValues(t)
	}
	return m
}

func channel(c mfa.Channel) string {
	if c == "" {
		return "none"
	}
	return string(c)
}

// Enrollment implements kiosk.Observer.
func (m *Metrics) Enrollment(result string) { m.fidoEnrollments.WithLabelValues(result).Inc() }

// OIDCSignin counts one External MFA answer (or refusal) for client.
// Unconfigured client IDs are counted as "unknown", so outside input never
// makes a new series.
func (m *Metrics) OIDCSignin(client, result, amr string) {
	m.oidcSignins.WithLabelValues(client, result, amr).Inc()
}

// SelfServiceRequest counts one answer of the Security info page. action
// is the route's fixed name, result "ok" or a problem code (a fixed set).
func (m *Metrics) SelfServiceRequest(action, result string) {
	m.selfService.WithLabelValues(action, result).Inc()
}

// PrivacyIDEARequest counts one answer of the privacyIDEA-compatible
// routes. Both labels come from fixed sets, never from the request.
func (m *Metrics) PrivacyIDEARequest(route, result string) {
	m.piRequests.WithLabelValues(route, result).Inc()
}

// RadiusRequest counts one answered RADIUS request. client is a configured
// client's name; mode and result come from fixed sets.
func (m *Metrics) RadiusRequest(client, mode, result string) {
	m.radiusRequests.WithLabelValues(client, mode, result).Inc()
}

// RadiusDropped counts one RADIUS packet dropped. client is a configured
// client's name or "unknown", never an address, so outside input never
// makes a new series; reason comes from a fixed set.
func (m *Metrics) RadiusDropped(client, reason string) {
	m.radiusDropped.WithLabelValues(client, reason).Inc()
}

// RadiusRequestsCounter and RadiusDroppedCounter return one series of the
// RADIUS counters, for tests.
func (m *Metrics) RadiusRequestsCounter(client, mode, result string) prometheus.Counter {
	return m.radiusRequests.WithLabelValues(client, mode, result)
}

// RadiusDroppedCounter: see RadiusRequestsCounter.
func (m *Metrics) RadiusDroppedCounter(client, reason string) prometheus.Counter {
	return m.radiusDropped.WithLabelValues(client, reason)
}

// FIDOMetadata records a read of the FIDO metadata BLOB file: whether one
// is configured, whether it verified, and the nextUpdate of the BLOB in use
// (zero: none).
func (m *Metrics) FIDOMetadata(configured, valid bool, nextUpdate time.Time) {
	m.mdsConfigured.Set(0)
	if configured {
		m.mdsConfigured.Set(1)
	}
	m.mdsValid.Set(0)
	if valid {
		m.mdsValid.Set(1)
	}
	m.mdsNextUpdate.Set(0)
	if !nextUpdate.IsZero() {
		m.mdsNextUpdate.Set(float64(nextUpdate.Unix()))
	}
}

// ConfigLoaded records the outcome of a configuration load at t.
func (m *Metrics) ConfigLoaded(ok bool, t time.Time) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadTime.Set(float64(t.Unix()))
	} else {
		m.reloadOK.Set(0)
	}
}

// ObserveHTTP records one API request.
func (m *Metrics) ObserveHTTP(route string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// HTTPRoute returns the request metrics of one route with the route label
// resolved once, for the route's handler to keep: observing a request then
// looks up no label values (for a status code seen before).
func (m *Metrics) HTTPRoute(route string) *HTTPRoute {
	r := &HTTPRoute{requests: m.httpRequests.MustCurryWith(prometheus.Labels{"route": route}),
		duration: m.httpDuration.WithLabelValues(route)}
	r.codes.Store(&[]codeCounter{})
	return r
}

// HTTPRoute records the requests of one route; see Metrics.HTTPRoute.
type HTTPRoute struct {
	requests *prometheus.CounterVec // curried with the route
	duration prometheus.Observer
	// codes holds a counter per status code seen so far, copied on write:
	// a route answers with a handful of codes.
	codes atomic.Pointer[[]codeCounter]
}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

// Observe records one request that answered code after d.
func (r *HTTPRoute) Observe(code int, d time.Duration) {
	r.counter(code).Inc()
	r.duration.Observe(d.Seconds())
}

func (r *HTTPRoute) counter(code int) prometheus.Counter {
	for {
		cur := r.codes.Load()
		for _, cc := range *cur {
			if cc.code == code {
				return cc.c
			}
		}
		c := r.requests.WithLabelValues(strconv.Itoa(code))
		next := append(append(make([]codeCounter, 0, len(*cur)+1), *cur...), codeCounter{code, c})
		if r.codes.CompareAndSwap(cur, &next) {
			return c
		}
	}
}

// ChallengeCreated implements mfa.Observer.
func (m *Metrics) ChallengeCreated(kind mfa.Kind, ch mfa.Channel) {
	m.challengesCreated.WithLabelValues(string(kind), channel(ch)).Inc()
}

// ChallengeFinished implements mfa.Observer.
func (m *Metrics) ChallengeFinished(kind mfa.Kind, ch mfa.Channel, s mfa.Status) {
	m.challengesFinished.WithLabelValues(string(kind), channel(ch), string(s)).Inc()
}

// VerificationFailed implements mfa.Observer.
func (m *Metrics) VerificationFailed(kind mfa.Kind, ch mfa.Channel) {
	m.verifyFailures.WithLabelValues(string(kind), channel(ch)).Inc()
}

// FraudReported implements mfa.Observer.
func (m *Metrics) FraudReported() { m.fraudReports.Inc() }

// TAPIssued counts a Temporary Access Pass issued by a client of role.
func (m *Metrics) TAPIssued(role string) { m.tapIssued.WithLabelValues(role).Inc() }

// StaffActions are the action label's values of
// mfagate_staff_actions_total; each has an ok series per staff role from
// the start.
var StaffActions = []string{"unlock", "remove_method", "set_default", "terminate", "tap_issue", "tap_revoke", "kiosk_open"}

// StaffAction counts one staff action for a user; every label comes
// from a fixed set.
func (m *Metrics) StaffAction(action, role, result string) {
	m.staffActions.WithLabelValues(action, role, result).Inc()
}

// AddPruned counts the rows a pruning round deleted.
func (m *Metrics) AddPruned(p mfa.Pruned) {
	m.pruned.WithLabelValues("challenges").Add(float64(p.Challenges))
	m.pruned.WithLabelValues("outbox").Add(float64(p.Outbox))
	m.pruned.WithLabelValues("audit").Add(float64(p.Audit))
}

// SetUsers publishes user counts by state; the daemon refreshes them on a
// tick so that a scrape never queries the store.
func (m *Metrics) SetUsers(counts map[mfa.State]int) {
	for s, n := range counts {
		m.users.WithLabelValues(string(s)).Set(float64(n))
	}
}

// WatchStore exports the store's write counters: commits of write
// transactions (mfagate_store_commits_total) and the WAL frames they wrote
// (mfagate_store_wal_frames_total, SQLite only: walFrames nil leaves it
// out). Both are read from the store at scrape time.
func (m *Metrics) WatchStore(commits, walFrames func() uint64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "mfagate_store_commits_total",
		Help: "Write transactions this daemon committed to the store (a group commit counts once).",
	}, func() float64 { return float64(commits()) }))
	if walFrames != nil {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mfagate_store_wal_frames_total",
			Help: "Pages the SQLite store's commits wrote to its write-ahead log.",
		}, func() float64 { return float64(walFrames()) }))
	}
}
