package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/orgpeer/orgpeer/orgs"
)

// watchConnections keeps the view's connected flags in step with the
// network. Connectedness events may repeat or skip transitions, so each one
// only prompts a fresh reading of the network; the heartbeat tick re-reads
// every peer as well. A peer left with no connection at all is probed at
// once (hints.go) when probes are on and the view counts it alive.
func (n *Node) watchConnections(ctx context.Context) {
	err := watchEvents(ctx, n.host, "orgpeer-connections", func(ev event.EvtPeerConnectednessChanged) {
		id := ev.Peer.String()
		connected := isConnected(n.host, id)
		n.view.SetConnected(id, connected)
		if n.cfg.ProbeAfter > 0 && n.host.Network().Connectedness(ev.Peer) == network.NotConnected {
			if p, ok := n.view.Get(id); ok && p.State == orgs.StateAlive {
				n.hints.offer(hint{peer: id}, "lost")
			}
		}
	})
	if err != nil {
		n.log.Error("subscribe to connection events", "err", err)
	}
}

// watchEvents calls f with each event of type E on h's event bus, under the
// subscription name, until ctx ends; it returns at once when it cannot
// subscribe. f runs on the caller's goroutine and must not block: the event
// bus waits for a full subscription, and the emitter (identify, the swarm)
// with it.
func watchEvents[E any](ctx context.Context, h host.Host, name string, f func(E)) error {
	sub, err := h.EventBus().Subscribe(new(E), eventbus.Name(name))
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.Out():
			if !ok {
				return nil
			}
			f(e.(E))
		}
	}
}
