package node

import (
	"context"
	"log/slog"
	"slices"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// revocations spreads and enforces revocation lists: the node publishes its
// own organization's newest list on its topic, so that nodes joining later
// learn it too, and applies every newer list of a trusted organization that
// arrives, withdrawing the verified mark of the peers it names at once.
type revocations struct {
	org     string
	member  *membership // the lists the node enforces
	view    *orgs.View
	topics  *topics
	metrics *nodeMetrics
	log     *slog.Logger
}

// publish spreads the newest revocation list of the node's own
// organization, if it has one.
func (rv *revocations) publish(ctx context.Context) {
	raw := rv.member.ownRevocation()
	if raw == nil {
		return
	}
	m := &wire.Message{Kind: wire.KindRevoke, Org: rv.org, Rev: raw}
	if err := rv.topics.ownTopic().Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			rv.log.Warn("publish revocation list", "err", err)
		}
		return
	}
	rv.metrics.sent.WithLabelValues(wire.KindRevoke).Inc()
}

// check keeps a newer revocation list of a trusted organization and
// applies it to the view.
func (rv *revocations) check(r *received) (pubsub.ValidationResult, string) {
	rev, err := rv.member.addRevocation(r.Rev)
	switch {
	case orgs.IsStaleRevocation(err):
		return pubsub.ValidationIgnore, "stale"
	case rev == nil:
		return pubsub.ValidationReject, "revocation-invalid"
	case rev.OrgName != r.Org:
		return pubsub.ValidationReject, "wrong-topic"
	}
	if err != nil {
		rv.log.Warn("cannot store revocation list", "org", rev.OrgName, "err", err)
	}
	n := rv.view.Unverify(revokedBy(rev))
	if own := rv.member.own; own != nil && rev.Revokes(own) {
		rv.view.UpdateSelf(func(p *orgs.PeerInfo) { p.Verified, p.OrgID, p.Serial = false, "", 0 })
	}
	rv.log.Info("revocation list applied", "org", rev.OrgName, "seq", rev.Seq, "peers_unverified", n)
	return pubsub.ValidationAccept, ""
}

// revokedBy returns a matcher for the view's peers that r withdraws.
func revokedBy(r *orgs.Revocation) func(orgs.PeerInfo) bool {
	return func(p orgs.PeerInfo) bool {
		return string(r.OrgID) == p.OrgID && (slices.Contains(r.Serials, p.Serial) || slices.Contains(r.Peers, p.PeerID))
	}
}
