package orgs

import "time"

// How the view makes room and forgets: a budget apart for unverified peers,
// eviction, and tombstones that keep forgotten peers' replays out.

// tombstone is what the view keeps of a peer it forgot.
type tombstone struct {
	ver   Version   // the last version the view held
	at    time.Time // when it forgot the peer
	org   string
	from  PeerState // its state then
	since time.Time // in that state since
	cause string    // CauseExpiry or CauseEviction
}

// Forgotten is what a view remembers of a peer it forgot, for
// TombstoneRetention (MaxTombstones of them at most).
type Forgotten struct {
	PeerID  string    `json:"peer_id"`
	Org     string    `json:"org"`
	At      time.Time `json:"at"`      // when the view forgot it
	Cause   string    `json:"cause"`   // CauseExpiry or CauseEviction
	From    PeerState `json:"from"`    // its state then: suspect or left
	Since   time.Time `json:"since"`   // in that state since
	Version Version   `json:"version"` // the last version the view held
}

// Forgotten returns what the view remembers of a peer it forgot; false
// when it holds the peer, or never held it, or forgot it too long ago.
func (v *View) Forgotten(peerID string) (Forgotten, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.tombs.get(peerID, false)
	if !ok || v.clock.Now().Sub(t.at) > v.cfg.TombstoneRetention {
		return Forgotten{}, false
	}
	return Forgotten{PeerID: peerID, Org: t.org, At: t.at, Cause: t.cause, From: t.from, Since: t.since, Version: t.ver}, true
}

// drop forgets a peer, keeping a tombstone of its version, and returns the
// transition: its new state is StateUnknown, "forgotten".
func (v *View) drop(id string, e *entry, now time.Time, cause string) Transition {
	delete(v.peers, id)
	if !e.Verified {
		v.unverified--
	}
	v.tombs.put(id, tombstone{ver: e.Version, at: now, org: e.Org, from: e.State, since: e.changed, cause: cause})
	from := e.State
	e.State = StateUnknown
	e.changed = now
	return v.transition(e, from, e.Verified, cause, Version{}, "")
}

// hasRoom reports whether a new peer fits in MaxPeers and, when it is not
// verified, in MaxUnverified.
func (v *View) hasRoom(verified bool) bool {
	return len(v.peers) < v.cfg.MaxPeers && (verified || v.unverified < v.cfg.MaxUnverified)
}

// setVerified sets e's verified mark and keeps the unverified count.
func (v *View) setVerified(e *entry, verified bool) {
	switch {
	case e.Verified && !verified:
		v.unverified++
	case !e.Verified && verified:
		v.unverified--
	}
	e.Verified = verified
}

// evictOne forgets the longest-silent peer that is not alive, to make room,
// and returns that transition. unverifiedOnly spares verified peers: an
// unverified newcomer may not displace one.
func (v *View) evictOne(now time.Time, unverifiedOnly bool) (Transition, bool) {
	var victim string
	var oldest time.Time
	for id, e := range v.peers {
		gone := e.State != StateAlive || now.Sub(e.LastSeen) > v.cfg.LivenessWindow
		if gone && !(unverifiedOnly && e.Verified) && (victim == "" || e.LastSeen.Before(oldest)) {
			victim, oldest = id, e.LastSeen
		}
	}
	if victim == "" {
		return Transition{}, false
	}
	return v.drop(victim, v.peers[victim], now, CauseEviction), true
}

// replayed reports whether ver is not newer than the version of peerID
// when the view forgot it, within TombstoneRetention. v.mu must be held.
func (v *View) replayed(peerID string, ver Version, now time.Time) bool {
	t, ok := v.tombs.get(peerID, false)
	return ok && now.Sub(t.at) <= v.cfg.TombstoneRetention && !t.ver.Less(ver)
}
