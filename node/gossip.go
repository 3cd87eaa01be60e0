package node

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
)

// Queue sizes for pubsub. GossipSub's defaults (32 each) drop messages
// when a node joins: subscriptions, grafts, greetings and gossip replies
// arrive in bursts while its peers are busy starting too, and a dropped
// heartbeat costs a whole heartbeat interval of convergence.
const (
	validateQueue = 256 // messages waiting for their validators
	peerQueue     = 256 // messages waiting to be sent to one peer
)

// gossipLazyPeers is how many non-mesh peers get IHAVE gossip per topic
// and GossipSub heartbeat when the mesh is tuned.
const gossipLazyPeers = 1

// gossipHistory is for how many GossipSub heartbeats a message is offered
// in IHAVE gossip, and gossipPruneBackoff how long a peer refused a place
// in a mesh waits before it asks that peer again (GossipSub: 3 and 1 min).
// A node whose mesh grafts were all refused hears a topic only through
// gossip until its backoffs end; a one-shot message, a leave, reaches it
// only if some neighbour offers it in time.
const (
	gossipHistory      = 3
	gossipPruneBackoff = 10 * time.Second
)

// gossipFirstHeartbeat is when GossipSub's first heartbeat (mesh upkeep)
// runs: its default, 100 ms, comes before a starting node has found any
// peer but its bootstrap peer. A starting node grafts only at heartbeats,
// so one that has not yet learned its neighbours' subscriptions at the
// first hears nothing until the next, a second later. At 700 ms rather than
// 500 ms fewer nodes are caught so: N = 20 converged faster in five
// interleaved runs of five (median 2.28 s against 2.96 s on a slow
// evening); a restarted node grafts 0.2 s later. (A 500 ms or 700 ms
// heartbeat throughout converged faster too, but N = 50 runs then lost a
// peer's leave.)
const gossipFirstHeartbeat = 700 * time.Millisecond

// gossipOptions configures GossipSub. With cfg.MeshDegree set it is tuned
// for presence: many small periodic messages, each superseding the sender's
// previous one, and reaching every node (every node follows every
// organization). What a node pays per message is the copies it receives.
//
//   - No flood publishing: a publisher sends to its mesh peers only, not to
//     every connected subscriber.
//   - A small mesh: D = MeshDegree, Dlo = D-1. Each message reaches a node
//     about D-1 times. Dhi = 2D: a node whose mesh is full refuses a graft
//     from a peer that dialled it, which then waits gossipPruneBackoff.
//     With Dhi = D+1 the first N = 50 run of each of three benchmark
//     batches failed (three standalone runs passed): a node heard nothing
//     from one peer for seconds, missed its leave and forgot it 30 s later;
//     refused grafts leaving it without mesh peers on that topic are the
//     likely cause.
//     With 2D, six runs of six passed.
//   - IHAVE gossip to one peer per topic and heartbeat, of the messages of
//     the last gossipHistory heartbeats: it bridges the mesh's gaps while
//     nodes join, and it is how a node left out of a mesh still hears a
//     one-shot leave.
func gossipOptions(cfg *Config) []pubsub.Option {
	opts := []pubsub.Option{
		pubsub.WithValidateQueueSize(validateQueue),
		pubsub.WithPeerOutboundQueueSize(peerQueue),
	}
	if cfg.MeshDegree == 0 {
		return opts
	}
	p := pubsub.DefaultGossipSubParams()
	p.D = cfg.MeshDegree
	p.Dlo = cfg.MeshDegree - 1
	p.Dhi = 2 * cfg.MeshDegree
	p.Dscore = min(p.Dscore, p.Dlo)
	p.Dout = max(min(p.Dlo-1, p.D/2-1), 0) // GossipSub requires Dout < Dlo and Dout < D/2
	p.HistoryGossip = gossipHistory
	p.PruneBackoff = gossipPruneBackoff
	p.HeartbeatInitialDelay = gossipFirstHeartbeat
	p.Dlazy = gossipLazyPeers
	p.GossipFactor = 0
	return append(opts, pubsub.WithGossipSubParams(p), pubsub.WithFloodPublish(false),
		pubsub.WithMessageIdFn(shortMsgID))
}

// GossipOptions are the GossipSub options of a node configured by cfg
// (gossipOptions), for `orgpeer bench --host-floor` (node/hostfloor): the
// floor under a node is measured with the node's own settings, not a copy.
func GossipOptions(cfg Config) []pubsub.Option { return gossipOptions(&cfg) }

// shortMsgID identifies a message by the low 4 bytes of its sequence
// number and the last 8 bytes of its author's peer ID (the end of its
// public key): 12 bytes instead of GossipSub's 46, and IHAVE gossip is
// mostly message IDs. GossipSub's sequence numbers count up from the
// publisher's start time in nanoseconds, so the low 4 bytes repeat only
// after 2^32 messages of one publisher; 8 bytes of key cost an attacker
// 2^64 tries to collide with another peer's IDs.
func shortMsgID(m *pb.Message) string {
	from, seq := m.GetFrom(), m.GetSeqno()
	return string(seq[max(len(seq)-4, 0):]) + string(from[max(len(from)-8, 0):])
}
