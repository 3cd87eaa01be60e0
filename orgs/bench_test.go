package orgs

import (
	"fmt"
	"testing"
	"time"
)

// benchView is a view of n alive peers in 10 organizations on 100 hosts.
func benchView(b *testing.B, n int) (*View, *fakeClock) {
	b.Helper()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := testCfg
	cfg.MaxPeers = 2 * n
	v := NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "org0", Host: "h0"}, nil)
	for i := range n {
		v.ApplyHeartbeat(Heartbeat{PeerID: fmt.Sprintf("peer-%06d", i), Org: fmt.Sprintf("org%d", i%10),
			Host: fmt.Sprintf("h%d", i%100), Version: Version{1, 1}, Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}})
	}
	return v, clk
}

func BenchmarkApplyHeartbeat10k(b *testing.B) {
	v, _ := benchView(b, 10_000)
	ids := make([]string, 10_000) // formatted before b.Loop starts the timer: those allocations are not the view's
	for i := range ids {
		ids[i] = fmt.Sprintf("peer-%06d", i)
	}
	b.ReportAllocs()
	seq := uint64(1)
	for i := 0; b.Loop(); i++ {
		if i%10_000 == 0 {
			seq++
		}
		v.ApplyHeartbeat(Heartbeat{PeerID: ids[i%10_000], Org: "org1", Host: "h1", Version: Version{1, seq}})
	}
}

func BenchmarkSnapshot10k(b *testing.B) {
	v, _ := benchView(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if s := v.Snapshot(); s.Total.Alive != 10_001 {
			b.Fatalf("alive %d", s.Total.Alive)
		}
	}
}

func BenchmarkCountPerOrg10k(b *testing.B) {
	v, _ := benchView(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if c := v.Snapshot().OrgCounts("org3"); c.Alive != 1000 {
			b.Fatalf("org3 alive %d", c.Alive)
		}
	}
}

func BenchmarkPeersOfOneOrg10k(b *testing.B) {
	v, _ := benchView(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if ps := v.Peers(Filter{Org: "org3", State: StateAlive}); len(ps) != 1000 {
			b.Fatalf("%d peers", len(ps))
		}
	}
}
