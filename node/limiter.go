package node

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// senderLimiter keeps one token bucket per message author, so that one
// flooding peer cannot push its messages through a node's validators.
// It remembers at most max senders; past that it starts afresh.
type senderLimiter struct {
	rate  rate.Limit
	burst int
	max   int
	mu    sync.Mutex
	per   map[peer.ID]*rate.Limiter
}

func newSenderLimiter(perSecond float64, burst, max int) *senderLimiter {
	return &senderLimiter{rate: rate.Limit(perSecond), burst: burst, max: max, per: map[peer.ID]*rate.Limiter{}}
}

func (l *senderLimiter) allow(p peer.ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.per[p]
	if !ok {
		if len(l.per) >= l.max {
			clear(l.per)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.per[p] = lim
	}
	return lim.Allow()
}

// newRelayBudget is a limiter of n new unverified peers per minute for
// each relaying neighbour (nil for n = 0: no bound); it remembers four
// times the neighbours a node keeps.
func newRelayBudget(n, maxPeers int) *senderLimiter {
	if n == 0 {
		return nil
	}
	return newSenderLimiter(float64(n)/60, n, 4*maxPeers)
}
