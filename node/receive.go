package node

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// receiver applies accepted heartbeats and leaves of other peers, from a
// topic or a hello stream, to the view, and notes them in the evidence.
type receiver struct {
	view      *orgs.View
	connected func(peerID string) bool // whether the host holds a connection to the peer
	wants     *wants
	evidence  *orgs.Evidence
	sampler   *sampler   // takes the heartbeats that are samples
	env       *envelopes // each peer's last signed heartbeat, for push-pull answers
	// passLeave passes a signed leave that the view has just applied on to
	// a few neighbours but via (push-pull); nil: none.
	passLeave func(env *pb.Message, r *received, via peer.ID)
}

// handleOrg applies a message accepted on an organization's topic; a
// revocation list was applied by its validator.
func (rc *receiver) handleOrg(m *pubsub.Message, r *received) {
	switch r.Kind {
	case wire.KindHeartbeat:
		rc.heartbeat(r, m.ReceivedFrom, false)
		rc.env.put(r.Peer, m.Message, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}, r.Sent)
		if r.Want {
			rc.wants.answer(m.GetFrom())
		}
	case wire.KindLeave:
		if rc.leave(r, m.ReceivedFrom, false) && rc.passLeave != nil {
			rc.passLeave(m.Message, r, m.ReceivedFrom)
		}
	}
}

// heartbeat applies an accepted heartbeat to the view; via is the
// neighbour it came from (the sender itself when direct), hello says that
// it came on a hello stream.
//
// It reports whether the heartbeat was news: the view counted its sender
// alive from unknown, suspect or left.
func (rc *receiver) heartbeat(r *received, via peer.ID, hello bool) bool {
	hb := orgs.Heartbeat{PeerID: r.Peer, Org: r.Org, Version: orgs.Version{Epoch: r.Epoch, Seq: r.Seq},
		Host: r.Host, Addrs: r.Addrs, Direct: via.String() == r.Peer, Hello: hello, Verified: r.verified, Why: unverifiedWhy(r)}
	if r.Sent != 0 {
		hb.Sent = time.UnixMilli(r.Sent)
	}
	if r.verified {
		hb.OrgID, hb.Serial, hb.NotAfter = string(r.member.OrgID), r.member.Serial, r.member.NotAfter
	}
	if r.sample && rc.sampler != nil {
		rc.sampler.add(r.Org, hb.OrgID, r.Peer, r.Round, int(r.Level))
	}
	out := rc.view.ApplyHeartbeat(hb)
	if out == orgs.Added || out == orgs.Rejoined {
		rc.view.SetConnected(r.Peer, rc.connected(r.Peer))
	}
	if out == orgs.Added || out == orgs.Rejoined || out == orgs.Applied {
		rc.evidence.Message(r.Peer, messageNote(r, via, hello), credentialNote(r))
	}
	return out == orgs.Added || out == orgs.Rejoined
}

// leave applies an accepted leave to the view and reports whether it was
// news.
func (rc *receiver) leave(r *received, via peer.ID, hello bool) bool {
	if rc.view.ApplyLeave(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}) != orgs.Applied {
		return false
	}
	rc.evidence.Message(r.Peer, messageNote(r, via, hello), nil)
	return true
}

// unverifiedWhy says why an accepted heartbeat does not prove its
// sender's membership ("" when it does): a credential that opened but was
// not verified is of an untrusted organization (the validator rejects the
// other refusals), a credential named by ID alone was never received.
func unverifiedWhy(r *received) string {
	switch {
	case r.verified:
		return ""
	case r.member != nil:
		return orgs.UnverifiedUntrusted
	case len(r.Cred) == 0 && len(r.CredID) != 0:
		return orgs.UnverifiedMissing
	}
	return orgs.UnverifiedNoCredential
}

func messageNote(r *received, via peer.ID, hello bool) orgs.MessageNote {
	kind := "heartbeat"
	if r.Kind == wire.KindLeave {
		kind = "leave"
	}
	m := orgs.MessageNote{Kind: kind, At: time.Now(), Version: orgs.Version{Epoch: r.Epoch, Seq: r.Seq},
		Source: orgs.SourceTopic, Via: via.String(), Full: len(r.Cred) != 0 || r.Addrs != nil}
	if hello {
		m.Source = orgs.SourceHello
	}
	return m
}

// credentialNote is the verdict on the credential of an accepted heartbeat.
func credentialNote(r *received) *orgs.CredentialNote {
	c := &orgs.CredentialNote{At: time.Now(), Verified: r.verified, Reason: unverifiedWhy(r)}
	if r.verified {
		c.Reason = orgs.ReasonVerified
	}
	if m := r.member; m != nil {
		c.OrgID, c.OrgName, c.Serial, c.NotBefore, c.NotAfter = string(m.OrgID), m.OrgName, m.Serial, m.NotBefore, m.NotAfter
	}
	return c
}
