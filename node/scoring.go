package node

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// GossipSub v1.1 peer scoring. Two things lower a peer's score:
//   - messages orgpeer's validators reject (P4, invalid deliveries): an
//     honest peer validates before it forwards, so only a liar sends them;
//   - flooding (the application-specific score): messages the peer
//     authored itself beyond its rate limit, and heartbeats of new
//     unverified peers it relayed beyond its budget (minted peers cost
//     nothing; the relay is who brings them).
//
// IP colocation (P6) is off: many honest peers share one host by design.
const (
	gossipThreshold   = -100
	publishThreshold  = -200
	graylistThreshold = -400
	floodStrike       = -20 // application score per message beyond a sender's rate or a relay's budget
)

func peerScoreParams(flood *floodScore) *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		SkipAtomicValidation: true,
		Topics:               map[string]*pubsub.TopicScoreParams{},
		AppSpecificScore:     flood.score,
		AppSpecificWeight:    1,
		DecayInterval:        time.Second,
		DecayToZero:          0.01,
		RetainScore:          10 * time.Minute,
	}
}

func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		SkipAtomicValidation: true,
		GossipThreshold:      gossipThreshold,
		PublishThreshold:     publishThreshold,
		GraylistThreshold:    graylistThreshold,
		AcceptPXThreshold:    10,
	}
}

// topicScoreParams weighs invalid messages on every orgpeer topic; the
// penalty halves every few seconds, so an honest peer that once forwarded a
// message that expired in flight recovers at once.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation:           true,
		TopicWeight:                    1,
		TimeInMeshQuantum:              time.Second, // P1 is off (weight 0), but GossipSub divides by it
		InvalidMessageDeliveriesWeight: -1,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Second),
	}
}

// floodScore is the application-specific score: strikes for messages
// beyond a sender's rate or a relay's budget, decaying by half every
// halfLife.
type floodScore struct {
	halfLife time.Duration
	mu       sync.Mutex
	strikes  map[peer.ID]decaying
	// graylisted is the number of peers under the graylist threshold at the
	// last score inspection.
	graylisted atomic.Int64
}

type decaying struct {
	v  float64
	at time.Time
}

func newFloodScore() *floodScore {
	return &floodScore{halfLife: 2 * time.Minute, strikes: map[peer.ID]decaying{}}
}

func (f *floodScore) strike(p peer.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	d := f.strikes[p]
	if len(f.strikes) > 10000 {
		clear(f.strikes)
	}
	f.strikes[p] = decaying{v: f.decayed(d, now) + 1, at: now}
}

func (f *floodScore) decayed(d decaying, now time.Time) float64 {
	return d.v * math.Exp2(-float64(now.Sub(d.at))/float64(f.halfLife))
}

func (f *floodScore) score(p peer.ID) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.strikes[p]
	if !ok {
		return 0
	}
	return floodStrike * f.decayed(d, time.Now())
}

// inspect receives every peer's score from GossipSub periodically.
func (f *floodScore) inspect(scores map[peer.ID]float64) {
	var n int64
	for _, s := range scores {
		if s < graylistThreshold {
			n++
		}
	}
	f.graylisted.Store(n)
}
