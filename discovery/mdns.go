package discovery

import (
	"context"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// mdnsService is the multicast DNS service name under which orgpeer nodes
// announce themselves: they find one another, not every libp2p node.
const mdnsService = "_orgpeer._udp"

// mdnsFound hands the peers mDNS finds to mdnsLoop without blocking
// zeroconf; a peer dropped when the queue is full is announced again.
type mdnsFound chan peer.AddrInfo

func (f mdnsFound) HandlePeerFound(ai peer.AddrInfo) {
	select {
	case f <- ai:
	default:
	}
}

// mdnsLoop announces the node by multicast DNS on its local networks and
// connects to the orgpeer nodes it hears of there, while below MaxPeers,
// until ctx ends.
func (d *Discovery) mdnsLoop(ctx context.Context) {
	found := make(mdnsFound, 16)
	svc := mdns.NewMdnsService(d.h, mdnsService, found)
	if err := svc.Start(); err != nil {
		d.log.Warn("no mDNS", "err", err)
		return
	}
	defer svc.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ai := <-found:
			// mDNS announces every interface address: a peer's loopback
			// and link-local ones are not its, seen from here.
			ai.Addrs = ma.FilterAddrs(ai.Addrs, func(a ma.Multiaddr) bool {
				return !manet.IsIPLoopback(a) && !manet.IsIP6LinkLocal(a)
			})
			if ai.ID == d.h.ID() || len(ai.Addrs) == 0 || d.h.Network().Connectedness(ai.ID) == network.Connected ||
				len(d.h.Network().Peers()) >= d.cfg.MaxPeers {
				continue
			}
			d.dial(ctx, ai, "mDNS")
		}
	}
}
