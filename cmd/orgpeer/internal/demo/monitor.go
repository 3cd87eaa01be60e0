package demo

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/orgs"
)

const (
	pollInterval     = 250 * time.Millisecond // between polls of every node's view, for up to pollNodes nodes
	pollNodes        = 25                     // beyond this, polls slow down in proportion
	historyMax       = 480                    // samples kept for the chart: two minutes at 250 ms
	historyMin       = 40                     // samples kept however large the demo
	historyCells     = 200_000                // node x org counts kept at most over the whole history
	topologyEvery    = 4                      // polls between polls of the connections
	subscriberBuffer = 256                    // updates a subscriber may lag behind before it is dropped
)

// pollPlan returns how often to poll every node and how many samples to
// keep, so that a large demo neither loads the machine nor the browser.
func pollPlan(nodes, orgs int) (time.Duration, int) {
	every := pollInterval * time.Duration(max(nodes, pollNodes)) / pollNodes
	keep := min(historyMax, max(historyMin, historyCells/max(1, nodes*orgs)))
	return every, keep
}

// Monitor polls every live node's view a few times a second, compares it
// with the cluster's truth and keeps what the terminal table and the
// dashboard show: per-org rows, a short history, the topology, and the
// events with the time until every node counted right again.
//
// Its methods may be called concurrently. Subscribers get every update in
// order; one that falls subscriberBuffer updates behind is dropped (its
// channel is closed) and must subscribe again.
type Monitor struct {
	c          *cluster.Cluster
	started    time.Time
	interval   time.Duration // between polls
	historyLen int           // samples kept

	mu        sync.Mutex
	history   []Sample
	rows      []Row
	members   []cluster.MemberState
	edges     [][2]string
	events    []Event // events[i].ID == i+1
	lastBegin time.Time
	subs      map[chan Update]struct{}
}

func newMonitor(c *cluster.Cluster, interval time.Duration, historyLen int) *Monitor {
	return &Monitor{c: c, started: time.Now(), interval: interval, historyLen: historyLen, subs: map[chan Update]struct{}{}}
}

// round is one poll: the cluster's members, then their views.
type round struct {
	start, end time.Time
	members    []cluster.MemberState
	views      map[string]orgs.Snapshot // by member name; members that did not answer are absent
}

