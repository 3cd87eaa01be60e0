package node

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// inFlight drops a copy of a message while an earlier copy of it waits in
// GossipSub's validation queue or is being validated. GossipSub marks a
// message seen only once its signature has been checked, so every copy that
// arrives meanwhile is queued and its signature checked again: each message
// reaches a node 1.5-2 times, and when the node is short of CPU (50 nodes
// starting on 2 cores) its queue fills with copies, overflows and drops
// messages, and it suspects peers whose heartbeats were dropped.
//
// Copies are known by their signature, not their message ID: a forged
// message carrying another message's ID cannot hold back the real one. A
// first copy that was never validated (the queue was full) is forgotten,
// so that a later copy gets its chance.
type inFlight struct {
	mu      sync.Mutex
	first   map[string]time.Time // signature -> when its first copy arrived
	max     int
	ttl     time.Duration
	dropped func() // counts a dropped copy
}

// inFlightTTL is how long a first copy holds back later ones: longer than
// a message waits for validation, far shorter than GossipSub's seen cache
// (2 min), which drops later copies once the first is validated.
const inFlightTTL = 10 * time.Second

// inFlightMax bounds the table: 50 nodes starting hear about 50 messages
// a second each, 500 within the TTL.
const inFlightMax = 4096

func newInFlight(max int, dropped func()) *inFlight {
	return &inFlight{first: map[string]time.Time{}, max: max, ttl: inFlightTTL, dropped: dropped}
}

// inspect is a GossipSub RPC inspector: it removes from rpc the messages
// whose earlier copy is in flight. It never rejects the RPC.
func (f *inFlight) inspect(_ peer.ID, rpc *pubsub.RPC) error {
	if len(rpc.Publish) == 0 {
		return nil
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := rpc.Publish[:0]
	for _, m := range rpc.Publish {
		sig := m.GetSignature()
		if len(sig) == 0 { // GossipSub rejects it unsigned
			kept = append(kept, m)
			continue
		}
		if at, ok := f.first[string(sig)]; ok && now.Sub(at) < f.ttl {
			f.dropped()
			continue
		}
		if len(f.first) >= f.max {
			f.sweep(now)
		}
		f.first[string(sig)] = now
		kept = append(kept, m)
	}
	clear(rpc.Publish[len(kept):])
	rpc.Publish = kept
	return nil
}

// sweep forgets the expired entries, or all of them if none has expired:
// a full table then costs some duplicate checks, never a message.
func (f *inFlight) sweep(now time.Time) {
	for k, at := range f.first {
		if now.Sub(at) >= f.ttl {
			delete(f.first, k)
		}
	}
	if len(f.first) >= f.max {
		clear(f.first)
	}
}

// forget lets the next copy of m through: its first copy was dropped
// without being validated.
func (f *inFlight) forget(m *pubsub.Message) {
	if sig := m.GetSignature(); len(sig) > 0 {
		f.mu.Lock()
		delete(f.first, string(sig))
		f.mu.Unlock()
	}
}
