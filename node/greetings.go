package node

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// greetDelay is how long after a peer's Want the node greets: the wants of
// peers starting together are answered by one greeting. greetSpacing is
// the least time between two greetings: every greeting reaches every node
// of the topic.
const (
	greetDelay   = 300 * time.Millisecond
	greetSpacing = time.Second
)

// wants answers the peers that say Want in their heartbeats: a peer that
// starts, or that heard of a credential it lacks. Each gets the node's next
// heartbeat in full, and a greeting (a full heartbeat) soon.
type wants struct {
	spacing  time.Duration // a peer's wants are answered once per spacing at most
	max      int           // peers remembered in answered
	greet    func(context.Context)
	fullNext func() // makes the next regular heartbeat full

	mu       sync.Mutex
	answered map[peer.ID]time.Time // under mu
	ask      chan struct{}         // a greeting is due: run sends it
}

func newWants(spacing time.Duration, max int, greet func(context.Context), fullNext func()) *wants {
	return &wants{spacing: spacing, max: max, greet: greet, fullNext: fullNext,
		answered: map[peer.ID]time.Time{}, ask: make(chan struct{}, 1)}
}

// answer makes the next heartbeat full for a peer that lacks credentials,
// and asks run to greet, unless this node answered that peer within the
// last spacing: a peer that wants in every heartbeat (one that hears a
// credential nobody sends) cannot make every heartbeat full.
func (w *wants) answer(from peer.ID) {
	now := time.Now()
	w.mu.Lock()
	last, ok := w.answered[from]
	if ok && now.Sub(last) < w.spacing {
		w.mu.Unlock()
		return
	}
	if len(w.answered) >= w.max {
		clear(w.answered)
	}
	w.answered[from] = now
	w.mu.Unlock()
	w.fullNext()
	select { // greet soon rather than at the next heartbeat
	case w.ask <- struct{}{}:
	default:
	}
}

// run sends a greeting soon after answer asks: the greeting lets a wanting
// peer count this node, verified, before the next heartbeat. Wants within
// greetSpacing of a greeting get one more greeting after it. It returns
// when ctx ends.
//
// Neighbours that join need no greeting: they had this node's hello when
// they connected. (Before hellos, the node also greeted every neighbour
// that joined its topic. At N = 50 that made 15 of the 26 heartbeats a
// node sent in its first 20 s, GossipSub's validation queues overflowed,
// 374 messages per node were dropped and nodes suspected each other;
// without those greetings: 16 heartbeats, 127 drops, converged in 17 s
// instead of 31 s.)
func (w *wants) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.ask:
		}
		wait := time.NewTimer(max(greetDelay, time.Until(last.Add(greetSpacing))))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		select { // wants during the wait are answered by this greeting
		case <-w.ask:
		default:
		}
		w.greet(ctx)
		last = time.Now()
	}
}
