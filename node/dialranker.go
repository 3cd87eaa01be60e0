package node

import (
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// loopbackQUICDelay is how long a dial waits for loopback TCP before it
// tries the peer's loopback QUIC addresses.
const loopbackQUICDelay = time.Second

// publicTCPDelay is how long a dial to public addresses waits for QUIC
// before it tries TCP (go-libp2p: 250 ms). A node behind a NAT learns its
// public QUIC port only from the peers it reaches over QUIC (its QUIC dials
// leave from its listen port; its TCP dials from ephemeral ports), and a
// hole punch needs that port: under load a QUIC handshake can take longer
// than 250 ms, and a TCP connection that wins the race leaves the node
// without one.
const publicTCPDelay = time.Second

// dialRanker is go-libp2p's default ranking, except that on loopback it
// dials TCP first and QUIC only if TCP has not connected within
// loopbackQUICDelay. go-libp2p prefers QUIC, which pays off across real
// networks (one round trip less, no head-of-line blocking); on loopback
// there is no loss to recover from, and QUIC's user-space acknowledgements,
// timers and per-connection goroutines cost each node CPU, memory and
// goroutines that the kernel's TCP does not (`make bench` measured 2.6 MB
// and 0.6 % of a core per node at N = 20). Nodes still listen on QUIC and
// reach peers that offer nothing else. Elsewhere TCP waits publicTCPDelay
// for a public QUIC address.
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
	publicQUIC := slices.ContainsFunc(rest, func(a ma.Multiaddr) bool { return manet.IsPublicAddr(a) && transport(a) == ma.P_QUIC_V1 })
	for i, d := range out {
		if publicQUIC && isTCP(d.Addr) && manet.IsPublicAddr(d.Addr) {
			out[i].Delay = max(d.Delay, publicTCPDelay)
		}
	}
	for _, a := range loop {
		var d time.Duration
		if hasTCP && !isTCP(a) {
			d = loopbackQUICDelay
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}

// transport returns ma.P_TCP for a plain TCP address, ma.P_QUIC_V1 for a
// QUIC one, and 0 for the rest (WebSocket, WebTransport, relayed).
func transport(a ma.Multiaddr) int {
	t := 0
	for _, c := range a {
		switch c.Code() {
		case ma.P_TCP, ma.P_QUIC_V1:
			t = c.Code()
		case ma.P_WS, ma.P_WSS, ma.P_WEBTRANSPORT, ma.P_CIRCUIT:
			return 0
		}
	}
	return t
}

// isTCP reports whether a is a plain TCP address.
func isTCP(a ma.Multiaddr) bool { return transport(a) == ma.P_TCP }
