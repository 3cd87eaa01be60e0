package node

import (
	"context"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// received is a validated message with the validator's verdict on its
// credential, handed from validator to handler as ValidatorData.
type received struct {
	*wire.Message
	verified bool
	member   *orgs.Membership // the credential, when it opened
}

// validator judges every message from another peer, on a topic or a hello
// stream, before anything of it reaches the view: Accept, Reject (the
// sender lied; GossipSub lowers its score) or Ignore (stale, over its rate,
// or not wanted). It may be called concurrently.
type validator struct {
	maxSize      int
	requireCreds bool
	view         *orgs.View // the versions already seen
	trust        *orgs.Trust
	creds        *orgs.PeerCredentials // each peer's last full credential, for its compact heartbeats
	limiter      *senderLimiter
	flood        *floodScore
	metrics      *nodeMetrics
	revs         *revocations
	missing      func() // a heartbeat named a credential never received: ask for it

	evidence *orgs.Evidence // the refused messages of each sender, for explanations
}

// validate is the checks every topic shares (judge) for a message that
// reached the node through via. It records the verdict in metrics.
func (v *validator) validate(via peer.ID, m *pubsub.Message, check func(*received) (pubsub.ValidationResult, string)) pubsub.ValidationResult {
	if m.Local {
		return pubsub.ValidationAccept
	}
	r, res, reason := v.judge(via, m.GetFrom(), m.Data, check)
	if res == pubsub.ValidationAccept {
		m.ValidatorData = r
	}
	v.verdict(m.GetFrom(), res, reason)
	return res
}

// judge decodes a message that from wrote and that reached the node
// through via, checks that from is the peer it claims to be and the
// per-sender rate, then runs check. The message is returned when accepted.
func (v *validator) judge(via, from peer.ID, data []byte, check func(*received) (pubsub.ValidationResult, string)) (*received, pubsub.ValidationResult, string) {
	msg, err := wire.DecodeMessage(data, v.maxSize)
	if err != nil {
		return nil, pubsub.ValidationReject, wire.ReasonOf(err)
	}
	switch {
	case msg.Peer == "":
		msg.Peer = from.String()
	case msg.Peer != from.String():
		return nil, pubsub.ValidationReject, "forged-sender"
	}
	if !v.limiter.allow(from) {
		if via == from {
			v.flood.strike(from) // flooding with its own messages
		}
		return nil, pubsub.ValidationIgnore, "rate-limited"
	}
	r := &received{Message: msg}
	res, reason := check(r)
	if res != pubsub.ValidationAccept {
		r = nil
	}
	return r, res, reason
}

func (v *validator) directory(_ context.Context, via peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	return v.validate(via, m, func(msg *received) (pubsub.ValidationResult, string) {
		if msg.Kind != wire.KindDirectory {
			return pubsub.ValidationReject, "wrong-topic"
		}
		return pubsub.ValidationAccept, ""
	})
}

func (v *validator) org(org string) pubsub.ValidatorEx {
	return func(_ context.Context, via peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		return v.validate(via, m, func(r *received) (pubsub.ValidationResult, string) {
			if r.Org != org {
				return pubsub.ValidationReject, "wrong-topic"
			}
			switch r.Kind {
			case wire.KindHeartbeat:
				return v.checkHeartbeat(r)
			case wire.KindLeave:
				return v.checkLeave(r)
			case wire.KindRevoke:
				return v.revs.check(r)
			}
			return pubsub.ValidationReject, "wrong-topic"
		})
	}
}

// checkHeartbeat drops replays and judges the credential: a refused
// credential rejects the message, a bare claim passes as unverified unless
// credentials are required.
func (v *validator) checkHeartbeat(r *received) (pubsub.ValidationResult, string) {
	if v.view.IsStale(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}) {
		return pubsub.ValidationIgnore, "stale"
	}
	cred := r.Cred
	switch {
	case len(cred) != 0:
		v.creds.Remember(r.Peer, cred) // judged below; a refused one refuses its compact heartbeats too
	case len(r.CredID) != 0:
		if cred = v.creds.Recall(r.Peer, r.CredID); cred == nil {
			// Named but never received: not proven to this node yet.
			// Counted unverified until the credential comes, which
			// the next heartbeat's Want asks for.
			v.missing()
			v.metrics.credMissing.Inc()
		}
	}
	member, verified, reason := v.trust.Verify(cred, r.Peer, r.Org, time.Now())
	switch {
	case reason != "":
		return pubsub.ValidationReject, reason
	case !verified && v.requireCreds:
		return pubsub.ValidationIgnore, "unverified"
	}
	r.verified, r.member = verified, member
	return pubsub.ValidationAccept, ""
}

// checkLeave drops a leave older than what the node knows of its sender.
func (v *validator) checkLeave(r *received) (pubsub.ValidationResult, string) {
	if v.view.IsStale(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}) {
		return pubsub.ValidationIgnore, "stale"
	}
	return pubsub.ValidationAccept, ""
}

// verdict counts a verdict on a message from a peer in the metrics and,
// when refused (stale copies aside), in the peer's evidence.
func (v *validator) verdict(from peer.ID, res pubsub.ValidationResult, reason string) {
	v.metrics.countMessage(res, reason)
	if res != pubsub.ValidationAccept && reason != "stale" {
		result := "ignored"
		if res == pubsub.ValidationReject {
			result = "rejected"
		}
		v.evidence.Refuse(from.String(), result, reason)
	}
}
