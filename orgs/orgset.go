package orgs

import (
	"maps"
	"slices"
	"time"
)

// orgSet is the organizations a view knows of. It counts those the node
// keeps (its own, trusted and watched ones) and those with a member heard
// from; names a directory listing mentions are only hints, which the node
// may follow but the view does not count, since anyone can list junk. v.mu
// guards it.
type orgSet struct {
	max       int
	retention time.Duration
	kept      map[string]struct{}
	heard     map[string]time.Time    // -> the last heartbeat applied
	hints     *lru[string, time.Time] // -> the last listing that named it
}

func newOrgSet(max int, retention time.Duration) orgSet {
	return orgSet{max: max, retention: retention, kept: map[string]struct{}{},
		heard: map[string]time.Time{}, hints: newLRU[string, time.Time](max)}
}

// counts reports whether the view counts the organization name.
func (s *orgSet) counts(name string) bool {
	_, kept := s.kept[name]
	_, heard := s.heard[name]
	return kept || heard
}

// hear records a heartbeat of a member of name. Past max, a new name is not
// recorded: its members are counted still, but it is forgotten with them.
func (s *orgSet) hear(name string, now time.Time) {
	if _, ok := s.heard[name]; ok || len(s.heard) < s.max {
		s.heard[name] = now
		s.hints.remove(name)
	}
}

// hint records a listing naming name; the oldest hint makes room.
func (s *orgSet) hint(name string, now time.Time) {
	if !s.counts(name) {
		s.hints.put(name, now)
	}
}

// expire forgets hints older than retention, and heard organizations not
// heard for as long that have no peer left (hasPeers).
func (s *orgSet) expire(now time.Time, hasPeers func(org string) bool) {
	for name, last := range s.heard {
		if now.Sub(last) > s.retention && !hasPeers(name) {
			delete(s.heard, name)
		}
	}
	s.hints.trim(func(last time.Time) bool { return now.Sub(last) > s.retention })
}

// counted returns the names counted, sorted.
func (s *orgSet) counted() []string {
	names := slices.AppendSeq(slices.Collect(maps.Keys(s.kept)), maps.Keys(s.heard))
	slices.Sort(names)
	return slices.Compact(names)
}

// NoteOrg records that a directory listing named an organization: a hint,
// listed by Orgs for the node to follow, not counted. Hints are bounded by
// MaxOrgs, the oldest dropped first, and forgotten after OrgRetention.
func (v *View) NoteOrg(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.orgs.hint(name, v.clock.Now())
}

// KeepOrg makes the view count an organization for good, members heard or
// not: for the node's own, trusted and watched organizations. Not bounded:
// only the node's configuration may call it.
func (v *View) KeepOrg(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.orgs.kept[name] = struct{}{}
	v.orgs.hints.remove(name)
}

// Orgs returns the names of the organizations the view knows of, sorted:
// those it counts (CountedOrgs) and those directory listings named.
func (v *View) Orgs() []string {
	v.mu.Lock()
	evs := v.expire(v.clock.Now())
	names := v.orgs.counted()
	v.orgs.hints.each(func(name string, _ time.Time) { names = append(names, name) })
	v.unlockEmit(evs)
	slices.Sort(names)
	return names
}

// CountedOrgs returns the names of the organizations the view counts,
// sorted: those kept and those with a member heard within OrgRetention.
// Snapshot has a row for each (and for any other its peers claim).
func (v *View) CountedOrgs() []string {
	v.mu.Lock()
	evs := v.expire(v.clock.Now())
	names := v.orgs.counted()
	v.unlockEmit(evs)
	return names
}
