package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"mfagate/mfa"
)

// secretsMetrics follow a server key rotation's re-seal.
type secretsMetrics struct {
	resealed     prometheus.Counter
	pending      prometheus.Gauge
	unreadable   prometheus.Gauge
	previousKeys prometheus.Gauge
}

func newSecretsMetrics() secretsMetrics {
	return secretsMetrics{
		resealed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mfagate_secrets_resealed_total",
			Help: "Values sealed with a previous server key (secrets.previous_key_files) that this daemon re-sealed to secrets.key_file.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_secrets_sealed_with_previous",
			Help: "Values at rest still sealed with a previous server key; 0 once the re-seal is done and the old key may go (after the last pass issued before has expired).",
		}),
		unreadable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_secrets_unreadable",
			Help: "Values at rest that no configured server key opens (counted at a re-seal): a key file is missing from secrets.previous_key_files.",
		}),
		previousKeys: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mfagate_secrets_previous_keys",
			Help: "Server keys being rotated out (secrets.previous_key_files).",
		}),
	}
}

func (s secretsMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.resealed, s.pending, s.unreadable, s.previousKeys}
}

// SetReseal publishes where a re-seal stands; resealed counts the values
// re-sealed since the last call.
func (m *Metrics) SetReseal(p mfa.ResealProgress, resealed int) {
	m.secrets.resealed.Add(float64(resealed))
	m.secrets.pending.Set(float64(p.Pending))
	m.secrets.unreadable.Set(float64(p.Unreadable))
	m.secrets.previousKeys.Set(float64(p.PreviousKeys))
}
