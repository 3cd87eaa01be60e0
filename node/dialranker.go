package node

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// loopbackQUICDelay is how long a dial waits for loopback TCP before it
// tries the peer's loopback QUIC addresses.
const loopbackQUICDelay = time.Second

// dialRanker is go-libp2p's default ranking, except that on loopback it
// dials TCP first and QUIC only if TCP has not connected within
// loopbackQUICDelay. go-libp2p prefers QUIC, which pays off across real
// networks (one round trip less, no head-of-line blocking); on loopback
// there is no loss to recover from, and QUIC's user-space acknowledgements,
// timers and per-connection goroutines cost each node CPU, memory and
// goroutines that the kernel's TCP does not (`make bench` measured 2.6 MB
// and 0.6 % of a core per node at N = 20). Nodes still listen on QUIC and
// reach peers that offer nothing else.
func dialRanker(addrs []ma.Multiaddr) []network.AddrDelay {
	var loop, rest []ma.Multiaddr
	hasTCP := false
	for _, a := range addrs {
		if !manet.IsIPLoopback(a) {
			rest = append(rest, a)
			continue
		}
		loop = append(loop, a)
		if isTCP(a) {
			hasTCP = true
		}
	}
	out := swarm.DefaultDialRanker(rest)
	for _, a := range loop {
		var d time.Duration
		if hasTCP && !isTCP(a) {
			d = loopbackQUICDelay
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}

// isTCP reports whether a is a plain TCP address (not WebSocket).
func isTCP(a ma.Multiaddr) bool {
	tcp := false
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_TCP:
			tcp = true
		case ma.P_WS, ma.P_WSS, ma.P_QUIC_V1, ma.P_WEBTRANSPORT:
			return false
		}
	}
	return tcp
}
