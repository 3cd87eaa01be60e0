package node

import (
	"context"
	"io"
	"slices"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
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

// helloNeighbours exchanges hellos with every peer that identify reports
// speaking wire.HelloProtocol, once per connection and at most once per
// heartbeat interval per peer: the peer with the lower ID opens the stream,
// the other answers in handleHello. It returns when ctx ends and its
// exchanges have.
func (p *presence) helloNeighbours(ctx context.Context) {
	sub, err := p.n.host.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted), eventbus.Name("orgpeer-hello"))
	if err != nil {
		p.n.log.Warn("no hellos: cannot watch identifications", "err", err)
		return
	}
	defer sub.Close()
	exchanges := newPool(helloParallel)
	defer exchanges.wait()
	last := map[peer.ID]time.Time{} // owned by this loop
	for {
		var ev event.EvtPeerIdentificationCompleted
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			ev = e.(event.EvtPeerIdentificationCompleted)
		}
		if ev.Peer >= p.n.host.ID() || !slices.Contains(ev.Protocols, wire.HelloProtocol) ||
			time.Since(last[ev.Peer]) < p.n.cfg.HeartbeatInterval {
			continue
		}
		if len(last) >= p.n.cfg.MaxKnownPeers {
			clear(last)
		}
		// Never wait for a slot here: the event bus waits for a full
		// subscription, and identify with it. Without a free slot the
		// peer gets no hello; the topic still carries heartbeats.
		if exchanges.try(func() { p.sayHello(ctx, ev.Peer) }) {
			last[ev.Peer] = time.Now()
		}
	}
}

// helloStream opens a hello stream to peer, bounded by helloTimeout, and
// hands it to f; the stream is closed after f.
func (p *presence) helloStream(ctx context.Context, to peer.ID, f func(network.Stream)) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	s, err := p.n.host.NewStream(ctx, to, wire.HelloProtocol)
	if err != nil {
		return // the connection went away; the topic still carries heartbeats
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(helloTimeout))
	f(s)
}

// sayHello opens a hello stream to peer: it sends this node's hello and
// takes the peer's answer.
func (p *presence) sayHello(ctx context.Context, to peer.ID) {
	p.helloStream(ctx, to, func(s network.Stream) {
		if !p.writeHello(s) {
			s.Reset()
			return
		}
		s.CloseWrite()
		if data, ok := p.readHello(s); ok {
			p.receiveHello(to, data)
		}
	})
}

// handleHello answers a peer's hello stream with this node's own; a
// goodbye (the peer's leave) gets no answer.
func (p *presence) handleHello(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(helloTimeout))
	data, ok := p.readHello(s)
	if !ok {
		s.Reset()
		return
	}
	if p.receiveHello(s.Conn().RemotePeer(), data) != wire.KindHeartbeat || !p.writeHello(s) {
		s.Reset()
	}
}

// sayGoodbye sends this node's leave on a hello stream to every connected
// peer that speaks wire.HelloProtocol, at most helloParallel at once, until ctx
// ends. Neighbours that counted this node from a hello alone may not yet
// share a GossipSub mesh with it, and would miss a leave that only travels
// on the topic: they would see a failure.
func (p *presence) sayGoodbye(ctx context.Context, leave []byte) {
	goodbyes := newPool(helloParallel)
	defer goodbyes.wait()
	for _, to := range p.n.host.Network().Peers() {
		if ok, err := p.n.host.Peerstore().SupportsProtocols(to, wire.HelloProtocol); err != nil || len(ok) == 0 {
			continue
		}
		if !goodbyes.run(ctx, func() {
			p.helloStream(ctx, to, func(s network.Stream) {
				if _, err := s.Write(leave); err != nil {
					s.Reset()
				}
			})
		}) {
			return
		}
	}
}

// writeHello writes this node's hello and reports whether it did: a node
// that has announced its leave says nothing more.
func (p *presence) writeHello(w io.Writer) bool {
	if p.leaving.Load() {
		return false
	}
	if _, err := w.Write(p.hello().Encode()); err != nil {
		return false
	}
	p.n.metrics.sent.WithLabelValues(kindHello).Inc()
	return true
}

// readHello reads one hello up to the end of the stream; a longer one than
// MaxMessageSize is rejected as oversized by receiveHello.
func (p *presence) readHello(r io.Reader) ([]byte, bool) {
	data, err := io.ReadAll(io.LimitReader(r, int64(p.n.cfg.MaxMessageSize)+1))
	return data, err == nil && len(data) > 0
}

// kindHello labels hellos in orgpeer_messages_sent_total.
const kindHello = "hello"

// hello is this node's full heartbeat, with the next sequence number.
func (p *presence) hello() *wire.Message {
	m := p.message(wire.KindHeartbeat)
	m.Host, m.Addrs = p.n.cfg.HostID, listenAddrs(p.n.host)
	if cred := p.n.member.cred; cred != nil {
		m.Cred, m.CredID = cred, p.n.member.credID
	}
	return m
}

// receiveHello judges a hello (a heartbeat) or a goodbye (a leave) from a
// neighbour, applies it as heard directly from it, and returns its kind
// when accepted ("" otherwise).
func (p *presence) receiveHello(from peer.ID, data []byte) string {
	r, res, reason := p.judge(from, from, data, func(r *received) (pubsub.ValidationResult, string) {
		switch {
		case r.Kind != wire.KindHeartbeat && r.Kind != wire.KindLeave:
			return pubsub.ValidationReject, "wrong-kind"
		case !p.follows(r.Org):
			return pubsub.ValidationIgnore, "not-followed"
		case r.Kind == wire.KindLeave:
			return p.checkLeave(r)
		}
		return p.checkHeartbeat(r)
	})
	p.n.metrics.countMessage(res, reason)
	if res != pubsub.ValidationAccept {
		return ""
	}
	if r.Kind == wire.KindLeave {
		p.n.view.ApplyLeave(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq})
	} else {
		p.applyHeartbeat(r, true)
	}
	return r.Kind
}

// follows reports whether the node counts the peers of org: its own, or
// any when --watch is not set, or one of those watched.
func (p *presence) follows(org string) bool {
	w := p.n.cfg.Watch
	return org == p.n.cfg.Org || len(w) == 0 || slices.Contains(w, org)
}
