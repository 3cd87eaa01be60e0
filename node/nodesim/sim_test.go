package nodesim

import (
	"flag"
	"os"
	"testing"
	"time"
)

var (
	simNodes   = flag.Int("nodes", 0, "TestSimulation: nodes (0 skips the test)")
	simOrgs    = flag.Int("orgs", 10, "TestSimulation: organizations")
	simMinutes = flag.Float64("minutes", 10, "TestSimulation: virtual minutes")
	simLatency = flag.Duration("latency", 20*time.Millisecond, "TestSimulation: mean one-way latency")
	simMbps    = flag.Int("mbps", 20, "TestSimulation: each node's bandwidth, Mbit/s")
	simSeeds   = flag.Int("seeds", 1, "TestSimulation: bootstrap peers")
	simProbe   = flag.String("probe", "refuse", "TestSimulation: refuse, ping or none")
	simSpacing = flag.Duration("spacing", 20*time.Millisecond, "TestSimulation: virtual time between two nodes' starts")
	simPoll    = flag.Duration("poll", 250*time.Millisecond, "TestSimulation: how often every view is read")
	simWindow  = flag.Duration("window", 20*time.Second, "TestSimulation: steady window (virtual)")
	simSettle  = flag.Duration("settle", 5*time.Second, "TestSimulation: wait before each phase (virtual)")
	simWall    = flag.Duration("wall", 0, "TestSimulation: real-time budget (0: none)")
	simMem     = flag.Float64("max-mem", 0, "TestSimulation: memory budget in GB (0: none)")
	simOut     = flag.String("out", "", "TestSimulation: JSON result file")
	simBudget  = flag.Float64("sample-budget", -1, "TestSimulation: the nodes' SampleBudget (below 0: the preset's); a small one forces sampled heartbeats")
)

// TestSimulation is `make sim`: a simulation sized by its flags, a table
// on stdout and the JSON in -out.
func TestSimulation(t *testing.T) {
	if *simNodes == 0 {
		t.Skip("no -nodes: `make sim` runs this")
	}
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Orgs, cfg.Duration = *simNodes, *simOrgs, time.Duration(*simMinutes*float64(time.Minute))
	cfg.Latency, cfg.Mbps, cfg.Seeds, cfg.Probe = *simLatency, *simMbps, *simSeeds, *simProbe
	cfg.StartSpacing, cfg.Poll, cfg.Wall = *simSpacing, *simPoll, *simWall
	cfg.Window, cfg.Settle, cfg.MaxMemoryGB = *simWindow, *simSettle, *simMem
	cfg.SampleBudget = *simBudget
	cfg.Logf = t.Logf
	if *simOut != "" {
		cfg.Report = func(r *Result) {
			if err := r.WriteJSON(*simOut); err != nil {
				t.Error(err)
			}
		}
	}
	r := Run(t, cfg)
	r.WriteTable(os.Stdout)
	if cfg.Report != nil {
		cfg.Report(r) // with the real time of the whole run, closing included
	}
}

// TestSim50 runs 50 nodes in 3 organizations for 27 virtual seconds and
// wants every count exact: once converged, in the steady window, after
// each kill is seen and to the end. 50 nodes cost about a CPU-second per
// virtual second (a few virtual minutes would take minutes of real time);
// under the race detector ten times that, so it skips there (`make test`
// runs it without) and TestSimSmall stands in.
func TestSim50(t *testing.T) {
	if raceEnabled {
		t.Skip("50 simulated nodes take over 10 minutes under the race detector: `make test` runs this test without it")
	}
	cfg := DefaultConfig()
	cfg.Duration, cfg.Window, cfg.Settle = 27*time.Second, 5*time.Second, 2*time.Second
	checkSim(t, cfg)
}

// TestSimSmall is TestSim50 with 10 nodes in 2 organizations, small
// enough for the race detector.
func TestSimSmall(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes, cfg.Orgs = 10, 2
	cfg.Duration, cfg.Window, cfg.Settle = 27*time.Second, 5*time.Second, 2*time.Second
	checkSim(t, cfg)
}

func checkSim(t *testing.T, cfg Config) {
	cfg.Logf = t.Logf
	r := Run(t, cfg)
	r.WriteTable(t.Output())
	switch {
	case r.ConvergeS == nil || r.Kill1 == nil || r.Kill1.DetectS == nil || r.Kill10 == nil || r.Kill10.DetectS == nil:
		t.Fatalf("the simulation did not reach its end: %s", r.Stopped)
	case r.Exact.Min < 1:
		t.Errorf("a node's count differed from the truth after convergence: exact in %.4f of polls on average, %.4f at worst", r.Exact.Fraction, r.Exact.Min)
	}
}
