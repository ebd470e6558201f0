package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mfagate/mfa"
)

// nodeCollector exports which gateway node this is, which modems it owns,
// and the nodes sharing its store as the last heartbeat round read them; a
// scrape never queries the store.
type nodeCollector struct {
	self    string
	version string
	lease   time.Duration

	mu    sync.Mutex
	nodes []mfa.Node
	at    time.Time // when nodes was read
}

var (
	descNodeInfo   = prometheus.NewDesc("mfagate_node_info", "1, labelled with this daemon's node name and version.", []string{"node", "version"}, nil)
	descModemOwner = prometheus.NewDesc("mfagate_modem_node", "1 for each modem of this node, labelled with the node that drives it.", []string{"modem", "node"}, nil)
	descNodeUp     = prometheus.NewDesc("mfagate_cluster_node_up", "1 when the node's last heartbeat is younger than the lease (its claims stand), 0 when it went silent.", []string{"node"}, nil)
	descNodeAge    = prometheus.NewDesc("mfagate_cluster_node_heartbeat_age_seconds", "Age of the node's last heartbeat in the store.", []string{"node"}, nil)
	descNodeJobs   = prometheus.NewDesc("mfagate_cluster_node_jobs_sending", "Outbox jobs the node's modems hold.", []string{"node"}, nil)
	descNodeModems = prometheus.NewDesc("mfagate_cluster_node_modems_up", "Modems the node reported up in its last heartbeat.", []string{"node"}, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodeInfo, descModemOwner, descNodeUp, descNodeAge, descNodeJobs, descNodeModems} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descNodeInfo, prometheus.GaugeValue, 1, c.self, c.version)
	c.mu.Lock()
	nodes, at := c.nodes, c.at
	c.mu.Unlock()
	for _, n := range nodes {
		age := at.Sub(n.SeenAt)
		if age > retired {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descNodeUp, prometheus.GaugeValue, b2f(age < c.lease), n.ID)
		ch <- prometheus.MustNewConstMetric(descNodeAge, prometheus.GaugeValue, max(age.Seconds(), 0), n.ID)
		ch <- prometheus.MustNewConstMetric(descNodeJobs, prometheus.GaugeValue, float64(n.Sending), n.ID)
		up := 0
		for _, m := range n.Modems {
			if m.State == "up" {
				up++
			}
			if n.ID == c.self {
				ch <- prometheus.MustNewConstMetric(descModemOwner, prometheus.GaugeValue, 1, m.Name, c.self)
			}
		}
		ch <- prometheus.MustNewConstMetric(descNodeModems, prometheus.GaugeValue, float64(up), n.ID)
	}
}

// retired is how long after its last heartbeat a node is no longer
// exported: a node taken out of service stops alerting a day later.
const retired = 24 * time.Hour

// WatchNodes starts exporting node metrics for this node (self) and lease.
func (m *Metrics) WatchNodes(self, version string, lease time.Duration) {
	m.nodes = &nodeCollector{self: self, version: version, lease: lease}
	m.Registry.MustRegister(m.nodes)
}

// SetNodes records the nodes as read at t (after a heartbeat).
func (m *Metrics) SetNodes(nodes []mfa.Node, t time.Time) {
	if m.nodes == nil {
		return
	}
	m.nodes.mu.Lock()
	defer m.nodes.mu.Unlock()
	m.nodes.nodes, m.nodes.at = nodes, t
}
