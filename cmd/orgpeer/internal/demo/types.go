package demo

import (
	"slices"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
)

// The demo's own types: the monitor fills them, the terminal table prints
// them and the dashboard serves them as JSON. They are defined only here.

// Demo actions: how the demo (its churn, the dashboard or a key) changes the
// network.
const (
	actKill    = "kill"    // kill -9: no leave is announced
	actStop    = "stop"    // SIGTERM: the node announces its leave
	actRestart = "restart" // a stopped node again, same data dir and identity
	actAdd     = "add"     // a new node joins
)

// actions lists every action, in the order churn cycles through them.
var actions = []string{actKill, actStop, actRestart, actAdd}

// keys maps single keys to demo actions.
var keys = map[byte]string{'k': actKill, 's': actStop, 'r': actRestart, 'a': actAdd}

// actionLabel is how an action is shown to people.
func actionLabel(a string) string {
	if a == actKill {
		return "kill -9"
	}
	return a
}

// Row is one organization's line: the truth against what the nodes count.
type Row struct {
	Org        string    `json:"org"`
	Truth      int       `json:"truth"`       // live members
	TruthHosts int       `json:"truth_hosts"` // distinct simulated hosts among them
	Min        int       `json:"min"`         // of the counts of the nodes that answered (an estimate's point, rounded)
	Median     int       `json:"median"`
	Max        int       `json:"max"`
	Hosts      int       `json:"hosts"`     // median of the nodes' host counts
	Exact      int       `json:"exact"`     // nodes counting exactly Truth, or estimating it within their interval
	Estimates  int       `json:"estimates"` // nodes whose count is an estimate
	Of         int       `json:"of"`        // live nodes
	Answered   int       `json:"answered"`  // live nodes whose API answered
	ChangedAt  time.Time `json:"changed_at"`
}

// sameCounts reports whether two rows differ only in ChangedAt.
func (r Row) sameCounts(o Row) bool {
	r.ChangedAt, o.ChangedAt = time.Time{}, time.Time{}
	return r == o
}

// Sample is one poll of every live node, for the chart.
type Sample struct {
	T      int64                     `json:"t"` // unix milliseconds
	Truth  map[string]int            `json:"truth"`
	Counts map[string]map[string]int `json:"counts"` // node -> org -> alive; nodes that did not answer are absent
}

// Event is one change to the network and how long the nodes took to
// count it.
type Event struct {
	ID     int            `json:"id"`
	At     time.Time      `json:"at"`
	Action string         `json:"action"`
	Node   string         `json:"node"`
	Org    string         `json:"org"`
	Host   string         `json:"host"`
	Source string         `json:"source"` // churn, dashboard or keyboard
	Err    string         `json:"error,omitempty"`
	Done   bool           `json:"done"`            // the change itself is complete
	Truth  map[string]int `json:"truth,omitempty"` // live members per org once done
	// RecoveredMs is the time from the event until every node counted every
	// organization exactly again.
	RecoveredMs *int64 `json:"recovered_ms,omitempty"`

	doneAt time.Time
}

// recovered returns the time back to correct counts, if reached.
func (e Event) recovered() (time.Duration, bool) {
	if e.RecoveredMs == nil {
		return 0, false
	}
	return time.Duration(*e.RecoveredMs) * time.Millisecond, true
}

// Tick is what changes on every poll.
type Tick struct {
	Sample  Sample                `json:"sample"`
	Rows    []Row                 `json:"rows"`
	Members []cluster.MemberState `json:"members"`
}

// Update is one message to a subscriber of the monitor.
type Update struct {
	Kind string // "tick" (Tick), "event" (Event), "topology" ([][2]string) or "churn" (ChurnState)
	Data any
}

// State is everything the dashboard shows, for a page that just opened.
type State struct {
	Started time.Time             `json:"started"`
	Hosts   int                   `json:"hosts"`
	Churn   string                `json:"churn"` // "" without churn
	Paused  bool                  `json:"churn_paused"`
	Orgs    []string              `json:"orgs"`
	Rows    []Row                 `json:"rows"`
	Members []cluster.MemberState `json:"members"`
	History []Sample              `json:"history"`
	// HistoryLen is how many samples the server keeps; so does the page.
	HistoryLen int         `json:"history_len"`
	Events     []Event     `json:"events"`
	Edges      [][2]string `json:"edges"`
}

// summary is printed when the demo ends.
type summary struct {
	Events    int
	ByAction  map[string]int
	Recovered []time.Duration // sorted
	Pending   int             // never back to correct counts before the end
}

func (s summary) median() time.Duration {
	if len(s.Recovered) == 0 {
		return 0
	}
	return s.Recovered[len(s.Recovered)/2]
}

func (s summary) worst() time.Duration {
	if len(s.Recovered) == 0 {
		return 0
	}
	return slices.Max(s.Recovered)
}
