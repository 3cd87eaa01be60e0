package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Metric is one figure the benchmark reports, for every cluster size.
type Metric struct {
	Key    string  `json:"key"`    // the name in JSON and in the table
	Unit   string  `json:"unit"`   // s, MB (10^6 bytes), %, kB/s (10^3 bytes), ms or count
	Help   string  `json:"help"`   // what exactly is measured
	Target float64 `json:"target"` // the bound at N = 20 (0: none); every figure is better lower
	Panel  int     `json:"-"`      // which chart of the SVG shows it (index into panels)
}

// Metrics lists every figure in the order of the table.
var Metrics = []Metric{
	{"converge_all_s", "s", "from launching the first process until every node counts every organization exactly", 2.0, 0},
	{"converge_cpu_avg_s", "s", "CPU time (user+system) each node used from its start until convergence, average: on a small machine, start-up is CPU-bound", 0, 0},
	{"kill9_detect_all_s", "s", "from kill -9 of one node until no node counts it alive", 3.0, 0},
	{"leave_detect_all_s", "s", "from SIGTERM to one node until every node counts it as left", 1.0, 0},
	{"rejoin_all_s", "s", "from restarting the killed node (same identity) until every node counts it alive, exactly once", 2.0, 0},
	{"rss_avg_mb", "MB", "resident memory per node after the idle window (VmRSS), average over nodes", 35, 1},
	{"rss_max_mb", "MB", "resident memory per node after the idle window, largest node", 0, 1},
	{"cpu_idle_avg_pct", "%", "CPU time (user+system) per node over the idle window, % of one core, average", 1.0, 2},
	{"cpu_idle_max_pct", "%", "CPU time per node over the idle window, % of one core, busiest node", 0, 2},
	{"traffic_in_avg_kBps", "kB/s", "libp2p bytes received per node per second over the idle window, average", 8, 3},
	{"traffic_out_avg_kBps", "kB/s", "libp2p bytes sent per node per second over the idle window, average", 8, 3},
	{"traffic_max_kBps", "kB/s", "libp2p bytes sent plus received per second over the idle window, busiest node", 0, 3},
	{"goroutines_avg", "count", "goroutines per node after the idle window (go_goroutines), average", 0, 4},
	{"goroutines_max", "count", "goroutines per node after the idle window, largest node", 0, 4},
	{"api_p50_ms", "ms", "GET /v1/view latency at a fixed request rate, median", 0, 5},
	{"api_p99_ms", "ms", "GET /v1/view latency at a fixed request rate, 99th percentile", 5, 5},
	{"api_floor_p99_ms", "ms", "the same test in the same window against a process that only serves a fixed copy of a node's answer, 99th percentile: what the machine allowed", 0, 5},
}

// detailKeys are figures each run records in the JSON besides the
// metrics: the machine's load when the run began, the share of all its
// cores that other processes used during the idle window, the share the
// hypervisor took (steal: this virtual machine's vCPUs wanted to run and
// did not) during the idle window and during the API test, and what the idle
// traffic is made of (GossipSub and DHT bytes received, messages accepted
// per second, and GossipSub bytes received per accepted message: the
// message's size times the copies that arrive), and, when sampling made
// some organization's count an estimate, how often its interval held the
// truth and its mean error (see estimates).
var detailKeys = []string{"load_avg_1m", "others_cpu_pct", "steal_idle_pct", "steal_api_pct", "pubsub_in_avg_kBps", "dht_in_avg_kBps", "messages_in_avg_per_s", "pubsub_bytes_per_message",
	"estimate_rows", "estimate_held_pct", "estimate_err_avg_pct"}

// panels titles the charts of the SVG, indexed by Metric.Panel.
var panels = []string{
	"Detection and convergence (s)",
	"Resident memory per node (MB)",
	"Idle CPU per node (% of one core)",
	"Idle libp2p traffic per node (kB/s)",
	"Goroutines per node",
	"GET /v1/view latency (ms)",
}

// keysOf lists the keys of ms, in order.
func keysOf(ms []Metric) []string {
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.Key)
	}
	return keys
}

// targetNodes is the cluster size the targets are set for.
const targetNodes = 20

// runFigures is one run's figures by Metric key.
type runFigures map[string]float64

