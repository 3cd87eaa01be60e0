// Package nodesim runs many orgpeer nodes in one process on a simulated
// network, in virtual time: go-libp2p's QUIC over github.com/marcopolo/simnet
// (as go-libp2p's x/simlibp2p builds it), with a latency per pair of nodes
// and a bandwidth per node, inside a testing/synctest bubble, where time
// moves only when every goroutine waits. A node's CPU therefore costs no
// simulated time: the times the simulation reports are the protocol's
// timers and the network's latency and bandwidth, never the machine's
// speed, and its CPU figures are real CPU per virtual second. Everything
// it reports is simulated, and says so.
//
// The nodes are node.New's, whole: DHT discovery, GossipSub, hellos,
// credentials, the view and the HTTP API (on an in-memory listener, which
// the simulation polls). What differs from `orgpeer run`: QUIC only (no TCP),
// and the probe of silent peers is what a refused TCP dial tells (see
// refuseProber), a libp2p ping (see pingProber) or none.
//
// Run needs a *testing.T: synctest bubbles exist only in tests. `make sim`
// runs TestSimulation; `make test` runs TestSim50.
package nodesim

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	libp2pmetrics "github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

// Config is one simulation. Start from DefaultConfig.
type Config struct {
	Nodes        int           // nodes in all; node i is in organization i mod Orgs
	Orgs         int           // organizations
	Duration     time.Duration // virtual time from the first node's start to the end
	Latency      time.Duration // mean one-way latency between two nodes
	Mbps         int           // each node's uplink and downlink, Mbit/s
	StartSpacing time.Duration // virtual time between two nodes' starts
	Seeds        int           // bootstrap peers: the first Seeds nodes; node i joins through node i mod Seeds
	Probe        string        // probe of silent peers: "refuse" (see refuseProber), "ping" (see pingProber) or "none" (the liveness window alone)
	Preset       string        // the nodes' node.Preset
	Credentials  bool          // every node holds a credential of its organization, and trusts every organization
	Poll         time.Duration // how often every node's view is read (kills: at most every 100 ms)
	Settle       time.Duration // wait after convergence, and after each kill is seen, before the next phase
	Window       time.Duration // the steady window in which traffic and CPU are measured
	Wall         time.Duration // real-time budget: past it the simulation stops and reports what it reached; 0: none
	MaxMemoryGB  float64       // memory budget (the Go runtime's, in GB): past it the simulation stops likewise; 0: none
	Seed         uint64        // latencies and victims
	// SampleBudget is the nodes' node.Config.SampleBudget; below 0 the
	// preset's (128: every organization of a simulation this size stays
	// exact). A small one forces sampled heartbeats: each organization's
	// row is then an estimate, judged by whether its interval holds the
	// truth.
	SampleBudget float64
	Logf         func(format string, args ...any)
	// Report, if set, is given the result so far after each phase and
	// when the run ends, before the nodes close: closing a thousand
	// overloaded nodes may outlast an outer time limit.
	Report func(*Result)
}

// DefaultConfig is the 50-node simulation of `make test`: the local
// preset, as `orgpeer bench` runs it, on a network of 20 ms and 20 Mbit/s.
func DefaultConfig() Config {
	return Config{
		Nodes:        50,
		Orgs:         3,
		Duration:     2 * time.Minute,
		Latency:      20 * time.Millisecond,
		Mbps:         20,
		StartSpacing: 20 * time.Millisecond, // `orgpeer bench` launches 20 processes in about 0.4 s
		Seeds:        1,
		Probe:        "refuse",
		Preset:       "local",
		Credentials:  true,
		Poll:         250 * time.Millisecond,
		Settle:       5 * time.Second,
		Window:       20 * time.Second,
		Seed:         1,
		SampleBudget: -1,
	}
}

