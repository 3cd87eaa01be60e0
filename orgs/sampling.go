package orgs

import "time"

// Sampling is what the view asks of the node's sampler (orgs/sample) about
// organizations whose members publish sampled heartbeats: in such an
// organization a member is silent in most rounds by design, so its silence
// says nothing of its health.
//
// Both methods are called with the view's lock held, from any goroutine:
// they must be cheap, safe for concurrent use, and must not call the view.
type Sampling interface {
	// Sampled reports whether the organization of this name is in
	// estimate mode. Its members are added and, once silent past the
	// liveness window, forgotten without a transition (no event storm as
	// the sample rotates), and are not offered to the prober: the members
	// it heard within the window remain an exact lower bound.
	Sampled(org string) bool
	// Estimate returns the estimate of the row (org name, org ID; "" for
	// bare claims), nil when the organization is counted exactly.
	Estimate(org, orgID string) *Estimate
	// Rows returns the rows the sampler has an estimate for: an
	// organization the node does not follow, known from its members'
	// census alone, has a row of its own (no peer of it in the view).
	Rows() []RowKey
}

// RowKey names a row of a snapshot: an organization's name and the org ID
// its verified members proved ("" for bare claims).
type RowKey struct{ Org, OrgID string }

// CauseRotated is the tombstone cause of a peer of a sampled organization
// that fell silent: it rotated out of the sample, it did not fail. No
// transition announces it.
const CauseRotated = "rotated"

// SetSampling makes the view consult s; nil (the default) counts every
// organization exactly. Call it before the view is shared.
func (v *View) SetSampling(s Sampling) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sampling = s
}

// sampled reports whether org is in estimate mode. v.mu must be held.
func (v *View) sampled(org string) bool {
	return v.sampling != nil && v.sampling.Sampled(org)
}

// rotate forgets a silent peer of a sampled organization without a
// transition, keeping its tombstone against replays. Direct neighbours
// rotate too: a connection never makes a peer alive (a killed peer's QUIC
// connections linger for half a minute), and a neighbour heard within
// the liveness window is counted like any peer heard. v.mu must be held.
func (v *View) rotate(id string, e *entry, now time.Time) {
	v.drop(id, e, now, CauseRotated)
}
