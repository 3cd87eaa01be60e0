package bench

import (
	"fmt"
	"io"
	"math"
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
	Runs    []runFigures            `json:"runs"`             // the runs that completed
	Failed  []string                `json:"failed,omitempty"` // why the others did not
	Summary map[string]figureSpread `json:"summary"`          // over the runs that have the figure
}

// missedKey is the key that marks a run in which not every member saw
// the event of figure key within the timeout.
func missedKey(key string) string { return "missed_" + key }

// medianOf is the median of a figure over the completed runs, a run that
// missed it counting as slower than any that has it; never is true when
// the median falls on such a run.
func (s sideResult) medianOf(key string) (median float64, never bool, missed int) {
	var vals []float64
	for _, r := range s.Runs {
		if v, ok := r[key]; ok {
			vals = append(vals, v)
		} else if r[missedKey(key)] > 0 {
			missed++
		}
	}
	all := len(vals) + missed
	if all == 0 {
		return 0, false, 0
	}
	slices.Sort(vals)
	at := func(i int) float64 {
		if i >= len(vals) {
			return math.Inf(1)
		}
		return vals[i]
	}
	median = at(all / 2)
	if all%2 == 0 {
		median = (at(all/2-1) + median) / 2
	}
	if math.IsInf(median, 1) {
		return 0, true, missed
	}
	return median, false, missed
}

// ratio compares the medians of one figure.
type ratio struct {
	Key           string   `json:"key"`
	Orgpeer       float64  `json:"orgpeer"`                 // median
	Serf          float64  `json:"serf"`                    // median
	OrgpeerNever  bool     `json:"orgpeer_never,omitzero"`  // the median run never saw the event
	SerfNever     bool     `json:"serf_never,omitzero"`     //
	OrgpeerMissed int      `json:"orgpeer_missed,omitzero"` // runs that never saw it (slower than any other)
	SerfMissed    int      `json:"serf_missed,omitzero"`    //
	Ratio         *float64 `json:"ratio"`                   // orgpeer / serf; null when a median is never or Serf's is 0
	Target        float64  `json:"target"`                  // the bound on Ratio (0: none)
	Met           *bool    `json:"met,omitempty"`           // Ratio <= Target, or only Serf never; absent without a target or a verdict
	Judged        bool     `json:"judged"`                  // on medians of at least minRuns runs, as the targets are set
	Missing       bool     `json:"missing,omitzero"`        // a side has no value at all
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

func newPairResult(nodes int, pair Pair, poll time.Duration, ours, theirs sideResult) pairResult {
	keys := slices.Concat(keysOf(comparedFigures), compareDetailKeys)
	ours.Summary, theirs.Summary = summarize(ours.Runs, keys), summarize(theirs.Runs, keys)
	r := pairResult{Nodes: nodes, Pair: pair, PollIntervalMs: int(poll.Milliseconds()), Orgpeer: ours, Serf: theirs}
	judged := min(len(ours.Runs), len(theirs.Runs)) >= minRuns
	for _, f := range comparedFigures {
		r.Ratios = append(r.Ratios, ratioOf(f, ours, theirs, judged))
	}
	return r
}

// ratioOf compares the medians of figure f.
func ratioOf(f Metric, ours, theirs sideResult, judged bool) ratio {
	r := ratio{Key: f.Key, Target: f.Target, Judged: judged}
	r.Orgpeer, r.OrgpeerNever, r.OrgpeerMissed = ours.medianOf(f.Key)
	r.Serf, r.SerfNever, r.SerfMissed = theirs.medianOf(f.Key)
	_, okA := ours.Summary[f.Key]
	_, okB := theirs.Summary[f.Key]
	r.Missing = (!okA && r.OrgpeerMissed == 0) || (!okB && r.SerfMissed == 0)
	verdict := func(met bool) {
		if f.Target > 0 {
			r.Met = &met
		}
	}
	switch {
	case r.Missing, r.OrgpeerNever && r.SerfNever:
	case r.OrgpeerNever:
		verdict(false)
	case r.SerfNever:
		verdict(true)
	case r.Serf > 0:
		q := r.Orgpeer / r.Serf
		r.Ratio = &q
		verdict(q <= f.Target)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Key, f.Unit, spreadCell(r.Orgpeer, f.Key, q.OrgpeerMissed),
				spreadCell(r.Serf, f.Key, q.SerfMissed), ratioCell(q), targetCell(q.Target), metCell(q))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, side := range []struct {
			name string
			res  sideResult
		}{{"orgpeer", r.Orgpeer}, {"serf", r.Serf}} {
			for _, f := range side.res.Failed {
				fmt.Fprintf(w, "%s %s\n", side.name, f)
			}
			for i, run := range side.res.Runs {
				for _, f := range comparedFigures {
					if run[missedKey(f.Key)] > 0 {
						fmt.Fprintf(w, "%s run %d: %s never seen everywhere within the timeout (counted slower than any run)\n", side.name, i+1, f.Key)
					}
				}
			}
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

func spreadCell(s sideResult, key string, missed int) string {
	sp, ok := s.Summary[key]
	var cell string
	switch {
	case !ok && missed > 0:
		return "never"
	case !ok:
		return "-"
	case len(s.Runs) > 1:
		cell = fmt.Sprintf("%s (%s-%s)", fmtFigure(sp.Median), fmtFigure(sp.Min), fmtFigure(sp.Max))
	default:
		cell = fmtFigure(sp.Median)
	}
	if missed > 0 {
		cell += fmt.Sprintf(" +%d never", missed)
	}
	return cell
}

func ratioCell(q ratio) string {
	switch {
	case q.Ratio != nil:
		return fmtFigure(*q.Ratio)
	case q.OrgpeerNever && !q.SerfNever:
		return "inf"
	case q.SerfNever && !q.OrgpeerNever:
		return "0"
	}
	return "-"
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
