package orgs

import (
	"slices"
	"strings"
	"time"
)

// Snapshot counts every organization the view knows, at this instant. Two
// organizations never share a row, even of the same name: a verified peer
// counts under its org ID; an unverified one under the one org ID verified
// peers give its name, or, with none or several, in a row of the name alone.
func (v *View) Snapshot() Snapshot {
	v.mu.Lock()
	now := v.clock.Now()
	evs := v.expire(now)
	ids := map[string]nameIDs{}
	v.eachPeer(func(p *PeerInfo) {
		if id := provenID(p); id != "" {
			ids[p.Org] = ids[p.Org].with(id)
		}
	})
	rows := map[rowKey]*tally{}
	total := newTally(rowKey{})
	v.eachPeer(func(p *PeerInfo) {
		k := rowKey{p.Org, provenID(p)}
		if k.id == "" {
			k.id = ids[p.Org].only()
		}
		t, ok := rows[k]
		if !ok {
			t = newTally(k)
			rows[k] = t
		}
		t.add(p, now)
		total.add(p, now)
	})
	if v.sampling != nil {
		for _, r := range v.sampling.Rows() {
			if k := (rowKey{r.Org, r.OrgID}); rows[k] == nil {
				rows[k] = newTally(k)
			}
			if r.OrgID != "" {
				ids[r.Org] = ids[r.Org].with(r.OrgID) // its name needs no row of bare claims
			}
		}
	}
	for _, name := range v.orgs.counted() {
		if _, ok := ids[name]; !ok {
			if k := (rowKey{name: name}); rows[k] == nil {
				rows[k] = newTally(k)
			}
		}
	}
	s := Snapshot{Self: v.self.PeerID, Org: v.self.Org, At: now, Total: total.counts()}
	sampling := v.sampling
	v.unlockEmit(evs)

	s.Orgs = make([]OrgCounts, 0, len(rows))
	for _, t := range rows {
		c := t.counts()
		if sampling != nil {
			if e := sampling.Estimate(c.Org, c.OrgID); e != nil {
				c.Mode, c.Estimate = ModeEstimate, e
				s.Total.Mode = ModeEstimate // the total's counts are then lower bounds
			}
		}
		s.Orgs = append(s.Orgs, c)
	}
	slices.SortFunc(s.Orgs, func(a, b OrgCounts) int {
		if c := strings.Compare(a.Org, b.Org); c != 0 {
			return c
		}
		return strings.Compare(a.OrgID, b.OrgID)
	})
	return s
}

// eachPeer calls f on the node itself and every peer. v.mu must be held.
func (v *View) eachPeer(f func(*PeerInfo)) {
	f(&v.self)
	for _, e := range v.peers {
		f(&e.PeerInfo)
	}
}

// provenID returns the org ID p's credential proved, "" for a bare claim.
func provenID(p *PeerInfo) string {
	if p.Verified {
		return p.OrgID
	}
	return ""
}

// rowKey names one row of a snapshot: an organization, by ID when a
// verified peer gave one.
type rowKey struct{ name, id string }

// nameIDs is the org IDs verified peers give one name: none, one, or more.
type nameIDs struct {
	id   string
	many bool
}

func (n nameIDs) with(id string) nameIDs {
	if n.id != "" && n.id != id {
		n.many = true
	}
	n.id = id
	return n
}

// only returns the one org ID of the name ("" for none or several).
func (n nameIDs) only() string {
	if n.many {
		return ""
	}
	return n.id
}

type tally struct {
	OrgCounts
	hosts             map[string]struct{}
	freshest, stalest time.Duration
	haveAges          bool
}

func newTally(k rowKey) *tally {
	return &tally{OrgCounts: OrgCounts{Org: k.name, OrgID: k.id}, hosts: map[string]struct{}{}}
}

func (t *tally) add(p *PeerInfo, now time.Time) {
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
	c.Mode = ModeExact
	if t.haveAges {
		f, s := t.freshest.Milliseconds(), t.stalest.Milliseconds()
		c.FreshestMs, c.StalestMs = &f, &s
	}
	return c
}
