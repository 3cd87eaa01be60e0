package node

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// Probe hints: a crashed process's TCP connections close at once (kill -9:
// its kernel resets them), well before its heartbeat is ProbeAfter late. So
// when the node's last connection to a peer it counts alive closes, it
// probes that peer at once, with the same Prober as the probe loop; and
// when a probe of either kind finds a peer gone and makes it suspect, the
// node tells its neighbours on wire.ProbeHintProtocol, and they probe it
// at once in turn. A hint is a reason to look, never evidence: a peer turns
// suspect only on the node's own proof of absence, and a peer whose
// connection closed for another reason (a graceful close, a connection
// manager's trim, a QUIC connection that lingers ~30 s after a crash and is
// never relied on) still listens, the probe proves nothing and the peer
// stays alive.
//
// Bounds: a node probes a peer on a hint at most once per heartbeat heard
// from it (its LastSeen), and after a probe that proved nothing it takes no
// hint about that peer for hintQuiet; it tells its neighbours only on its
// own alive-to-suspect transition, so each node sends at most one hint per
// neighbour and crash; a neighbour's hints are rate-limited
// (hintRate, hintBurst); the probes share the probe loop's slots.
const (
	hintQueue     = 64                     // hints waiting for the probe loop; more are dropped (counted)
	hintRetry     = 250 * time.Millisecond // a lost connection's probe that proved nothing is tried once more after this
	hintQuiet     = 5 * time.Second        // after a probe that proved nothing, hints about that peer are ignored this long
	hintTimeout   = time.Second            // bound on telling one neighbour
	hintParallel  = 8                      // neighbours told at once
	hintRate      = 4                      // hints per second one neighbour may send
	hintBurst     = 16                     //
	hintMaxLength = 128                    // bytes of a hint: a peer ID's binary form
)

// hint asks the probe loop to probe peer now. via is the neighbour that
// told of it ("" for a closed connection); it is not told back.
type hint struct {
	peer string
	via  peer.ID
}

// hints receives and sends probe hints. lost and handle may be called
// concurrently; the probe loop reads queue.
type hints struct {
	self    peer.ID
	queue   chan hint
	limiter *senderLimiter // per neighbour
	metrics *prometheus.CounterVec
}

func newHints(self peer.ID, maxPeers int, metrics *prometheus.CounterVec) *hints {
	return &hints{self: self, queue: make(chan hint, hintQueue),
		limiter: newSenderLimiter(hintRate, hintBurst, 4*maxPeers), metrics: metrics}
}

// offer queues a hint for the probe loop without waiting (the event bus and
// stream handlers must not block): a full queue drops it.
func (h *hints) offer(hn hint, event string) {
	select {
	case h.queue <- hn:
		h.metrics.WithLabelValues(event).Inc()
	default:
		h.metrics.WithLabelValues("dropped").Inc()
	}
}

// handle reads a neighbour's hint: the binary peer ID of a peer it found
// gone. Bad input is counted and dropped.
func (h *hints) handle(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	s.SetDeadline(time.Now().Add(hintTimeout))
	data, err := io.ReadAll(io.LimitReader(s, hintMaxLength+1))
	if err != nil || len(data) > hintMaxLength {
		s.Reset()
		h.metrics.WithLabelValues("rejected").Inc()
		return
	}
	id, err := peer.IDFromBytes(data)
	switch {
	case err != nil:
		h.metrics.WithLabelValues("rejected").Inc()
	case !h.limiter.allow(from):
		h.metrics.WithLabelValues("rate-limited").Inc()
	case id == from || id == h.self:
		h.metrics.WithLabelValues("ignored").Inc()
	default:
		h.offer(hint{peer: id.String(), via: from}, "received")
	}
}

// hintProbes remembers which peer was probed on a hint for which
// LastSeen, and which proved nothing lately; the probe loop and its probes
// share it.
type hintProbes struct {
	max   int
	mu    sync.Mutex
	done  map[string]time.Time // peer → the LastSeen a hint probe was started for
	quiet map[string]time.Time // peer → until when hints about it are ignored
}

func newHintProbes(max int) *hintProbes {
	return &hintProbes{done: map[string]time.Time{}, quiet: map[string]time.Time{}, max: max}
}

// take reports whether a hint about p may be probed now, and notes it: not
// twice for one LastSeen, nor while p is quiet.
func (hp *hintProbes) take(p orgs.PeerInfo, now time.Time) bool {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if until, ok := hp.quiet[p.PeerID]; ok && now.Before(until) {
		return false
	}
	if seen, ok := hp.done[p.PeerID]; ok && seen.Equal(p.LastSeen) {
		return false
	}
	if len(hp.done) >= hp.max {
		clear(hp.done)
	}
	delete(hp.quiet, p.PeerID)
	hp.done[p.PeerID] = p.LastSeen
	return true
}

// untake forgets take's note: the probe could not start.
func (hp *hintProbes) untake(p orgs.PeerInfo) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	delete(hp.done, p.PeerID)
}

// quietFor ignores hints about peer until until: a probe proved nothing.
func (hp *hintProbes) quietFor(peerID string, until time.Time) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if len(hp.quiet) >= hp.max {
		clear(hp.quiet)
	}
	hp.quiet[peerID] = until
}

// tell sends a hint about gone, a peer this node has just found gone, to
// every neighbour that speaks wire.ProbeHintProtocol but gone and except,
// on at most hintParallel streams at once; a neighbour is skipped when
// every slot is busy. It returns at once; tells owns the streams.
func (n *Node) tell(ctx context.Context, tells *pool, gone string, except peer.ID) {
	id, err := peer.Decode(gone)
	if err != nil {
		return
	}
	payload := []byte(id)
	for _, to := range n.host.Network().Peers() {
		if to == id || to == except {
			continue
		}
		if ok, err := n.host.Peerstore().SupportsProtocols(to, wire.ProbeHintProtocol); err != nil || len(ok) == 0 {
			continue
		}
		tells.try(func() {
			sctx, cancel := context.WithTimeout(ctx, hintTimeout)
			defer cancel()
			s, err := n.host.NewStream(sctx, to, wire.ProbeHintProtocol)
			if err != nil {
				return
			}
			s.SetDeadline(time.Now().Add(hintTimeout))
			if _, err := s.Write(payload); err != nil {
				s.Reset()
				return
			}
			s.Close()
			n.hints.metrics.WithLabelValues("sent").Inc()
		})
	}
}
