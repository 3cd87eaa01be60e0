// Package bench measures real `orgpeer run` processes: convergence,
// failure detection, idle costs and API latency at several cluster sizes,
// written as JSON, a table and an SVG chart. It starts the nodes through
// the cluster package and reads them through their API, /metrics and /proc.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
)

// Options are the settings of a benchmark.
type Options struct {
	Bin         string        // the orgpeer binary to run
	Sizes       []int         // cluster sizes to measure
	Orgs        int           // organizations the nodes are spread over
	Runs        int           // runs per cluster size
	Settle      time.Duration // wait after convergence before the idle window
	Idle        time.Duration // window over which CPU and traffic are measured
	APIRate     float64       // GET /v1/view per second during the latency test
	APIRequests int           // how many of them
	Timeout     time.Duration // bound on each phase of a run
	QuietWait   time.Duration // before each run, wait at most this long for a quiet machine
	Keep        bool          // keep data dirs and logs
	Extra       []string      // flags added to every `orgpeer run`
	Out         string        // the JSON results file; the SVG chart goes next to it
	Log         *slog.Logger
}

// Run measures every size Runs times and returns the report, which it
// also writes to o.Out (and the chart beside it) after every size, so that
// a long benchmark cut short keeps what it measured.
func Run(ctx context.Context, o Options) (Report, error) {
	rep := Report{When: time.Now(), Machine: thisMachine(), Metrics: Metrics,
		Settings: Settings{Orgs: o.Orgs, Runs: o.Runs, Preset: "local", RunFlags: o.Extra, SettleS: o.Settle.Seconds(),
			IdleS: o.Idle.Seconds(), APIRate: o.APIRate, APIRequests: o.APIRequests}}
	svgPath := strings.TrimSuffix(o.Out, ".json") + ".svg"
	for _, n := range o.Sizes {
		var figs []runFigures
		for r := range o.Runs {
			if !waitQuiet(ctx, o.Log, o.QuietWait) {
				return rep, ctx.Err()
			}
			o.Log.Info("bench run", "nodes", n, "run", r+1, "of", o.Runs)
			f, err := runOnce(ctx, o, n)
			if err != nil {
				return rep, fmt.Errorf("N=%d run %d: %w", n, r+1, err)
			}
			figs = append(figs, f)
		}
		rep.Settings.PollIntervalMs = append(rep.Settings.PollIntervalMs, int(pollInterval(n).Milliseconds()))
		rep.Results = append(rep.Results, newSizeResult(n, figs))
		if err := writeFiles(rep, o.Out, svgPath); err != nil {
			return rep, err
		}
	}
	o.Log.Info("results written", "json", o.Out, "svg", svgPath)
	return rep, nil
}

func writeFiles(rep Report, jsonPath, svgPath string) error {
	if err := writeJSON(rep, jsonPath); err != nil {
		return err
	}
	var svg strings.Builder
	if err := writeSVG(&svg, rep); err != nil {
		return err
	}
	return os.WriteFile(svgPath, []byte(svg.String()), 0o644)
}

// writeJSON writes v, indented, to path, creating its directory.
func writeJSON(v any, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// thisMachine describes the machine: core count and CPU model.
func thisMachine() Machine {
	return Machine{CPUs: runtime.NumCPU(), CPUModel: procstat.CPUModel(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
