package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mfagate/mfa"
	"mfagate/modem"
)

var _ modem.Observer = (*Metrics)(nil)

// modemCollector exports the snapshots the modem workers publish; a scrape
// never talks to a modem.
type modemCollector struct {
	status func() []modem.Status
}

var (
	descUp        = prometheus.NewDesc("mfagate_modem_up", "1 when the modem is registered, has a ready SIM and takes jobs.", []string{"modem", "profile"}, nil)
	descState     = prometheus.NewDesc("mfagate_modem_state", "1 for the modem's current state (up, initialising, down).", []string{"modem", "state"}, nil)
	descSignal    = prometheus.NewDesc("mfagate_modem_signal_dbm", "Received signal strength from AT+CSQ (0 when unknown).", []string{"modem"}, nil)
	descReg       = prometheus.NewDesc("mfagate_modem_registration", "1 for the modem's network registration (home, roaming, searching, denied, none).", []string{"modem", "registration"}, nil)
	descBusy      = prometheus.NewDesc("mfagate_modem_busy", "1 while the modem has a job in flight.", []string{"modem"}, nil)
	descSentToday = prometheus.NewDesc("mfagate_modem_sms_sent_today", "SMS parts sent today through the modem's SIM (counts toward daily_cap).", []string{"modem"}, nil)
	descCap       = prometheus.NewDesc("mfagate_modem_daily_cap", "The SIM's daily SMS cap (0: none).", []string{"modem"}, nil)
	descSent      = prometheus.NewDesc("mfagate_modem_sms_sent_total", "SMS sent by the modem since start.", []string{"modem"}, nil)
	descFailed    = prometheus.NewDesc("mfagate_modem_sms_failed_total", "SMS the modem failed to send since start.", []string{"modem"}, nil)
	descCalls     = prometheus.NewDesc("mfagate_modem_calls_total", "Calls the modem placed since start.", []string{"modem"}, nil)
	descReopens   = prometheus.NewDesc("mfagate_modem_reopens_total", "Times the modem's port was reopened after a loss or reset.", []string{"modem"}, nil)
)

func (c modemCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descState, descSignal, descReg, descBusy, descSentToday, descCap, descSent, descFailed, descCalls, descReopens} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c modemCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, b2f(s.State == modem.StateUp), s.ID, s.Profile)
		for _, st := range []string{modem.StateUp, modem.StateInitialising, modem.StateDown} {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, b2f(s.State == st), s.ID, st)
		}
		ch <- prometheus.MustNewConstMetric(descSignal, prometheus.GaugeValue, float64(s.SignalDBm), s.ID)
		for _, r := range []string{"home", "roaming", "searching", "denied", "none"} {
			ch <- prometheus.MustNewConstMetric(descReg, prometheus.GaugeValue, b2f(s.Registration == r), s.ID, r)
		}
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, b2f(s.Busy), s.ID)
		ch <- prometheus.MustNewConstMetric(descSentToday, prometheus.GaugeValue, float64(s.SentToday), s.ID)
		ch <- prometheus.MustNewConstMetric(descCap, prometheus.GaugeValue, float64(s.DailyCap), s.ID)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(s.SMSSent), s.ID)
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(s.SMSFailed), s.ID)
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.Calls), s.ID)
		ch <- prometheus.MustNewConstMetric(descReopens, prometheus.CounterValue, float64(s.Reopens), s.ID)
	}
}

// WatchModems exports the modems' published status.
func (m *Metrics) WatchModems(status func() []modem.Status) {
	m.Registry.MustRegister(modemCollector{status: status})
}

// JobDone implements modem.Observer.
func (m *Metrics) JobDone(id string, ch mfa.Channel, result string, took time.Duration) {
	m.modemJobs.WithLabelValues(id, channel(ch), result).Inc()
	m.modemJobSeconds.WithLabelValues(channel(ch)).Observe(took.Seconds())
}

// SMSFailed implements modem.Observer.
func (m *Metrics) SMSFailed(id, cause string) { m.smsFailures.WithLabelValues(id, cause).Inc() }

// Digit implements modem.Observer.
func (m *Metrics) Digit(id string) { m.dtmf.WithLabelValues(id).Inc() }

// SetOutbox publishes the outbox depth and the age of its oldest queued job.
func (m *Metrics) SetOutbox(s mfa.OutboxStats, now time.Time) {
	m.outboxQueued.Set(float64(s.Queued))
	m.outboxSending.Set(float64(s.Sending))
	age := 0.0
	if !s.Oldest.IsZero() {
		age = now.Sub(s.Oldest).Seconds()
	}
	m.outboxOldest.Set(age)
}
