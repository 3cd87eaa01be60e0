package node

import (
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

// cappedConnMgr is go-libp2p's connection manager with protection turned
// off. The DHT protects most of its routing table and GossipSub every mesh
// peer, which would let connections grow past MaxPeers for good; orgpeer's
// cap is a cap. Both subsystems cope: the DHT re-dials when it queries and
// GossipSub re-grafts among the peers that remain. Tags (peer values) still
// decide whom the trim keeps.
type cappedConnMgr struct{ *connmgr.BasicConnMgr }

func (cappedConnMgr) Protect(peer.ID, string)          {}
func (cappedConnMgr) Unprotect(peer.ID, string) bool   { return false }
func (cappedConnMgr) IsProtected(peer.ID, string) bool { return false }
