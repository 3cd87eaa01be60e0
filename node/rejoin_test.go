package node

import (
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/orgs"
)

// TestCutOffNodeRejoinsThroughKnownMembers: two members joined through one
// seed; the seed dies and the connection between them closes. Neither has
// a connection, a reachable seed, or a DHT lookup due for a minute: they
// find each other again through the addresses of the members they know
// (discovery.Config.Known), as a fresh-clone run of TestBootstrapLoss
// needed, where a newcomer counted everyone through push-pull and its seed
// died before it had connected to anyone else.
func TestCutOffNodeRejoinsThroughKnownMembers(t *testing.T) {
	seed := newTestNode(t, testConfig(t, "acme"))
	var members []*Node
	for range 2 {
		cfg := testConfig(t, "acme")
		cfg.Bootstrap = seed.Info().Addrs[:1]
		// No lookup and no seed retry within the test: only the known
		// members can bring them back.
		cfg.BackoffMin, cfg.BackoffMax, cfg.FindInterval = time.Minute, time.Minute, time.Minute
		members = append(members, newTestNode(t, cfg))
	}
	a, b := members[0], members[1]
	nodetest.Eventually(t, 20*time.Second, func() string {
		for _, n := range members {
			if got := n.view.Snapshot().OrgCounts("acme").Alive; got != 3 {
				return "a member counts " + strconv.Itoa(got) + " alive in acme, want 3"
			}
		}
		return ""
	})
	nodetest.Eventually(t, 10*time.Second, func() string {
		if p, ok := a.view.Get(b.host.ID().String()); !ok || len(p.Addrs) == 0 {
			return "a does not know b's addresses"
		}
		return ""
	})

	seed.Close()
	a.host.Network().ClosePeer(b.host.ID())
	nodetest.Eventually(t, 10*time.Second, func() string {
		if a.host.Network().Connectedness(b.host.ID()) != network.Connected {
			return "a and b are not connected again"
		}
		if p, ok := a.view.Get(b.host.ID().String()); !ok || p.State != orgs.StateAlive {
			return "a does not count b alive"
		}
		if p, ok := b.view.Get(a.host.ID().String()); !ok || p.State != orgs.StateAlive {
			return "b does not count a alive"
		}
		return ""
	})
}
