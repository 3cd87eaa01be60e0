package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/event"

	"github.com/orgpeer/orgpeer/discovery"
)

// watchConnections keeps the view's connected flags in step with the
// network. Connectedness events may repeat or skip transitions, so each one
// only prompts a fresh reading of the network; the heartbeat tick re-reads
// every peer as well.
func (n *Node) watchConnections(ctx context.Context) {
	err := discovery.WatchConnectedness(ctx, n.host, "orgpeer-connections", func(ev event.EvtPeerConnectednessChanged) {
		n.view.SetConnected(ev.Peer.String(), isConnected(n.host, ev.Peer.String()))
	})
	if err != nil {
		n.log.Error("subscribe to connection events", "err", err)
	}
}
