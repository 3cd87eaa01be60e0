package nodesim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"text/tabwriter"

	"github.com/orgpeer/orgpeer/orgs"
)

// Result is what a simulation measured. Times are virtual (simulated)
// seconds unless their name says wall; CPU is the real CPU of this process
// per virtual second. A nil figure was not reached (Stopped says why).
type Result struct {
	Simulated bool     `json:"simulated"` // always true: no figure here comes from real processes or a real network
	Settings  Settings `json:"settings"`
	Machine   Machine  `json:"machine"`

	Started    int       `json:"nodes_started"`
	StartWallS float64   `json:"start_wall_s"`    // real seconds until every node had started
	Started1   Footprint `json:"footprint_start"` // once every node had started

	ConvergeS     *float64 `json:"converge_s"`      // from the first node's start until every node counts every peer of every organization (alive and verified)
	ConvergeWallS *float64 `json:"converge_wall_s"` // real seconds to the same point
	Steady        *Steady  `json:"steady"`
	Kill1         *Kill    `json:"kill_1pct"`
	Kill10        *Kill    `json:"kill_10pct"`
	Exact         Exact    `json:"exact"`
	LastPoll      float64  `json:"exact_last_poll"` // the fraction of nodes that counted the truth at the last poll

	// PerOrg is each organization's rows at every node and poll after
	// convergence (kill phases aside): counts, or estimates against the
	// truth.
	PerOrg []*OrgFigures `json:"per_org,omitempty"`

	End      Footprint `json:"footprint_end"` // when the run ended, before the nodes closed
	VirtualS float64   `json:"virtual_s"`     // virtual time reached
	WallS    float64   `json:"wall_s"`        // real time the run took
	Stopped  string    `json:"stopped,omitempty"`
	Errors   []string  `json:"errors,omitempty"` // the first API errors met, if any
}

// Settings are the Config's figures, as the JSON names them.
type Settings struct {
	Nodes          int     `json:"nodes"`
	Orgs           int     `json:"orgs"`
	DurationS      float64 `json:"duration_s"`
	LatencyMs      float64 `json:"latency_ms"` // mean one-way, between two nodes
	Mbps           int     `json:"mbps"`
	StartSpacingMs float64 `json:"start_spacing_ms"`
	Seeds          int     `json:"seeds"`
	Probe          string  `json:"probe"`
	Preset         string  `json:"preset"`
	Credentials    bool    `json:"credentials"`
	PollMs         float64 `json:"poll_ms"`
	WindowS        float64 `json:"window_s"`
	WallBudgetS    float64 `json:"wall_budget_s,omitempty"`
	MemoryBudgetGB float64 `json:"memory_budget_gb,omitempty"`
	SampleBudget   float64 `json:"sample_budget"` // below 0: the preset's
}

// Machine is what ran the simulation.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	Race       bool   `json:"race"`
}

// Steady is the steady window's figures, per node: mean and max over the
// nodes of each one's rate per virtual second.
type Steady struct {
	WindowS      float64 `json:"window_s"`
	Messages     Stat    `json:"messages_per_s"` // messages from other peers accepted (as `orgpeer bench`'s)
	WireIn       Stat    `json:"wire_in_Bps"`    // UDP payload bytes received: QUIC packets, headers and encryption included
	WireOut      Stat    `json:"wire_out_Bps"`
	Libp2pIn     Stat    `json:"libp2p_in_Bps"` // the node's libp2p stream bytes, what `orgpeer bench` reports as traffic
	Libp2pOut    Stat    `json:"libp2p_out_Bps"`
	CPUPerS      float64 `json:"cpu_s_per_s"`      // process CPU seconds per virtual second, every node and the simulator
	CPUPerNodePc float64 `json:"cpu_pct_per_node"` // the same per node, in % of one core
	Footprint
	Discovery Discovery `json:"discovery"`
}

// Discovery is what the nodes' DHT did from their start to the window's
// end, per node, and the most connections a node held at its end: the
// DHT's work on the simulated network, since every node but the seeds
// joins through a seed alone.
type Discovery struct {
	MaxConnections float64 `json:"max_connections"` // the most any node held at the window's end
	Advertised     float64 `json:"advertisements"`
	Lookups        float64 `json:"lookups"`
	Dials          float64 `json:"dials_connected"`
	DialFailures   float64 `json:"dials_failed"`
}

