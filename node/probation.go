package node

import (
	"slices"
	"time"
)

// Probation: a directory listing is a hint, not membership. Anyone can
// list junk names, and each followed organization costs a topic (its
// goroutines, its mesh), so the node follows an organization for good only
// when it counts it: its own, a trusted or a watched one, or one with a
// member heard (a hello from a neighbour, or a heartbeat on a followed
// topic). A name that is only listed is followed on probation, to hear a
// member there: at most probationMax names at once, each for probationFor;
// one that brings no member heartbeat is dropped and not tried again for
// retry (OrgRetention, by when the view has forgotten the hint unless it
// is listed again). The cost of junk is then at most probationMax topics,
// and a new organization listed behind n junk names waits about
// n/probationMax probations.
const probationMax = 4

// probationFor is how long a hinted organization is followed on probation:
// a few heartbeats of its members, and the GossipSub mesh's grafts (one per
// GossipSub heartbeat, a second) before they reach this node.
func probationFor(interval time.Duration) time.Duration { return max(3*interval, 5*time.Second) }

// probation is the hinted organizations followed on probation. It is used
// by the presence loop only.
type probation struct {
	dur, retry time.Duration
	active     map[string]time.Time // on probation -> until when
	tried      map[string]time.Time // dropped -> when it may be tried again
}

func newProbation(dur, retry time.Duration) *probation {
	return &probation{dur: dur, retry: retry, active: map[string]time.Time{}, tried: map[string]time.Time{}}
}

// update ends the probations of organizations now counted or past their
// time, starts new ones among hints (in order) while there is room, and
// returns the organizations on probation.
func (p *probation) update(now time.Time, hints []string, counted func(string) bool) []string {
	for o, until := range p.active {
		switch {
		case counted(o):
			delete(p.active, o)
		case now.After(until):
			delete(p.active, o)
			p.tried[o] = now.Add(p.retry)
		}
	}
	for o, again := range p.tried {
		if now.After(again) {
			delete(p.tried, o)
		}
	}
	for _, o := range hints {
		if len(p.active) >= probationMax {
			break
		}
		_, on := p.active[o]
		_, tried := p.tried[o]
		if !on && !tried && !counted(o) {
			p.active[o] = now.Add(p.dur)
		}
	}
	out := make([]string, 0, len(p.active))
	for o := range p.active {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}
