package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/bench"
)

func benchCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bench", stdout)
	var sizes listFlag
	fs.Var(&sizes, "nodes", "cluster sizes to measure, repeatable or comma-separated (default 10,20,50)")
	nOrgs := fs.Int("orgs", 3, "number of organizations")
	runs := fs.Int("runs", 1, "runs per cluster size; several report minimum, median and maximum")
	settle := fs.Duration("settle", 5*time.Second, "wait after convergence before measuring idle costs")
	idle := fs.Duration("idle", 20*time.Second, "idle window for CPU and traffic")
	apiRate := fs.Float64("api-rate", 200, "GET /v1/view requests per second in the latency test")
	apiRequests := fs.Int("api-requests", 1000, "number of requests in the latency test")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on each phase of a run")
	out := fs.String("out", "orgpeer-bench.json", "JSON results file; the SVG chart is written next to it (.svg)")
	asJSON := fs.Bool("json", false, "print the JSON results instead of the table")
	keep := fs.Bool("keep", false, "keep the data dirs and logs of every run")
	pprof := fs.Bool("pprof", false, "start every node with --pprof")
	quietWait := fs.Duration("quiet-wait", 2*time.Minute, "before each run, wait at most this long for the hypervisor to take under 2 % of the vCPUs (0: do not wait)")
	runFlags := fs.String("run-flags", "", "extra flags for every `orgpeer run`, space-separated (e.g. \"--heartbeat 500ms\")")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	o := bench.Options{Bin: bin, Sizes: ns, Orgs: *nOrgs, Runs: *runs, Settle: *settle, Idle: *idle, APIRate: *apiRate,
		APIRequests: *apiRequests, Timeout: *timeout, QuietWait: *quietWait, Keep: *keep, Out: *out,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if *pprof {
		o.Extra = append(o.Extra, "--pprof")
	}
	o.Extra = append(o.Extra, strings.Fields(*runFlags)...)
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	return bench.PrintTable(stdout, rep)
}

// benchFloorCmd is the benchmark's floor server: it serves a copy of a
// node's view, read from stdin.
func benchFloorCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments", bench.FloorCommand)
	}
	return bench.ServeFloor(ctx, os.Stdin, stdout)
}
