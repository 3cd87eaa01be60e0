package node

import (
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/node/nodetest"
)

func TestDialRankerPrefersLoopbackTCP(t *testing.T) {
	tcp := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	quic := ma.StringCast("/ip4/127.0.0.1/udp/4001/quic-v1")
	ws := ma.StringCast("/ip4/127.0.0.1/tcp/4002/ws")
	public := ma.StringCast("/ip4/1.2.3.4/udp/4001/quic-v1")
	delays := map[string]time.Duration{}
	for _, d := range dialRanker([]ma.Multiaddr{quic, tcp, ws, public}) {
		delays[d.Addr.String()] = d.Delay
	}
	if len(delays) != 4 {
		t.Fatalf("ranked %d of 4 addresses: %v", len(delays), delays)
	}
	if delays[tcp.String()] != 0 || delays[quic.String()] != loopbackQUICDelay || delays[ws.String()] != loopbackQUICDelay {
		t.Fatalf("loopback: %v", delays)
	}
	if delays[public.String()] != 0 {
		t.Fatalf("a public QUIC address is ranked by go-libp2p's default: %v", delays)
	}
	// Public TCP waits a second for public QUIC.
	ptcp := ma.StringCast("/ip4/1.2.3.4/tcp/4001")
	for _, d := range dialRanker([]ma.Multiaddr{ptcp, public}) {
		if want := map[bool]time.Duration{true: publicTCPDelay, false: 0}[d.Addr.Equal(ptcp)]; d.Delay != want {
			t.Fatalf("public %s delayed %v, want %v", d.Addr, d.Delay, want)
		}
	}
	if d := dialRanker([]ma.Multiaddr{ptcp}); len(d) != 1 || d[0].Delay != 0 {
		t.Fatalf("public TCP only: %v", d)
	}
	// Without a loopback TCP address, QUIC is dialled at once.
	if d := dialRanker([]ma.Multiaddr{quic}); len(d) != 1 || d[0].Delay != 0 {
		t.Fatalf("QUIC only: %v", d)
	}
}

// TestTransportsOnLoopback: nodes listening on TCP and QUIC connect over
// TCP; a node that listens on QUIC only is still reached, over QUIC.
func TestTransportsOnLoopback(t *testing.T) {
	quicOnly := testConfig(t, "acme")
	quicOnly.ListenAddrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	q := newTestNode(t, quicOnly)
	nodes := startNodes(t, []string{"acme", "acme"}, func(c *Config) { c.Bootstrap = q.Info().Addrs })
	nodetest.Eventually(t, 15*time.Second, allMatch(append(nodes, q), map[string]int{"acme": 3}))
	transport := func(a, b *Node) string {
		for _, c := range a.host.Network().ConnsToPeer(b.host.ID()) {
			if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_QUIC_V1); err == nil {
				return "quic"
			}
			return "tcp"
		}
		return "none"
	}
	if got := transport(nodes[1], nodes[0]); got != "tcp" {
		t.Fatalf("TCP and QUIC nodes connected over %s, want tcp", got)
	}
	if got := transport(nodes[0], q); got != "quic" {
		t.Fatalf("the QUIC-only node was reached over %s, want quic", got)
	}
}
