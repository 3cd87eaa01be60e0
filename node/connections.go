package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
)

// watchConnections keeps the view's connected flags in step with the
// network. Connectedness events may repeat or skip transitions, so each one
// only prompts a fresh reading of the network; the heartbeat tick re-reads
// every peer as well.
func (n *Node) watchConnections(ctx context.Context) {
	sub, err := n.host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged), eventbus.Name("orgpeer-connections"))
	if err != nil {
		n.log.Error("subscribe to connection events", "err", err)
		return
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			n.view.SetConnected(ev.Peer.String(), n.isConnected(ev.Peer.String()))
		}
	}
}
