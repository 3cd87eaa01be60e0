package main

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
)

// demoOpts are the demo's flags, checked.
type demoOpts struct {
	nodes, orgs, hosts int
	duration, churn    time.Duration
	keep               bool
	soak               bool // judge survivors' memory and goroutines, and every event's recovery
	maxPeers           int
	bin                string // the orgpeer binary to run the nodes with
	tmpRoot            string // parent of the demo's temporary directory ("": the system's)
}

const (
	demoConvergeTimeout = 60 * time.Second // for the first convergence
	demoSettleTimeout   = 30 * time.Second // after --duration, for the last event
)

func demoCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo", stdout)
	var o demoOpts
	fs.IntVar(&o.nodes, "nodes", 6, "number of orgpeer processes")
	fs.IntVar(&o.orgs, "orgs", 3, "number of organizations")
	fs.IntVar(&o.hosts, "hosts", 2, "number of simulated physical hosts")
	fs.DurationVar(&o.duration, "duration", 0, "how long to run after convergence (0: until Ctrl-C)")
	fs.DurationVar(&o.churn, "churn", 0, "change the network every INTERVAL: kill -9, stop, restart, add a node, in turn (0: never)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data dirs and logs")
	fs.IntVar(&o.maxPeers, "max-peers", 4, "cap on each node's direct connections: a partial topology, not a full mesh (0: the node's default, 64)")
	fs.BoolVar(&o.soak, "soak", false, "at the end, judge: every event back to correct counts, survivors' memory and goroutines flat (exit 1 if not)")
	web := fs.String("web", "127.0.0.1:0", "dashboard address, on loopback (port 0: a random one)")
	err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case o.nodes < 1 || o.nodes > 200:
		return usagef("demo: --nodes must be 1 to 200")
	case o.orgs < 1 || o.orgs > o.nodes:
		return usagef("demo: --orgs must be 1 to --nodes (%d)", o.nodes)
	case o.hosts < 1 || o.hosts > o.nodes:
		return usagef("demo: --hosts must be 1 to --nodes (%d)", o.nodes)
	case o.maxPeers < 0:
		return usagef("demo: --max-peers must not be negative")
	case o.duration < 0:
		return usagef("demo: --duration must not be negative")
	case o.churn != 0 && o.churn < time.Second:
		return usagef("demo: --churn must be at least 1s (or 0 for none)")
	case o.soak && o.duration == 0:
		return usagef("demo: --soak needs a --duration")
	}
	if o.bin, err = os.Executable(); err != nil {
		return err
	}
	ln, err := listenDashboard(*web)
	if err != nil {
		return err
	}
	err = o.run(ctx, ln, stdout)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // Ctrl-C during start-up
	}
	return err
}

// demoOrgName names the i-th organization.
func demoOrgName(i int) string {
	return []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"}[i%6] + suffix(i/6)
}

func suffix(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprint(i + 1)
}

