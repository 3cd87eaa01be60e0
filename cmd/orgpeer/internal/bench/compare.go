package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/serf"
)

// Pair is an orgpeer preset and the Serf profile it is compared with.
type Pair struct {
	Name          string `json:"name"`
	OrgpeerPreset string `json:"orgpeer_preset"` // orgpeer run --preset
	SerfProfile   string `json:"serf_profile"`   // serf agent -profile
}

// Pairs are the comparisons the issue asks for: timers for many nodes on
// one machine on both sides, and each one's default for a real network.
var Pairs = []Pair{
	{Name: "local", OrgpeerPreset: "local", SerfProfile: "local"},
	{Name: "default", OrgpeerPreset: "default", SerfProfile: "lan"},
}

// CompareOptions are the settings of a comparison with Serf.
type CompareOptions struct {
	Bin       string        // the orgpeer binary
	SerfBin   string        // the serf binary
	Sizes     []int         // cluster sizes, the same on both sides
	Orgs      int           // organizations the nodes are spread over
	Runs      int           // runs per size, pair and system
	Pairs     []Pair        // which presets against which profiles
	Settle    time.Duration // wait after convergence before the idle window
	Idle      time.Duration // window over which CPU is measured
	Timeout   time.Duration // bound on each phase of a run
	Poll      time.Duration // how often each member is asked during a phase (0: pollInterval(N))
	QuietWait time.Duration // before each run, wait at most this long for a quiet machine
	Keep      bool          // keep data dirs and logs
	Extra     []string      // flags added to every `orgpeer run`
	Out       string        // the JSON results file
	Log       *slog.Logger
}

// Compare runs orgpeer and Serf side by side: for every size and pair,
// Runs rounds of one orgpeer run then one Serf run, so that both see the
// same machine. It writes the report to o.Out after every size and pair,
// so that a long comparison cut short keeps what it measured.
func Compare(ctx context.Context, o CompareOptions) (Comparison, error) {
	version, err := serf.Version(o.SerfBin)
	if err != nil {
		return Comparison{}, err
	}
	rep := Comparison{When: time.Now(), Machine: thisMachine(), Figures: comparedFigures,
		Settings: CompareSettings{Orgs: o.Orgs, Runs: o.Runs, RunFlags: o.Extra, SettleS: o.Settle.Seconds(),
			IdleS: o.Idle.Seconds(), SerfBin: o.SerfBin, SerfVersion: version, Method: compareMethod}}
	o.Log.Info("comparing with Serf", "serf", o.SerfBin, "version", version, "sizes", o.Sizes, "runs", o.Runs)
	for _, n := range o.Sizes {
		for _, pair := range o.Pairs {
			var ours, theirs sideResult
			for r := range o.Runs {
				for _, side := range []string{"orgpeer", "serf"} {
					if !waitQuiet(ctx, o.Log, o.QuietWait) {
						return rep, ctx.Err()
					}
					o.Log.Info("compare run", "system", side, "nodes", n, "pair", pair.Name, "run", r+1, "of", o.Runs)
					res, run := &ours, compareOrgpeer
					if side == "serf" {
						res, run = &theirs, compareSerf
					}
					f, err := run(ctx, o, pair, n)
					switch {
					case ctx.Err() != nil:
						return rep, ctx.Err()
					case err != nil: // an unattended comparison goes on; the table names the run
						o.Log.Error("run failed; going on", "system", side, "nodes", n, "pair", pair.Name, "run", r+1, "err", err)
						res.Failed = append(res.Failed, fmt.Sprintf("run %d: %v", r+1, err))
					default:
						res.Runs = append(res.Runs, f)
					}
				}
			}
			rep.Results = append(rep.Results, newPairResult(n, pair, o.poll(n), ours, theirs))
			if err := writeJSON(rep, o.Out); err != nil {
				return rep, err
			}
		}
	}
	o.Log.Info("results written", "json", o.Out)
	return rep, nil
}

// compareMethod is how the comparison measures both systems, for the JSON.
const compareMethod = "Both systems are timed by the same code. Every live member is asked through its own API " +
	"(orgpeer: GET /v1/view and /v1/peers over HTTP; Serf: the members RPC over a kept TCP connection, what " +
	"`serf members` sends) every poll interval (max(50 ms, 4 ms x N) unless --poll, the same for both; per result in poll_interval_ms), each member by its own " +
	"poller, and a phase ends when the last member first answers right: converge = every member counts every " +
	"organization's members alive exactly (orgpeer: alive and verified; Serf: status alive, by org tag), from " +
	"launching the first process; kill -9 = no other member lists the victim alive; leave (orgpeer SIGTERM, Serf " +
	"SIGINT, each one's documented graceful stop) = every other member lists it once, left; rejoin (same identity " +
	"and address, joining through the first member) = every member lists it once, alive. RSS at the end and CPU " +
	"over the idle window are read from /proc for each member's process. Rounds alternate: orgpeer run r, then Serf run r."

