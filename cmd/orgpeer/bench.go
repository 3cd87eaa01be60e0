package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
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
	o := benchOpts{bin: bin, orgs: *nOrgs, settle: *settle, idle: *idle, apiRate: *apiRate,
		apiRequests: *apiRequests, timeout: *timeout, keep: *keep,
		log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if *pprof {
		o.extra = append(o.extra, "--pprof")
	}
	o.extra = append(o.extra, strings.Fields(*runFlags)...)
	rep := benchReport{When: time.Now(), Machine: thisMachine(), Metrics: benchMetrics,
		Settings: benchSettings{Orgs: *nOrgs, Runs: *runs, Preset: "local", RunFlags: o.extra, SettleS: settle.Seconds(),
			IdleS: idle.Seconds(), APIRate: *apiRate, APIRequests: *apiRequests}}
	svgPath := strings.TrimSuffix(*out, ".json") + ".svg"
	for _, n := range ns {
		var figs []runFigures
		for r := range *runs {
			if !waitQuiet(ctx, o.log, *quietWait) {
				return ctx.Err()
			}
			o.log.Info("bench run", "nodes", n, "run", r+1, "of", *runs)
			f, err := benchRun(ctx, o, n)
			if err != nil {
				return fmt.Errorf("N=%d run %d: %w", n, r+1, err)
			}
			figs = append(figs, f)
		}
		rep.Settings.PollIntervalMs = append(rep.Settings.PollIntervalMs, int(benchPollInterval(n).Milliseconds()))
		rep.Results = append(rep.Results, newSizeResult(n, figs))
		// Written after every size, so that a long benchmark cut short
		// keeps what it measured.
		if err := writeBenchFiles(rep, *out, svgPath); err != nil {
			return err
		}
	}
	o.log.Info("results written", "json", *out, "svg", svgPath)
	if *asJSON {
		return printJSON(stdout, rep)
	}
	return printBenchTable(stdout, rep)
}

func writeBenchFiles(rep benchReport, jsonPath, svgPath string) error {
	if err := os.MkdirAll(filepath.Dir(jsonPath), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	var svg strings.Builder
	if err := writeSVG(&svg, rep); err != nil {
		return err
	}
	return os.WriteFile(svgPath, []byte(svg.String()), 0o644)
}

// thisMachine describes the machine: core count and CPU model.
func thisMachine() benchMachine {
	return benchMachine{CPUs: runtime.NumCPU(), CPUModel: procstat.CPUModel(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
}