// Footprint is the process's live heap (after a GC), its memory from the
// OS and its goroutines, divided by the nodes running. The simulator's
// share is in it: two simnet link goroutines per node, the router, the
// poller.
type Footprint struct {
	HeapMBPerNode      float64 `json:"heap_mb_per_node"`
	SysMBPerNode       float64 `json:"sys_mb_per_node"`
	GoroutinesPerNode  float64 `json:"goroutines_per_node"`
	ConnectionsPerNode float64 `json:"connections_per_node,omitempty"` // the nodes' mean connections (each counted at both ends); absent: not read
}

func (f Footprint) String() string {
	s := fmt.Sprintf("heap %.2f MB, sys %.2f MB, %.0f goroutines", f.HeapMBPerNode, f.SysMBPerNode, f.GoroutinesPerNode)
	if f.ConnectionsPerNode > 0 { // 0: not read
		s += fmt.Sprintf(", %.1f connections", f.ConnectionsPerNode)
	}
	return s
}

// Stat is a mean and a maximum over the nodes.
type Stat struct {
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// Kill is one kill phase: Killed of an organization's OrgSize nodes cut
// off at once, and the virtual time until no node counted them.
type Kill struct {
	Org      string   `json:"org"`
	OrgSize  int      `json:"org_size"`
	Fraction float64  `json:"fraction"`
	Killed   int      `json:"killed"`
	AtS      float64  `json:"at_s"`         // virtual, since the first node's start
	DetectS  *float64 `json:"detect_all_s"` // until every node stopped counting every victim alive
	// EstimateS, with sampled heartbeats, is until every node's estimate
	// of the organization held the new truth in its interval (or counted
	// it exactly); nil when that did not happen within two sample windows.
	EstimateS *float64 `json:"estimate_all_s,omitempty"`
	// Rises is how many times a node's estimate rose from one poll to the
	// next after the kill, until EstimateS.
	Rises   int      `json:"estimate_rises,omitempty"`
	MedianS *float64 `json:"detect_median_s"` // until half the nodes had
}

// Exact is how often a node's counts were the truth, from convergence on
// (kill phases aside): per poll, the fraction of nodes whose count of every
// organization was the truth, averaged over the polls.
type Exact struct {
	Polls    int     `json:"polls"`
	Fraction float64 `json:"fraction"`
	Min      float64 `json:"min"`
	Misses   []Miss  `json:"misses,omitempty"` // the first counts that were not the truth
}

// Miss is one node's count of one organization that was not the truth.
type Miss struct {
	AtS      float64 `json:"at_s"` // virtual
	Node     int     `json:"node"`
	Org      string  `json:"org"`
	Alive    int     `json:"alive"`
	Verified int     `json:"verified"`
	Suspect  int     `json:"suspect"`
	Truth    int     `json:"truth"`
	// Estimate is the row's estimate when the organization was in
	// estimate mode: its interval did not hold the truth.
	Estimate *orgs.Estimate `json:"estimate,omitempty"`
}

// OrgFigures is one organization's rows over the (node, poll) samples:
// how often exact and right, how often an estimate, how far the estimates
// were from the truth and how often their interval held it.
type OrgFigures struct {
	Org         string  `json:"org"`
	Samples     int     `json:"samples"`      // (node, poll) rows
	Exact       int     `json:"exact_right"`  // exact rows whose alive count was the truth
	Estimated   int     `json:"estimated"`    // rows in estimate mode
	Covered     int     `json:"covered"`      // estimates whose 95 % interval held the truth
	Err95       float64 `json:"err95"`        // 95th percentile of |estimate - truth| / truth
	MeanTruth   float64 `json:"mean_truth"`   //
	MeanPeers   float64 `json:"mean_peers"`   // mean estimate (exact rows: the alive count)
	MeanHeard   float64 `json:"mean_heard"`   // mean alive count: the members the node heard, a lower bound
	MeanSamples float64 `json:"mean_samples"` // mean samples behind an estimate
	MaxLevel    int     `json:"max_level"`
	errs        []float64
}

func (r *Result) orgFigures(org string) *OrgFigures {
	for _, f := range r.PerOrg {
		if f.Org == org {
			return f
		}
	}
	f := &OrgFigures{Org: org}
	r.PerOrg = append(r.PerOrg, f)
	return f
}

func (f *OrgFigures) add(c orgs.OrgCounts, truth int) {
	n := float64(f.Samples)
	peers := float64(c.Alive)
	if e := c.Estimate; c.Mode == orgs.ModeEstimate && e != nil {
		peers = e.Peers
		f.MeanSamples = (f.MeanSamples*float64(f.Estimated) + float64(e.Samples)) / float64(f.Estimated+1)
		f.Estimated++
		if e.Low <= float64(truth) && float64(truth) <= e.High {
			f.Covered++
		}
		f.MaxLevel = max(f.MaxLevel, e.Level)
		f.errs = append(f.errs, math.Abs(e.Peers-float64(truth))/float64(max(truth, 1)))
	} else if c.Alive == truth {
		f.Exact++
	}
	f.MeanTruth = (f.MeanTruth*n + float64(truth)) / (n + 1)
	f.MeanPeers = (f.MeanPeers*n + peers) / (n + 1)
	f.MeanHeard = (f.MeanHeard*n + float64(c.Alive)) / (n + 1)
	f.Samples++
}

const maxMisses = 20

func (e *Exact) add(f float64, misses []Miss) {
	e.Misses = append(e.Misses, misses[:min(len(misses), maxMisses-len(e.Misses))]...)
	if e.Polls == 0 || f < e.Min {
		e.Min = f
	}
	e.Fraction = (e.Fraction*float64(e.Polls) + f) / float64(e.Polls+1)
	e.Polls++
}

func newResult(cfg Config) *Result {
	return &Result{
		Simulated: true,
		Settings: Settings{Nodes: cfg.Nodes, Orgs: cfg.Orgs, DurationS: cfg.Duration.Seconds(),
			LatencyMs: ms(cfg.Latency.Seconds()), Mbps: cfg.Mbps, StartSpacingMs: ms(cfg.StartSpacing.Seconds()),
			Seeds: cfg.Seeds, Probe: cfg.Probe, Preset: cfg.Preset, Credentials: cfg.Credentials,
			PollMs: ms(cfg.Poll.Seconds()), WindowS: cfg.Window.Seconds(), WallBudgetS: cfg.Wall.Seconds(),
			MemoryBudgetGB: cfg.MaxMemoryGB, SampleBudget: cfg.SampleBudget},
		Machine: Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(), Race: raceEnabled},
	}
}

