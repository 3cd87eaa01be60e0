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
	// Mode is ModeExact when Alive counts every member's own heartbeat,
	// ModeEstimate when the organization is too large for that and its size
	// is estimated from sampled heartbeats (Estimate). In an estimate row the
	// other fields count only the members this node actually heard: exact
	// lower bounds.
	Mode     string    `json:"mode"`
	Estimate *Estimate `json:"estimate,omitempty"`
}

// The modes of an OrgCounts row.
const (
	ModeExact    = "exact"
	ModeEstimate = "estimate"
)

// Estimate is the estimated size of an organization whose members publish
// sampled heartbeats: in each round a member publishes only when its rank,
// a hash of (org name, round, peer ID) anyone can recompute, falls below
// 2^(-Level/4) (orgs/sample: levels step by quarter octaves). Peers =
// samples × 2^(Level/4) / rounds, with an exact Poisson interval at 95 %.
type Estimate struct {
	Peers    float64 `json:"peers"`     // point estimate of the alive members
	Low      float64 `json:"low"`       // 95 % interval
	High     float64 `json:"high"`      //
	Samples  int     `json:"samples"`   // distinct (peer, round) samples in the window
	Level    int     `json:"level"`     // sampling level j: a member is sampled with probability 2^(-j/4) per round
	WindowMs int64   `json:"window_ms"` // how much time the samples cover
	// Source is SourceSamples when the node estimated from heartbeats it
	// received, SourceCensus when it took the median of members' signed
	// census summaries (an organization it does not follow).
	Source string `json:"source"`
}

// The sources of an Estimate.
const (
	SourceSamples = "samples"
	SourceCensus  = "census"
)

// Snapshot is a node's whole view at one instant.
type Snapshot struct {
	Self  string      `json:"self"`
	Org   string      `json:"org"`
	At    time.Time   `json:"at"`
	Orgs  []OrgCounts `json:"orgs"` // by name, then org ID
	Total OrgCounts   `json:"total"`
}

// OrgCounts returns the counts of the named organization, the first row of
// that name if there are several (zero counts, exact, when the view has
// none).
func (s Snapshot) OrgCounts(name string) OrgCounts {
	for _, o := range s.Orgs {
		if o.Org == name {
			return o
		}
	}
	return OrgCounts{Org: name, Mode: ModeExact}
}

// ByID returns the counts of the organization whose key is id (zero counts,
// exact, when the view has none).
func (s Snapshot) ByID(id string) OrgCounts {
	for _, o := range s.Orgs {
		if o.OrgID == id {
			return o
		}
	}
	return OrgCounts{OrgID: id, Mode: ModeExact}
}