// run starts the cluster and the dashboard on ln, watches until ctx ends or
// --duration passes, then stops every process and prints a summary.
func (o demoOpts) run(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	dir, err := os.MkdirTemp(o.tmpRoot, "orgpeer-demo-")
	if err != nil {
		ln.Close()
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var extra []string
	if o.maxPeers > 0 {
		extra = append(extra, "--max-peers", fmt.Sprint(o.maxPeers))
	}
	c := cluster.New(o.bin, dir, extra...)
	every, keep := pollPlan(o.nodes, o.orgs)
	mon := newMonitor(c, every, keep)
	var orgNames []string
	for i := range o.orgs {
		orgNames = append(orgNames, demoOrgName(i))
	}
	// Real org keys; every node gets a credential and trusts every org.
	if err := c.EnsureOrgKeys(orgNames...); err != nil {
		return err
	}
	ctl := &controller{c: c, mon: mon, orgs: orgNames, hosts: o.hosts, maxMembers: max(2*o.nodes, o.nodes+4)}
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
			writeDemoTable(stdout, rows, time.Now())
		}
		fmt.Fprintf(stdout, "stopping %d processes\n", len(c.Live()))
		c.StopAll()
		if o.keep {
			fmt.Fprintf(stdout, "data dirs and logs kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
		if watching {
			printDemoSummary(stdout, mon.summary())
		}
	}()

	churnLabel := ""
	if o.churn > 0 {
		churnLabel = "every " + o.churn.String()
	}
	dash := &dashboard{ctx: runCtx, mon: mon, ctl: ctl, c: c, hosts: o.hosts, churn: churnLabel, log: log}
	wg.Go(func() { dash.serve(runCtx, ln) })
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "dashboard: %s\n", url)
	wg.Go(func() { mon.run(runCtx) })

	fmt.Fprintf(stdout, "starting %d orgpeer processes in %d organizations on %d simulated hosts\n", o.nodes, o.orgs, o.hosts)
	start := time.Now()
	if err := o.launch(runCtx, c, orgNames); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "all %d processes up after %v; waiting for every node to count the truth\n", o.nodes, time.Since(start).Round(time.Millisecond))
	took, err := c.WaitConverged(runCtx, demoConvergeTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "converged: every node counts every organization exactly, %v after the first process started (%v after the last)\n\n",
		time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	vs := c.Views(runCtx)
	for _, p := range c.Live() {
		fmt.Fprintf(stdout, "== %s (org %s, %s)\n", p.Name(), p.Org(), p.Host())
		printView(stdout, vs[p])
		fmt.Fprintln(stdout)
	}

	watching = true
	var baseline map[int]resources
	if o.soak {
		baseline = sampleResources(runCtx, c)
	}
	watchStart := time.Now()
	term := newDemoTerm(stdout, tty, mon, func() string {
		up, all := len(c.Live()), len(c.Members())
		churn := "no churn"
		if churnLabel != "" {
			churn = "churn " + churnLabel
			if ctl.paused.Load() {
				churn += " (paused)"
			}
		}
		return fmt.Sprintf("orgpeer demo · %d of %d processes up · %d simulated hosts · %s · %s · dashboard %s",
			up, all, o.hosts, churn, time.Since(watchStart).Round(time.Second), url)
	})
	if tty && isTerminal(os.Stdin) {
		term.keys = "keys: k kill -9 · s stop · r restart · a add · q quit"
		if o.churn > 0 {
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
	if o.churn > 0 {
		churnDone.Go(func() { ctl.churn(churnCtx, runCtx, o.churn) })
	}
	var end <-chan time.Time
	if o.duration > 0 {
		end = time.After(o.duration)
		term.say(fmt.Sprintf("watching for %v (Ctrl-C ends it)", o.duration))
	} else {
		term.say("watching; Ctrl-C ends the demo")
	}
	select {
	case <-runCtx.Done(): // Ctrl-C or q
	case <-end:
		stopChurn()
		churnDone.Wait()
		ctl.close()
		o.settle(runCtx, mon, term)
		if o.soak {
			return soakReport(stdout, baseline, sampleResources(runCtx, c), mon.summary())
		}
	}
	return nil
}

// onKey handles one key typed in the terminal.
func (o demoOpts) onKey(ctx context.Context, b byte, ctl *controller, term *demoTerm, quit func()) {
	switch b {
	case 'q':
		quit()
		return
	case 'p':
		if o.churn == 0 {
			term.say("no churn to pause (--churn INTERVAL)")
			return
		}
		paused := !ctl.paused.Load()
		ctl.pause(paused)
		term.say(map[bool]string{true: "churn paused", false: "churn resumed"}[paused])
		return
	}
	a, ok := demoKeys[b]
	if !ok {
		term.say(fmt.Sprintf("key %q: use k, s, r, a, p or q", b))
		return
	}
	if _, err := ctl.apply(ctx, actionRequest{Action: a, Source: "keyboard"}); err != nil {
		term.say(actionLabel(a) + ": " + err.Error())
	} else {
		term.say("")
	}
}

// launch starts the first node, then a second bootstrapped from it, then
// every other in parallel bootstrapped from those two seeds: a partial
// topology, not a full mesh. Organizations take turns, and each one's
// members are spread over the hosts.
func (o demoOpts) launch(ctx context.Context, c *cluster.Cluster, orgNames []string) error {
	newMember := func(i int) *cluster.Proc {
		return c.Add(cluster.Spec{Org: orgNames[i%len(orgNames)], Host: hostName((i / len(orgNames)) % o.hosts), Bootstrap: c.SeedAddrs(nil)})
	}
	for i := range min(2, o.nodes) {
		if err := c.Start(ctx, newMember(i)); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, o.nodes)
	for i := 2; i < o.nodes; i++ {
		p := newMember(i)
		wg.Go(func() {
			if err := c.Start(ctx, p); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// settle waits, after the last change, until every node counts the truth
// again, so that the summary has the time of every event.
func (o demoOpts) settle(ctx context.Context, mon *monitor, term *demoTerm) {
	if mon.pending() == 0 {
		return
	}
	term.say(fmt.Sprintf("--duration is over: no more changes; waiting (at most %v) for every node to count the truth", demoSettleTimeout))
	deadline := time.After(demoSettleTimeout)
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