// poll is how often each member is asked during a phase of a run with
// nodes members: the resolution of the times, the same for both systems.
func (o CompareOptions) poll(nodes int) time.Duration {
	if o.Poll > 0 {
		return o.Poll
	}
	return pollInterval(nodes)
}

// compareOrgpeer is one orgpeer run of a comparison.
func compareOrgpeer(ctx context.Context, o CompareOptions, pair Pair, nodes int) (runFigures, error) {
	dir, cleanup, err := runDir(o, "orgpeer-vs-serf-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// The cluster starts every node with --preset local; a later --preset
	// wins. The other presets listen on fixed ports of every interface (one
	// node per machine): N of them on one machine would share one port
	// through SO_REUSEPORT and take each other's connections. They listen
	// on loopback, on random ports, as Serf's agents are given ports of
	// their own; the pair compares timers, not ports.
	args := []string{"--preset", pair.OrgpeerPreset}
	if pair.OrgpeerPreset != "local" {
		args = append(args, "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1")
		// One host ID, as the nodes do share one machine: a node probes
		// a peer's loopback address only on its own host (a crash is
		// proven by a refused dial), and with the bench's two host IDs
		// half the nodes could prove no crash and waited out the 15 s
		// liveness window. Serf's agents probe one another regardless.
		args = append(args, "--host-id", "bench")
	}
	c := cluster.New(o.Bin, dir, slices.Concat(args, o.Extra)...)
	defer c.StopAll()
	return compareRun(ctx, o, orgpeerSystem{c}, nodes)
}

// compareSerf is one Serf run of a comparison.
func compareSerf(ctx context.Context, o CompareOptions, pair Pair, nodes int) (runFigures, error) {
	dir, cleanup, err := runDir(o, "serf-vs-orgpeer-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	c := serf.New(o.SerfBin, dir, pair.SerfProfile)
	defer c.StopAll()
	return compareRun(ctx, o, serfSystem{c}, nodes)
}

// runDir makes a run's temporary directory and returns how to remove it
// (unless o.Keep).
func runDir(o CompareOptions, prefix string) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if o.Keep {
		o.Log.Info("keeping data dirs and logs", "dir", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// compareRun launches nodes members of s, takes every compared figure
// once, and leaves stopping them to the caller. An event that not every
// member gets through within the timeout is recorded as missed_<figure>
// (Serf sometimes takes a graceful leave for a failure, and then never
// lists the member left), and the run goes on.
func compareRun[M member](ctx context.Context, o CompareOptions, s system[M], nodes int) (runFigures, error) {
	fig := runFigures{"load_avg_1m": procstat.LoadAverage()}
	poll := o.poll(nodes)
	launch, err := s.launch(ctx, nodes, o.Orgs)
	if err != nil {
		return nil, err
	}
	o.Log.Info("every process up; waiting for every node to count the truth", "after", time.Since(launch).Round(time.Millisecond))
	took, err := waitConverged(ctx, s, poll, o.Timeout, launch)
	if err != nil {
		return nil, fmt.Errorf("convergence: %w", err)
	}
	fig["converge_all_s"] = took.Seconds()
	startCPU(s.live(), fig)
	o.Log.Info("converged", "after", took.Round(time.Millisecond), "cpu_per_node_s", fig["converge_cpu_avg_s"])
	if !sleep(ctx, o.Settle) {
		return nil, ctx.Err()
	}
	o.Log.Info("measuring idle costs", "window", o.Idle)
	if err := procCosts(ctx, s.live(), o.Idle, fig); err != nil {
		return nil, err
	}
	late := func(key string, err error) error {
		o.Log.Warn("an event was not seen everywhere in time; going on without its figure", "figure", key, "err", err)
		fig[missedKey(key)] = 1
		return nil
	}
	if err := events(ctx, s, poll, o.Timeout, fig, o.Log, late); err != nil {
		return nil, err
	}
	o.Log.Info("run done", "converge_s", fig["converge_all_s"], "kill9_s", fig["kill9_detect_all_s"],
		"leave_s", fig["leave_detect_all_s"], "rejoin_s", fig["rejoin_all_s"], "rss_mb", fig["rss_avg_mb"], "cpu_pct", fig["cpu_idle_avg_pct"])
	return fig, nil
}