func ms(s float64) float64 { return s * 1e3 }

func (r *Result) noteError(err error) {
	if len(r.Errors) < 5 {
		r.Errors = append(r.Errors, err.Error())
	}
}

func steadyFigures(a, b sample, n int) *Steady {
	secs := b.at.Sub(a.at).Seconds()
	rate := func(f func(s sample, i int) float64) Stat {
		var rates []float64
		for i := range min(len(a.wire), len(b.wire)) {
			rates = append(rates, (f(b, i)-f(a, i))/secs)
		}
		var sum float64
		for _, v := range rates {
			sum += v
		}
		return Stat{Mean: sum / float64(max(len(rates), 1)), Max: slices.Max(append(rates, 0))}
	}
	cpu := (b.cpu - a.cpu).Seconds() / secs
	var d Discovery
	for _, c := range b.counters {
		d.MaxConnections = max(d.MaxConnections, c.connections)
		d.Advertised += c.advertised / float64(len(b.counters))
		d.Lookups += c.lookups / float64(len(b.counters))
		d.Dials += c.dials / float64(len(b.counters))
		d.DialFailures += c.dialFailures / float64(len(b.counters))
	}
	return &Steady{
		Discovery:    d,
		WindowS:      secs,
		Messages:     rate(func(s sample, i int) float64 { return s.counters[i].accepted }),
		WireIn:       rate(func(s sample, i int) float64 { return float64(s.wire[i].in) }),
		WireOut:      rate(func(s sample, i int) float64 { return float64(s.wire[i].out) }),
		Libp2pIn:     rate(func(s sample, i int) float64 { return s.counters[i].libp2pIn }),
		Libp2pOut:    rate(func(s sample, i int) float64 { return s.counters[i].libp2pOut }),
		CPUPerS:      cpu,
		CPUPerNodePc: 100 * cpu / float64(n),
		Footprint:    b.mem,
	}
}

// summarize computes the figures kept as raw samples.
func (r *Result) summarize() {
	for _, f := range r.PerOrg {
		if len(f.errs) > 0 {
			s := slices.Sorted(slices.Values(f.errs))
			f.Err95 = s[int(0.95*float64(len(s)-1))]
		}
	}
}

