package orgs

import (
	"slices"
	"strings"
	"time"
)

// Snapshot counts every organization the view knows, at this instant.
func (v *View) Snapshot() Snapshot {
	v.mu.Lock()
	now := v.clock.Now()
	evs := v.expire(now)
	names := v.orgs.counted()
	byOrg := make(map[string]*tally, len(names))
	for _, name := range names {
		byOrg[name] = newTally(name)
	}
	total := newTally("")
	add := func(p *PeerInfo) {
		t, ok := byOrg[p.Org]
		if !ok {
			t = newTally(p.Org)
			byOrg[p.Org] = t
		}
		t.add(p, now)
		total.add(p, now)
	}
	add(&v.self)
	for _, e := range v.peers {
		add(&e.PeerInfo)
	}
	s := Snapshot{Self: v.self.PeerID, Org: v.self.Org, At: now, Total: total.counts()}
	v.mu.Unlock()
	v.emit(evs)

	s.Orgs = make([]OrgCounts, 0, len(byOrg))
	for _, t := range byOrg {
		s.Orgs = append(s.Orgs, t.counts())
	}
	slices.SortFunc(s.Orgs, func(a, b OrgCounts) int { return strings.Compare(a.Org, b.Org) })
	return s
}

type tally struct {
	OrgCounts
	hosts             map[string]struct{}
	freshest, stalest time.Duration
	haveAges          bool
}

func newTally(org string) *tally {
	return &tally{OrgCounts: OrgCounts{Org: org}, hosts: map[string]struct{}{}}
}

func (t *tally) add(p *PeerInfo, now time.Time) {
	if p.OrgID != "" && t.OrgID == "" && t.Org != "" {
		t.OrgID = p.OrgID
	}
	switch p.State {
	case StateSuspect:
		t.Suspect++
		return
	case StateLeft:
		t.Left++
		return
	case StateAlive:
	default:
		return
	}
	t.Alive++
	if p.Connected {
		t.Connected++
	}
	if p.Verified {
		t.Verified++
	} else {
		t.Unverified++
	}
	t.hosts[p.Host] = struct{}{}
	if p.Self {
		return
	}
	age := now.Sub(p.LastSeen)
	if !t.haveAges || age < t.freshest {
		t.freshest = age
	}
	if !t.haveAges || age > t.stalest {
		t.stalest = age
	}
	t.haveAges = true
}

func (t *tally) counts() OrgCounts {
	c := t.OrgCounts
	c.Hosts = len(t.hosts)
	if t.haveAges {
		f, s := t.freshest.Milliseconds(), t.stalest.Milliseconds()
		c.FreshestMs, c.StalestMs = &f, &s
	}
	return c
}