// run polls until ctx ends.
func (m *Monitor) run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for i := 0; ; i++ {
		m.record(m.observe(ctx))
		if i%topologyEvery == 0 {
			m.setEdges(m.topology(ctx))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Monitor) observe(ctx context.Context) round {
	r := round{start: time.Now(), members: m.c.States(), views: map[string]orgs.Snapshot{}}
	for p, s := range m.c.Views(ctx) {
		r.views[p.Name()] = s
	}
	r.end = time.Now()
	return r
}

// truthOf counts the live members and their distinct hosts per
// organization, and lists the organizations in the order members joined.
func truthOf(members []cluster.MemberState) (truth, hosts map[string]int, names []string) {
	truth, hosts = map[string]int{}, map[string]int{}
	seen := map[string]map[string]bool{}
	for _, mem := range members {
		if seen[mem.Org] == nil {
			seen[mem.Org] = map[string]bool{}
			names = append(names, mem.Org)
			truth[mem.Org] = 0
		}
		if mem.Up {
			truth[mem.Org]++
			if !seen[mem.Org][mem.Host] {
				seen[mem.Org][mem.Host] = true
				hosts[mem.Org]++
			}
		}
	}
	return truth, hosts, names
}

// countsTruth reports whether a node's row of an organization is right:
// exactly the truth, or, for an estimate, an interval that holds it.
func countsTruth(oc orgs.OrgCounts, truth int) bool {
	if oc.Estimated() {
		return oc.Estimate.Contains(float64(truth))
	}
	return oc.Alive == truth
}

// record turns a round into rows and a sample, and marks the events it
// shows the network has recovered from: every live node answered and
// counted every organization exactly, in a round that started after the
// event was complete and during which no other event began.
func (m *Monitor) record(r round) {
	truth, hostTruth, names := truthOf(r.members)
	sample := Sample{T: r.start.UnixMilli(), Truth: truth, Counts: map[string]map[string]int{}}
	for name, s := range r.views {
		counts := map[string]int{}
		for _, o := range names {
			counts[o] = s.OrgCounts(o).Count()
		}
		sample.Counts[name] = counts
	}
	allRight := true
	rows := make([]Row, 0, len(names))
	for _, o := range names {
		row := Row{Org: o, Truth: truth[o], TruthHosts: hostTruth[o]}
		var alive, hosts []int
		for _, mem := range r.members {
			if !mem.Up {
				continue
			}
			row.Of++
			s, ok := r.views[mem.Name]
			if !ok {
				allRight = false
				continue
			}
			oc := s.OrgCounts(o)
			alive, hosts = append(alive, oc.Count()), append(hosts, oc.Hosts)
			if oc.Estimated() {
				row.Estimates++
			}
			if countsTruth(oc, truth[o]) {
				row.Exact++
			} else {
				allRight = false
			}
		}
		if row.Answered = len(alive); row.Answered > 0 {
			slices.Sort(alive)
			slices.Sort(hosts)
			row.Min, row.Median, row.Max = alive[0], alive[len(alive)/2], alive[len(alive)-1]
			row.Hosts = hosts[len(hosts)/2]
		}
		rows = append(rows, row)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range rows {
		rows[i].ChangedAt = r.end
		for _, prev := range m.rows {
			if prev.Org == rows[i].Org && prev.sameCounts(rows[i]) {
				rows[i].ChangedAt = prev.ChangedAt
			}
		}
	}
	m.rows, m.members = rows, r.members
	m.history = append(m.history, sample)
	if len(m.history) > m.historyLen {
		m.history = slices.Delete(m.history, 0, len(m.history)-m.historyLen)
	}
	m.publishLocked(Update{"tick", Tick{Sample: sample, Rows: slices.Clone(rows), Members: r.members}})
	if !allRight || !m.lastBegin.Before(r.start) {
		return
	}
	for i := range m.events {
		e := &m.events[i]
		if e.Done && e.RecoveredMs == nil && !e.doneAt.After(r.start) {
			ms := r.end.Sub(e.At).Milliseconds()
			e.RecoveredMs = &ms
			m.publishLocked(Update{"event", *e})
		}
	}
}

// topology asks every live node which peers it holds a direct connection
// to and returns each connection to another live node once, as a pair of
// member names. (A connection to a process that is gone may linger a
// moment in its peer's view; it is no connection.)
func (m *Monitor) topology(ctx context.Context) [][2]string {
	names := map[string]string{}
	for _, mem := range m.c.States() {
		if mem.Up && mem.PeerID != "" {
			names[mem.PeerID] = mem.Name
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	set := map[[2]string]bool{}
	for _, p := range m.c.Live() {
		client := p.Client()
		if client == nil {
			continue
		}
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			ps, err := client.Peers(qctx, "", "")
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, q := range ps {
				other, ok := names[q.PeerID]
				if !q.Connected || q.Self || !ok || other == p.Name() {
					continue
				}
				e := [2]string{p.Name(), other}
				if e[1] < e[0] {
					e[0], e[1] = e[1], e[0]
				}
				set[e] = true
			}
		})
	}
	wg.Wait()
	edges := make([][2]string, 0, len(set))
	for e := range set {
		edges = append(edges, e)
	}
	slices.SortFunc(edges, func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	return edges
}

func (m *Monitor) setEdges(edges [][2]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Equal(edges, m.edges) {
		return
	}
	m.edges = edges
	m.publishLocked(Update{"topology", edges})
}

// begin records that a change to the network starts now and returns its ID.
func (m *Monitor) begin(e Event) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID, e.At = len(m.events)+1, time.Now()
	m.lastBegin = e.At
	m.events = append(m.events, e)
	m.publishLocked(Update{"event", e})
	return e.ID
}

// finish records that the change is complete (err: it failed).
func (m *Monitor) finish(id int, err error) {
	truth, _, _ := truthOf(m.c.States())
	m.mu.Lock()
	defer m.mu.Unlock()
	e := &m.events[id-1]
	e.Done, e.doneAt, e.Truth = true, time.Now(), truth
	if err != nil {
		e.Err = err.Error()
	}
	m.publishLocked(Update{"event", *e})
}

// pending reports how many events the network has not yet recovered from.
func (m *Monitor) pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, e := range m.events {
		if e.RecoveredMs == nil {
			n++
		}
	}
	return n
}

// snapshot returns the rows, the events and the members, as copies.
func (m *Monitor) snapshot() ([]Row, []Event, []cluster.MemberState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.rows), slices.Clone(m.events), slices.Clone(m.members)
}

// State returns everything the dashboard shows.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, names := truthOf(m.members)
	return State{
		Started: m.started, HistoryLen: m.historyLen, Orgs: names, Rows: slices.Clone(m.rows), Members: slices.Clone(m.members),
		History: slices.Clone(m.history), Events: slices.Clone(m.events), Edges: slices.Clone(m.edges),
	}
}

func (m *Monitor) summary() summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := summary{Events: len(m.events), ByAction: map[string]int{}}
	for _, e := range m.events {
		s.ByAction[e.Action]++
		if d, ok := e.recovered(); ok {
			s.Recovered = append(s.Recovered, d)
		} else {
			s.Pending++
		}
	}
	slices.Sort(s.Recovered)
	return s
}

// Subscribe returns a channel of every update from now on, and a func that
// ends the subscription.
func (m *Monitor) Subscribe() (<-chan Update, func()) {
	ch := make(chan Update, subscriberBuffer)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[ch]; ok {
			delete(m.subs, ch)
			close(ch)
		}
	}
}

// notify sends u to every subscriber.
func (m *Monitor) notify(u Update) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(u)
}

func (m *Monitor) publishLocked(u Update) {
	for ch := range m.subs {
		select {
		case ch <- u:
		default: // too far behind: drop it rather than block the monitor
			delete(m.subs, ch)
			close(ch)
		}
	}
}
