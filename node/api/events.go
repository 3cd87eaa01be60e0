package api

import (
	"fmt"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// The types of /v1/events, /v1/history and /v1/peers/{id}: what a node
// tells of changes, of its counts over time and of one peer.

// Kinds of Event.
const (
	EventPeer     = "peer"     // a peer's state changed (and maybe its verification)
	EventVerified = "verified" // only a peer's verification changed
	EventCounts   = "counts"   // an organization's alive, verified or hosts count changed
	EventSnapshot = "snapshot" // the whole view: first on every stream, and after a drop
	EventDropped  = "dropped"  // the subscriber fell behind: Dropped events are lost, a snapshot follows
)

// Event is one change a node streams at /v1/events, as one server-sent
// event of that kind whose data is this object.
type Event struct {
	// Seq numbers the node's events from 1 in each run: a stream without
	// ?org= sees every number once, in order; a gap is a drop.
	Seq   uint64    `json:"seq"`
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"`
	Org   string    `json:"org,omitempty"`
	OrgID string    `json:"org_id,omitempty"`

	// Peer and verified events: the peer after the change, and why.
	Peer  *orgs.PeerInfo `json:"peer,omitempty"`
	From  string         `json:"from,omitempty"`  // new, alive, suspect or left
	To    string         `json:"to,omitempty"`    // alive, suspect, left or forgotten
	Cause string         `json:"cause,omitempty"` // an orgs.Cause constant: heartbeat, hello, leave, probe, window, expiry, eviction, revocation
	// Version is that of the message that caused the change; absent when
	// time or a probe did.
	Version *orgs.Version `json:"version,omitempty"`
	// Verified is the peer's new verified mark when it changed.
	Verified *bool `json:"verified,omitempty"`
	// Reason says why it is verified or not (see ReasonText), when a
	// message or a revocation list said so.
	Reason string `json:"reason,omitempty"`

	// Counts events: the organization's counts before and after (ages of
	// heartbeats left out).
	Before *orgs.OrgCounts `json:"before,omitempty"`
	After  *orgs.OrgCounts `json:"after,omitempty"`

	// Snapshot events: the view, only the ?org= rows when one is given.
	Snapshot *orgs.Snapshot `json:"snapshot,omitempty"`
	// Dropped events: how many this stream lost.
	Dropped uint64 `json:"dropped,omitempty"`
}

// FromName is a transition's state before as events print it: "new" for
// a peer the view did not hold.
func FromName(s orgs.PeerState) string {
	if s == orgs.StateUnknown {
		return "new"
	}
	return s.String()
}

// ToName is a transition's state after as events print it: "forgotten"
// for a peer the view no longer holds.
func ToName(s orgs.PeerState) string {
	if s == orgs.StateUnknown {
		return "forgotten"
	}
	return s.String()
}

// MaxEventStreams is how many /v1/events streams a node serves at once;
// one more is answered 503.
const MaxEventStreams = 16

// History is a node's counts over time (/v1/history), per organization
// and in total, at two resolutions: SecondStep for the last SecondSpan,
// CoarseStep for the last CoarseSpan.
type History struct {
	Self   string    `json:"self"`
	At     time.Time `json:"at"`
	Series []Series  `json:"series"` // by organization, then org ID, the total last; fine before coarse
}

// The history's resolutions.
const (
	SecondStep = time.Second
	SecondSpan = 10 * time.Minute
	CoarseStep = 30 * time.Second
	CoarseSpan = 24 * time.Hour
)

// Series is one organization's counts at one resolution. Point i holds
// the counts at the end of the step that starts at Start + i*Step (at At
// for the last, current one). Steps before the node started are absent.
type Series struct {
	Org      string    `json:"org"` // "" for the total
	OrgID    string    `json:"org_id,omitempty"`
	Total    bool      `json:"total,omitempty"`
	StepMs   int64     `json:"step_ms"`
	Start    time.Time `json:"start"`
	Alive    []int     `json:"alive"`
	AliveMin []int     `json:"alive_min"` // the least alive within the step
	AliveMax []int     `json:"alive_max"` // the most alive within the step
	Verified []int     `json:"verified"`
	Hosts    []int     `json:"hosts"`
	Suspect  []int     `json:"suspect"`
	Left     []int     `json:"left"`
}

// Step is the series' resolution.
func (s Series) Step() time.Duration { return time.Duration(s.StepMs) * time.Millisecond }

// ParseSince reads /v1/history's since: a duration back from now ("90s",
// "10m") or an RFC 3339 time; "" is CoarseSpan ago.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now.Add(-CoarseSpan), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("since %q is negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is neither a duration (10m) nor an RFC 3339 time", s)
	}
	return t, nil
}

// How a node knows of a peer it explains.
const (
	KnownSelf      = "self"        // the node itself
	KnownInView    = "in-view"     // in its view now
	KnownForgotten = "forgotten"   // in its view once, forgotten since
	KnownRefused   = "refused"     // only refused messages of it
	KnownNever     = "never-heard" // nothing at all
)

// Explanation is the whole story a node knows of one peer
// (/v1/peers/{id}, `orgpeer explain`).
type Explanation struct {
	PeerID string    `json:"peer_id"`
	At     time.Time `json:"at"`
	Known  string    `json:"known"` // a Known constant
	// Summary is the story in a few sentences, most telling first.
	Summary []string `json:"summary"`
	// Peer is the view's record (State, Since, LastSeen, Version, Addrs
	// it announced, Connected), when in the view.
	Peer      *orgs.PeerInfo  `json:"peer,omitempty"`
	Forgotten *orgs.Forgotten `json:"forgotten,omitempty"`
	// Learned says how the last message came: its own hello, a direct
	// heartbeat, or relayed by GossipSub through a neighbour.
	Learned string `json:"learned,omitempty"`
	// Why is why it is verified or not now: orgs.ReasonVerified, an
	// orgs.Unverified constant or a refused credential's reason.
	Why string `json:"why,omitempty"`
	// Connections are the remote addresses of the node's connections to it.
	Connections []string `json:"connections,omitempty"`
	orgs.PeerEvidence
}

// ReasonText says a verification reason in words.
func ReasonText(reason string) string {
	switch reason {
	case orgs.ReasonVerified:
		return "verified: a valid credential of a trusted organization"
	case orgs.UnverifiedNoCredential:
		return "not verified: no credential (a bare claim)"
	case orgs.UnverifiedUntrusted:
		return "not verified: a credential of an organization this node does not trust"
	case orgs.UnverifiedMissing:
		return "not verified: its credential, named by ID, never arrived here in full (asked for)"
	case orgs.ReasonRevoked:
		return "not verified: its credential was revoked by its organization"
	case orgs.ReasonExpired:
		return "not verified: its credential has expired"
	case orgs.ReasonNotYetValid:
		return "not verified: its credential is not valid yet"
	case orgs.ReasonWrongPeer:
		return "not verified: its credential was issued to another peer"
	case orgs.ReasonWrongOrg:
		return "not verified: its credential is for another organization"
	case orgs.ReasonBadCredential:
		return "not verified: its credential is not signed by its organization's key"
	case "":
		return "unknown"
	}
	return reason
}
