package node

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// Counts over time, /v1/history. Counts change only when a peer does
// (a transition), so the history is recorded when one happens, not on a
// timer: an idle node does no work for it, and a step without a change
// holds the counts of the step before.
//
// Memory: a point is 28 bytes; a row (an organization, or the total)
// keeps 600 one-second points (10 min) and 2880 thirty-second ones (24 h):
// 97 kB once full. At most historyRows rows: 6.3 MB at worst, about
// 390 kB for three organizations and the total.
const (
	historyRows    = 65                    // 64 organizations and the total
	countsCoalesce = 50 * time.Millisecond // changes within this are counted once
)

// point is one step's counts: those at its end, and the least and most
// alive within it, so that a short dip or spike shows at 30 s too.
type point struct{ alive, verified, hosts, suspect, left, aliveMin, aliveMax int32 }

func pointOf(c orgs.OrgCounts) point {
	a := int32(c.Alive)
	return point{a, int32(c.Verified), int32(c.Hosts), int32(c.Suspect), int32(c.Left), a, a}
}

// carried is p as the steps after it hold it: no change within them.
func (p point) carried() point {
	p.aliveMin, p.aliveMax = p.alive, p.alive
	return p
}

// ring is the points of one resolution, oldest first once it wraps.
type ring struct {
	step time.Duration
	pts  []point // at most cap(pts); when full, head is the oldest
	head int
	last time.Time // start of the newest point's step; zero when empty
}

func newRing(step, span time.Duration) ring {
	return ring{step: step, pts: make([]point, 0, int(span/step))}
}

func (r *ring) push(p point) {
	if len(r.pts) < cap(r.pts) {
		r.pts = append(r.pts, p)
		return
	}
	r.pts[r.head] = p
	r.head = (r.head + 1) % len(r.pts)
}

func (r *ring) newest() point {
	if r.head == 0 {
		return r.pts[len(r.pts)-1]
	}
	return r.pts[r.head-1]
}

// record makes p the counts of t's step; the steps since the newest point
// hold its counts.
func (r *ring) record(t time.Time, p point) {
	b := t.Truncate(r.step)
	switch {
	case r.last.IsZero():
		r.push(p)
	case !b.After(r.last): // the same step (or a clock set back): the last counts win
		i := r.head - 1
		if i < 0 {
			i = len(r.pts) - 1
		}
		old := r.pts[i]
		p.aliveMin, p.aliveMax = min(old.aliveMin, p.alive), max(old.aliveMax, p.alive)
		r.pts[i] = p
		return
	default:
		prev := r.newest().carried()
		p.aliveMin, p.aliveMax = min(p.alive, prev.alive), max(p.alive, prev.alive) // the step began with prev's counts
		for gap := min(int(b.Sub(r.last)/r.step)-1, cap(r.pts)); gap > 0; gap-- {
			r.push(prev)
		}
		r.push(p)
	}
	r.last = b
}

// series returns the points whose step ends after since, carried on to
// now's step, and the start of the first.
func (r *ring) series(now, since time.Time) (time.Time, []point) {
	if r.last.IsZero() {
		return time.Time{}, nil
	}
	pts := append(slices.Clone(r.pts[r.head:]), r.pts[:r.head]...)
	last := r.last
	if end := now.Truncate(r.step); end.After(last) {
		newest := pts[len(pts)-1].carried()
		for n := min(int(end.Sub(last)/r.step), cap(r.pts)); n > 0; n-- {
			pts = append(pts, newest)
		}
		last = end
	}
	if len(pts) > cap(r.pts) {
		pts = pts[len(pts)-cap(r.pts):]
	}
	start := last.Add(-time.Duration(len(pts)-1) * r.step)
	for len(pts) > 1 && !start.Add(r.step).After(since) {
		pts, start = pts[1:], start.Add(r.step)
	}
	return start, pts
}

// rowKey names a row of the history: an organization (a snapshot's row),
// or the total.
type rowKey struct {
	org, id string
	total   bool
}

type rowHistory struct {
	fine, coarse ring
}

// countHistory is the node's counts over time, per snapshot row. It is
// safe for concurrent use.
type countHistory struct {
	mu   sync.Mutex
	rows map[rowKey]*rowHistory
}

func newCountHistory() *countHistory { return &countHistory{rows: map[rowKey]*rowHistory{}} }

// record notes the counts of s at s.At. Rows that s no longer has count
// zero; a new row past historyRows takes the place of one that s no
// longer has, or is not kept.
func (h *countHistory) record(s orgs.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[rowKey]bool{}
	put := func(k rowKey, c orgs.OrgCounts) {
		seen[k] = true
		r, ok := h.rows[k]
		if !ok {
			if len(h.rows) >= historyRows && !h.evictAbsent(s) {
				return
			}
			r = &rowHistory{fine: newRing(api.SecondStep, api.SecondSpan), coarse: newRing(api.CoarseStep, api.CoarseSpan)}
			h.rows[k] = r
		}
		r.fine.record(s.At, pointOf(c))
		r.coarse.record(s.At, pointOf(c))
	}
	put(rowKey{total: true}, s.Total)
	for _, o := range s.Orgs {
		put(rowKey{org: o.Org, id: o.OrgID}, o)
	}
	for k, r := range h.rows {
		if !seen[k] && r.fine.newest() != (point{}) {
			r.fine.record(s.At, point{})
			r.coarse.record(s.At, point{})
		}
	}
}

