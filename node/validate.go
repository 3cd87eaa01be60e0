package node

import (
	"context"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
	orgsample "github.com/orgpeer/orgpeer/orgs/sample"
)

// received is a validated message with the validator's verdict on its
// credential, handed from validator to handler as ValidatorData.
type received struct {
	*wire.Message
	via      peer.ID // the neighbour it came from
	verified bool
	member   *orgs.Membership // the credential, when it opened
	sample   bool             // a heartbeat that counts towards its organization's estimate
}

// validator judges every message from another peer, on a topic or a hello
// stream, before anything of it reaches the view: Accept, Reject (the
// sender lied; GossipSub lowers its score) or Ignore (stale, over its rate,
// or not wanted). It may be called concurrently.
type validator struct {
	self         peer.ID // the node: its own publications are not judged
	maxSize      int
	maxAge       time.Duration // Config.MaxMessageAge
	maxSkew      time.Duration // Config.MaxClockSkew
	requireCreds bool
	view         *orgs.View // the versions already seen
	trust        *orgs.Trust
	creds        *orgs.PeerCredentials // each peer's last verified credential, for its compact heartbeats
	limiter      *senderLimiter
	relays       *senderLimiter // new unverified peers per relaying neighbour; nil: no bound
	flood        *floodScore
	metrics      *nodeMetrics
	revs         *revocations
	missing      func()           // a heartbeat named a credential never received: ask for it
	round        time.Duration    // a sampling round: the heartbeat interval
	censusLen    time.Duration    // a census window: the sample window
	sampling     *samplingMetrics // samples refused

	evidence *orgs.Evidence // the refused messages of each sender, for explanations
}

// validate is the checks every topic shares (judge) for a message that
// reached the node through via. It records the verdict in metrics.
//
// The node's own publications pass through here too, with via the node
// itself (pubsub's Message.Local is set only for WithLocalPublication):
// they are accepted unjudged, since judged against the node's own state
// they look stale (a revocation list it holds) or unproven (a compact
// heartbeat naming a credential it never received from itself).
func (v *validator) validate(via peer.ID, m *pubsub.Message, check func(*received) (pubsub.ValidationResult, string)) pubsub.ValidationResult {
	if v.own(via, m) {
		return pubsub.ValidationAccept
	}
	r, res, reason := v.judge(via, m.GetFrom(), m.Data, check)
	if res == pubsub.ValidationAccept {
		m.ValidatorData = r
	}
	v.verdict(m.GetFrom(), res, reason)
	return res
}

// own reports whether m is the node's own publication: received from the
// node itself and signed by it.
func (v *validator) own(via peer.ID, m *pubsub.Message) bool {
	return via == v.self && m.GetFrom() == v.self
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
	r := &received{Message: msg, via: via}
	res, reason := check(r)
	if res != pubsub.ValidationAccept {
		r = nil
	}
	return r, res, reason
}

func (v *validator) directory(_ context.Context, via peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	return v.validate(via, m, func(msg *received) (pubsub.ValidationResult, string) {
		switch msg.Kind {
		case wire.KindDirectory:
			return pubsub.ValidationAccept, ""
		case wire.KindCensus:
			return v.checkCensus(msg)
		}
		return pubsub.ValidationReject, "wrong-topic"
	})
}

