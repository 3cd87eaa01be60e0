package node

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// receiver applies accepted heartbeats and leaves of other peers, from a
// topic or a hello stream, to the view.
type receiver struct {
	view      *orgs.View
	connected func(peerID string) bool // whether the host holds a connection to the peer
	wants     *wants
}

// handleOrg applies a message accepted on an organization's topic; a
// revocation list was applied by its validator.
func (rc *receiver) handleOrg(m *pubsub.Message, r *received) {
	switch r.Kind {
	case wire.KindHeartbeat:
		rc.heartbeat(r, m.ReceivedFrom == m.GetFrom())
		if r.Want {
			rc.wants.answer(m.GetFrom())
		}
	case wire.KindLeave:
		rc.leave(r)
	}
}

// heartbeat applies an accepted heartbeat to the view; direct says that it
// came from its sender itself, not relayed.
func (rc *receiver) heartbeat(r *received, direct bool) {
	hb := orgs.Heartbeat{PeerID: r.Peer, Org: r.Org, Version: orgs.Version{Epoch: r.Epoch, Seq: r.Seq},
		Host: r.Host, Addrs: r.Addrs, Direct: direct, Verified: r.verified}
	if r.verified {
		hb.OrgID, hb.Serial = string(r.member.OrgID), r.member.Serial
	}
	out := rc.view.ApplyHeartbeat(hb)
	if out == orgs.Added || out == orgs.Rejoined {
		rc.view.SetConnected(r.Peer, rc.connected(r.Peer))
	}
}

func (rc *receiver) leave(r *received) {
	rc.view.ApplyLeave(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq})
}
