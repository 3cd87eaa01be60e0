package node

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// slowProbes makes the probe delay and the liveness window long, so that
// only a hint explains a peer found gone within a second or two.
func slowProbes(c *Config) {
	c.HeartbeatInterval = 300 * time.Millisecond
	c.ProbeAfter = 4 * time.Second
	c.LivenessWindow = 8 * time.Second
}

func hintCount(n *Node, event string) float64 {
	return testutil.ToFloat64(n.metrics.hints.WithLabelValues(event))
}

// TestCrashSeenAtOnceByConnectedPeers: a peer that stops without a leave,
// its connections and listener closed as by kill -9, is suspect at its
// neighbours within a second or two, long before its heartbeat is
// ProbeAfter late: they probed it when its connection closed.
func TestCrashSeenAtOnceByConnectedPeers(t *testing.T) {
	orgNames := []string{"acme", "globex", "acme"}
	nodes := startNodes(t, orgNames, slowProbes)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	crasher, rest := nodes[2], nodes[:2]
	id := crasher.Info().PeerID
	start := time.Now()
	crasher.Close()
	nodetest.Eventually(t, 2*time.Second, func() string {
		for _, n := range rest {
			if p, _ := n.view.Get(id); p.State != orgs.StateSuspect {
				return fmt.Sprintf("%s sees the crashed peer as %v", n.Info().PeerID, p.State)
			}
		}
		return ""
	})
	t.Logf("crash seen everywhere after %v", time.Since(start))
	for _, n := range rest {
		if hintCount(n, "lost")+hintCount(n, "received") < 1 {
			t.Errorf("%s probed on no lost connection and no hint", n.Info().PeerID)
		}
	}
}

// TestClosedConnectionToALivePeerIsNotSuspect: a connection that closes
// while its peer lives on (a connection manager's trim, a graceful close)
// gets a probe, which proves nothing: the peer stays alive.
func TestClosedConnectionToALivePeerIsNotSuspect(t *testing.T) {
	orgNames := []string{"acme", "globex"}
	nodes := startNodes(t, orgNames, slowProbes)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	a, b := nodes[0], nodes[1]
	a.host.Network().ClosePeer(b.host.ID())
	nodetest.Eventually(t, 3*time.Second, func() string {
		if got := testutil.ToFloat64(a.metrics.probes.WithLabelValues("inconclusive")); got < 1 {
			return "no probe of the peer whose connection closed yet"
		}
		return ""
	})
	if p, _ := a.view.Get(b.Info().PeerID); p.State != orgs.StateAlive {
		t.Fatalf("a live peer whose connection closed is %v", p.State)
	}
	if got := testutil.ToFloat64(a.metrics.transitions.WithLabelValues("suspect")); got != 0 {
		t.Fatalf("%v peers turned suspect", got)
	}
}

// TestHintSpreadsToNeighbours: a node told that a peer is gone probes it
// itself, suspects it on its own refusal and tells its other neighbours,
// who do the same; a hint about a peer that still listens changes nothing.
func TestHintSpreadsToNeighbours(t *testing.T) {
	orgNames := []string{"acme", "globex", "acme"}
	nodes := startNodes(t, orgNames, slowProbes)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	teller, told, third := nodes[0], nodes[1], nodes[2]
	nodetest.Eventually(t, 10*time.Second, func() string {
		if !isConnected(told.host, third.Info().PeerID) || !isConnected(teller.host, told.Info().PeerID) {
			return "not all connected yet"
		}
		return ""
	})

	// A ghost that nobody is connected to: its address refuses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	_, ghost := nodetest.Mint(t)
	for _, n := range []*Node{told, third} {
		n.view.ApplyHeartbeat(orgs.Heartbeat{PeerID: ghost.String(), Org: "acme", Version: orgs.Version{Epoch: 1, Seq: 1}, Addrs: []string{addr}})
	}
	sendHint(t, teller, told, []byte(ghost))
	nodetest.Eventually(t, 2*time.Second, func() string {
		for _, n := range []*Node{told, third} {
			if p, _ := n.view.Get(ghost.String()); p.State != orgs.StateSuspect {
				return fmt.Sprintf("%s sees the ghost as %v", n.Info().PeerID, p.State)
			}
		}
		return ""
	})
	if hintCount(third, "received") < 1 {
		t.Fatal("the third node suspected the ghost without a hint")
	}

	// A hint about a live peer: probed, not suspected.
	sendHint(t, teller, told, []byte(third.host.ID()))
	nodetest.Eventually(t, 2*time.Second, func() string {
		if hintCount(told, "probed") < 2 {
			return "the hint about a live peer was not probed"
		}
		return ""
	})
	if p, _ := told.view.Get(third.Info().PeerID); p.State != orgs.StateAlive {
		t.Fatalf("a live peer named in a hint is %v", p.State)
	}
}

// TestHintRejectsBadInput: garbage, an oversized hint and a hint about the
// sender itself are counted and change nothing.
func TestHintRejectsBadInput(t *testing.T) {
	nodes := startNodes(t, []string{"acme", "globex"}, slowProbes)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf([]string{"acme", "globex"})))
	from, to := nodes[0], nodes[1]
	for _, c := range []struct {
		name, event string
		data        []byte
	}{
		{"garbage", "rejected", []byte{0xff, 0x00, 0x13}},
		{"oversized", "rejected", make([]byte, hintMaxLength+1)},
		{"the sender itself", "ignored", []byte(from.host.ID())},
		{"the receiver itself", "ignored", []byte(to.host.ID())},
	} {
		before := hintCount(to, c.event)
		sendHint(t, from, to, c.data)
		nodetest.Eventually(t, 2*time.Second, func() string {
			if hintCount(to, c.event) <= before {
				return c.name + ": not counted as " + c.event
			}
			return ""
		})
	}
	if p, _ := to.view.Get(from.Info().PeerID); p.State != orgs.StateAlive {
		t.Fatalf("the sender of bad hints is %v", p.State)
	}
}

func sendHint(t *testing.T, from, to *Node, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := from.host.NewStream(ctx, to.host.ID(), wire.ProbeHintProtocol)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(data)
	s.Close()
}
