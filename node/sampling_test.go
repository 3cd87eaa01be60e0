package node

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
	orgsample "github.com/orgpeer/orgpeer/orgs/sample"
)

type testNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testNow) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testNow) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestSampler(t *testing.T, budget float64) (*sampler, *testNow) {
	t.Helper()
	cfg := LocalConfig()
	cfg.Org, cfg.SampleBudget = "own", budget
	clk := &testNow{t: time.UnixMilli(1_700_000_000_000)}
	return newSampler(&cfg, "ownid", clk.now, newSamplingMetrics(prometheus.NewRegistry())), clk
}

// An organization whose members publish at a level above 0 is in estimate
// mode at the receiver, whose estimate covers the truth; an exact one
// stays exact.
func TestSamplerEstimatesASampledOrg(t *testing.T) {
	s, clk := newTestSampler(t, 0)
	const members, level = 2000, 16 // p = 1/16: about 125 a round
	for range 20 {
		r := s.round()
		for i := range members {
			p := fmt.Sprint("m", i)
			if orgsample.Passes(orgsample.Rank("big", r, p), level) {
				s.add("big", "bigid", p, r, level)
			}
			if i < 50 {
				s.add("small", "smallid", p, r, 0)
			}
		}
		clk.add(s.roundLen)
		s.tick()
	}
	if !s.Sampled("big") || s.Sampled("small") {
		t.Fatalf("sampled: big %v, small %v", s.Sampled("big"), s.Sampled("small"))
	}
	e := s.Estimate("big", "bigid")
	if e == nil || e.Level != level || e.Low > members || e.High < members || e.Source != orgs.SourceSamples || e.WindowMs != 32000 {
		t.Fatalf("estimate %+v", e)
	}
	if s.Estimate("small", "smallid") != nil || s.Estimate("big", "") != nil {
		t.Fatal("an estimate for an exact org or for bare claims that sent none")
	}
}

// The node's own organization: the controller rises once the members it
// hears pass the budget, and the node then publishes at that level.
func TestSamplerOwnLevelRises(t *testing.T) {
	s, clk := newTestSampler(t, 16)
	for range 6 {
		r := s.round()
		for i := range 100 {
			s.add("own", "ownid", fmt.Sprint("m", i), r, s.level())
		}
		clk.add(s.roundLen)
		s.tick()
	}
	if l := s.level(); l == 0 || 100*orgsample.Prob(l) > 16 {
		t.Fatalf("level %d with 100 members and a budget of 16", l)
	}
}

// A heartbeat whose rank does not pass the level it claims, or whose round
// is not its send time's, is accepted but no sample, and counted.
func TestValidatorRefusesLyingSamples(t *testing.T) {
	m := newSamplingMetrics(prometheus.NewRegistry())
	v := &validator{round: 2 * time.Second, sampling: m}
	sent := time.UnixMilli(1_700_000_000_000)
	r := orgsample.Round(sent, v.round)
	var liar, honest string
	for i := 0; liar == "" || honest == ""; i++ {
		p := fmt.Sprint("p", i)
		passes := func(r uint64) bool { return orgsample.Passes(orgsample.Rank("acme", r, p), 8) }
		switch {
		case passes(r) && passes(r+1) && passes(r+5): // refused at r+5 for its round alone
			honest = p
		case !passes(r):
			liar = p
		}
	}
	msg := func(peer string, round uint64) *received {
		return &received{Message: &wire.Message{Kind: wire.KindHeartbeat, Org: "acme", Peer: peer, Sent: sent.UnixMilli(), Level: 8, Round: round}}
	}
	if !v.isSample(msg(honest, r)) || !v.isSample(msg(honest, r+1)) {
		t.Fatal("an honest sample refused")
	}
	if v.isSample(msg(liar, r)) {
		t.Fatal("a rank failing its level counted")
	}
	if v.isSample(msg(honest, r+5)) {
		t.Fatal("a round far from the send time counted")
	}
	if v.isSample(msg(honest, 0)) {
		t.Fatal("a heartbeat covering no round counted")
	}
	if got := testutil.ToFloat64(m.refused.WithLabelValues("rank")); got != 1 {
		t.Fatalf("rank refusals %v", got)
	}
	if got := testutil.ToFloat64(m.refused.WithLabelValues("round")); got != 1 {
		t.Fatalf("round refusals %v", got)
	}
}

func TestWireMaxLevelIsSamples(t *testing.T) {
	if wire.MaxLevel != orgsample.MaxLevel {
		t.Fatalf("wire.MaxLevel %d, orgs/sample.MaxLevel %d", wire.MaxLevel, orgsample.MaxLevel)
	}
}

