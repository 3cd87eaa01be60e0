// Package demo runs many real orgpeer nodes on this machine through the
// cluster package, changes the network (churn, keys, the dashboard) and
// compares every node's counts with the truth: a monitor, a controller of
// the changes, a terminal view and the soak's judge.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/viewtable"
)

// Options are the demo's settings, checked by the caller.
type Options struct {
	Nodes, Orgs, Hosts int
	Duration           time.Duration // how long to watch after convergence (0: until ctx ends)
	Churn              time.Duration // one change every Churn (0: none)
	Keep               bool          // keep the data dirs and logs
	Soak               bool          // judge survivors' memory and goroutines, and every event's recovery
	MaxPeers           int           // cap on each node's direct connections (0: the node's default)
	Bin                string        // the orgpeer binary to run the nodes with
	TmpRoot            string        // parent of the demo's temporary directory ("": the system's)
	// Serve runs the dashboard on ln until ctx ends.
	Serve func(ctx context.Context, s *Session, ln net.Listener)
}

// Session is a running demo, as its dashboard sees it.
type Session struct {
	Monitor    *Monitor
	Controller *Controller
	Cluster    *cluster.Cluster
	Hosts      int
	Churn      string // "every 5s"; "" without churn
	Log        *slog.Logger
}

// State is everything the dashboard shows, for a page that just opened.
func (s *Session) State() State {
	st := s.Monitor.State()
	st.Hosts, st.Churn, st.Paused = s.Hosts, s.Churn, s.Controller.Paused()
	return st
}

// NewSession returns the monitor and the controller of a demo of the
// organizations orgNames on c, not yet running.
func NewSession(c *cluster.Cluster, o Options, orgNames []string, log *slog.Logger) *Session {
	every, keep := pollPlan(o.Nodes, o.Orgs)
	mon := newMonitor(c, every, keep)
	s := &Session{Monitor: mon, Cluster: c, Hosts: o.Hosts, Log: log,
		Controller: &Controller{c: c, mon: mon, orgs: orgNames, hosts: o.Hosts, maxMembers: max(2*o.Nodes, o.Nodes+4)}}
	if o.Churn > 0 {
		s.Churn = "every " + o.Churn.String()
	}
	return s
}

const (
	convergeTimeout = 60 * time.Second // for the first convergence
	settleTimeout   = 30 * time.Second // after Duration, for the last event
)

// orgName names the i-th organization.
func orgName(i int) string {
	return []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"}[i%6] + suffix(i/6)
}

func suffix(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprint(i + 1)
}

