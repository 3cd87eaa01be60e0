package orgs

import "time"

// What made a peer change: each transition the view's EventSink hears
// names one of these as its Cause.
const (
	CauseHeartbeat  = "heartbeat"  // a heartbeat arrived on the organization's topic
	CauseHello      = "hello"      // a heartbeat arrived on a hello stream, from the peer itself
	CauseLeave      = "leave"      // the peer announced its departure
	CauseProbe      = "probe"      // every TCP address it announced refused a connection
	CauseWindow     = "window"     // silent past the liveness window
	CauseExpiry     = "expiry"     // suspect or left past its retention: forgotten; or its credential expired: unverified
	CauseEviction   = "eviction"   // forgotten to make room for a newcomer
	CauseRevocation = "revocation" // its organization revoked its credential: unverified
)

// Why a peer is or is not verified, beside the Reason constants of refused
// credentials (credential-revoked, credential-expired, ...).
const (
	ReasonVerified         = "credential-valid"   // a valid credential of a trusted organization
	UnverifiedNoCredential = "no-credential"      // a bare claim
	UnverifiedUntrusted    = "untrusted-org"      // a credential of an organization this node does not trust
	UnverifiedMissing      = "credential-missing" // named by ID in a compact heartbeat, never received in full; asked for
)

// Transition is one change of a peer in a view: its state, its
// verification, or both. The view hands out one per change, in order, to
// its EventSink.
type Transition struct {
	At time.Time `json:"at"`
	// Peer is the peer after the change; its State is StateUnknown when
	// the view forgot it.
	Peer PeerInfo  `json:"peer"`
	From PeerState `json:"from"` // the state before; StateUnknown for a peer new to the view
	// WasVerified is Peer.Verified before the change.
	WasVerified bool   `json:"was_verified"`
	Cause       string `json:"cause"` // one of the Cause constants
	// Version is that of the message that caused the change (a heartbeat
	// or a leave); zero when time or a probe did.
	Version Version `json:"version"`
	// Reason says why Peer.Verified is what it is (ReasonVerified, an
	// Unverified constant or a refused credential's Reason), when a
	// message or a revocation said so; "" when time did.
	Reason string `json:"reason,omitempty"`
}

// StateChanged reports whether the peer's state changed (else only its
// verification did).
func (t Transition) StateChanged() bool { return t.From != t.Peer.State }

// VerifiedChanged reports whether the peer's verified mark changed.
func (t Transition) VerifiedChanged() bool { return t.WasVerified != t.Peer.Verified }
