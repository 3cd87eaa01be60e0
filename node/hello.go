package node

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
)

// Hellos: on wire.HelloProtocol two nodes that have just connected tell
// each other their own heartbeat, as Serf's members push their state to the
// member they join. Neighbours then count each other as soon as the
// connection is up, instead of waiting for the GossipSub mesh, which grafts
// only at its heartbeats (the first 0.7 s after start): in a cluster
// starting together most pairs are neighbours for a while.
//
// A hello is a full heartbeat (credential and addresses); a leaving node
// sends its leave the same way (a goodbye, not answered). It carries no
// signature: the stream's secure channel proves who sent it. Only a node's
// own state travels; another peer's would be hearsay. The receiver judges
// it as it judges a heartbeat from the topic (credential, version, rate)
// and counts the verdict in orgpeer_messages_total.
const (
	helloTimeout  = 5 * time.Second // bound on one exchange
	helloParallel = 8               // exchanges one node runs at once
)

// hellos exchanges hellos and says goodbyes on wire.HelloProtocol.
type hellos struct {
	host     host.Host
	interval time.Duration // a peer gets at most one hello per interval
	maxKnown int           // peers remembered in the hello loop
	maxSize  int           // a longer hello is rejected
	beats    *heartbeats   // the node's own hello
	valid    *validator
	follows  func(org string) bool
	recv     *receiver
	metrics  *nodeMetrics
	log      *slog.Logger
}

// run exchanges hellos with every peer that identify reports speaking
// wire.HelloProtocol, once per connection and at most once per heartbeat
// interval per peer: the peer with the lower ID opens the stream, the other
// answers in handle. It returns when ctx ends and its exchanges have.
func (hl *hellos) run(ctx context.Context) {
	exchanges := newPool(helloParallel)
	defer exchanges.wait()
	last := map[peer.ID]time.Time{} // owned by this loop
	err := watchEvents(ctx, hl.host, "orgpeer-hello", func(ev event.EvtPeerIdentificationCompleted) {
		if ev.Peer >= hl.host.ID() || !slices.Contains(ev.Protocols, wire.HelloProtocol) ||
			time.Since(last[ev.Peer]) < hl.interval {
			return
		}
		if len(last) >= hl.maxKnown {
			clear(last)
		}
		// Never wait for a slot here (see watchEvents). Without a free
		// slot the peer gets no hello; the topic still carries heartbeats.
		if exchanges.try(func() { hl.say(ctx, ev.Peer) }) {
			last[ev.Peer] = time.Now()
		}
	})
	if err != nil {
		hl.log.Warn("no hellos: cannot watch identifications", "err", err)
	}
}

// stream opens a hello stream to peer, bounded by helloTimeout, and
// hands it to f; the stream is closed after f. A relayed (limited)
// connection carries it when there is no direct one: hellos are small,
// well within a circuit relay's limits.
func (hl *hellos) stream(ctx context.Context, to peer.ID, f func(network.Stream)) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	ctx = network.WithAllowLimitedConn(ctx, "orgpeer-hello")
	s, err := hl.host.NewStream(ctx, to, wire.HelloProtocol)
	if err != nil {
		return // the connection went away; the topic still carries heartbeats
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(helloTimeout))
	f(s)
}

// Relayed peers: a peer reached only through a circuit relay, until a hole
// punch gives a direct connection, shares no GossipSub mesh with this node
// (GossipSub ignores limited connections), and a relay may follow none of
// their organizations. So while a connection to a peer is limited, the
// node with the lower ID exchanges hellos with it every heartbeat interval:
// each side counts the other from them as from heartbeats. About 1 kB an
// interval, well under a relay's default 128 kB per 2 minutes; when a relay
// ends the connection, the peer with the lower ID dials again at once.
// go-libp2p tries a hole punch once per relayed connection; the side that
// dialled the relayed connection dials it anew after rePunchFirst
// intervals, then twice as long each time up to rePunchMax, so that a punch
// that failed (a NAT mapping not yet there, a lost packet) is tried again.
const (
	rePunchFirst = 5  // heartbeat intervals before a relayed connection is dialled anew
	rePunchMax   = 60 // longest wait between two, in heartbeat intervals
)

// relayed exchanges hellos with the peers this node reaches only through
// a relay, and dials relayed connections anew, until ctx ends.
func (hl *hellos) relayed(ctx context.Context) {
	exchanges := newPool(helloParallel)
	defer exchanges.wait()
	type relayedPeer struct{ ticks, redialAt, wait int }
	relayed := map[peer.ID]*relayedPeer{}
	t := time.NewTicker(hl.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		peers := hl.host.Network().Peers()
		for id := range relayed {
			switch hl.host.Network().Connectedness(id) {
			case network.Limited:
				continue
			case network.NotConnected:
				// A relay ended the connection (at its limit, say): the
				// peer with the lower ID dials again at once.
				if id > hl.host.ID() {
					exchanges.try(func() { hl.connect(ctx, id) })
				}
			}
			delete(relayed, id)
		}
		for _, id := range peers {
			if hl.host.Network().Connectedness(id) != network.Limited {
				continue
			}
			rp, ok := relayed[id]
			if !ok {
				if len(relayed) >= hl.maxKnown {
					continue
				}
				rp = &relayedPeer{redialAt: rePunchFirst, wait: rePunchFirst}
				relayed[id] = rp
			}
			rp.ticks++
			if rp.ticks >= rp.redialAt {
				rp.wait = min(2*rp.wait, rePunchMax)
				rp.redialAt = rp.ticks + rp.wait
				exchanges.try(func() { hl.redial(ctx, id) })
				continue
			}
			if id < hl.host.ID() {
				continue // the peer with the lower ID says hello
			}
			if ok, err := hl.host.Peerstore().SupportsProtocols(id, wire.HelloProtocol); err == nil && len(ok) > 0 {
				exchanges.try(func() { hl.say(ctx, id) })
			}
		}
	}
}