// WriteJSON writes the result to path, creating its directory.
func (r *Result) WriteJSON(path string) error {
	r.summarize()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the result as a table, every figure labelled simulated.
func (r *Result) WriteTable(w io.Writer) {
	r.summarize()
	st := r.Settings
	fmt.Fprintf(w, "SIMULATED (virtual time, QUIC over simnet; not real processes): %d nodes, %d orgs, %.0f ms one-way, %d Mbit/s, %s preset, probe %s\n",
		st.Nodes, st.Orgs, st.LatencyMs, st.Mbps, st.Preset, st.Probe)
	if st.SampleBudget >= 0 {
		fmt.Fprintf(w, "sampled heartbeats forced on: a budget of %g heartbeats per interval per organization\n", st.SampleBudget)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, a...)...) }
	opt := func(v *float64, format string) string {
		if v == nil {
			return "not reached"
		}
		return fmt.Sprintf(format, *v)
	}
	row("nodes started", "%d (real %.1f s)", r.Started, r.StartWallS)
	if r.Started == st.Nodes {
		row("footprint once started, per node", "%s", r.Started1)
	}
	row("converge (virtual s)", "%s", opt(r.ConvergeS, "%.2f"))
	if s := r.Steady; s != nil {
		row("steady window (virtual s)", "%.1f", s.WindowS)
		row("messages accepted /s per node", "mean %.1f, max %.1f", s.Messages.Mean, s.Messages.Max)
		row("wire bytes in (out) /s per node", "mean %.2f (%.2f) kB/s, max in %.2f kB/s", s.WireIn.Mean/1e3, s.WireOut.Mean/1e3, s.WireIn.Max/1e3)
		row("libp2p bytes in (out) /s per node", "mean %.2f (%.2f) kB/s, max in %.2f kB/s", s.Libp2pIn.Mean/1e3, s.Libp2pOut.Mean/1e3, s.Libp2pIn.Max/1e3)
		row("CPU per virtual s", "%.3f s in all, %.2f %% of a core per node", s.CPUPerS, s.CPUPerNodePc)
		row("footprint, per node", "%s", s.Footprint)
		d := s.Discovery
		row("connections, most at one node", "%.0f", d.MaxConnections)
		row("DHT per node since start", "%.1f advertisements, %.1f lookups, %.1f dials connected, %.1f failed", d.Advertised, d.Lookups, d.Dials, d.DialFailures)
	}
	for _, k := range []*Kill{r.Kill1, r.Kill10} {
		if k != nil {
			row(fmt.Sprintf("kill %.0f %% of %s: seen by all (virtual s)", 100*k.Fraction, k.Org), "%s (median node %s; %d of %d killed)",
				opt(k.DetectS, "%.2f"), opt(k.MedianS, "%.2f"), k.Killed, k.OrgSize)
			if st.SampleBudget >= 0 {
				row(fmt.Sprintf("kill %.0f %% of %s: every estimate holds the new truth (virtual s)", 100*k.Fraction, k.Org), "%s (%d rises of an estimate meanwhile)",
					opt(k.EstimateS, "%.2f"), k.Rises)
			}
		}
	}
	if r.Exact.Polls > 0 {
		row("exact counts after convergence", "%.4f of nodes per poll on average, %.4f at worst (%d polls)", r.Exact.Fraction, r.Exact.Min, r.Exact.Polls)
	}
	row("exact counts at the last poll", "%.4f of nodes", r.LastPoll)
	for _, m := range r.Exact.Misses {
		if e := m.Estimate; e != nil {
			row("interval missed the truth", "at virtual %.2f s node %d estimated %s: %.1f [%.1f, %.1f] from %d samples, truth %d",
				m.AtS, m.Node, m.Org, e.Peers, e.Low, e.High, e.Samples, m.Truth)
			continue
		}
		row("count not the truth", "at virtual %.2f s node %d counted %s: %d alive (%d verified, %d suspect), truth %d",
			m.AtS, m.Node, m.Org, m.Alive, m.Verified, m.Suspect, m.Truth)
	}
	for _, f := range r.PerOrg {
		if f.Estimated == 0 {
			row("org "+f.Org, "exact: the truth (%.0f) in %d of %d (node, poll) rows", f.MeanTruth, f.Exact, f.Samples)
			continue
		}
		row("org "+f.Org, "estimate in %d of %d (node, poll) rows: mean %.1f (truth %.1f; heard %.1f), |error| at 95 %% %.0f %%, interval held the truth in %.1f %%; %.0f samples, level up to %d",
			f.Estimated, f.Samples, f.MeanPeers, f.MeanTruth, f.MeanHeard, 100*f.Err95, 100*float64(f.Covered)/float64(f.Estimated), f.MeanSamples, f.MaxLevel)
	}
	row("footprint at the end, per node", "%s", r.End)
	row("virtual time reached", "%.1f s in %.1f s real", r.VirtualS, r.WallS)
	tw.Flush()
	if r.Stopped != "" {
		fmt.Fprintf(w, "stopped early: %s\n", r.Stopped)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}
