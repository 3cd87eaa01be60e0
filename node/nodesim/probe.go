package nodesim

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/node"
	"github.com/orgpeer/orgpeer/orgs"
)

// pingProber probes a silent peer with a libp2p ping over its connection,
// or a new one to the addresses the peer announced. The simulated network
// loses no packet and a node's CPU costs no virtual time, so a ping left
// unanswered within the probe's bound counts as proof that the peer is
// gone, as a refused TCP connection does for real. (On a real network it
// would prove nothing: node's TCP probe stays the real one.)
type pingProber struct{ h host.Host }

func newPingProber(h host.Host) node.Prober { return pingProber{h} }

func (p pingProber) Gone(ctx context.Context, pi orgs.PeerInfo) bool {
	id, err := peer.Decode(pi.PeerID)
	if err != nil {
		return false
	}
	ai := peer.AddrInfo{ID: id}
	for _, s := range pi.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the pings
	if err := p.h.Connect(ctx, ai); err != nil {
		return true
	}
	// The pings' channel closes without a result when ctx ends first.
	r, ok := <-ping.Ping(ctx, p.h, id)
	return !ok || r.Error != nil
}

// refuseProber models node's real probe, a TCP dial of the peer's own
// address that the peer's kernel refuses once its process is gone: it
// answers, after one round trip, whether the peer's endpoint is dead, and
// opens no libp2p connection (the real probe leaves none either, so probes
// do not change the topology the simulation measures). A peer the
// simulation does not know proves nothing.
type refuseProber struct {
	dead map[peer.ID]*atomic.Bool // the endpoints' dead flags, by peer; read-only once running
	rtt  time.Duration
}

func (p refuseProber) Gone(ctx context.Context, pi orgs.PeerInfo) bool {
	id, err := peer.Decode(pi.PeerID)
	if err != nil {
		return false
	}
	dead, ok := p.dead[id]
	if !ok {
		return false
	}
	t := time.NewTimer(p.rtt)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return dead.Load()
	}
}
