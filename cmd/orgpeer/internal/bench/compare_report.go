package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// comparedFigures are the figures a comparison takes of both systems.
// Target is the bound on the ratio orgpeer / Serf of the medians
// (0: none); every figure is better lower.
var comparedFigures = []Metric{
	{Key: "converge_all_s", Unit: "s", Help: "from launching the first process until every member counts every organization's members alive, exactly", Target: 1.0},
	{Key: "kill9_detect_all_s", Unit: "s", Help: "from kill -9 of one member until no other member lists it alive", Target: 0.34},
	{Key: "leave_detect_all_s", Unit: "s", Help: "from the graceful stop of one member (orgpeer: SIGTERM; Serf: SIGINT) until every other member lists it once, left", Target: 0.34},
	{Key: "rejoin_all_s", Unit: "s", Help: "from restarting the killed member (same identity and address) until every member lists it once, alive", Target: 1.0},
	{Key: "rss_avg_mb", Unit: "MB", Help: "resident memory per process after the idle window (VmRSS), average", Target: 1.5},
	{Key: "cpu_idle_avg_pct", Unit: "%", Help: "CPU time (user+system) per process over the idle window, % of one core, average", Target: 1.0},
	{Key: "converge_cpu_avg_s", Unit: "s", Help: "CPU time each process used from its start until convergence, average"},
	{Key: "rss_max_mb", Unit: "MB", Help: "resident memory after the idle window, largest process"},
	{Key: "cpu_idle_max_pct", Unit: "%", Help: "CPU time over the idle window, % of one core, busiest process"},
}

// compareDetailKeys are recorded per run besides the figures: the load when
// the run began, and what the hypervisor and other processes took of the
// machine during the idle window.
var compareDetailKeys = []string{"load_avg_1m", "steal_idle_pct", "others_cpu_pct"}

// minRuns is how many runs the targets are judged on (medians).
const minRuns = 3

// CompareSettings are the knobs of a comparison.
type CompareSettings struct {
	Orgs        int      `json:"orgs"`
	Runs        int      `json:"runs"`
	RunFlags    []string `json:"run_flags,omitempty"` // added to every `orgpeer run`
	SettleS     float64  `json:"settle_s"`
	IdleS       float64  `json:"idle_s"`
	SerfBin     string   `json:"serf_bin"`
	SerfVersion string   `json:"serf_version"` // what `serf version` says
	Method      string   `json:"method"`
}

// sideResult is every run of one system at one size and pair.
type sideResult struct {
	Runs    []runFigures            `json:"runs"`
	Summary map[string]figureSpread `json:"summary"`
}

// ratio compares the medians of one figure.
type ratio struct {
	Key     string   `json:"key"`
	Orgpeer float64  `json:"orgpeer"`          // median
	Serf    float64  `json:"serf"`             // median
	Ratio   *float64 `json:"ratio"`            // orgpeer / serf; null when Serf's median is 0
	Target  float64  `json:"target"`           // the bound on Ratio (0: none)
	Met     *bool    `json:"met,omitempty"`    // Ratio <= Target; absent without a target or a ratio
	Judged  bool     `json:"judged"`           // on medians of at least minRuns runs, as the targets are set
	Missing bool     `json:"missing,omitzero"` // a side has no value
}

// pairResult is one size and pair of a comparison.
type pairResult struct {
	Nodes          int        `json:"nodes"`
	Pair           Pair       `json:"pair"`
	PollIntervalMs int        `json:"poll_interval_ms"` // the resolution of the times, the same for both
	Orgpeer        sideResult `json:"orgpeer"`
	Serf           sideResult `json:"serf"`
	Ratios         []ratio    `json:"ratios"`
}

// Comparison is the JSON a comparison with Serf writes.
type Comparison struct {
	When     time.Time       `json:"when"`
	Machine  Machine         `json:"machine"`
	Settings CompareSettings `json:"settings"`
	Figures  []Metric        `json:"figures"`
	Results  []pairResult    `json:"results"`
}

