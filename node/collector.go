package node

import (
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orgpeer/orgpeer/discovery"
	"github.com/orgpeer/orgpeer/orgs"
)

// collector exports, at scrape time, the view's counts, the host's
// connections and traffic, the graylist and discovery's counters, so the
// figures are never older than the scrape.
//
// orgpeer_peers has one series per exclusive state (alive, suspect, left),
// so that summing it counts every peer once; the sub-counts of the alive
// peers (connected, verified, unverified) are metrics of their own.
type collector struct {
	view      *orgs.View
	host      host.Host
	bw        *metrics.BandwidthCounter
	flood     *floodScore
	discovery func() discovery.Stats

	peers, connected, verified, unverified, hosts *prometheus.Desc
	exact, estimate, samples, level, window       *prometheus.Desc
	bytes, protoBytes, conn, graylisted           *prometheus.Desc
	bootFailures, advertised, lookups, dials      *prometheus.Desc
}

func newCollector(view *orgs.View, h host.Host, bw *metrics.BandwidthCounter, flood *floodScore, disc func() discovery.Stats) *collector {
	org := []string{"org", "org_id"}
	return &collector{view: view, host: h, bw: bw, flood: flood, discovery: disc,
		peers:        prometheus.NewDesc("orgpeer_peers", "Peers in this node's view by organization and state: alive, suspect or left (the node itself is an alive peer of its organization).", append(org, "state"), nil),
		connected:    prometheus.NewDesc("orgpeer_peers_alive_connected", "Alive peers of an organization that this host holds a connection to.", org, nil),
		verified:     prometheus.NewDesc("orgpeer_peers_alive_verified", "Alive peers of an organization whose membership a trusted credential proves.", org, nil),
		unverified:   prometheus.NewDesc("orgpeer_peers_alive_unverified", "Alive peers of an organization that claim membership without a credential this node verified.", org, nil),
		hosts:        prometheus.NewDesc("orgpeer_hosts", "Distinct physical hosts among the alive peers of an organization.", org, nil),
		exact:        prometheus.NewDesc("orgpeer_org_exact", "1 when an organization's count is exact, 0 when it is an estimate from sampled heartbeats (then orgpeer_peers and its parts count only the members this node heard).", org, nil),
		estimate:     prometheus.NewDesc("orgpeer_org_estimate", "The estimated alive members of an organization whose count is an estimate: the point estimate and its 95 % interval.", append(org, "bound"), nil),
		samples:      prometheus.NewDesc("orgpeer_org_estimate_samples", "The samples an organization's estimate rests on; source is samples (this node's own) or census (the median of members' summaries).", append(org, "source"), nil),
		level:        prometheus.NewDesc("orgpeer_org_sampling_level", "An organization's sampling level j: a member is sampled with probability 2^(-j/4) per round; 0 is exact counting.", org, nil),
		window:       prometheus.NewDesc("orgpeer_org_estimate_window_seconds", "How much time an organization's estimate covers.", org, nil),
		bytes:        prometheus.NewDesc("orgpeer_libp2p_bytes_total", "Bytes this host's libp2p connections carried.", []string{"direction"}, nil),
		protoBytes:   prometheus.NewDesc("orgpeer_libp2p_protocol_bytes_total", "Bytes this host's libp2p streams carried, by protocol (GossipSub, DHT, identify).", []string{"protocol", "direction"}, nil),
		conn:         prometheus.NewDesc("orgpeer_connections", "Peers this host holds a connection to (members or not).", nil, nil),
		graylisted:   prometheus.NewDesc("orgpeer_graylisted_peers", "Peers whose GossipSub score is below the graylist threshold: their messages are ignored.", nil, nil),
		bootFailures: prometheus.NewDesc("orgpeer_discovery_bootstrap_failures_total", "Failed attempts to reach a seed (--bootstrap).", nil, nil),
		advertised:   prometheus.NewDesc("orgpeer_discovery_advertisements_total", "Successful advertisements of this node under its organization's DHT namespace.", nil, nil),
		lookups:      prometheus.NewDesc("orgpeer_discovery_lookups_total", "DHT lookups of an organization's members.", nil, nil),
		dials:        prometheus.NewDesc("orgpeer_discovery_dials_total", "Connections to peers found by lookups or mDNS: connected or failed.", []string{"result"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peers, c.connected, c.verified, c.unverified, c.hosts,
		c.exact, c.estimate, c.samples, c.level, c.window,
		c.bytes, c.protoBytes, c.conn, c.graylisted, c.bootFailures, c.advertised, c.lookups, c.dials} {
		ch <- d
	}
}

// collectCounts sends the counts of s, per row: seven series of the
// counts as they are, orgpeer_org_exact and orgpeer_org_sampling_level, and
// for an estimate five more. Rows are bounded by the view, so the series
// are too.
func (c *collector) collectCounts(ch chan<- prometheus.Metric, s orgs.Snapshot) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, o := range s.Orgs {
		n := func(v int) float64 { return float64(v) }
		gauge(c.peers, n(o.Alive), o.Org, o.OrgID, "alive")
		gauge(c.peers, n(o.Suspect), o.Org, o.OrgID, "suspect")
		gauge(c.peers, n(o.Left), o.Org, o.OrgID, "left")
		gauge(c.connected, n(o.Connected), o.Org, o.OrgID)
		gauge(c.verified, n(o.Verified), o.Org, o.OrgID)
		gauge(c.unverified, n(o.Unverified), o.Org, o.OrgID)
		gauge(c.hosts, n(o.Hosts), o.Org, o.OrgID)
		if !o.Estimated() {
			gauge(c.exact, 1, o.Org, o.OrgID)
			gauge(c.level, 0, o.Org, o.OrgID)
			continue
		}
		e := o.Estimate
		gauge(c.exact, 0, o.Org, o.OrgID)
		gauge(c.level, n(e.Level), o.Org, o.OrgID)
		gauge(c.estimate, e.Peers, o.Org, o.OrgID, "point")
		gauge(c.estimate, e.Low, o.Org, o.OrgID, "low")
		gauge(c.estimate, e.High, o.Org, o.OrgID, "high")
		gauge(c.samples, n(e.Samples), o.Org, o.OrgID, e.Source)
		gauge(c.window, float64(e.WindowMs)/1000, o.Org, o.OrgID)
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	c.collectCounts(ch, c.view.Snapshot())
	bw := c.bw.GetBandwidthTotals()
	counter(c.bytes, bw.TotalIn, "in")
	counter(c.bytes, bw.TotalOut, "out")
	for proto, st := range c.bw.GetBandwidthByProtocol() {
		counter(c.protoBytes, st.TotalIn, string(proto), "in")
		counter(c.protoBytes, st.TotalOut, string(proto), "out")
	}
	gauge(c.conn, len(c.host.Network().Peers()))
	gauge(c.graylisted, int(c.flood.graylisted.Load()))
	d := c.discovery()
	counter(c.bootFailures, int64(d.BootstrapFailures))
	counter(c.advertised, int64(d.Advertised))
	counter(c.lookups, int64(d.Lookups))
	counter(c.dials, int64(d.Dials), "connected")
	counter(c.dials, int64(d.DialFailures), "failed")
}
