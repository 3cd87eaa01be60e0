package orgs

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config sets the view's timers and bounds.
type Config struct {
	// LivenessWindow: a peer silent for longer than this is suspect (a
	// probe may find it gone sooner: see Suspect).
	LivenessWindow time.Duration
	// SuspectRetention: a peer silent for longer than this is forgotten.
	SuspectRetention time.Duration
	// LeftRetention: a peer that left is forgotten this long after its leave.
	LeftRetention time.Duration
	// OrgRetention: an organization no member was heard from for this long,
	// and that has no remembered peer, is forgotten; so is a name a
	// directory listing mentioned this long ago (see NoteOrg).
	OrgRetention time.Duration
	// MaxPeers bounds the peers remembered (the node itself aside).
	MaxPeers int
	// MaxUnverified bounds the unverified peers among them (newcomers
	// only), because bare claims cost nothing to mint. Zero: MaxPeers, for
	// clusters without credentials; MaxPeers/10 suits one that uses them.
	MaxUnverified int
	// MaxOrgs bounds the organizations heard from, and apart the names
	// directory listings mentioned.
	MaxOrgs int
	// TombstoneRetention: a forgotten peer's last version is kept this
	// long, so that its replayed old heartbeats cannot bring it back; it
	// must exceed the replay window (the maxAge given Fresh). Zero: ten
	// times the longer of SuspectRetention and LeftRetention.
	TombstoneRetention time.Duration
	// MaxTombstones bounds the forgotten peers remembered, the longest
	// forgotten dropped first. Zero: MaxPeers.
	MaxTombstones int
}

// withDefaults sets the fields left zero that have a default.
func (c Config) withDefaults() Config {
	if c.TombstoneRetention == 0 {
		c.TombstoneRetention = 10 * max(c.SuspectRetention, c.LeftRetention)
	}
	if c.MaxUnverified == 0 {
		c.MaxUnverified = c.MaxPeers
	}
	if c.MaxTombstones == 0 {
		c.MaxTombstones = c.MaxPeers
	}
	return c
}

// Heartbeat is a validated presence announcement, ready for the view.
type Heartbeat struct {
	PeerID   string
	Org      string
	OrgID    string
	Version  Version
	Host     string
	Addrs    []string  // nil: unchanged (a compact heartbeat)
	Direct   bool      // received from the sender itself, not relayed
	Hello    bool      // received on a hello stream, not on the topic
	Verified bool      // carries a valid credential of a trusted organization
	Serial   uint64    // that credential's serial
	NotAfter time.Time // that credential's expiry: the peer is verified until then
	// Why says why the peer is not verified (an Unverified constant);
	// "" reads as UnverifiedNoCredential.
	Why string
	// Sent is the sender's signed send time (zero: not known). A heartbeat
	// sent before a probe proved its sender's process gone does not revive
	// it: it was in flight, or in a gossip cache, when the process died.
	Sent time.Time
}

// Outcome says what the view did with an announcement.
type Outcome uint8

const (
	Applied  Outcome = iota // known peer updated
	Added                   // first heartbeat of this peer
	Rejoined                // a peer that was suspect or left is alive again
	Stale                   // not newer than what the view has: ignored
	Unknown                 // a leave from a peer the view does not know: ignored
	Full                    // MaxPeers, or MaxUnverified for an unverified peer, reached: ignored
	IsSelf                  // about the node itself: ignored
)