func newPairResult(nodes int, pair Pair, poll time.Duration, ours, theirs []runFigures) pairResult {
	keys := slices.Concat(keysOf(comparedFigures), compareDetailKeys)
	r := pairResult{Nodes: nodes, Pair: pair, PollIntervalMs: int(poll.Milliseconds()),
		Orgpeer: sideResult{Runs: ours, Summary: summarize(ours, keys)},
		Serf:    sideResult{Runs: theirs, Summary: summarize(theirs, keys)}}
	judged := min(len(ours), len(theirs)) >= minRuns
	for _, f := range comparedFigures {
		r.Ratios = append(r.Ratios, ratioOf(f, r.Orgpeer.Summary, r.Serf.Summary, judged))
	}
	return r
}

// ratioOf compares the medians of figure f.
func ratioOf(f Metric, ours, theirs map[string]figureSpread, judged bool) ratio {
	a, okA := ours[f.Key]
	b, okB := theirs[f.Key]
	r := ratio{Key: f.Key, Orgpeer: a.Median, Serf: b.Median, Target: f.Target, Judged: judged, Missing: !okA || !okB}
	if r.Missing || b.Median <= 0 {
		return r
	}
	q := a.Median / b.Median
	r.Ratio = &q
	if f.Target > 0 {
		met := q <= f.Target
		r.Met = &met
	}
	return r
}

// PrintComparison prints, per size and pair, one row per figure: each
// system's median (and range), the ratio, its target and whether it is met.
func PrintComparison(w io.Writer, c Comparison) error {
	for i, r := range c.Results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "N=%d, %s: orgpeer --preset %s vs serf -profile=%s, median (min-max) of %d and %d runs, every member asked every %d ms\n",
			r.Nodes, r.Pair.Name, r.Pair.OrgpeerPreset, r.Pair.SerfProfile, len(r.Orgpeer.Runs), len(r.Serf.Runs), r.PollIntervalMs)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FIGURE\tUNIT\tORGPEER\tSERF\tRATIO\tTARGET\tMET?")
		for j, f := range comparedFigures {
			q := r.Ratios[j]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Key, f.Unit, spreadCell(r.Orgpeer, f.Key),
				spreadCell(r.Serf, f.Key), ratioCell(q), targetCell(q.Target), metCell(q))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, side := range []struct {
			name string
			res  sideResult
		}{{"orgpeer", r.Orgpeer}, {"serf", r.Serf}} {
			if d := disturbed(side.res.Runs); d != "" {
				fmt.Fprintf(w, "%s %s\n", side.name, d)
			}
		}
		if len(r.Orgpeer.Runs) < minRuns || len(r.Serf.Runs) < minRuns {
			fmt.Fprintf(w, "(fewer than %d runs: the targets are judged on medians of at least %d; these ratios are indicative)\n", minRuns, minRuns)
		}
	}
	_, err := fmt.Fprintf(w, "ratio = orgpeer median / Serf median, lower is better for orgpeer; serf %s; machine: %d cores, %s\n",
		c.Settings.SerfVersion, c.Machine.CPUs, c.Machine.CPUModel)
	return err
}

func spreadCell(s sideResult, key string) string {
	sp, ok := s.Summary[key]
	switch {
	case !ok:
		return "-"
	case len(s.Runs) > 1:
		return fmt.Sprintf("%s (%s-%s)", fmtFigure(sp.Median), fmtFigure(sp.Min), fmtFigure(sp.Max))
	}
	return fmtFigure(sp.Median)
}

func ratioCell(q ratio) string {
	if q.Ratio == nil {
		return "-"
	}
	return fmtFigure(*q.Ratio)
}

func targetCell(t float64) string {
	if t == 0 {
		return "-"
	}
	return "<= " + fmtFigure(t)
}

func metCell(q ratio) string {
	switch {
	case q.Met == nil:
		return "-"
	case *q.Met:
		return "yes"
	}
	return "NO"
}