// evictAbsent drops a row that s does not have; false when s has them all.
// h.mu must be held.
func (h *countHistory) evictAbsent(s orgs.Snapshot) bool {
	for k := range h.rows {
		if k.total || slices.ContainsFunc(s.Orgs, func(o orgs.OrgCounts) bool { return o.Org == k.org && o.OrgID == k.id }) {
			continue
		}
		delete(h.rows, k)
		return true
	}
	return false
}

// series returns the rows of org ("" for all, the total included) since
// since, at the resolution step (0 for both), as of now.
func (h *countHistory) series(now, since time.Time, org string, step time.Duration) []api.Series {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []api.Series
	for k, r := range h.rows {
		if org != "" && (k.total || k.org != org) {
			continue
		}
		for _, rg := range []*ring{&r.fine, &r.coarse} {
			if step != 0 && rg.step != step {
				continue
			}
			start, pts := rg.series(now, since)
			if len(pts) == 0 {
				continue
			}
			s := api.Series{Org: k.org, OrgID: k.id, Total: k.total, StepMs: rg.step.Milliseconds(), Start: start.UTC()}
			for _, p := range pts {
				s.Alive = append(s.Alive, int(p.alive))
				s.AliveMin = append(s.AliveMin, int(p.aliveMin))
				s.AliveMax = append(s.AliveMax, int(p.aliveMax))
				s.Verified = append(s.Verified, int(p.verified))
				s.Hosts = append(s.Hosts, int(p.hosts))
				s.Suspect = append(s.Suspect, int(p.suspect))
				s.Left = append(s.Left, int(p.left))
			}
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b api.Series) int {
		if a.Total != b.Total {
			if a.Total {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.OrgID, b.OrgID), cmp.Compare(a.StepMs, b.StepMs))
	})
	return out
}

// watchCounts records the counts in the history when a transition may
// have changed them, and streams the organizations' count changes, until
// ctx ends.
func (o *observer) watchCounts(ctx context.Context) {
	s := o.view.Snapshot()
	o.hist.record(s)
	reported := newCountReport(s)
	wait := time.NewTimer(countsCoalesce)
	wait.Stop()
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.dirty:
		}
		wait.Reset(countsCoalesce)
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		s := o.view.Snapshot()
		o.hist.record(s)
		for _, e := range reported.events(s) {
			o.hub.publish(e)
		}
	}
}

// countReport is, per organization row, the counts that its last count
// event reported (or the first snapshot held).
//
// An exact row is news when its alive, verified or hosts count changes.
// An estimate moves a little with every round of samples, and its heard
// counts with every sampled heartbeat, so an estimate row is news only
// when its point estimate leaves the 95 % interval last reported, or the
// row changes mode: a slow drift is reported once it has gone that far,
// and noise within the interval never is.
type countReport map[rowKey]orgs.OrgCounts

func newCountReport(s orgs.Snapshot) countReport {
	r := countReport{}
	for _, c := range s.Orgs {
		r[rowKey{org: c.Org, id: c.OrgID}] = c
	}
	return r
}

// newsworthy reports whether the change from the reported b to a is a
// count event.
func newsworthy(b, a orgs.OrgCounts) bool {
	switch {
	case b.Estimated() != a.Estimated():
		return true
	case a.Estimated():
		return !b.Estimate.Contains(a.Estimate.Peers)
	}
	return b.Alive != a.Alive || b.Verified != a.Verified || b.Hosts != a.Hosts
}

// events returns the count events from r to s, one per organization row
// whose change is news, and notes what they report: exact rows always
// take s's counts, estimate rows only when reported.
func (r countReport) events(s orgs.Snapshot) []api.Event {
	var out []api.Event
	change := func(k rowKey, b, a orgs.OrgCounts) {
		if !newsworthy(b, a) {
			if !a.Estimated() {
				r[k] = a
			}
			return
		}
		r[k] = a
		b.FreshestMs, b.StalestMs, a.FreshestMs, a.StalestMs = nil, nil, nil, nil
		org, id := cmp.Or(a.Org, b.Org), cmp.Or(a.OrgID, b.OrgID)
		out = append(out, api.Event{At: s.At, Kind: api.EventCounts, Org: org, OrgID: id, Before: &b, After: &a})
	}
	seen := map[rowKey]bool{}
	for _, c := range s.Orgs {
		k := rowKey{org: c.Org, id: c.OrgID}
		seen[k] = true
		b, ok := r[k]
		if !ok {
			b = orgs.OrgCounts{Org: c.Org, OrgID: c.OrgID, Mode: orgs.ModeExact}
		}
		change(k, b, c)
	}
	for k, b := range r { // rows gone from the view
		if !seen[k] {
			change(k, b, orgs.OrgCounts{Org: k.org, OrgID: k.id, Mode: orgs.ModeExact})
			delete(r, k)
		}
	}
	return out
}

// history serves /v1/history?org=&since=&step=.
func (a *apiServer) history(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r, "org", "since", "step") {
		return
	}
	q := r.URL.Query()
	org := q.Get("org")
	if org != "" && !orgs.ValidName(org) {
		api.WriteError(w, http.StatusBadRequest, "org %q is not a valid organization name", org)
		return
	}
	now := time.Now()
	since, err := api.ParseSince(q.Get("since"), now)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "%v", err)
		return
	}
	var step time.Duration
	switch q.Get("step") {
	case "":
	case "1s":
		step = api.SecondStep
	case "30s":
		step = api.CoarseStep
	default:
		api.WriteError(w, http.StatusBadRequest, "step %q: want 1s or 30s", q.Get("step"))
		return
	}
	h := api.History{Self: a.info().PeerID, At: now.UTC(), Series: a.obs.hist.series(now, since, org, step)}
	api.WriteJSON(w, http.StatusOK, h, false)
}
