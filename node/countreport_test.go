package node

import (
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// est is an estimate row of bigcorp heard through heard members: point p,
// interval p ± 5.6 %.
func est(p float64, heard int) orgs.OrgCounts {
	return orgs.OrgCounts{Org: "bigcorp", OrgID: "k51b", Mode: orgs.ModeEstimate, Alive: heard, Verified: heard, Hosts: heard,
		Estimate: &orgs.Estimate{Peers: p, Low: p * 0.944, High: p * 1.056, Samples: 400, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}}
}

func exactRow(alive int) orgs.OrgCounts {
	return orgs.OrgCounts{Org: "bigcorp", OrgID: "k51b", Mode: orgs.ModeExact, Alive: alive, Verified: alive, Hosts: alive}
}

// An estimate's count event comes only when its point estimate leaves the
// interval last reported, or the row changes mode: not for noise within
// the interval, nor for the members heard coming and going; a slow drift
// is reported once it has gone that far from what was last reported.
func TestCountEventsOfAnEstimate(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	snap := func(rows ...orgs.OrgCounts) orgs.Snapshot {
		at = at.Add(time.Second)
		return orgs.Snapshot{At: at, Orgs: rows}
	}
	r := newCountReport(snap(exactRow(97)))
	for i, step := range []struct {
		row     orgs.OrgCounts
		gone    bool
		event   bool
		before  float64 // the count the event reports before (Count)
		comment string
	}{
		{row: exactRow(98), event: true, before: 97, comment: "an exact change is news"},
		{row: est(1250, 40), event: true, before: 98, comment: "exact to estimate"},
		{row: est(1262, 41), comment: "noise within the interval, a member more heard"},
		{row: est(1240, 12), comment: "noise within the interval, many fewer heard"},
		{row: est(1280, 40), comment: "drift, still within 1,180–1,320"},
		{row: est(1310, 40), comment: "drift, still within 1,180–1,320"},
		{row: est(1330, 40), event: true, before: 1250, comment: "drift left the interval reported: 1,250 -> 1,330"},
		{row: est(1300, 40), comment: "within 1,256–1,404, reported last"},
		{row: est(1000, 40), event: true, before: 1330, comment: "a kill: the estimate falls out of its interval"},
		{row: exactRow(90), event: true, before: 1000, comment: "estimate to exact"},
		{row: est(1000, 3), event: true, before: 90, comment: "back to an estimate"},
		{gone: true, event: true, before: 1000, comment: "the row leaves the view"},
	} {
		s := snap()
		if !step.gone {
			s = snap(step.row)
		}
		evs := r.events(s)
		if !step.event {
			if len(evs) != 0 {
				t.Errorf("step %d (%s): %d events: %+v -> %+v", i, step.comment, len(evs), *evs[0].Before, *evs[0].After)
			}
			continue
		}
		if len(evs) != 1 {
			t.Fatalf("step %d (%s): %d events, want 1", i, step.comment, len(evs))
		}
		e := evs[0]
		if e.Org != "bigcorp" || e.OrgID != "k51b" || !e.At.Equal(at) || float64(e.Before.Count()) != step.before {
			t.Errorf("step %d (%s): event %s/%s at %v, before %d; want before %v", i, step.comment, e.Org, e.OrgID, e.At, e.Before.Count(), step.before)
		}
		if step.gone {
			if e.After.Mode != orgs.ModeExact || e.After.Alive != 0 {
				t.Errorf("step %d: a row gone is after %+v, want zero and exact", i, *e.After)
			}
		} else if e.After.Count() != step.row.Count() || e.After.Mode != step.row.Mode {
			t.Errorf("step %d (%s): after %+v, want %+v", i, step.comment, *e.After, step.row)
		}
	}
}

// Exact rows report every change of alive, verified or hosts, and only
// those, as before estimates existed.
func TestCountEventsOfExactRows(t *testing.T) {
	a := orgs.OrgCounts{Org: "acme", Mode: orgs.ModeExact, Alive: 3, Verified: 3, Hosts: 1}
	r := newCountReport(orgs.Snapshot{Orgs: []orgs.OrgCounts{a}})
	b := a
	b.Suspect, b.Connected = 1, 2
	if evs := r.events(orgs.Snapshot{Orgs: []orgs.OrgCounts{b}}); len(evs) != 0 {
		t.Errorf("suspect and connected are not count events: %d", len(evs))
	}
	c := b
	c.Hosts = 2
	evs := r.events(orgs.Snapshot{Orgs: []orgs.OrgCounts{c}})
	if len(evs) != 1 || evs[0].Before.Suspect != 1 || evs[0].After.Hosts != 2 {
		t.Fatalf("hosts 1 -> 2: %d events", len(evs))
	}
	g := orgs.OrgCounts{Org: "globex", Mode: orgs.ModeExact, Alive: 1, Verified: 0, Hosts: 1}
	evs = r.events(orgs.Snapshot{Orgs: []orgs.OrgCounts{c, g}})
	if len(evs) != 1 || evs[0].Org != "globex" || evs[0].Before.Alive != 0 || evs[0].Before.Mode != orgs.ModeExact {
		t.Fatalf("a new organization: %+v", evs)
	}
}