// Run runs the simulation in a synctest bubble of t and returns what it
// measured; it fails t when the simulation cannot run at all.
func Run(t *testing.T, cfg Config) *Result {
	if cfg.Report == nil {
		cfg.Report = func(*Result) {}
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	// go-flow-metrics, behind every host's bandwidth counter, starts one
	// goroutine for the process on first use: outside the bubble, or the
	// bubble could never end.
	libp2pmetrics.NewBandwidthCounter().LogRecvMessage(1)
	if raceEnabled {
		// As go-libp2p-pubsub's synctest tests: timers firing in a bubble
		// on several Ps corrupt the race detector's state (golang/go#78156).
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	clock := startRealClock()
	defer clock.stop()
	var res *Result
	synctest.Test(t, func(t *testing.T) {
		s, err := newSim(t, cfg, clock)
		if err != nil {
			t.Fatal(err)
		}
		res = s.run()
		res.VirtualS = s.since().Seconds()
		// Past a budget the nodes' APIs answer slowly: no connection count.
		res.End = s.footprint(res.Stopped == "")
		res.WallS = clock.elapsed().Seconds()
		cfg.Logf("the run ends: virtual %.1f s, real %.1f s; per node %s", res.VirtualS, res.WallS, res.End)
		cfg.Report(res)
	})
	res.WallS = clock.elapsed().Seconds()
	return res
}

// sim is one simulation, inside the bubble.
type sim struct {
	cfg    Config
	t      *testing.T
	clock  *realClock
	nw     *network
	api    *apiClient
	nodes  []*simNode
	byName map[string]*memListener
	orgs   []string
	rng    *rand.Rand
	start  time.Time     // virtual: the first node's start
	logged time.Duration // real: the last progress line
	closed sync.WaitGroup
	res    *Result
	refuse refuseProber // for Probe "refuse"; filled by prepare
}

type simNode struct {
	i     int
	org   string
	cfg   node.Config
	id    peer.ID
	n     *node.Node
	ep    *endpoint
	api   *memListener
	alive bool
	gone  atomic.Bool // killed or closed: what refuseProber reports
}

func newSim(t *testing.T, cfg Config, clock *realClock) (*sim, error) {
	if cfg.Nodes < 1 || cfg.Orgs < 1 || cfg.Seeds < 1 || cfg.Poll <= 0 || cfg.Probe != "refuse" && cfg.Probe != "ping" && cfg.Probe != "none" {
		return nil, fmt.Errorf("nodesim: want at least one node, organization and seed, a poll interval and a probe (refuse, ping or none): %+v", cfg)
	}
	s := &sim{cfg: cfg, t: t, clock: clock, byName: map[string]*memListener{},
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x73696d)), res: newResult(cfg)}
	s.api = newAPIClient(func(host string) *memListener { return s.byName[host] })
	for o := range cfg.Orgs {
		s.orgs = append(s.orgs, fmt.Sprintf("org%d", o))
	}
	if err := s.prepare(t.TempDir()); err != nil {
		return nil, err
	}
	s.nw = newNetwork(cfg.Nodes, cfg.Latency, cfg.Mbps, cfg.Seed)
	s.nw.sn.Start()
	// Cleanups run last first: the nodes close, then the network.
	t.Cleanup(s.nw.sn.Close)
	t.Cleanup(s.closeAll)
	return s, nil
}

// prepare writes every node's data directory, identity and credential, and
// the organizations' public keys, before the first node starts.
func (s *sim) prepare(dir string) error {
	base, err := node.Preset(s.cfg.Preset)
	if err != nil {
		return err
	}
	if s.cfg.Probe == "none" {
		base.ProbeAfter = 0
	}
	if s.cfg.SampleBudget >= 0 {
		base.SampleBudget = s.cfg.SampleBudget
	}
	keys := map[string]*orgs.OrgKey{}
	for _, o := range s.orgs {
		k, err := orgs.NewOrgKey(o)
		if err != nil {
			return err
		}
		keys[o] = k
		pub := filepath.Join(dir, o+".org")
		if err := orgfile.SaveKey(k, filepath.Join(dir, o+".orgkey"), pub); err != nil {
			return err
		}
		if s.cfg.Credentials {
			base.Trust = append(base.Trust, pub)
		}
	}
	for i := range s.cfg.Nodes {
		sn := &simNode{i: i, org: s.orgs[i%len(s.orgs)], cfg: base, api: newMemListener(fmt.Sprintf("node%d", i))}
		sn.cfg.Trust = slices.Clone(base.Trust)
		sn.cfg.Org, sn.cfg.HostID = sn.org, fmt.Sprintf("sim%d", i)
		sn.cfg.DataDir = filepath.Join(dir, sn.api.name)
		sn.cfg.ListenAddrs = []string{listenAddr(i)}
		priv, err := datadir.LoadOrCreateIdentity(sn.cfg.DataDir)
		if err != nil {
			return err
		}
		if sn.id, err = peer.IDFromPrivateKey(priv); err != nil {
			return err
		}
		if s.cfg.Credentials {
			cred, err := keys[sn.org].Issue(sn.id, time.Now().Add(-time.Minute), 24*time.Hour, orgs.RandomSerial())
			if err != nil {
				return err
			}
			sn.cfg.CredentialFile = filepath.Join(sn.cfg.DataDir, "member.cred")
			if err := orgfile.WriteFileAtomic(sn.cfg.CredentialFile, cred, 0o600); err != nil {
				return err
			}
		}
		s.nodes = append(s.nodes, sn)
		s.byName[sn.api.name] = sn.api
	}
	s.refuse = refuseProber{dead: map[peer.ID]*atomic.Bool{}, rtt: 2 * s.cfg.Latency}
	for _, sn := range s.nodes {
		s.refuse.dead[sn.id] = &sn.gone
	}
	for i, sn := range s.nodes[1:] {
		seed := s.nodes[(i+1)%s.cfg.Seeds]
		if seed == sn {
			seed = s.nodes[0]
		}
		sn.cfg.Bootstrap = []string{fmt.Sprintf("%s/p2p/%s", seed.cfg.ListenAddrs[0], seed.id)}
	}
	return nil
}