// Run starts the cluster and the dashboard on ln, watches until ctx ends or
// Duration passes, then stops every process and prints a summary.
func Run(ctx context.Context, o Options, ln net.Listener, stdout io.Writer) error {
	dir, err := os.MkdirTemp(o.TmpRoot, "orgpeer-demo-")
	if err != nil {
		ln.Close()
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var extra []string
	if o.MaxPeers > 0 {
		extra = append(extra, "--max-peers", fmt.Sprint(o.MaxPeers))
	}
	c := cluster.New(o.Bin, dir, extra...)
	var orgNames []string
	for i := range o.Orgs {
		orgNames = append(orgNames, orgName(i))
	}
	// Real org keys; every node gets a credential and trusts every org.
	if err := c.EnsureOrgKeys(orgNames...); err != nil {
		return err
	}
	s := NewSession(c, o, orgNames, log)
	mon, ctl := s.Monitor, s.Controller
	tty := false
	if f, ok := stdout.(*os.File); ok {
		tty = isTerminal(f)
	}

	runCtx, quit := context.WithCancel(ctx)
	var wg sync.WaitGroup // every goroutine of the demo; each ends with runCtx
	watching := false
	defer func() {
		quit()
		ctl.close() // waits for a change in progress
		wg.Wait()
		if !tty && watching {
			rows, _, _ := mon.snapshot()
			writeTable(stdout, rows, time.Now())
		}
		fmt.Fprintf(stdout, "stopping %d processes\n", len(c.Live()))
		c.StopAll()
		if o.Keep {
			fmt.Fprintf(stdout, "data dirs and logs kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
		if watching {
			printSummary(stdout, mon.summary())
		}
	}()

	wg.Go(func() { o.Serve(runCtx, s, ln) })
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "dashboard: %s\n", url)
	wg.Go(func() { mon.run(runCtx) })

	fmt.Fprintf(stdout, "starting %d orgpeer processes in %d organizations on %d simulated hosts\n", o.Nodes, o.Orgs, o.Hosts)
	start, err := o.launch(runCtx, c, orgNames)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "all %d processes up after %v; waiting for every node to count the truth\n", o.Nodes, time.Since(start).Round(time.Millisecond))
	took, err := c.WaitConverged(runCtx, convergeTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "converged: every node counts every organization exactly, %v after the first process started (%v after the last)\n\n",
		time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	vs := c.Views(runCtx)
	for _, p := range c.Live() {
		fmt.Fprintf(stdout, "== %s (org %s, %s)\n", p.Name(), p.Org(), p.Host())
		viewtable.Write(stdout, vs[p])
		fmt.Fprintln(stdout)
	}

	watching = true
	var baseline map[int]resources
	if o.Soak {
		baseline = sampleResources(runCtx, c)
	}
	watchStart := time.Now()
	term := newTerminal(stdout, tty, mon, func() string {
		up, all := len(c.Live()), len(c.Members())
		churn := "no churn"
		if s.Churn != "" {
			churn = "churn " + s.Churn
			if ctl.Paused() {
				churn += " (paused)"
			}
		}
		return fmt.Sprintf("orgpeer demo · %d of %d processes up · %d simulated hosts · %s · %s · dashboard %s",
			up, all, o.Hosts, churn, time.Since(watchStart).Round(time.Second), url)
	})
	if tty && canReadKeys && isTerminal(os.Stdin) {
		term.keys = "keys: k kill -9 · s stop · r restart · a add · q quit"
		if o.Churn > 0 {
			term.keys += " · p pause/resume churn"
		}
		wg.Go(func() {
			readKeys(runCtx, int(os.Stdin.Fd()), func(b byte) { o.onKey(runCtx, b, ctl, term, quit) })
		})
	}
	wg.Go(func() { term.run(runCtx) })

	churnCtx, stopChurn := context.WithCancel(runCtx)
	defer stopChurn()
	var churnDone sync.WaitGroup
	if o.Churn > 0 {
		churnDone.Go(func() { ctl.churn(churnCtx, runCtx, o.Churn) })
	}
	var end <-chan time.Time
	if o.Duration > 0 {
		end = time.After(o.Duration)
		term.say(fmt.Sprintf("watching for %v (Ctrl-C ends it)", o.Duration))
	} else {
		term.say("watching; Ctrl-C ends the demo")
	}
	select {
	case <-runCtx.Done(): // Ctrl-C or q
	case <-end:
		stopChurn()
		churnDone.Wait()
		ctl.close()
		settle(runCtx, mon, term)
		if o.Soak {
			return soakReport(stdout, baseline, sampleResources(runCtx, c), mon.summary())
		}
	}
	return nil
}

// onKey handles one key typed in the terminal.
func (o Options) onKey(ctx context.Context, b byte, ctl *Controller, term *terminal, quit func()) {
	switch b {
	case 'q':
		quit()
		return
	case 'p':
		if o.Churn == 0 {
			term.say("no churn to pause (--churn INTERVAL)")
			return
		}
		paused := !ctl.Paused()
		ctl.Pause(paused)
		term.say(map[bool]string{true: "churn paused", false: "churn resumed"}[paused])
		return
	}
	a, ok := keys[b]
	if !ok {
		term.say(fmt.Sprintf("key %q: use k, s, r, a, p or q", b))
		return
	}
	if _, err := ctl.Apply(ctx, ActionRequest{Action: a, Source: "keyboard"}); err != nil {
		term.say(actionLabel(a) + ": " + err.Error())
	} else {
		term.say("")
	}
}

// launch prepares every node's identity and credential, then starts the
// first node, then a second bootstrapped from it, then every other in
// parallel bootstrapped from those two seeds: a partial topology, not a
// full mesh. Organizations take turns, and each one's members are spread
// over the hosts. It returns when the first node started.
func (o Options) launch(ctx context.Context, c *cluster.Cluster, orgNames []string) (time.Time, error) {
	ps := make([]*cluster.Proc, o.Nodes)
	for i := range ps {
		ps[i] = c.Add(cluster.Spec{Org: orgNames[i%len(orgNames)], Host: cluster.HostName((i / len(orgNames)) % o.Hosts)})
	}
	if err := c.Prepare(ps...); err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	for _, p := range ps[:min(2, o.Nodes)] {
		c.SetBootstrap(p, c.SeedAddrs(nil))
		if err := c.Start(ctx, p); err != nil {
			return start, err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, o.Nodes)
	for i := 2; i < o.Nodes; i++ {
		c.SetBootstrap(ps[i], c.SeedAddrs(nil))
		wg.Go(func() { errs[i] = c.Start(ctx, ps[i]) })
	}
	wg.Wait()
	return start, errors.Join(errs...)
}

// settle waits, after the last change, until every node counts the truth
// again, so that the summary has the time of every event.
func settle(ctx context.Context, mon *Monitor, term *terminal) {
	if mon.pending() == 0 {
		return
	}
	term.say(fmt.Sprintf("--duration is over: no more changes; waiting (at most %v) for every node to count the truth", settleTimeout))
	deadline := time.After(settleTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for mon.pending() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}
