package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
)

// ActionRequest asks the controller for one change. Node and Org are
// optional: without them the controller picks.
type ActionRequest struct {
	Action string `json:"action"`
	Node   string `json:"node,omitempty"`
	Org    string `json:"org,omitempty"`
	Source string `json:"-"`
}

// ActionError is a request the controller refuses; Code is the HTTP status
// the dashboard answers with.
type ActionError struct {
	Code int
	Msg  string
}

func (e *ActionError) Error() string { return e.Msg }

func refuse(code int, format string, a ...any) error {
	return &ActionError{code, fmt.Sprintf(format, a...)}
}

// Controller makes the changes the churn, the dashboard and the keyboard
// ask for, one at a time, through the cluster (which keeps the truth), and
// records each as an event in the monitor.
type Controller struct {
	c          *cluster.Cluster
	mon        *Monitor
	orgs       []string // organizations new nodes may join
	hosts      int      // simulated hosts new nodes are spread over
	maxMembers int      // processes ever started, an upper bound for add

	mu     sync.Mutex // held for the whole of one change
	closed bool
	turn   int         // position in actions for the churn
	paused atomic.Bool // churn paused; changed under mu
}

// Apply makes one change and returns its event once the change is complete
// (not once the nodes have noticed it: the monitor measures that).
func (k *Controller) Apply(ctx context.Context, req ActionRequest) (Event, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || ctx.Err() != nil {
		return Event{}, refuse(http.StatusServiceUnavailable, "the demo is ending")
	}
	if req.Source == "churn" && k.Paused() {
		return Event{}, refuse(http.StatusConflict, "the churn is paused")
	}
	ev := Event{Action: req.Action, Source: req.Source}
	var p *cluster.Proc
	switch req.Action {
	case actKill, actStop:
		var err error
		if p, err = k.pickUp(req.Node); err != nil {
			return ev, err
		}
	case actRestart:
		var err error
		if p, err = k.pickDown(req.Node); err != nil {
			return ev, err
		}
	case actAdd:
		if req.Node != "" {
			return ev, refuse(http.StatusBadRequest, "add takes an org, not a node")
		}
		org, err := k.pickOrg(req.Org)
		if err != nil {
			return ev, err
		}
		if n := len(k.c.Members()); n >= k.maxMembers {
			return ev, refuse(http.StatusConflict, "the demo starts at most %d processes", k.maxMembers)
		}
		p = k.c.Add(cluster.Spec{Org: org, Host: k.pickHost(), Bootstrap: k.c.SeedAddrs(nil)})
	default:
		return ev, refuse(http.StatusBadRequest, "unknown action %q (want kill, stop, restart or add)", req.Action)
	}
	ev.Node, ev.Org, ev.Host = p.Name(), p.Org(), p.Host()
	id := k.mon.begin(ev)
	var err error
	switch req.Action {
	case actKill:
		k.c.Kill9(p)
	case actStop:
		k.c.Stop(p)
	case actRestart:
		err = k.c.Restart(ctx, p)
	case actAdd:
		err = k.c.Start(ctx, p)
	}
	k.mon.finish(id, err)
	_, events, _ := k.mon.snapshot()
	return events[id-1], err
}

// pickUp returns the named member, which must be up, or else a random one
// from the organization with the most live members (never the last node).
func (k *Controller) pickUp(name string) (*cluster.Proc, error) {
	live := k.c.Live()
	if name != "" {
		p := k.c.Member(name)
		switch {
		case p == nil:
			return nil, refuse(http.StatusNotFound, "no node %q", name)
		case !p.Up():
			return nil, refuse(http.StatusConflict, "%s is not running", name)
		case len(live) < 2:
			return nil, refuse(http.StatusConflict, "%s is the last node running", name)
		}
		return p, nil
	}
	if len(live) < 2 {
		return nil, refuse(http.StatusConflict, "only %d node is running", len(live))
	}
	byOrg := map[string][]*cluster.Proc{}
	for _, p := range live {
		byOrg[p.Org()] = append(byOrg[p.Org()], p)
	}
	var most []*cluster.Proc
	for _, o := range k.orgs {
		if len(byOrg[o]) > len(most) {
			most = byOrg[o]
		}
	}
	return most[rand.IntN(len(most))], nil
}

// pickDown returns the named member, which must be down, or else the one
// that has been down longest.
func (k *Controller) pickDown(name string) (*cluster.Proc, error) {
	if name != "" {
		p := k.c.Member(name)
		switch {
		case p == nil:
			return nil, refuse(http.StatusNotFound, "no node %q", name)
		case p.Up():
			return nil, refuse(http.StatusConflict, "%s is already running", name)
		}
		return p, nil
	}
	var best *cluster.Proc
	var bestAt time.Time
	for _, p := range k.c.Members() {
		if at, down := p.DownSince(); down && (best == nil || at.Before(bestAt)) {
			best, bestAt = p, at
		}
	}
	if best == nil {
		return nil, refuse(http.StatusConflict, "no node is down")
	}
	return best, nil
}

// pickOrg returns the named organization or the one with the fewest live
// members.
func (k *Controller) pickOrg(name string) (string, error) {
	if name != "" {
		if !slices.Contains(k.orgs, name) {
			return "", refuse(http.StatusBadRequest, "no organization %q in this demo", name)
		}
		return name, nil
	}
	truth := k.c.Truth()
	best := k.orgs[0]
	for _, o := range k.orgs {
		if truth[o] < truth[best] {
			best = o
		}
	}
	return best, nil
}

// pickHost returns the simulated host with the fewest live members.
func (k *Controller) pickHost() string {
	load := map[string]int{}
	for _, p := range k.c.Live() {
		load[p.Host()]++
	}
	best := cluster.HostName(0)
	for i := range k.hosts {
		if h := cluster.HostName(i); load[h] < load[best] {
			best = h
		}
	}
	return best
}

// possible reports whether the churn can make this change now.
func (k *Controller) possible(action string) bool {
	switch action {
	case actKill, actStop:
		return len(k.c.Live()) >= 2
	case actRestart:
		return len(k.c.Live()) < len(k.c.Members())
	case actAdd:
		return len(k.c.Members()) < k.maxMembers
	}
	return false
}

// churn makes one change every interval until ctx ends, cycling through
// kill -9, stop, restart and add (skipping those not possible now). The
// changes themselves run under opCtx, so that ending the churn does not
// break off a change half-way.
func (k *Controller) churn(ctx, opCtx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for range actions {
			a := actions[k.turn%len(actions)]
			k.turn++
			if k.possible(a) {
				k.Apply(opCtx, ActionRequest{Action: a, Source: "churn"}) // a failure is in the event
				break
			}
		}
	}
}

// Pause pauses or resumes the churn. It returns once a change in progress
// is complete: after it, a paused churn makes no change.
func (k *Controller) Pause(paused bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.paused.Store(paused)
	k.mon.notify(Update{"churn", ChurnState{Paused: paused}})
}

// Paused reports whether the churn is paused.
func (k *Controller) Paused() bool { return k.paused.Load() }

// ChurnState is whether the churn is paused, for the dashboard.
type ChurnState struct {
	Paused bool `json:"paused"`
}

// close refuses every later change and waits for the current one.
func (k *Controller) close() {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
}