func (s *sim) startNode(sn *simNode) error {
	opts := []node.Option{
		node.WithLogger(slog.New(slog.DiscardHandler)),
		node.WithTransports(s.nw.transports(sn.i, &sn.ep)...),
		node.WithAPIListener(sn.api),
	}
	switch s.cfg.Probe {
	case "ping":
		opts = append(opts, node.WithProber(newPingProber))
	case "refuse":
		opts = append(opts, node.WithProber(func(host.Host) node.Prober { return s.refuse }))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := node.New(ctx, sn.cfg, opts...)
	if err != nil {
		return fmt.Errorf("node %d: %w", sn.i, err)
	}
	sn.n, sn.alive = n, true
	return nil
}

// kill cuts the node off the network, then closes it: it sends nothing
// more, not even the closing of its connections.
func (s *sim) kill(sn *simNode) {
	sn.ep.dead.Store(true)
	sn.gone.Store(true)
	sn.alive = false
	s.closed.Go(func() { sn.n.Close() })
}

func (s *sim) closeAll() {
	for _, sn := range s.live() { // first the network: nothing more to process while closing
		sn.ep.dead.Store(true)
		sn.gone.Store(true)
	}
	for _, sn := range s.nodes {
		if sn.alive {
			sn.alive = false
			s.closed.Go(func() { sn.n.Close() })
		}
	}
	s.closed.Wait()
	s.api.hc.CloseIdleConnections()
}

// live returns the running nodes.
func (s *sim) live() []*simNode {
	return slices.DeleteFunc(slices.Clone(s.nodes), func(sn *simNode) bool { return !sn.alive })
}

// truth is how many nodes of each organization run.
func (s *sim) truth() map[string]int {
	t := map[string]int{}
	for _, sn := range s.live() {
		t[sn.org]++
	}
	return t
}

// poll reads every running node's view and returns the fraction whose
// count of every organization is the truth (alive, and verified when the
// nodes hold credentials), and the counts that were not.
//
// An organization in estimate mode (sampled heartbeats) is judged by its
// estimate instead: right when its 95 % interval holds the truth. record
// notes every row in the per-organization figures (after convergence).
func (s *sim) poll(record bool) (float64, []Miss) {
	truth, live := s.truth(), s.live()
	exact := 0
	var misses []Miss
	for _, sn := range live {
		v, err := s.api.view(context.Background(), sn.api)
		if err != nil {
			s.res.noteError(err)
			continue
		}
		ok := true
		for _, o := range s.orgs {
			c := v.OrgCounts(o)
			if record {
				s.res.orgFigures(o).add(c, truth[o])
			}
			if e := c.Estimate; c.Mode == orgs.ModeEstimate && e != nil {
				if e.Low > float64(truth[o]) || e.High < float64(truth[o]) {
					ok = false
					misses = append(misses, Miss{AtS: s.since().Seconds(), Node: sn.i, Org: o, Alive: c.Alive,
						Verified: c.Verified, Suspect: c.Suspect, Truth: truth[o], Estimate: e})
				}
				continue
			}
			if c.Alive != truth[o] || s.cfg.Credentials && c.Verified != truth[o] {
				ok = false
				misses = append(misses, Miss{AtS: s.since().Seconds(), Node: sn.i, Org: o, Alive: c.Alive,
					Verified: c.Verified, Suspect: c.Suspect, Truth: truth[o]})
			}
		}
		if ok {
			exact++
		}
	}
	return float64(exact) / float64(max(len(live), 1)), misses
}

// pollExact polls and counts the result in the exactness figures.
func (s *sim) pollExact() {
	f, misses := s.poll(true)
	s.res.LastPoll = f
	s.res.Exact.add(f, misses)
}

// since is the virtual time since the first node's start.
func (s *sim) since() time.Duration { return time.Since(s.start) }

// overBudget reports whether the real-time or the memory budget is
// spent, and if so records where the simulation stopped.
func (s *sim) overBudget(phase string) bool {
	switch mem := memoryGB(); {
	case s.cfg.Wall > 0 && s.clock.elapsed() >= s.cfg.Wall:
		s.res.Stopped = fmt.Sprintf("the real-time budget (%v) was spent", s.cfg.Wall)
	case s.cfg.MaxMemoryGB > 0 && mem >= s.cfg.MaxMemoryGB:
		s.res.Stopped = fmt.Sprintf("the memory budget (%.2f GB) was spent (%.2f GB)", s.cfg.MaxMemoryGB, mem)
	default:
		return false
	}
	s.res.Stopped += fmt.Sprintf(" during %s, at virtual %.1f s, with %d nodes started", phase, s.since().Seconds(), s.res.Started)
	return true
}

// memoryGB is the memory the Go runtime holds from the OS, without the
// stop of runtime.ReadMemStats.
func memoryGB() float64 {
	m := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(m)
	return float64(m[0].Value.Uint64()) / 1e9
}

// progress logs a line, at most every 30 real seconds, with the times.
func (s *sim) progress(format string, a ...any) {
	if real := s.clock.elapsed(); real-s.logged >= 30*time.Second {
		s.logged = real
		s.cfg.Logf(format+" (virtual %.1f s, real %.0f s)", append(a, s.since().Seconds(), real.Seconds())...)
	}
}

// waitExact polls every interval until every node counts the truth; it
// returns the virtual time that took since from, or false when the
// simulation's duration or budget ran out first.
func (s *sim) waitExact(phase string, from time.Time, interval time.Duration) (time.Duration, bool) {
	for {
		f, _ := s.poll(false)
		s.res.LastPoll = f
		if f == 1 || s.sampling() && f >= 0.9 {
			return time.Since(from), true
		}
		s.progress("%s: %.3f of the nodes count the truth", phase, f)
		if !s.wait(interval, phase) {
			return 0, false
		}
	}
}

// sampling reports whether the simulation forces sampled heartbeats:
// then a 95 % interval misses the truth now and then by design, and
// convergence is nine nodes in ten right.
func (s *sim) sampling() bool { return s.cfg.SampleBudget >= 0 }

// budgetStep is how much virtual time passes, at most, between two looks
// at the budgets: at 200 nodes a virtual second costs minutes.
const budgetStep = 50 * time.Millisecond

// wait lets d of virtual time pass, looking at the budgets and the
// duration every budgetStep; it reports false, saying why in the result,
// when the run must end.
func (s *sim) wait(d time.Duration, phase string) bool {
	for end := time.Now().Add(d); ; {
		left := time.Until(end)
		switch {
		case left <= 0:
			return true
		case s.overBudget(phase):
			return false
		case s.since() >= s.cfg.Duration:
			s.res.Stopped = fmt.Sprintf("the virtual duration (%v) ended during %s", s.cfg.Duration, phase)
			return false
		}
		time.Sleep(min(left, budgetStep))
	}
}

// run starts the nodes and measures, phase after phase, until the virtual
// duration or the real-time budget ends.
func (s *sim) run() *Result {
	r, cfg := s.res, s.cfg
	s.start = time.Now()
	for i, sn := range s.nodes {
		if i > 0 && !s.wait(cfg.StartSpacing, "start-up") {
			return r
		}
		if err := s.startNode(sn); err != nil {
			s.t.Error(err)
			r.Stopped = err.Error()
			return r
		}
		r.Started++
		s.progress("%d nodes started", r.Started)
	}
	r.StartWallS = s.clock.elapsed().Seconds()
	r.Started1 = s.footprint(true)
	cfg.Logf("every node started: virtual %.1f s, real %.1f s; per node %s", s.since().Seconds(), r.StartWallS, r.Started1)
	cfg.Report(r)

	took, ok := s.waitExact("convergence", s.start, cfg.Poll)
	if !ok {
		return r
	}
	r.ConvergeS, r.ConvergeWallS = seconds(took), seconds(s.clock.elapsed())
	cfg.Logf("converged: virtual %.2f s, real %.1f s", took.Seconds(), s.clock.elapsed().Seconds())
	cfg.Report(r)

	if !s.wait(cfg.Settle, "the settling") {
		return r
	}
	if r.Steady = s.steady(); r.Steady == nil {
		return r
	}
	cfg.Logf("steady window measured: real %.1f s; per node %s", s.clock.elapsed().Seconds(), r.Steady.Footprint)
	cfg.Report(r)

	for _, k := range []struct {
		dst  **Kill
		org  string
		frac float64
	}{{&r.Kill1, s.orgs[0], 0.01}, {&r.Kill10, s.orgs[min(1, len(s.orgs)-1)], 0.10}} {
		if !s.wait(cfg.Settle, "the settling") {
			return r
		}
		if *k.dst = s.killPhase(k.org, k.frac); (*k.dst).DetectS == nil {
			return r
		}
		cfg.Logf("killed %d of %s: seen by all in virtual %.2f s", (*k.dst).Killed, k.org, *(*k.dst).DetectS)
		cfg.Report(r)
	}
	// The rest of the duration: do the counts stay exact?
	for left := cfg.Duration - s.since(); left > 0 && s.wait(min(cfg.Poll, left), "the rest of the run"); left = cfg.Duration - s.since() {
		s.pollExact()
	}
	return r
}

// steady measures traffic, CPU and memory over the steady window, and
// the counts' exactness in it.
func (s *sim) steady() *Steady {
	a, ok := s.sample()
	if !ok {
		return nil
	}
	for time.Since(a.at) < s.cfg.Window {
		if !s.wait(s.cfg.Poll, "the steady window") {
			return nil
		}
		s.pollExact()
	}
	b, ok := s.sample()
	if !ok {
		return nil
	}
	return steadyFigures(a, b, len(s.live()))
}

// killPhase kills frac of org's running nodes (one at least; never a
// seed) at once and measures how long until no node counts them alive.
func (s *sim) killPhase(org string, frac float64) *Kill {
	var members []*simNode
	for _, sn := range s.live() {
		if sn.org == org && sn.i >= s.cfg.Seeds {
			members = append(members, sn)
		}
	}
	k := &Kill{Org: org, OrgSize: s.truth()[org], Fraction: frac}
	k.Killed = min(max(1, int(frac*float64(k.OrgSize)+0.5)), len(members))
	s.rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	// At a random point of the heartbeat cycle: every phase starts on
	// whole virtual seconds, and so do the heartbeats.
	phase := fmt.Sprintf("the %.0f %% kill", 100*frac)
	if !s.wait(time.Duration(s.rng.Int64N(int64(s.nodes[0].cfg.HeartbeatInterval))), phase) {
		return k
	}
	at := time.Now()
	k.AtS = s.since().Seconds()
	victims := map[string]bool{}
	for _, sn := range members[:k.Killed] {
		victims[sn.id.String()] = true
		s.kill(sn)
	}
	seen := map[int]time.Duration{} // node → when it stopped counting every victim
	interval := min(s.cfg.Poll, 100*time.Millisecond)
	for {
		live := s.live()
		for _, sn := range live {
			if _, ok := seen[sn.i]; ok {
				continue
			}
			alive, err := s.api.alive(context.Background(), sn.api, org)
			if err != nil {
				s.res.noteError(err)
				continue
			}
			counted := false
			for id := range victims {
				counted = counted || alive[id]
			}
			if !counted {
				seen[sn.i] = time.Since(at)
			}
		}
		if len(seen) == len(live) {
			ts := slices.Sorted(maps.Values(seen))
			k.DetectS, k.MedianS = seconds(ts[len(ts)-1]), seconds(ts[len(ts)/2])
			if s.sampling() {
				s.estimatesHold(k, org, at, phase)
			}
			return k
		}
		if !s.wait(interval, phase) {
			return k
		}
	}
}

// estimatesHold waits, after a kill in org at at, until every node's row
// of org holds the new truth: its estimate's interval does, or its exact
// count is it. It gives up after two sample windows.
func (s *sim) estimatesHold(k *Kill, org string, at time.Time, phase string) {
	last := map[int]float64{}
	limit := 2 * s.nodes[0].cfg.SampleWindow
	for time.Since(at) < limit {
		truth, all := float64(s.truth()[org]), true
		for _, sn := range s.live() {
			v, err := s.api.view(context.Background(), sn.api)
			if err != nil {
				s.res.noteError(err)
				all = false
				continue
			}
			c := v.OrgCounts(org)
			if e := c.Estimate; c.Mode == orgs.ModeEstimate && e != nil {
				if prev, ok := last[sn.i]; ok && e.Peers > prev {
					k.Rises++
				}
				last[sn.i] = e.Peers
				all = all && e.Low <= truth && truth <= e.High
			} else {
				all = all && float64(c.Alive) == truth
			}
		}
		if all {
			k.EstimateS = seconds(time.Since(at))
			return
		}
		if !s.wait(min(s.cfg.Poll, 500*time.Millisecond), phase) {
			return
		}
	}
}

// sample is the simulation's counters at one instant.
type sample struct {
	at       time.Time // virtual
	cpu      time.Duration
	wire     []wireStats
	counters []counters
	mem      Footprint
}

type wireStats struct{ in, out int }

// sample reads every running node's counters. The nodes' libp2p byte
// counters are updated once a real second (go-flow-metrics), so it first
// waits 1.1 s of real time, in which virtual time stands still.
func (s *sim) sample() (sample, bool) {
	s.clock.sleep(1100 * time.Millisecond)
	sm := sample{at: time.Now(), cpu: processCPU()}
	for _, sn := range s.live() {
		st := sn.ep.Stats()
		sm.wire = append(sm.wire, wireStats{in: st.BytesRcvd, out: st.BytesSent})
		c, err := s.api.counters(context.Background(), sn.api)
		if err != nil {
			s.res.noteError(err)
			return sm, false
		}
		sm.counters = append(sm.counters, c)
	}
	sm.mem = s.footprint(false)
	for _, c := range sm.counters {
		sm.mem.ConnectionsPerNode += c.connections / float64(len(sm.counters))
	}
	return sm, true
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// footprint is the process's live heap, memory and goroutines divided by
// the running nodes, and, if conns, their mean connections.
func (s *sim) footprint(conns bool) Footprint {
	live := s.live()
	n := float64(max(len(live), 1))
	var f Footprint
	for _, sn := range live {
		if !conns {
			break
		}
		if c, err := s.api.counters(context.Background(), sn.api); err == nil {
			f.ConnectionsPerNode += c.connections / n
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f.HeapMBPerNode, f.SysMBPerNode = float64(ms.HeapAlloc)/1e6/n, float64(ms.Sys)/1e6/n
	f.GoroutinesPerNode = float64(runtime.NumGoroutine()) / n
	return f
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// realClock tells real time inside the bubble, where time.Now is virtual:
// a goroutine outside the bubble answers. While a bubbled goroutine waits
// for its answer, virtual time stands still.
type realClock struct {
	req  chan time.Duration
	resp chan time.Duration
}

func startRealClock() *realClock {
	c := &realClock{req: make(chan time.Duration), resp: make(chan time.Duration)}
	start := time.Now()
	go func() {
		for d := range c.req {
			time.Sleep(d)
			c.resp <- time.Since(start)
		}
	}()
	return c
}

// sleep waits d of real time and returns the real time since the start.
func (c *realClock) sleep(d time.Duration) time.Duration {
	c.req <- d
	return <-c.resp
}

func (c *realClock) elapsed() time.Duration { return c.sleep(0) }

func (c *realClock) stop() { close(c.req) }
