package node

import (
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

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

// knownMembers are the peers in the view, alive or suspect, with the
// addresses of their last full heartbeat: where a cut-off node looks for
// a way back in (discovery.Config.Known).
func (n *Node) knownMembers() []peer.AddrInfo {
	var out []peer.AddrInfo
	for _, p := range n.view.Peers(orgs.Filter{}) {
		if p.Self || p.State == orgs.StateLeft || len(p.Addrs) == 0 {
			continue
		}
		id, err := peer.Decode(p.PeerID)
		if err != nil {
			continue
		}
		ai := peer.AddrInfo{ID: id}
		for _, a := range p.Addrs {
			m, err := ma.NewMultiaddr(a)
			if err != nil {
				continue
			}
			if tr, _ := peer.SplitAddr(m); tr != nil { // without a /p2p/ part, if it has one
				ai.Addrs = append(ai.Addrs, tr)
			}
		}
		if len(ai.Addrs) > 0 {
			out = append(out, ai)
		}
	}
	return out
}
