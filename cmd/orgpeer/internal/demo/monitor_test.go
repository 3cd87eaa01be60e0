package demo

import (
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/orgs"
)

func snap(counts map[string]int, hosts int) orgs.Snapshot {
	var s orgs.Snapshot
	for o, n := range counts {
		s.Orgs = append(s.Orgs, orgs.OrgCounts{Org: o, Alive: n, Hosts: hosts})
	}
	return s
}

// The monitor marks an event recovered only in a round that started after
// the change was complete, saw every live node answer with exact counts,
// and had no other change begin during it.
func TestMonitorRecordsRecoveryOnlyWhenEveryNodeIsRight(t *testing.T) {
	m := newMonitor(nil, time.Second, 10)
	members := []cluster.MemberState{
		{Name: "n01", Org: "acme", Host: "host-1", Up: true},
		{Name: "n02", Org: "globex", Host: "host-2", Up: true},
		{Name: "n03", Org: "acme", Host: "host-2", Up: false}, // just killed
	}
	right := map[string]orgs.Snapshot{
		"n01": snap(map[string]int{"acme": 1, "globex": 1}, 1),
		"n02": snap(map[string]int{"acme": 1, "globex": 1}, 1),
	}
	stale := map[string]orgs.Snapshot{
		"n01": snap(map[string]int{"acme": 1, "globex": 1}, 1),
		"n02": snap(map[string]int{"acme": 2, "globex": 1}, 2), // still counts n03
	}
	id := m.begin(Event{Action: actKill, Node: "n03"})
	// finish reads the cluster; set the fields it would set.
	m.mu.Lock()
	m.events[id-1].Done, m.events[id-1].doneAt = true, time.Now()
	m.mu.Unlock()
	recovered := func() bool { _, evs, _ := m.snapshot(); _, ok := evs[id-1].recovered(); return ok }

	t0 := time.Now().Add(-time.Second)
	m.record(round{start: t0, end: t0.Add(10 * time.Millisecond), members: members, views: right})
	if recovered() {
		t.Fatal("a round that started before the change was complete counted as recovery")
	}
	now := time.Now().Add(time.Millisecond)
	m.record(round{start: now, end: now, members: members, views: stale})
	if recovered() {
		t.Fatal("recovered while n02 still counts the killed node")
	}
	m.record(round{start: now, end: now, members: members, views: map[string]orgs.Snapshot{"n01": right["n01"]}})
	if recovered() {
		t.Fatal("recovered while n02 did not answer")
	}
	roundStart := time.Now()
	m.begin(Event{Action: actAdd, Node: "n04"}) // begins during the round
	m.record(round{start: roundStart, end: time.Now(), members: members, views: right})
	if recovered() {
		t.Fatal("recovered in a round during which another change began")
	}
	later := time.Now().Add(time.Millisecond)
	m.record(round{start: later, end: later, members: members, views: right})
	if !recovered() {
		t.Fatal("not recovered although every live node counts the truth")
	}
	rows, _, _ := m.snapshot()
	if len(rows) != 2 || rows[0].Org != "acme" || rows[0].Truth != 1 || rows[0].TruthHosts != 1 || rows[0].Exact != 2 || rows[0].Of != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if s := m.summary(); s.Events != 2 || len(s.Recovered) != 1 || s.Pending != 1 {
		t.Fatalf("summary %+v", s)
	}
}

func TestPollPlanScalesWithTheDemo(t *testing.T) {
	for _, tc := range []struct {
		nodes, orgs int
		every       time.Duration
		keep        int
	}{
		{12, 3, 250 * time.Millisecond, 480},
		{100, 10, time.Second, 200},
		{200, 200, 2 * time.Second, 40},
	} {
		every, keep := pollPlan(tc.nodes, tc.orgs)
		if every != tc.every || keep != tc.keep {
			t.Errorf("pollPlan(%d, %d) = %v, %d; want %v, %d", tc.nodes, tc.orgs, every, keep, tc.every, tc.keep)
		}
	}
}

// A node that estimates an organization counts its point estimate in the
// chart and the row, and is right when its interval holds the truth.
func TestMonitorTakesEstimates(t *testing.T) {
	m := newMonitor(nil, time.Second, 10)
	members := []cluster.MemberState{
		{Name: "n01", Org: "acme", Host: "host-1", Up: true},
		{Name: "n02", Org: "acme", Host: "host-2", Up: true},
		{Name: "n03", Org: "acme", Host: "host-2", Up: true},
	}
	estimate := func(p, low, high float64) orgs.Snapshot {
		return orgs.Snapshot{Orgs: []orgs.OrgCounts{{Org: "acme", Mode: orgs.ModeEstimate, Alive: 1, Hosts: 1,
			Estimate: &orgs.Estimate{Peers: p, Low: low, High: high, Samples: 9, Level: 1, WindowMs: 4000, Source: orgs.SourceSamples}}}}
	}
	views := map[string]orgs.Snapshot{
		"n01": estimate(3.4, 1.5, 6.1), // holds the truth, 3
		"n02": estimate(5.6, 2.8, 8.9), // holds it too
		"n03": estimate(1.2, 0.4, 2.9), // does not
	}
	now := time.Now()
	m.record(round{start: now, end: now, members: members, views: views})
	rows, _, _ := m.snapshot()
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if r.Truth != 3 || r.Min != 1 || r.Median != 3 || r.Max != 6 || r.Exact != 2 || r.Of != 3 || r.Estimates != 3 {
		t.Errorf("row %+v: want min/median/max 1/3/6 (points rounded), 2 right, 3 estimates", r)
	}
	m.mu.Lock()
	got := m.history[len(m.history)-1].Counts["n02"]["acme"]
	m.mu.Unlock()
	if got != 6 {
		t.Errorf("n02's chart count %d, want its point estimate 6", got)
	}
}
