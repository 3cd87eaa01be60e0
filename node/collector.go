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
		c.bytes, c.protoBytes, c.conn, c.graylisted, c.bootFailures, c.advertised, c.lookups, c.dials} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, o := range c.view.Snapshot().Orgs {
		gauge(c.peers, o.Alive, o.Org, o.OrgID, "alive")
		gauge(c.peers, o.Suspect, o.Org, o.OrgID, "suspect")
		gauge(c.peers, o.Left, o.Org, o.OrgID, "left")
		gauge(c.connected, o.Connected, o.Org, o.OrgID)
		gauge(c.verified, o.Verified, o.Org, o.OrgID)
		gauge(c.unverified, o.Unverified, o.Org, o.OrgID)
		gauge(c.hosts, o.Hosts, o.Org, o.OrgID)
	}
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
