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
// one that brings no member heartbeat is dropped and tried again after a
// backoff that doubles from probationFor up to retry (OrgRetention, by when
// the view has forgotten the hint unless it is listed again): a probation
// that failed only because the machine was slow is not lost for minutes. The cost of junk is then at most probationMax topics,
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
	tried      map[string]retryAt   // dropped -> when it may be tried again
}

type retryAt struct {
	at    time.Time
	fails int
}

func newProbation(dur, retry time.Duration) *probation {
	return &probation{dur: dur, retry: retry, active: map[string]time.Time{}, tried: map[string]retryAt{}}
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
			r := p.tried[o]
			r.fails++
			r.at = now.Add(min(p.dur<<min(r.fails-1, 16), p.retry))
			p.tried[o] = r
		}
	}
	for o, r := range p.tried {
		if now.Sub(r.at) > p.retry { // not hinted again since: forget its failures
			delete(p.tried, o)
		}
	}
	for _, o := range hints {
		if len(p.active) >= probationMax {
			break
		}
		_, on := p.active[o]
		r, tried := p.tried[o]
		if !on && (!tried || now.After(r.at)) && !counted(o) {
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