// Real nodes with sampling forced on (a budget of 2 heartbeats a round for
// an organization of 8): a node of another organization shows it in
// estimate mode with an interval that holds 8, keeps the organization of 2
// in exact mode, and takes no sampled member's silence for a failure.
func TestSampledOrgOverRealNodes(t *testing.T) {
	orgNames := []string{"small", "big", "big", "big", "big", "small", "big", "big", "big", "big"}
	nodes := startNodes(t, orgNames, func(c *Config) {
		c.SampleBudget = 2
		c.SampleWindow = 4 * time.Second // 13 rounds of 300 ms
	})
	observer := nodes[0]
	var last orgs.OrgCounts
	nodetest.Eventually(t, 60*time.Second, func() string {
		s := observer.view.Snapshot()
		big, small := s.OrgCounts("big"), s.OrgCounts("small")
		last = big
		switch {
		case small.Mode != orgs.ModeExact || small.Estimate != nil || small.Alive == 0:
			// Its count itself is not asserted: with 10 nodes and 8
			// connections each, its two members may lose their path on
			// a loaded machine, sampling or not.
			return fmt.Sprintf("small: %+v", small)
		case big.Mode != orgs.ModeEstimate || big.Estimate == nil:
			return fmt.Sprintf("big not estimated: %+v", big)
		case big.Estimate.Level < 8 || big.Estimate.WindowMs < 3000: // 8 × 2^(-8/4) = 2 a round: the budget
			return fmt.Sprintf("big's estimate: %+v", *big.Estimate)
		case big.Estimate.Low > 8 || big.Estimate.High < 8:
			return fmt.Sprintf("big's interval [%.1f, %.1f] misses 8", big.Estimate.Low, big.Estimate.High)
		}
		return ""
	})
	t.Logf("big at the observer: alive %d, estimate %+v", last.Alive, *last.Estimate)
	if l := nodes[1].pres.sample.level(); l == 0 {
		t.Fatal("a member of big publishes at level 0")
	}
	// The other organization's peer may go suspect on a loaded machine
	// (its heartbeats every 300 ms); big's members never may.
	for i, n := range nodes {
		if orgNames[i] != "big" {
			continue
		}
		ev, _ := observer.obs.evidence.Of(n.Info().PeerID)
		for _, tr := range ev.Transitions {
			if tr.To == orgs.StateSuspect {
				t.Errorf("the observer took big's node %d for failed (%s at %v): a sampled member's silence", i, tr.Cause, tr.At)
			}
		}
	}
	body := get(t, observer.Info().API, "/metrics", "")
	if v, _ := sample(body, `orgpeer_samples_refused_total{reason="rank"}`); v != 0 {
		t.Errorf("%v honest samples refused for their rank", v)
	}
}

// A node that follows only its own organization learns a sampled one's
// size from its members' census: a row of its own, source census, whose
// interval holds the truth; the reporters are members with credentials.
func TestCensusForAnUnfollowedOrg(t *testing.T) {
	big, bigPub := savedOrgKey(t, "big")
	orgNames := []string{"small", "big", "big", "big", "big", "big", "big", "big", "big", "small"}
	serial := uint64(0)
	nodes := startNodes(t, orgNames, func(c *Config) {
		c.SampleBudget, c.SampleWindow = 2, 3*time.Second // census windows of 3 s: about one report each
		c.Trust = []string{bigPub}
		if c.Org == "big" {
			serial++
			withCredential(t, c, big, serial)
		} else {
			c.Watch = []string{"small"}
		}
	})
	watcher := nodes[0]
	var last orgs.OrgCounts
	nodetest.Eventually(t, 60*time.Second, func() string {
		s := watcher.view.Snapshot()
		last = s.OrgCounts("big")
		switch e := last.Estimate; {
		case last.Mode != orgs.ModeEstimate || e == nil:
			return fmt.Sprintf("big: %+v", last)
		case e.Source != orgs.SourceCensus || last.Alive != 0:
			return fmt.Sprintf("big not from the census alone: alive %d, %+v", last.Alive, *e)
		case e.Low > 8 || e.High < 8:
			return fmt.Sprintf("big's census interval [%.1f, %.1f] misses 8", e.Low, e.High)
		}
		return ""
	})
	t.Logf("big at the watcher: %+v", *last.Estimate)
	if !anyReported(t, nodes[1:9]) {
		t.Error("no member of big reported a census")
	}
}

func anyReported(t *testing.T, nodes []*Node) bool {
	t.Helper()
	for _, n := range nodes {
		if v, _ := sample(get(t, n.Info().API, "/metrics", ""), `orgpeer_messages_sent_total{kind="census"}`); v > 0 {
			return true
		}
	}
	return false
}

// A sampled organization stays in estimate mode while nothing arrives (a
// stalled node hears nobody), and leaves it only when a whole window of its
// members publishes at level 0.
func TestSamplerLeavesEstimateModeOnEvidenceOnly(t *testing.T) {
	s, clk := newTestSampler(t, 0)
	feed := func(rounds, level int) {
		for range rounds {
			r := s.round()
			for i := range 200 {
				p := fmt.Sprint("m", i)
				if orgsample.Passes(orgsample.Rank("big", r, p), level) {
					s.add("big", "id", p, r, level)
				}
			}
			clk.add(s.roundLen)
			s.tick()
		}
	}
	feed(20, 8)
	if !s.Sampled("big") {
		t.Fatal("not sampled at level 8")
	}
	for range 40 { // a stall: 40 rounds, nothing heard
		clk.add(s.roundLen)
		s.tick()
	}
	if !s.Sampled("big") {
		t.Fatal("estimate mode lost to a silence")
	}
	feed(30, 0)
	if s.Sampled("big") {
		t.Fatal("still sampled after a window at level 0")
	}
}
