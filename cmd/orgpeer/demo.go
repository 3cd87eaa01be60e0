package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

func demoCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo", stdout)
	nodes := fs.Int("nodes", 6, "number of orgpeer processes")
	nOrgs := fs.Int("orgs", 3, "number of organizations")
	hosts := fs.Int("hosts", 2, "number of simulated physical hosts")
	duration := fs.Duration("duration", 0, "how long to run after convergence (0: until Ctrl-C)")
	keep := fs.Bool("keep", false, "keep the data dirs and logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *nodes < 1 || *nodes > 200:
		return usagef("demo: --nodes must be 1 to 200")
	case *nOrgs < 1 || *nOrgs > *nodes:
		return usagef("demo: --orgs must be 1 to --nodes (%d)", *nodes)
	case *hosts < 1 || *hosts > *nodes:
		return usagef("demo: --hosts must be 1 to --nodes (%d)", *nodes)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "orgpeer-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(stdout, "data dirs and logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c := newCluster(bin, dir, log)
	defer c.stopAll()

	orgName := func(i int) string {
		return []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"}[i%6] + suffix(i/6)
	}
	fmt.Fprintf(stdout, "starting %d orgpeer processes in %d organizations on %d simulated hosts\n", *nodes, *nOrgs, *hosts)
	names := make([]string, *nOrgs)
	for i := range names {
		names[i] = orgName(i)
	}
	if err := c.ensureOrgKeys(names...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created an org key per organization; every node gets a credential and trusts every organization\n")
	start := time.Now()
	seed := c.add(orgName(0), "host-1", nil)
	if err := c.start(ctx, seed); err != nil {
		return err
	}
	boot := seed.info.Addrs[:1]
	var wg sync.WaitGroup
	errs := make(chan error, *nodes)
	for i := 1; i < *nodes; i++ {
		p := c.add(orgName(i%*nOrgs), fmt.Sprintf("host-%d", i%*hosts+1), boot)
		wg.Go(func() {
			if err := c.start(ctx, p); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "all %d processes up after %v; waiting for every node to count the truth\n", *nodes, time.Since(start).Round(time.Millisecond))
	took, err := c.waitConverged(ctx, 60*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "converged: every node counts every organization exactly, %v after the first process started (%v after the last)\n\n",
		time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))
	vs := c.views(ctx)
	for _, p := range c.live() {
		fmt.Fprintf(stdout, "== %s (org %s, %s)\n", p.name, p.org, p.host)
		printView(stdout, vs[p])
		fmt.Fprintln(stdout)
	}

	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
		fmt.Fprintf(stdout, "watching for %v (Ctrl-C ends it)\n", *duration)
	} else {
		fmt.Fprintln(stdout, "watching; Ctrl-C ends the demo")
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "stopping every node")
			return nil
		case <-end:
			fmt.Fprintln(stdout, "done; stopping every node")
			return nil
		case <-tick.C:
			printSummary(stdout, c.truth(), c.orgNames(), c.views(ctx))
		}
	}
}

func suffix(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprint(i + 1)
}

// printSummary prints, per organization, the truth against the minimum,
// median and maximum of the nodes' counts.
func printSummary(w io.Writer, truth map[string]int, names []string, vs map[*proc]orgs.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tTRUTH\tMIN\tMEDIAN\tMAX\tEXACT\n", time.Now().Format(time.TimeOnly))
	for _, o := range names {
		var counts []int
		right := 0
		for _, s := range vs {
			n := s.OrgCounts(o).Alive
			counts = append(counts, n)
			if n == truth[o] {
				right++
			}
		}
		if len(counts) == 0 {
			continue
		}
		slices.Sort(counts)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d/%d\n", o, truth[o], counts[0], counts[len(counts)/2], counts[len(counts)-1], right, len(counts))
	}
	tw.Flush()
}
