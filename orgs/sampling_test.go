package orgs

import (
	"slices"
	"testing"
	"time"
)

type fakeSampling struct{ orgs map[string]bool }

func (f fakeSampling) Sampled(org string) bool { return f.orgs[org] }
func (f fakeSampling) Estimate(org, _ string) *Estimate {
	switch {
	case org == "far":
		return &Estimate{Peers: 900, Low: 700, High: 1100, Samples: 40, Level: 30, WindowMs: 80000, Source: SourceCensus}
	case !f.orgs[org]:
		return nil
	}
	return &Estimate{Peers: 5000, Low: 4800, High: 5200, Samples: 1300, Level: 12, WindowMs: 60000, Source: SourceSamples}
}
func (f fakeSampling) Rows() []RowKey { return []RowKey{{"far", "farid"}} }

// In a sampled organization a silent member rotates out of the view
// without a transition (a connected neighbour too: a connection never
// makes a peer alive), a new one joins it without one, neither is offered
// to the prober; an exact organization beside it keeps its suspicions.
func TestSampledOrgRotatesQuietly(t *testing.T) {
	v, clk, rec := newTestView(t)
	v.SetSampling(fakeSampling{orgs: map[string]bool{"big": true}})
	v.ApplyHeartbeat(hb("b1", "big", "h1", 1, 1))
	v.ApplyHeartbeat(hb("b2", "big", "h2", 1, 1))
	v.SetConnected("b2", true)
	v.ApplyHeartbeat(hb("s1", "small", "h3", 1, 1))
	clk.Advance(time.Second)
	silent, _ := v.Silent(500*time.Millisecond, 10)
	if ids := peerIDs(silent); !slices.Equal(ids, []string{"s1"}) {
		t.Fatalf("offered to the prober: %v, want s1 only", ids)
	}
	clk.Advance(testCfg.LivenessWindow)
	snap := v.Snapshot()
	big, small := snap.OrgCounts("big"), snap.OrgCounts("small")
	if big.Mode != ModeEstimate || big.Estimate == nil || big.Estimate.Peers != 5000 || big.Alive != 0 {
		t.Fatalf("big: %+v", big)
	}
	if small.Mode != ModeExact || small.Estimate != nil || small.Suspect != 1 {
		t.Fatalf("small: %+v", small)
	}
	// An organization known from its census alone has a row.
	if far := snap.OrgCounts("far"); far.OrgID != "farid" || far.Mode != ModeEstimate || far.Estimate == nil || far.Estimate.Source != SourceCensus || far.Alive != 0 {
		t.Fatalf("far: %+v", far)
	}
	for _, id := range []string{"b1", "b2"} {
		if _, ok := v.Get(id); ok {
			t.Fatalf("%s still in the view after its silence", id)
		}
	}
	if f, ok := v.Forgotten("b1"); !ok || f.Cause != CauseRotated {
		t.Fatalf("b1's tombstone: %+v %v", f, ok)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{"s1:unknown->alive", "s1:alive->suspect"}; !slices.Equal(rec.evs, want) {
		t.Fatalf("transitions %v, want %v", rec.evs, want)
	}
}

func peerIDs(ps []PeerInfo) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.PeerID)
	}
	return ids
}
