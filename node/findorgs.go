package node

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// orgsToFind is what discovery looks up on each round: the followed
// organizations in which this node may be missing peers. That is one whose
// topic has fewer directly connected subscribers than the mesh wants (or
// than the organization has other members, if fewer), or one with a suspect
// peer the node holds no connection to: it may have crashed, or be cut off
// by a partition that only a fresh lookup can heal. A suspect that is still
// connected is reachable but silent (an overloaded machine): a lookup could
// not help and would only add load. A settled cluster does no lookups at
// all; each costs a DHT query to a dozen peers or more.
func (n *Node) orgsToFind() []string {
	want := n.cfg.MeshDegree
	if want == 0 {
		want = pubsub.GossipSubD
	}
	s := n.view.Snapshot()
	var out []string
	for _, o := range n.pres.topics.followed() {
		c := s.OrgCounts(o)
		others := c.Alive
		if o == n.cfg.Org {
			others-- // the node itself
		}
		w := want
		if others > 0 {
			w = min(w, others)
		}
		if len(n.ps.ListPeers(wire.OrgTopic(o))) < w || c.Suspect > 0 && n.unreachableSuspect(o) {
			out = append(out, o)
		}
	}
	return out
}

// unreachableSuspect reports whether some suspect peer of org has no
// connection from this node.
func (n *Node) unreachableSuspect(org string) bool {
	for _, p := range n.view.Peers(orgs.Filter{Org: org, State: orgs.StateSuspect}) {
		if !isConnected(n.host, p.PeerID) {
			return true
		}
	}
	return false
}
