package node

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/orgs"
)

// snapshotCounts collects the count series of one hand-made snapshot.
type snapshotCounts struct {
	c *collector
	s orgs.Snapshot
}

func (x snapshotCounts) Describe(ch chan<- *prometheus.Desc) { x.c.Describe(ch) }
func (x snapshotCounts) Collect(ch chan<- prometheus.Metric) { x.c.collectCounts(ch, x.s) }

// An exact row keeps its series and says exact, level 0; an estimate row
// says estimate and gives the estimate's bounds, samples by source, level
// and window; its orgpeer_peers still counts the members heard.
func TestCollectorExportsEstimates(t *testing.T) {
	s := orgs.Snapshot{Orgs: []orgs.OrgCounts{
		{Org: "acme", OrgID: "k51a", Mode: orgs.ModeExact, Alive: 7, Verified: 7, Hosts: 2},
		{Org: "bigcorp", OrgID: "k51b", Mode: orgs.ModeEstimate, Alive: 41, Verified: 41, Hosts: 39,
			Estimate: &orgs.Estimate{Peers: 1250.5, Low: 1180, High: 1320, Samples: 412, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}},
		{Org: "hugeco", Mode: orgs.ModeEstimate, Alive: 2, Verified: 2, Hosts: 2,
			Estimate: &orgs.Estimate{Peers: 20400, Low: 19100, High: 21800, Samples: 96, Level: 8, WindowMs: 300_000, Source: orgs.SourceCensus}},
	}}
	x := snapshotCounts{c: newCollector(nil, nil, nil, nil, nil), s: s}
	want := `
# HELP orgpeer_org_estimate The estimated alive members of an organization whose count is an estimate: the point estimate and its 95 % interval.
# TYPE orgpeer_org_estimate gauge
orgpeer_org_estimate{bound="high",org="bigcorp",org_id="k51b"} 1320
orgpeer_org_estimate{bound="high",org="hugeco",org_id=""} 21800
orgpeer_org_estimate{bound="low",org="bigcorp",org_id="k51b"} 1180
orgpeer_org_estimate{bound="low",org="hugeco",org_id=""} 19100
orgpeer_org_estimate{bound="point",org="bigcorp",org_id="k51b"} 1250.5
orgpeer_org_estimate{bound="point",org="hugeco",org_id=""} 20400
# HELP orgpeer_org_estimate_samples The samples an organization's estimate rests on; source is samples (this node's own) or census (the median of members' summaries).
# TYPE orgpeer_org_estimate_samples gauge
orgpeer_org_estimate_samples{org="bigcorp",org_id="k51b",source="samples"} 412
orgpeer_org_estimate_samples{org="hugeco",org_id="",source="census"} 96
# HELP orgpeer_org_estimate_window_seconds How much time an organization's estimate covers.
# TYPE orgpeer_org_estimate_window_seconds gauge
orgpeer_org_estimate_window_seconds{org="bigcorp",org_id="k51b"} 60
orgpeer_org_estimate_window_seconds{org="hugeco",org_id=""} 300
# HELP orgpeer_org_exact 1 when an organization's count is exact, 0 when it is an estimate from sampled heartbeats (then orgpeer_peers and its parts count only the members this node heard).
# TYPE orgpeer_org_exact gauge
orgpeer_org_exact{org="acme",org_id="k51a"} 1
orgpeer_org_exact{org="bigcorp",org_id="k51b"} 0
orgpeer_org_exact{org="hugeco",org_id=""} 0
# HELP orgpeer_org_sampling_level An organization's sampling level j: a member is sampled with probability 2^(-j/4) per round; 0 is exact counting.
# TYPE orgpeer_org_sampling_level gauge
orgpeer_org_sampling_level{org="acme",org_id="k51a"} 0
orgpeer_org_sampling_level{org="bigcorp",org_id="k51b"} 3
orgpeer_org_sampling_level{org="hugeco",org_id=""} 8
`
	names := []string{"orgpeer_org_estimate", "orgpeer_org_estimate_samples", "orgpeer_org_estimate_window_seconds", "orgpeer_org_exact", "orgpeer_org_sampling_level"}
	if err := testutil.CollectAndCompare(x, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// The existing series keep their names and count what was heard.
	peers := `
# HELP orgpeer_peers_alive_verified Alive peers of an organization whose membership a trusted credential proves.
# TYPE orgpeer_peers_alive_verified gauge
orgpeer_peers_alive_verified{org="acme",org_id="k51a"} 7
orgpeer_peers_alive_verified{org="bigcorp",org_id="k51b"} 41
orgpeer_peers_alive_verified{org="hugeco",org_id=""} 2
`
	if err := testutil.CollectAndCompare(x, strings.NewReader(peers), "orgpeer_peers_alive_verified"); err != nil {
		t.Error(err)
	}
	// Per row: 7 series of counts, exact and level, and 5 more for an estimate.
	if n := testutil.CollectAndCount(x); n != 3*9+2*5 {
		t.Errorf("%d series for 3 rows, 2 of them estimates; want %d", n, 3*9+2*5)
	}
}
