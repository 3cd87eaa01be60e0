package orgs

import "time"

// These are the view's API types: the node's HTTP API serves them, its
// client decodes them and the CLI prints them. They are defined only here.

// How a peer's presence reached this node.
const (
	LearnedSelf    = "self"    // the node itself
	LearnedDirect  = "direct"  // the last heartbeat came straight from the peer
	LearnedRelayed = "relayed" // the last heartbeat was forwarded by another peer
)

// PeerInfo is one peer as a node sees it.
type PeerInfo struct {
	PeerID    string    `json:"peer_id"`
	Org       string    `json:"org"`
	OrgID     string    `json:"org_id,omitempty"`
	State     PeerState `json:"state"`
	Self      bool      `json:"self,omitempty"`
	Connected bool      `json:"connected"`
	Verified  bool      `json:"verified"`
	Serial    uint64    `json:"serial,omitempty"` // of the verified credential
	Host      string    `json:"host"`
	LastSeen  time.Time `json:"last_seen"`
	Since     time.Time `json:"since,omitzero"` // when it entered its state
	Version   Version   `json:"version"`
	Addrs     []string  `json:"addrs,omitempty"`
	Learned   string    `json:"learned"`
	// Conn is how the node reaches the peer as the API answers: "direct",
	// "relayed" (through a circuit relay only) or "" (no connection). The
	// view does not keep it.
	Conn string `json:"conn,omitempty"`
}

// OrgCounts are the counts of one organization (or, in Snapshot.Total, of
// all of them).
type OrgCounts struct {
	Org string `json:"org"`
	// OrgID is the organization's key, which its verified peers proved:
	// two organizations of the same name have rows of their own. Empty in
	// the row of bare claims to a name that no single key holds.
	OrgID string `json:"org_id,omitempty"`
	// Alive is the reachable count: peers with a valid heartbeat within the
	// liveness window, the node itself included when it is in this org.
	Alive int `json:"alive"`
	// Connected counts the alive peers this node holds a direct connection to.
	Connected int `json:"connected"`
	Suspect   int `json:"suspect"`
	Left      int `json:"left"`
	// Verified and Unverified split Alive: membership proven by an
	// organization's credential, and bare claims.
	Verified   int `json:"verified"`
	Unverified int `json:"unverified"`
	// Hosts is the number of distinct physical hosts among the alive peers.
	Hosts int `json:"hosts"`
	// Ages of the freshest and stalest heartbeat among alive peers other
	// than the node itself, in milliseconds; absent when there are none.
	FreshestMs *int64 `json:"freshest_heartbeat_ms,omitempty"`
	StalestMs  *int64 `json:"stalest_heartbeat_ms,omitempty"`
}

// Snapshot is a node's whole view at one instant.
type Snapshot struct {
	Self  string      `json:"self"`
	Org   string      `json:"org"`
	At    time.Time   `json:"at"`
	Orgs  []OrgCounts `json:"orgs"` // by name, then org ID
	Total OrgCounts   `json:"total"`
}

// OrgCounts returns the counts of the named organization, the first row of
// that name if there are several (zero counts when the view has none).
func (s Snapshot) OrgCounts(name string) OrgCounts {
	for _, o := range s.Orgs {
		if o.Org == name {
			return o
		}
	}
	return OrgCounts{Org: name}
}

// ByID returns the counts of the organization whose key is id (zero counts
// when the view has none).
func (s Snapshot) ByID(id string) OrgCounts {
	for _, o := range s.Orgs {
		if o.OrgID == id {
			return o
		}
	}
	return OrgCounts{OrgID: id}
}
