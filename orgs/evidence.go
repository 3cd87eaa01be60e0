package orgs

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Evidence is what a node keeps, per peer, to explain its view of that
// peer: the last message accepted from it, the verdict on its credential,
// its last probes, its last transitions, and apart the messages of it that
// were refused. It is safe for concurrent use and bounded: at most
// maxPeers peers of accepted messages and transitions (the least recently
// noted forgotten first; with EvidenceHistory transitions, EvidenceProbes
// probes and one credential each, about 2 KB a peer at most, so 8 MB for
// the node's 4096), and apart maxRefused peers whose messages were refused
// (about 400 bytes each), so that a flood of refused messages from minted
// identities displaces no other peer's evidence.
type Evidence struct {
	clock Clock

	mu      sync.Mutex
	peers   *lru[string, *peerEvidence]
	refused *lru[string, *Refusals]
}

// Bounds of one peer's evidence.
const (
	EvidenceHistory = 16 // transitions kept per peer
	EvidenceProbes  = 4  // probes kept per peer
)

type peerEvidence struct {
	msg    *MessageNote
	cred   *CredentialNote
	probes []ProbeNote      // oldest first, at most EvidenceProbes
	trans  []TransitionNote // oldest first, at most EvidenceHistory
}

// MessageNote is the last message a node accepted from a peer.
type MessageNote struct {
	Kind    string    `json:"kind"` // heartbeat or leave
	At      time.Time `json:"at"`
	Version Version   `json:"version"`
	// Source is how it came: SourceTopic (GossipSub) or SourceHello (a
	// hello stream, from the peer itself).
	Source string `json:"source"`
	// Via is the neighbour it came from: the peer itself when direct,
	// another peer that relayed it on the topic otherwise.
	Via  string `json:"via,omitempty"`
	Full bool   `json:"full"` // carried the credential and addresses in full (not compact)
}

// How a message reached the node.
const (
	SourceTopic = "topic" // the organization's GossipSub topic
	SourceHello = "hello" // a hello stream
)

// CredentialNote is the node's verdict on the credential a peer's last
// accepted heartbeat presented (or named).
type CredentialNote struct {
	At        time.Time `json:"at"`
	OrgID     string    `json:"org_id,omitempty"` // "" for a bare claim or a credential never received
	OrgName   string    `json:"org_name,omitempty"`
	Serial    uint64    `json:"serial,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	Verified  bool      `json:"verified"`
	// Reason is ReasonVerified, an Unverified constant, or the Reason of a
	// credential refused since (credential-revoked when a revocation list
	// withdrew it).
	Reason string `json:"reason"`
}

// ProbeNote is one probe of a silent peer's TCP addresses.
type ProbeNote struct {
	At time.Time `json:"at"`
	// Refused: every TCP address it announced refused a connection (its
	// process is gone); else the probe proved nothing.
	Refused bool `json:"refused"`
}

// TransitionNote is a Transition as a peer's history keeps it.
type TransitionNote struct {
	At          time.Time `json:"at"`
	From        PeerState `json:"from"`
	To          PeerState `json:"to"` // StateUnknown: forgotten
	WasVerified bool      `json:"was_verified"`
	Verified    bool      `json:"verified"`
	Cause       string    `json:"cause"`
	Version     Version   `json:"version"`
	Reason      string    `json:"reason,omitempty"`
}

// Refusals counts the messages of one peer that a node refused (rejected
// or ignored), by reason.
type Refusals struct {
	Total    int            `json:"total"`
	ByReason map[string]int `json:"by_reason"` // "rejected: credential-expired": 3
	First    time.Time      `json:"first"`
	Last     time.Time      `json:"last"`
	// LastReason is the reason of the last one, LastResult "rejected" or
	// "ignored".
	LastReason string `json:"last_reason"`
	LastResult string `json:"last_result"`
}

// PeerEvidence is a copy of what an Evidence holds of one peer.
type PeerEvidence struct {
	Message     *MessageNote     `json:"message,omitempty"`
	Credential  *CredentialNote  `json:"credential,omitempty"`
	Probes      []ProbeNote      `json:"probes,omitempty"`      // oldest first
	Transitions []TransitionNote `json:"transitions,omitempty"` // oldest first
	Refusals    *Refusals        `json:"refusals,omitempty"`
}

// NewEvidence returns an empty store for maxPeers peers, and maxRefused
// peers apart whose messages were refused.
func NewEvidence(maxPeers, maxRefused int, clock Clock) *Evidence {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Evidence{clock: clock, peers: newLRU[string, *peerEvidence](maxPeers),
		refused: newLRU[string, *Refusals](maxRefused)}
}

// peer returns peerID's evidence, new if there is none. e.mu must be held.
func (e *Evidence) peer(peerID string) *peerEvidence {
	if p, ok := e.peers.get(peerID, true); ok {
		return p
	}
	p := &peerEvidence{}
	e.peers.put(peerID, p)
	return p
}

// Message notes a message accepted from peerID, and the verdict on the
// credential its heartbeat presented (cred nil for a leave).
func (e *Evidence) Message(peerID string, m MessageNote, cred *CredentialNote) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.peer(peerID)
	p.msg = &m
	if cred != nil {
		c := *cred
		p.cred = &c
	}
}

// Probe notes a probe of peerID.
func (e *Evidence) Probe(peerID string, refused bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.peer(peerID)
	p.probes = keepLast(p.probes, ProbeNote{At: e.clock.Now(), Refused: refused}, EvidenceProbes)
}

// Transition notes a transition of a peer; one that withdraws its verified
// mark (a revocation, an expiry) marks its credential so too.
func (e *Evidence) Transition(tr Transition) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.peer(tr.Peer.PeerID)
	p.trans = keepLast(p.trans, TransitionNote{At: tr.At, From: tr.From, To: tr.Peer.State, WasVerified: tr.WasVerified,
		Verified: tr.Peer.Verified, Cause: tr.Cause, Version: tr.Version, Reason: tr.Reason}, EvidenceHistory)
	if tr.WasVerified && !tr.Peer.Verified && tr.Reason != "" && p.cred != nil {
		p.cred.Verified, p.cred.Reason, p.cred.At = false, tr.Reason, tr.At
	}
}

// Refuse notes that a message of peerID was refused: result is "rejected"
// or "ignored", reason its label in the metrics.
func (e *Evidence) Refuse(peerID, result, reason string) {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.refused.get(peerID, true)
	if !ok {
		r = &Refusals{ByReason: map[string]int{}, First: now}
		e.refused.put(peerID, r)
	}
	r.Total++
	r.ByReason[result+": "+reason]++
	r.Last, r.LastReason, r.LastResult = now, reason, result
}

// Of returns a copy of what the store holds of peerID; false when nothing.
func (e *Evidence) Of(peerID string) (PeerEvidence, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out PeerEvidence
	p, okP := e.peers.get(peerID, false)
	if okP {
		if p.msg != nil {
			m := *p.msg
			out.Message = &m
		}
		if p.cred != nil {
			c := *p.cred
			out.Credential = &c
		}
		out.Probes, out.Transitions = slices.Clone(p.probes), slices.Clone(p.trans)
	}
	r, okR := e.refused.get(peerID, false)
	if okR {
		c := *r
		c.ByReason = maps.Clone(r.ByReason)
		out.Refusals = &c
	}
	return out, okP || okR
}

// keepLast appends v to s and drops the oldest beyond n.
func keepLast[T any](s []T, v T, n int) []T {
	if len(s) < n {
		return append(s, v)
	}
	copy(s, s[1:])
	s[len(s)-1] = v
	return s
}
