package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/dashboard"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/demo"
)

func demoCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo", stdout)
	var o demo.Options
	fs.IntVar(&o.Nodes, "nodes", 6, "number of orgpeer processes")
	fs.IntVar(&o.Orgs, "orgs", 3, "number of organizations")
	fs.IntVar(&o.Hosts, "hosts", 2, "number of simulated physical hosts")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to run after convergence (0: until Ctrl-C)")
	fs.DurationVar(&o.Churn, "churn", 0, "change the network every INTERVAL: kill -9, stop, restart, add a node, in turn (0: never)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the data dirs and logs")
	fs.IntVar(&o.MaxPeers, "max-peers", 4, "cap on each node's direct connections: a partial topology, not a full mesh (0: the node's default, 64)")
	fs.BoolVar(&o.Soak, "soak", false, "at the end, judge: every event back to correct counts, survivors' memory and goroutines flat (exit 1 if not)")
	web := fs.String("web", "127.0.0.1:0", "dashboard address, on loopback (port 0: a random one)")
	err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case o.Nodes < 1 || o.Nodes > 200:
		return usagef("demo: --nodes must be 1 to 200")
	case o.Orgs < 1 || o.Orgs > o.Nodes:
		return usagef("demo: --orgs must be 1 to --nodes (%d)", o.Nodes)
	case o.Hosts < 1 || o.Hosts > o.Nodes:
		return usagef("demo: --hosts must be 1 to --nodes (%d)", o.Nodes)
	case o.MaxPeers < 0:
		return usagef("demo: --max-peers must not be negative")
	case o.Duration < 0:
		return usagef("demo: --duration must not be negative")
	case o.Churn != 0 && o.Churn < time.Second:
		return usagef("demo: --churn must be at least 1s (or 0 for none)")
	case o.Soak && o.Duration == 0:
		return usagef("demo: --soak needs a --duration")
	}
	if o.Bin, err = os.Executable(); err != nil {
		return err
	}
	ln, err := dashboard.Listen(*web)
	if err != nil {
		return usagef("demo: --web %s: %v", *web, err) // every failure is the user's to fix
	}
	o.Serve = dashboard.Serve
	err = demo.Run(ctx, o, ln, stdout)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // Ctrl-C during start-up
	}
	return err
}
