package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/bench"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/serf"
)

func benchCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bench", stdout)
	var sizes listFlag
	fs.Var(&sizes, "nodes", "cluster sizes to measure, repeatable or comma-separated (default 10,20,50; with --vs serf 20,50)")
	nOrgs := fs.Int("orgs", 3, "number of organizations")
	runs := fs.Int("runs", 1, "runs per cluster size (with --vs serf: per size, pair and system; default 3 there); several report minimum, median and maximum")
	settle := fs.Duration("settle", 5*time.Second, "wait after convergence before measuring idle costs")
	idle := fs.Duration("idle", 20*time.Second, "idle window for CPU and traffic")
	apiRate := fs.Float64("api-rate", 200, "GET /v1/view requests per second in the latency test")
	apiRequests := fs.Int("api-requests", 1000, "number of requests in the latency test")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on each phase of a run")
	out := fs.String("out", "orgpeer-bench.json", "JSON results file; the SVG chart is written next to it (.svg); with --vs serf the default is artifacts/bench-serf.json")
	asJSON := fs.Bool("json", false, "print the JSON results instead of the table")
	keep := fs.Bool("keep", false, "keep the data dirs and logs of every run")
	pprof := fs.Bool("pprof", false, "start every node with --pprof")
	quietWait := fs.Duration("quiet-wait", 2*time.Minute, "before each run, wait at most this long for the hypervisor to take under 2 % of the vCPUs (0: do not wait)")
	runFlags := fs.String("run-flags", "", "extra flags for every `orgpeer run`, space-separated (e.g. \"--heartbeat 500ms\")")
	vs := fs.String("vs", "", "compare with another system side by side: serf (HashiCorp Serf agents, the same N, runs interleaved)")
	serfBin := fs.String("serf-bin", "", "with --vs serf: the serf binary (default: serf next to this binary, else on PATH)")
	poll := fs.Duration("poll", 0, "with --vs serf: how often each member is asked during a timed phase, the resolution of the times (default max(50ms, 4ms x N))")
	hostFloor := fs.Bool("host-floor", false, "instead of orgpeer, measure the idle floor of bare go-libp2p hosts (its transports, fully connected) at each --nodes size: alone, with GossipSub's defaults (the wan preset), with GossipSub as the lan and local presets have it (a mesh of 3), and the latter without messages")
	var pairs listFlag
	fs.Var(&pairs, "pairs", "with --vs serf: which presets to compare, local (orgpeer local vs serf local) and/or default (orgpeer default vs serf lan); default both")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *vs != "" && *vs != "serf":
		return usagef("bench: --vs %q: the only system to compare with is serf", *vs)
	case *vs == "" && (set["serf-bin"] || set["pairs"] || set["poll"]):
		return usagef("bench: --serf-bin, --pairs and --poll go with --vs serf")
	case *poll < 0 || (set["poll"] && *poll < 5*time.Millisecond):
		return usagef("bench: --poll must be at least 5ms")
	case *hostFloor && *vs != "":
		return usagef("bench: --host-floor measures bare libp2p hosts, not a comparison: drop --vs")
	case *vs != "" && (set["api-rate"] || set["api-requests"]):
		return usagef("bench: --vs serf has no API latency test: drop --api-rate and --api-requests")
	}
	if *vs != "" { // the comparison's defaults: the sizes, medians of 3 runs
		if len(sizes.vals) == 0 {
			sizes.vals = []string{"20", "50"}
		}
		if !set["runs"] {
			*runs = 3
		}
		if !set["out"] {
			*out = "artifacts/bench-serf.json"
		}
	}
	var ns []int
	for _, v := range sizes.vals {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 || n > 200 {
			return usagef("bench: --nodes %q: want sizes from 3 to 200", v)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		ns = []int{10, 20, 50}
	}
	switch {
	case *nOrgs < 1 || *nOrgs > min(ns[0], 64):
		return usagef("bench: --orgs must be 1 to the smallest --nodes (%d)", min(ns[0], 64))
	case *runs < 1 || *runs > 100:
		return usagef("bench: --runs must be 1 to 100")
	case *idle <= 0 || *idle > 10*time.Minute || *settle < 0 || *settle > 10*time.Minute:
		return usagef("bench: --idle must be above 0 and --settle at least 0, both at most 10m")
	case *apiRate <= 0 || *apiRate > 10000:
		return usagef("bench: --api-rate must be above 0 and at most 10000")
	case *apiRequests < 1 || *apiRequests > 100000:
		return usagef("bench: --api-requests must be 1 to 100000")
	case *quietWait < 0 || *quietWait > time.Hour:
		return usagef("bench: --quiet-wait must be 0 to 1h")
	case *timeout < time.Second:
		return usagef("bench: --timeout must be at least 1s")
	case !strings.HasSuffix(*out, ".json"):
		return usagef("bench: --out %q: want a file name ending in .json", *out)
	}
	for _, n := range ns {
		if n < *nOrgs {
			return usagef("bench: --orgs (%d) is more than --nodes %d", *nOrgs, n)
		}
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	extra := strings.Fields(*runFlags)
	if *pprof {
		extra = append([]string{"--pprof"}, extra...)
	}
	if *hostFloor {
		if !set["settle"] {
			*settle = 40 * time.Second // past the hosts' dials and GossipSub's first mesh upkeep
		}
		for _, n := range ns {
			for _, f := range []bench.HostFloorOptions{{}, {Gossip: true, Every: 5 * time.Second},
				{Gossip: true, Mesh: 3, Every: 5 * time.Second}, {Gossip: true, Mesh: 3}} {
				f.Bin, f.Nodes, f.Settle, f.Window = bin, n, *settle, *idle
				log.Info("host floor", "nodes", n, "gossip", f.Gossip, "mesh", f.Mesh, "every", f.Every)
				if err := bench.HostFloor(ctx, f, stdout); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if *vs != "" {
		return compareCmd(ctx, bench.CompareOptions{Bin: bin, Sizes: ns, Orgs: *nOrgs, Runs: *runs, Settle: *settle,
			Idle: *idle, Timeout: *timeout, Poll: *poll, QuietWait: *quietWait, Keep: *keep, Extra: extra, Out: *out, Log: log},
			*serfBin, pairs.vals, *asJSON, stdout)
	}
	o := bench.Options{Bin: bin, Sizes: ns, Orgs: *nOrgs, Runs: *runs, Settle: *settle, Idle: *idle, APIRate: *apiRate,
		APIRequests: *apiRequests, Timeout: *timeout, QuietWait: *quietWait, Keep: *keep, Out: *out,
		Extra: extra, Log: log}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	return bench.PrintTable(stdout, rep)
}

// compareCmd runs `bench --vs serf`: o with the serf binary and the pairs
// of presets to compare.
func compareCmd(ctx context.Context, o bench.CompareOptions, serfBin string, pairNames []string, asJSON bool, stdout io.Writer) error {
	if len(pairNames) == 0 {
		o.Pairs = bench.Pairs
	}
	for _, name := range pairNames {
		i := slices.IndexFunc(bench.Pairs, func(p bench.Pair) bool { return p.Name == name })
		if i < 0 {
			return usagef("bench: --pairs %q: want local or default", name)
		}
		o.Pairs = append(o.Pairs, bench.Pairs[i])
	}
	var err error
	if o.SerfBin, err = serf.FindBin(serfBin, filepath.Dir(o.Bin)); err != nil {
		return err
	}
	rep, err := bench.Compare(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, rep)
	}
	return bench.PrintComparison(stdout, rep)
}

// benchFloorCmd is the benchmark's floor server: it serves a copy of a
// node's view, read from stdin.
func benchFloorCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments", bench.FloorCommand)
	}
	return bench.ServeFloor(ctx, os.Stdin, stdout)
}
