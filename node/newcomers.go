package node

import (
	"context"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/discovery"
)

// greetDelay is how long after a neighbour subscribes to a topic the node
// greets it: long enough for the newcomer's first GossipSub heartbeat to
// have grafted it into the topic's mesh, so that the greeting reaches it.
// greetSpacing is the least time between two greetings: when a whole
// cluster starts at once, every node sees a dozen joins in a second or two,
// and every greeting reaches every node.
const (
	greetDelay   = 300 * time.Millisecond
	greetSpacing = time.Second
)

// greetNewcomers calls greet shortly after a neighbour joins topic t for
// the first time, or when answerWant asks on p.greetAsk (a peer heard
// far away wants heartbeats): the node sends a heartbeat when someone joins its
// organization's topic, so that a starting node counts the members in a
// fraction of a second rather than at everyone's next heartbeat. Joins
// within greetSpacing of a greeting get one more greeting after it. A
// neighbour that reconnects is not greeted again: under load connections
// come and go, and greetings would add to the load. It returns when ctx
// ends.
func (p *presence) greetNewcomers(ctx context.Context, t *pubsub.Topic, greet func(context.Context)) {
	h, err := t.EventHandler()
	if err != nil {
		p.n.log.Warn("topic events", "err", err)
		return
	}
	defer h.Cancel()
	joined := p.greetAsk
	seen := map[peer.ID]bool{} // owned by the event goroutine
	done := make(chan struct{})
	go func() { // owned by greetNewcomers, which waits for it: ends with ctx
		defer close(done)
		for {
			ev, err := h.NextPeerEvent(ctx)
			if err != nil {
				return
			}
			if ev.Type != pubsub.PeerJoin || seen[ev.Peer] {
				continue // a reconnecting neighbour was greeted before
			}
			if len(seen) >= p.n.cfg.MaxKnownPeers {
				clear(seen)
			}
			seen[ev.Peer] = true
			select {
			case joined <- struct{}{}:
			default:
			}
		}
	}()
	defer func() { <-done }()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-joined:
		}
		wait := max(greetDelay, time.Until(last.Add(greetSpacing)))
		if !discovery.Sleep(ctx, wait) {
			return
		}
		select { // joins during the wait are answered by this greeting
		case <-joined:
		default:
		}
		greet(ctx)
		last = time.Now()
	}
}