var outcomeNames = [...]string{"applied", "added", "rejoined", "stale", "unknown", "full", "self"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// EventSink hears every change of a peer's state or verification, after
// the view's lock is released. It is called by one goroutine at a time, in
// the order of the changes; it must not block, nor call the view.
type EventSink func(Transition)

// View is one node's picture of the peers of every organization. It is safe
// for concurrent use. It hands out copies only.
type View struct {
	cfg   Config
	clock Clock
	sink  EventSink
	// emitMu is taken before mu is released and held while the sink
	// hears the changes made under mu: the sink hears them in order.
	emitMu sync.Mutex

	mu    sync.Mutex
	self  PeerInfo
	peers map[string]*entry
	// unverified counts the peers whose Verified is false (MaxUnverified).
	unverified int
	orgs       orgSet
	tombs      *lru[string, tombstone]
	sampling   Sampling // nil: every organization is counted exactly
}

type entry struct {
	PeerInfo
	changed  time.Time // when the state last changed (leave time for left)
	credEnds time.Time // when the credential that verifies it expires; zero: none does
	goneAt   time.Time // when a probe proved this incarnation's process gone; zero: none did
}

// NewView returns an empty view whose own peer is self (state alive).
func NewView(cfg Config, clock Clock, self PeerInfo, sink EventSink) *View {
	if clock == nil {
		clock = SystemClock{}
	}
	self.State, self.Self, self.Learned = StateAlive, true, LearnedSelf
	self.LastSeen, self.Since = clock.Now(), clock.Now()
	cfg = cfg.withDefaults()
	v := &View{cfg: cfg, clock: clock, sink: sink, self: self, peers: make(map[string]*entry),
		orgs: newOrgSet(cfg.MaxOrgs, cfg.OrgRetention), tombs: newLRU[string, tombstone](cfg.MaxTombstones)}
	v.orgs.kept[self.Org] = struct{}{}
	return v
}

// UpdateSelf changes the node's own record (addresses, verification).
func (v *View) UpdateSelf(f func(*PeerInfo)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(&v.self)
	v.self.State, v.self.Self, v.self.Learned = StateAlive, true, LearnedSelf
}

// ApplyHeartbeat records a heartbeat. Older or equal versions are ignored,
// also those of a peer forgotten within TombstoneRetention.
func (v *View) ApplyHeartbeat(hb Heartbeat) Outcome {
	v.mu.Lock()
	out, evs := v.applyHeartbeat(hb)
	v.unlockEmit(evs)
	return out
}

// applyHeartbeat is ApplyHeartbeat; v.mu must be held.
func (v *View) applyHeartbeat(hb Heartbeat) (Outcome, []Transition) {
	if hb.PeerID == v.self.PeerID {
		return IsSelf, nil
	}
	now := v.clock.Now()
	e, ok := v.peers[hb.PeerID]
	var evs []Transition
	if ok {
		if ev, changed := v.expireOne(hb.PeerID, e, now); changed {
			evs = append(evs, ev...)
			e, ok = v.peers[hb.PeerID]
		}
	}
	out := Applied
	switch {
	case ok && !e.Version.Less(hb.Version), !ok && v.replayed(hb.PeerID, hb.Version, now):
		return Stale, evs
	case ok && e.State == StateSuspect && !e.goneAt.IsZero() && hb.Version.Epoch == e.Version.Epoch &&
		!hb.Sent.IsZero() && hb.Sent.Before(e.goneAt):
		// Proven gone (a probe found nothing listening), and this
		// heartbeat of the same incarnation was sent before the proof:
		// the dead are not revived by their last words. The prober
		// probes only addresses on its own machine, so the two times
		// come from one clock.
		return Stale, evs
	case !ok:
		if !v.hasRoom(hb.Verified) {
			ev, evicted := v.evictOne(now, !hb.Verified)
			if !evicted {
				return Full, evs
			}
			evs = append(evs, ev)
		}
		e = &entry{}
		v.peers[hb.PeerID] = e
		v.unverified++            // until setVerified below: a new entry is unverified
		v.tombs.remove(hb.PeerID) // a newer version: a restart, not a replay
		out = Added
	case e.State != StateAlive:
		out = Rejoined
	}
	from, wasVerified := e.State, e.Verified
	e.PeerID, e.Org, e.OrgID, e.Version = hb.PeerID, hb.Org, hb.OrgID, hb.Version
	e.Host, e.Serial, e.credEnds = hb.Host, hb.Serial, time.Time{}
	if hb.Verified {
		e.credEnds = hb.NotAfter
	}
	v.setVerified(e, hb.Verified)
	if hb.Addrs != nil { // compact heartbeats leave the addresses out
		e.Addrs = slices.Clone(hb.Addrs)
	}
	e.LastSeen = now
	e.Learned = LearnedRelayed
	if hb.Direct {
		e.Learned = LearnedDirect
	}
	v.orgs.hear(hb.Org, now)
	if from != StateAlive {
		e.State, e.changed = StateAlive, now
	}
	e.goneAt = time.Time{}
	if out == Added && v.sampled(hb.Org) {
		// A sampled organization's members come and go with the sample:
		// no transition, else every round would bring a storm of them.
		return out, evs
	}
	if from != StateAlive || wasVerified != hb.Verified {
		cause := CauseHeartbeat
		if hb.Hello {
			cause = CauseHello
		}
		evs = append(evs, v.transition(e, from, wasVerified, cause, hb.Version, verifiedWhy(hb)))
	}
	return out, evs
}

// verifiedWhy is why a heartbeat makes its peer verified or not.
func verifiedWhy(hb Heartbeat) string {
	switch {
	case hb.Verified:
		return ReasonVerified
	case hb.Why == "":
		return UnverifiedNoCredential
	}
	return hb.Why
}

// ApplyLeave records that a peer announced its departure. A leave older than
// the peer's last heartbeat is ignored; so is one from an unknown peer.
func (v *View) ApplyLeave(peerID string, ver Version) Outcome {
	v.mu.Lock()
	now := v.clock.Now()
	var evs []Transition
	out := func() Outcome {
		if peerID == v.self.PeerID {
			return IsSelf
		}
		e, ok := v.peers[peerID]
		if ok {
			var ev []Transition
			ev, _ = v.expireOne(peerID, e, now)
			evs = append(evs, ev...)
			e, ok = v.peers[peerID]
		}
		if !ok {
			return Unknown
		}
		if !e.Version.Less(ver) {
			return Stale
		}
		from := e.State
		e.Version, e.State, e.changed = ver, StateLeft, now
		if from != StateLeft {
			evs = append(evs, v.transition(e, from, e.Verified, CauseLeave, ver, ""))
		}
		return Applied
	}()
	v.unlockEmit(evs)
	return out
}

// Silent returns the alive peers that have been silent for longer than
// after, at most limit of them, longest silent first: the ones a prober
// may check before their liveness window ends. next is how long until the
// next alive peer becomes silent so, if none is heard from meanwhile;
// after when no alive peer is still within it (one heard from from now on
// becomes silent no sooner).
func (v *View) Silent(after time.Duration, limit int) (out []PeerInfo, next time.Duration) {
	v.mu.Lock()
	now := v.clock.Now()
	next = after
	for _, e := range v.peers {
		if e.State != StateAlive || e.Self || v.sampled(e.Org) {
			continue // a sampled organization's members are silent by design
		}
		switch silent := now.Sub(e.LastSeen); {
		case silent <= after:
			next = min(next, after-silent)
		case silent <= v.cfg.LivenessWindow:
			out = append(out, e.copy())
		}
	}
	v.mu.Unlock()
	slices.SortFunc(out, func(a, b PeerInfo) int { // ties by ID: the same view gives the same list
		if c := a.LastSeen.Compare(b.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.PeerID, b.PeerID)
	})
	return out[:min(len(out), limit)], next
}

// Suspect makes an alive peer suspect before its liveness window ends,
// because a probe found it gone. It acts only if nothing was heard from the
// peer since lastSeen, the LastSeen the probe was started for: a heartbeat
// that arrived meanwhile wins. It reports whether the peer became suspect.
func (v *View) Suspect(peerID string, lastSeen time.Time) bool {
	v.mu.Lock()
	var evs []Transition
	e, ok := v.peers[peerID]
	if ok && e.State == StateAlive && e.LastSeen.Equal(lastSeen) {
		e.State, e.changed, e.goneAt = StateSuspect, v.clock.Now(), v.clock.Now()
		evs = append(evs, v.transition(e, StateAlive, e.Verified, CauseProbe, Version{}, ""))
	}
	v.unlockEmit(evs)
	return len(evs) > 0
}

// SetConnected records whether the node holds a direct connection to the
// peer. Unknown peers are ignored: a connection alone is not a member.
func (v *View) SetConnected(peerID string, connected bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.peers[peerID]; ok {
		e.Connected = connected
	}
}

// Unverify withdraws the verified mark of every peer that revoked matches
// (a revocation list arrived) and returns how many it changed.
func (v *View) Unverify(revoked func(PeerInfo) bool) int {
	v.mu.Lock()
	var evs []Transition
	for _, e := range v.peers {
		if e.Verified && revoked(e.PeerInfo) {
			v.setVerified(e, false)
			e.OrgID, e.Serial = "", 0
			evs = append(evs, v.transition(e, e.State, true, CauseRevocation, Version{}, ReasonRevoked))
		}
	}
	v.unlockEmit(evs)
	return len(evs)
}

// Get returns one peer (the node itself included).
func (v *View) Get(peerID string) (PeerInfo, bool) {
	v.mu.Lock()
	var evs []Transition
	var p PeerInfo
	e, ok := v.peers[peerID]
	if ok {
		evs, _ = v.expireOne(peerID, e, v.clock.Now())
		e, ok = v.peers[peerID]
	}
	switch {
	case ok:
		p = e.copy()
	case peerID == v.self.PeerID:
		p, ok = v.selfCopy(), true
	}
	v.unlockEmit(evs)
	return p, ok
}

// Filter selects peers; zero fields match everything.
type Filter struct {
	Org   string
	State PeerState
}

// Peers returns copies of the peers matching f, the node itself included,
// sorted by organization and peer ID.
func (v *View) Peers(f Filter) []PeerInfo {
	v.mu.Lock()
	evs := v.expire(v.clock.Now())
	out := make([]PeerInfo, 0, len(v.peers)+1)
	match := func(p *PeerInfo) bool {
		return (f.Org == "" || p.Org == f.Org) && (f.State == StateUnknown || p.State == f.State)
	}
	if match(&v.self) {
		out = append(out, v.selfCopy())
	}
	for _, e := range v.peers {
		if match(&e.PeerInfo) {
			out = append(out, e.copy())
		}
	}
	v.unlockEmit(evs)
	slices.SortFunc(out, func(a, b PeerInfo) int {
		if c := strings.Compare(a.Org, b.Org); c != 0 {
			return c
		}
		return strings.Compare(a.PeerID, b.PeerID)
	})
	return out
}

// Expire applies the time-based transitions now. Every reader does this too;
// calling it on a timer only makes the event sink hear about them promptly.
func (v *View) Expire() {
	v.mu.Lock()
	evs := v.expire(v.clock.Now())
	v.unlockEmit(evs)
}

// transition is the change of e from the state from and the verified mark
// wasVerified, for the sink. v.mu must be held.
func (v *View) transition(e *entry, from PeerState, wasVerified bool, cause string, ver Version, reason string) Transition {
	return Transition{At: v.clock.Now(), Peer: e.copy(), From: from, WasVerified: wasVerified,
		Cause: cause, Version: ver, Reason: reason}
}

// unlockEmit releases v.mu and hands evs to the sink. The sink hears the
// changes of one holder of v.mu before those of the next (emitMu is
// taken before v.mu is released).
func (v *View) unlockEmit(evs []Transition) {
	if v.sink == nil || len(evs) == 0 {
		v.mu.Unlock()
		return
	}
	v.emitMu.Lock()
	v.mu.Unlock()
	defer v.emitMu.Unlock()
	for _, ev := range evs {
		v.sink(ev)
	}
}

// expire moves silent alive peers to suspect and forgets suspect and left
// peers past their retention. v.mu must be held.
func (v *View) expire(now time.Time) []Transition {
	v.self.LastSeen = now
	var evs []Transition
	for id, e := range v.peers {
		ev, _ := v.expireOne(id, e, now)
		evs = append(evs, ev...)
	}
	v.orgs.expire(now, v.hasPeersIn)
	v.tombs.trim(func(t tombstone) bool { return now.Sub(t.at) > v.cfg.TombstoneRetention })
	return evs
}

// expireOne applies the time-based transitions to one peer: alive to
// suspect after the liveness window, suspect and left to forgotten after
// their retention. v.mu must be held.
func (v *View) expireOne(id string, e *entry, now time.Time) (evs []Transition, changed bool) {
	silent := now.Sub(e.LastSeen)
	if e.Verified && !e.credEnds.IsZero() && !now.Before(e.credEnds) {
		v.setVerified(e, false)
		e.OrgID, e.Serial, e.credEnds = "", 0, time.Time{}
		evs = append(evs, v.transition(e, e.State, true, CauseExpiry, Version{}, ReasonExpired))
	}
	if e.State == StateAlive && silent > v.cfg.LivenessWindow && v.sampled(e.Org) {
		v.rotate(id, e, now)
		return evs, true
	}
	if e.State == StateAlive && silent > v.cfg.LivenessWindow {
		e.State, e.changed = StateSuspect, now
		evs = append(evs, v.transition(e, StateAlive, e.Verified, CauseWindow, Version{}, ""))
	}
	if e.State == StateSuspect && silent > v.cfg.SuspectRetention ||
		e.State == StateLeft && now.Sub(e.changed) > v.cfg.LeftRetention {
		evs = append(evs, v.drop(id, e, now, CauseExpiry))
	}
	return evs, len(evs) > 0
}

// IsStale reports whether an announcement of version ver from peerID is not
// newer than what the view holds, or held when it forgot the peer. It is
// cheap: validators call it on every message.
func (v *View) IsStale(peerID string, ver Version) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.peers[peerID]; ok {
		return !e.Version.Less(ver)
	}
	return v.replayed(peerID, ver, v.clock.Now())
}

// RefreshConnected sets every known peer's connected flag from isConnected,
// which is called with the view's lock held and must not call the view.
func (v *View) RefreshConnected(isConnected func(peerID string) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, e := range v.peers {
		e.Connected = isConnected(id)
	}
}

func (v *View) hasPeersIn(org string) bool {
	for _, e := range v.peers {
		if e.Org == org {
			return true
		}
	}
	return false
}

func (e *entry) copy() PeerInfo {
	p := e.PeerInfo
	p.Addrs = slices.Clone(p.Addrs)
	p.Since = e.changed
	return p
}

func (v *View) selfCopy() PeerInfo {
	p := v.self
	p.Addrs = slices.Clone(p.Addrs)
	return p
}
