package node

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// nodeMetrics is one node's Prometheus registry: its own, so that several
// nodes can live in one process.
type nodeMetrics struct {
	reg         *prometheus.Registry
	messages    *prometheus.CounterVec // result, reason
	sent        *prometheus.CounterVec // kind
	transitions *prometheus.CounterVec // to
	credMissing prometheus.Counter
	fullSent    prometheus.Counter
	probes      *prometheus.CounterVec // result
	copies      prometheus.Counter
}

func newMetrics() *nodeMetrics {
	m := &nodeMetrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_messages_total",
			Help: "Messages from other peers (pubsub and hello streams) by validation result and reason.",
		}, []string{"result", "reason"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_messages_sent_total",
			Help: "Messages this node published, by kind (hello: sent on a hello stream to a neighbour).",
		}, []string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_peer_transitions_total",
			Help: "Peer state changes in the view, by new state.",
		}, []string{"to"}),
		credMissing: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_credentials_missing_total",
			Help: "Compact heartbeats naming a credential this node had not received (it then asks with Want).",
		}),
		fullSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_full_heartbeats_sent_total",
			Help: "Heartbeats this node sent in full, with credential and addresses (the rest are compact).",
		}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_probes_total",
			Help: "Probes of silent peers: gone (every TCP address refused: suspect at once) or inconclusive.",
		}, []string{"result"}),
		copies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_copies_dropped_total",
			Help: "Copies of a pubsub message dropped before validation because an earlier copy was still waiting for it.",
		}),
	}
	m.reg.MustRegister(m.messages, m.sent, m.transitions, m.credMissing, m.fullSent, m.probes, m.copies,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *nodeMetrics) countMessage(res pubsub.ValidationResult, reason string) {
	result := "accepted"
	switch res {
	case pubsub.ValidationReject:
		result = "rejected"
	case pubsub.ValidationIgnore:
		result = "ignored"
	}
	if reason == "" {
		reason = "ok"
	}
	m.messages.WithLabelValues(result, reason).Inc()
}

// viewCollector exports the view's counts and the host's traffic at scrape
// time, so the figures are never older than the scrape.
type viewCollector struct {
	n                         *Node
	peers, hosts, bytes, conn *prometheus.Desc
	graylisted, protoBytes    *prometheus.Desc
	bootFailures, advertised  *prometheus.Desc
	lookups, dials            *prometheus.Desc
}

func newViewCollector(n *Node) *viewCollector {
	return &viewCollector{n: n,
		peers:      prometheus.NewDesc("orgpeer_peers", "Peers in this node's view by organization and state (connected, verified and unverified split alive).", []string{"org", "org_id", "state"}, nil),
		hosts:      prometheus.NewDesc("orgpeer_hosts", "Distinct physical hosts among the alive peers of an organization.", []string{"org", "org_id"}, nil),
		bytes:      prometheus.NewDesc("orgpeer_libp2p_bytes_total", "Bytes this host's libp2p connections carried.", []string{"direction"}, nil),
		conn:       prometheus.NewDesc("orgpeer_connections", "Peers this host holds a connection to (members or not).", nil, nil),
		graylisted: prometheus.NewDesc("orgpeer_graylisted_peers", "Peers whose GossipSub score is below the graylist threshold: their messages are ignored.", nil, nil),
		protoBytes: prometheus.NewDesc("orgpeer_libp2p_protocol_bytes_total", "Bytes this host's libp2p streams carried, by protocol (GossipSub, DHT, identify).", []string{"protocol", "direction"}, nil),
		bootFailures: prometheus.NewDesc("orgpeer_discovery_bootstrap_failures_total", "Failed attempts to reach a bootstrap peer.", nil, nil),
		advertised:   prometheus.NewDesc("orgpeer_discovery_advertisements_total", "Successful advertisements of this node under its organization's DHT namespace.", nil, nil),
		lookups:      prometheus.NewDesc("orgpeer_discovery_lookups_total", "DHT lookups of an organization's members.", nil, nil),
		dials:        prometheus.NewDesc("orgpeer_discovery_dials_total", "Connections to peers found by lookups: connected or failed.", []string{"result"}, nil),
	}
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.peers
	ch <- c.hosts
	ch <- c.bytes
	ch <- c.conn
	ch <- c.graylisted
	ch <- c.protoBytes
	ch <- c.bootFailures
	ch <- c.advertised
	ch <- c.lookups
	ch <- c.dials
}

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.view.Snapshot()
	for _, o := range s.Orgs {
		for state, v := range map[string]int{"alive": o.Alive, "suspect": o.Suspect, "left": o.Left,
			"connected": o.Connected, "verified": o.Verified, "unverified": o.Unverified} {
			ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(v), o.Org, o.OrgID, state)
		}
		ch <- prometheus.MustNewConstMetric(c.hosts, prometheus.GaugeValue, float64(o.Hosts), o.Org, o.OrgID)
	}
	bw := c.n.bw.GetBandwidthTotals()
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(bw.TotalIn), "in")
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(bw.TotalOut), "out")
	ch <- prometheus.MustNewConstMetric(c.conn, prometheus.GaugeValue, float64(len(c.n.host.Network().Peers())))
	ch <- prometheus.MustNewConstMetric(c.graylisted, prometheus.GaugeValue, float64(c.n.flood.graylisted.Load()))
	for proto, st := range c.n.bw.GetBandwidthByProtocol() {
		ch <- prometheus.MustNewConstMetric(c.protoBytes, prometheus.CounterValue, float64(st.TotalIn), string(proto), "in")
		ch <- prometheus.MustNewConstMetric(c.protoBytes, prometheus.CounterValue, float64(st.TotalOut), string(proto), "out")
	}
	d := c.n.disc.Stats()
	ch <- prometheus.MustNewConstMetric(c.bootFailures, prometheus.CounterValue, float64(d.BootstrapFailures))
	ch <- prometheus.MustNewConstMetric(c.advertised, prometheus.CounterValue, float64(d.Advertised))
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(d.Lookups))
	ch <- prometheus.MustNewConstMetric(c.dials, prometheus.CounterValue, float64(d.Dials), "connected")
	ch <- prometheus.MustNewConstMetric(c.dials, prometheus.CounterValue, float64(d.DialFailures), "failed")
}
