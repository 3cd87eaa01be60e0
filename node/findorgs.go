package node

// orgsToFind is what discovery looks up on each round: the followed
// organizations in which this node may be missing peers. That is one whose
// topic has fewer directly connected subscribers than the mesh wants (or
// than the organization has other members, if fewer), or one with suspect
// peers: silent ones may have crashed, or be cut off by a partition that
// only a fresh lookup can heal. A settled cluster does no lookups at all;
// each costs a DHT query to a dozen peers or more.
func (n *Node) orgsToFind() []string {
	s := n.view.Snapshot()
	var out []string
	for _, o := range n.pres.followedOrgs() {
		c := s.OrgCounts(o)
		others := c.Alive
		if o == n.cfg.Org {
			others-- // the node itself
		}
		want := n.cfg.MeshDegree
		if others > 0 {
			want = min(want, others)
		}
		if len(n.ps.ListPeers(OrgTopic(o))) < want || c.Suspect > 0 {
			out = append(out, o)
		}
	}
	return out
}