// figureSpread is the minimum, median and maximum of a figure over the runs.
type figureSpread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func spreadOf(vals []float64) figureSpread {
	if len(vals) == 0 {
		return figureSpread{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return figureSpread{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// sizeResult is every run at one cluster size.
type sizeResult struct {
	Nodes   int                     `json:"nodes"`
	Runs    []runFigures            `json:"runs"`
	Summary map[string]figureSpread `json:"summary"`
}

func newSizeResult(nodes int, runs []runFigures) sizeResult {
	return sizeResult{Nodes: nodes, Runs: runs, Summary: summarize(runs, slices.Concat(keysOf(Metrics), detailKeys))}
}

// summarize spreads each figure of keys over the runs that have it.
func summarize(runs []runFigures, keys []string) map[string]figureSpread {
	sum := map[string]figureSpread{}
	for _, key := range keys {
		var vals []float64
		for _, run := range runs {
			if v, ok := run[key]; ok {
				vals = append(vals, v)
			}
		}
		if len(vals) > 0 {
			sum[key] = spreadOf(vals)
		}
	}
	return sum
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

// Settings are the knobs of a benchmark invocation.
type Settings struct {
	Orgs           int      `json:"orgs"`
	Runs           int      `json:"runs"`
	Preset         string   `json:"preset"`
	RunFlags       []string `json:"run_flags,omitempty"` // added to every `orgpeer run`
	SettleS        float64  `json:"settle_s"`
	IdleS          float64  `json:"idle_s"`
	APIRate        float64  `json:"api_rate_per_s"`
	APIRequests    int      `json:"api_requests"`
	PollIntervalMs []int    `json:"poll_interval_ms"` // per size: the resolution of the times
}

// Report is the JSON the benchmark writes.
type Report struct {
	When     time.Time    `json:"when"`
	Machine  Machine      `json:"machine"`
	Settings Settings     `json:"settings"`
	Metrics  []Metric     `json:"metrics"`
	Results  []sizeResult `json:"results"`
}

// PrintTable prints one row per Metric and one column per cluster size:
// the median, and with several runs the range.
func PrintTable(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "METRIC\tUNIT\tTARGET")
	for _, s := range r.Results {
		fmt.Fprintf(tw, "\tN=%d", s.Nodes)
	}
	fmt.Fprintln(tw)
	for _, m := range Metrics {
		target := "-"
		if m.Target > 0 {
			target = "<= " + fmtFigure(m.Target)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", m.Key, m.Unit, target)
		for _, s := range r.Results {
			sp := s.Summary[m.Key]
			cell := fmtFigure(sp.Median)
			if len(s.Runs) > 1 {
				cell += fmt.Sprintf(" (%s-%s)", fmtFigure(sp.Min), fmtFigure(sp.Max))
			}
			if m.Target > 0 && s.Nodes == targetNodes && sp.Max > m.Target {
				cell += " MISSED"
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	if len(r.Results) > 0 && len(r.Results[0].Runs) > 1 {
		fmt.Fprintf(tw, "(median (min-max) of %d runs)\n", len(r.Results[0].Runs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Results {
		if d := disturbed(s.Runs); d != "" {
			fmt.Fprintf(w, "N=%d: %s\n", s.Nodes, d)
		}
	}
	fmt.Fprintf(w, "machine: %d cores, %s;", r.Machine.CPUs, r.Machine.CPUModel)
	for _, s := range r.Results {
		if o, ok := s.Summary["others_cpu_pct"]; ok {
			fmt.Fprintf(w, " N=%d: other processes used %s %% of it while idle;", s.Nodes, fmtFigure(o.Median))
		}
		if st, ok := s.Summary["steal_api_pct"]; ok {
			fmt.Fprintf(w, " the hypervisor took %s %% (%s-%s) during the API test;", fmtFigure(st.Median), fmtFigure(st.Min), fmtFigure(st.Max))
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// fmtFigure prints a figure with about three significant digits.
func fmtFigure(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// disturbed names the runs during which the hypervisor took quietSteal %
// of the vCPUs or more: their figures are the machine's as much as the
// nodes'. They still count (a target is met only if every run meets it);
// this says why a run stands out.
func disturbed(runs []runFigures) string {
	var named []string
	for i, f := range runs {
		idle, api := f["steal_idle_pct"], f["steal_api_pct"]
		if idle < quietSteal && api < quietSteal {
			continue
		}
		if _, ok := f["steal_api_pct"]; ok {
			named = append(named, fmt.Sprintf("run %d (%s %% idle, %s %% API test)", i+1, fmtFigure(idle), fmtFigure(api)))
		} else {
			named = append(named, fmt.Sprintf("run %d (%s %% idle)", i+1, fmtFigure(idle)))
		}
	}
	if len(named) == 0 {
		return ""
	}
	return "disturbed: the hypervisor took the vCPUs in " + strings.Join(named, ", ")
}
