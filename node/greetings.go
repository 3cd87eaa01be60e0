package node

import (
	"context"
	"time"

	"github.com/orgpeer/orgpeer/discovery"
)

// greetDelay is how long after a peer's Want the node greets: the wants of
// peers starting together are answered by one greeting. greetSpacing is
// the least time between two greetings: every greeting reaches every node
// of the topic.
const (
	greetDelay   = 300 * time.Millisecond
	greetSpacing = time.Second
)

// answerWants sends a full heartbeat, a greeting, soon after answerWant
// asks on p.greetAsk: a peer that starts, or that heard of a credential it
// lacks, says Want in its heartbeats, and the greeting lets it count this
// node, verified, before the next heartbeat. Wants within greetSpacing of a
// greeting get one more greeting after it. It returns when ctx ends.
//
// Neighbours that join need no greeting: they had this node's hello when
// they connected. (Before hellos, the node also greeted every neighbour
// that joined its topic. At N = 50 that made 15 of the 26 heartbeats a
// node sent in its first 20 s, GossipSub's validation queues overflowed,
// 374 messages per node were dropped and nodes suspected each other;
// without those greetings: 16 heartbeats, 127 drops, converged in 17 s
// instead of 31 s.)
func (p *presence) answerWants(ctx context.Context, greet func(context.Context)) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.greetAsk:
		}
		wait := max(greetDelay, time.Until(last.Add(greetSpacing)))
		if !discovery.Sleep(ctx, wait) {
			return
		}
		select { // wants during the wait are answered by this greeting
		case <-p.greetAsk:
		default:
		}
		greet(ctx)
		last = time.Now()
	}
}