// checkCensus judges a member's census summary: fresh, of the census
// window it was sent in (or a neighbour), from a member whose credential
// verifies (a bare claim's summary is worth nothing: peers cost nothing
// to mint), whose census rank makes it a reporter for the estimate it
// reports. A member claiming a small estimate passes the rank easily, but
// the receivers take the median.
func (v *validator) checkCensus(r *received) (pubsub.ValidationResult, string) {
	now, sent := time.Now(), time.UnixMilli(r.Sent)
	switch {
	case !orgs.Fresh(sent, now, v.maxAge, v.maxSkew):
		return pubsub.ValidationIgnore, "not-fresh"
	case v.censusLen <= 0 || !orgsample.PlausibleRound(r.Round, sent, v.censusLen):
		return pubsub.ValidationIgnore, "census-window"
	}
	member, verified, reason := v.trust.Verify(r.Cred, r.Peer, r.Org, now)
	switch {
	case reason != "":
		return pubsub.ValidationReject, reason
	case !verified:
		return pubsub.ValidationIgnore, "unverified"
	case !orgsample.Reports(orgsample.CensusRank(r.Org, r.Round, r.Peer), float64(r.PeersMilli)/1000):
		return pubsub.ValidationReject, "census-rank"
	}
	r.verified, r.member = true, member
	return pubsub.ValidationAccept, ""
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
// credentials are required. Only a credential that verified is remembered
// for the sender's compact heartbeats: anyone can mint peers and keys, and
// their credentials must never displace the honest ones. A compact
// heartbeat naming a credential this node does not hold, refused or never
// received, is a bare claim.
func (v *validator) checkHeartbeat(r *received) (pubsub.ValidationResult, string) {
	if res, reason := v.checkVersion(r); res != pubsub.ValidationAccept {
		return res, reason
	}
	cred := r.Cred
	if len(cred) == 0 && len(r.CredID) != 0 {
		if cred = v.creds.Recall(r.Peer, r.CredID); cred == nil {
			// Not proven to this node yet: counted unverified until
			// the credential comes, which the next heartbeat's Want
			// asks for.
			v.missing()
			v.metrics.credMissing.Inc()
		}
	}
	member, verified, reason := v.trust.Verify(cred, r.Peer, r.Org, time.Now())
	switch {
	case reason != "":
		return pubsub.ValidationReject, reason
	case !verified && !v.relayMayAdd(r):
		return pubsub.ValidationIgnore, "relay-budget"
	case !verified && v.requireCreds:
		return pubsub.ValidationIgnore, "unverified"
	}
	if verified && len(r.Cred) != 0 {
		v.creds.RememberVerified(r.Peer, r.Cred)
	}
	r.verified, r.member = verified, member
	r.sample = v.isSample(r)
	return pubsub.ValidationAccept, ""
}

// isSample reports whether an accepted heartbeat counts towards its
// organization's estimate: it covers a round (regular heartbeats do), the
// round is its send time's or a neighbour, and the sender's rank for it
// passes the level it claims. A heartbeat that fails is still its sender's
// sign of life, but a member claiming a level its rank does not pass, or a
// round it was not sent in, is trying to be counted more often than its
// rank allows: counted in the metrics, never in the estimate.
func (v *validator) isSample(r *received) bool {
	if r.Round == 0 || v.sampling == nil {
		return false
	}
	switch {
	case !orgsample.PlausibleRound(r.Round, time.UnixMilli(r.Sent), v.round):
		v.sampling.refused.WithLabelValues("round").Inc()
		return false
	case !orgsample.Passes(orgsample.Rank(r.Org, r.Round, r.Peer), int(r.Level)):
		v.sampling.refused.WithLabelValues("rank").Inc()
		return false
	}
	return true
}

// relayMayAdd charges a heartbeat of a peer the view does not know to the
// budget of the neighbour it came through, and lowers that neighbour's
// score when its budget is spent: the author of a minted peer's heartbeat
// is the minted peer, whose score means nothing, and the relay is who
// brings them.
func (v *validator) relayMayAdd(r *received) bool {
	if v.relays == nil {
		return true
	}
	if _, known := v.view.Get(r.Peer); known || v.relays.allow(r.via) {
		return true
	}
	v.flood.strike(r.via)
	return false
}

// checkLeave drops a leave older than what the node knows of its sender.
func (v *validator) checkLeave(r *received) (pubsub.ValidationResult, string) {
	return v.checkVersion(r)
}

// checkVersion drops a heartbeat or leave sent too long ago or not newer
// than what the node knows, or knew when it forgot the sender: a replay. A
// restarted node knows no versions, and GossipSub's seen cache expires
// (2 minutes): the send time is what bounds a replay then.
func (v *validator) checkVersion(r *received) (pubsub.ValidationResult, string) {
	switch {
	case r.Sent == 0:
		return pubsub.ValidationIgnore, "no-send-time"
	case !orgs.Fresh(time.UnixMilli(r.Sent), time.Now(), v.maxAge, v.maxSkew):
		return pubsub.ValidationIgnore, "not-fresh"
	case v.view.IsStale(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}):
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