// redial closes the relayed connections this node dialled to peer and
// dials it again, through a relay unless a direct address works now: the
// peer then sees a new relayed connection and starts a hole punch.
func (hl *hellos) redial(ctx context.Context, to peer.ID) {
	closed := false
	for _, c := range hl.host.Network().ConnsToPeer(to) {
		if c.Stat().Limited && c.Stat().Direction == network.DirOutbound {
			c.Close()
			closed = true
		}
	}
	if closed { // else the peer dialled: its turn
		hl.connect(ctx, to)
	}
}

// connect dials peer at the addresses the peerstore has for it (its
// relayed ones included), bounded by helloTimeout.
func (hl *hellos) connect(ctx context.Context, to peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	if err := hl.host.Connect(ctx, peer.AddrInfo{ID: to}); err != nil {
		hl.log.Debug("relayed peer unreachable", "peer", to, "err", err)
	}
}

// say opens a hello stream to peer: it sends this node's hello and
// takes the peer's answer. It returns the answer's kind when accepted (""
// otherwise).
func (hl *hellos) say(ctx context.Context, to peer.ID) (kind string) {
	hl.stream(ctx, to, func(s network.Stream) {
		if !hl.write(s) {
			s.Reset()
			return
		}
		s.CloseWrite()
		if data, ok := hl.read(s); ok {
			kind = hl.receive(to, data)
		}
	})
	return kind
}

// handle answers a peer's hello stream with this node's own; a
// goodbye (the peer's leave) gets no answer.
func (hl *hellos) handle(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(helloTimeout))
	data, ok := hl.read(s)
	if !ok {
		s.Reset()
		return
	}
	if hl.receive(s.Conn().RemotePeer(), data) != wire.KindHeartbeat || !hl.write(s) {
		s.Reset()
	}
}

// goodbye sends this node's leave on a hello stream to every connected
// peer that speaks wire.HelloProtocol, at most helloParallel at once, until
// ctx ends. Neighbours that counted this node from a hello alone may not yet
// share a GossipSub mesh with it, and would miss a leave that only travels
// on the topic: they would see a failure.
func (hl *hellos) goodbye(ctx context.Context, leave []byte) {
	goodbyes := newPool(helloParallel)
	defer goodbyes.wait()
	for _, to := range hl.host.Network().Peers() {
		if ok, err := hl.host.Peerstore().SupportsProtocols(to, wire.HelloProtocol); err != nil || len(ok) == 0 {
			continue
		}
		if !goodbyes.run(ctx, func() {
			hl.stream(ctx, to, func(s network.Stream) {
				if _, err := s.Write(leave); err != nil {
					s.Reset()
				}
			})
		}) {
			return
		}
	}
}

// write writes this node's hello and reports whether it did: a node
// that has announced its leave says nothing more.
func (hl *hellos) write(w io.Writer) bool {
	m := hl.beats.hello()
	if m == nil {
		return false
	}
	if _, err := w.Write(m.Encode()); err != nil {
		return false
	}
	hl.metrics.sent.WithLabelValues(kindHello).Inc()
	return true
}

// read reads one hello up to the end of the stream; a longer one than
// MaxMessageSize is rejected as oversized by receive.
func (hl *hellos) read(r io.Reader) ([]byte, bool) {
	data, err := io.ReadAll(io.LimitReader(r, int64(hl.maxSize)+1))
	return data, err == nil && len(data) > 0
}

// kindHello labels hellos in orgpeer_messages_sent_total.
const kindHello = "hello"

// receive judges a hello (a heartbeat) or a goodbye (a leave) from a
// neighbour, applies it as heard directly from it, and returns its kind
// when accepted ("" otherwise).
func (hl *hellos) receive(from peer.ID, data []byte) string {
	r, res, reason := hl.valid.judge(from, from, data, func(r *received) (pubsub.ValidationResult, string) {
		switch {
		case r.Kind != wire.KindHeartbeat && r.Kind != wire.KindLeave:
			return pubsub.ValidationReject, "wrong-kind"
		case !hl.follows(r.Org):
			return pubsub.ValidationIgnore, "not-followed"
		case r.Kind == wire.KindLeave:
			return hl.valid.checkLeave(r)
		}
		return hl.valid.checkHeartbeat(r)
	})
	hl.valid.verdict(from, res, reason)
	if res != pubsub.ValidationAccept {
		return ""
	}
	if r.Kind == wire.KindLeave {
		hl.recv.leave(r, from, true)
	} else {
		hl.recv.heartbeat(r, from, true)
	}
	return r.Kind
}
