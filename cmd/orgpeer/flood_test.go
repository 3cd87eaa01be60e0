package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
)

// TestFloodIsContained floods an organization's topic from a rogue libp2p
// host in the test process, at a fixed rate for a fixed count, while the
// honest nodes are real processes: their counts stay right, the victim's
// API stays fast, and the flooder ends up graylisted.
func TestFloodIsContained(t *testing.T) {
	c := newTestCluster(t)
	ps := startAll(t, c, []string{"acme", "globex", "acme", "globex"})
	poll(t, 30*time.Second, convergedFn(c))
	victim := ps[1]

	ai, err := peer.AddrInfoFromP2pAddr(ma.StringCast(victim.Info().Addrs[0]))
	if err != nil {
		t.Fatal(err)
	}
	rogue := nodetest.NewRogue(t, *ai, wire.OrgTopic("acme"))
	h, topic := rogue.Host, rogue.Topic
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The flood: 2000 well-formed bare-claim heartbeats at 400 a second,
	// meanwhile 200 API requests at 25 ms intervals.
	flooded := make(chan struct{})
	go func() { // ends after 2000 messages or when ctx ends
		defer close(flooded)
		tick := time.NewTicker(2500 * time.Microsecond)
		defer tick.Stop()
		for i := range 2000 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			m := &wire.Message{Kind: wire.KindHeartbeat, Peer: h.ID().String(), Org: "acme", Epoch: 1, Seq: uint64(i + 1)}
			topic.Publish(ctx, m.Encode())
		}
	}()
	var lat []time.Duration
	graylisted := 0.0
	tick := time.NewTicker(25 * time.Millisecond)
	for i := range 200 {
		<-tick.C
		start := time.Now()
		if _, err := victim.Client().View(ctx); err != nil {
			t.Fatalf("API during flood: %v", err)
		}
		lat = append(lat, time.Since(start))
		if i%20 == 19 { // and, outside the timing, the victim's verdict
			if text, err := victim.Client().Metrics(ctx); err == nil {
				if m, err := procstat.ParseMetrics(strings.NewReader(text)); err == nil {
					graylisted = max(graylisted, m["orgpeer_graylisted_peers"])
				}
			}
		}
	}
	tick.Stop()
	<-flooded
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("victim API during the flood: p50 %v, p99 %v", p50, p99)
	// A hang, not a speed goal: speed goals live in `make bench`, and a
	// loaded 2-core machine stretches this tail to 100 ms or more.
	if p99 > time.Second {
		t.Errorf("API p99 %v during the flood: the API stalled", p99)
	}
	if graylisted < 1 {
		text, _ := victim.Client().Metrics(ctx)
		t.Fatalf("the flooder was never graylisted during the flood; %s", grep(text, "orgpeer_messages_total"))
	}
	// Honest counts: every verified member, and the flooder at most as an
	// unverified claim that expires.
	poll(t, 10*time.Second, convergedFn(c))
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
