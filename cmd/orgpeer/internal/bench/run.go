package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
	"github.com/orgpeer/orgpeer/orgs"
)

// pollInterval is how often each node is asked during a timed phase: the
// resolution of the times. Larger clusters are asked less often so that the
// asking does not load the machine that runs them.
func pollInterval(nodes int) time.Duration {
	return max(50*time.Millisecond, time.Duration(nodes)*4*time.Millisecond)
}

// runOnce starts nodes processes, takes every figure once and stops them
// all. Every process it started has exited when it returns.
func runOnce(ctx context.Context, o Options, nodes int) (_ runFigures, err error) {
	dir, err := os.MkdirTemp("", "orgpeer-bench-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		o.Log.Info("keeping data dirs and logs", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	c := cluster.New(o.Bin, dir, o.Extra...)
	defer func() {
		c.StopAll()
		for _, p := range c.Members() {
			if p.Running() && err == nil {
				err = fmt.Errorf("%s (pid %d) still running after the run", p.Name(), p.PID())
			}
		}
	}()
	fig := runFigures{"load_avg_1m": procstat.LoadAverage()}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	poll := pollInterval(nodes)

	// Launch: the seed first, every other node bootstrapped from it. The
	// clock starts once identities and credentials are on disk.
	o.Log.Info("launching", "nodes", nodes, "orgs", o.Orgs)
	launch, err := launchAll(ctx, c, nodes, o.Orgs)
	if err != nil {
		return nil, err
	}
	o.Log.Info("every process up; waiting for every node to count the truth", "after", time.Since(launch).Round(time.Millisecond))
	if _, err := c.WaitConverged(ctx, o.Timeout); err != nil {
		return nil, fmt.Errorf("convergence: %w", err)
	}
	fig["converge_all_s"] = time.Since(launch).Seconds()
	var startCPU []float64
	for _, p := range c.Live() {
		if cpu, err := procstat.CPU(p.PID()); err == nil {
			startCPU = append(startCPU, cpu.Seconds())
		}
	}
	fig["converge_cpu_avg_s"] = meanOf(startCPU)
	o.Log.Info("converged", "after", time.Since(launch).Round(time.Millisecond), "cpu_per_node", time.Duration(meanOf(startCPU)*float64(time.Second)).Round(time.Millisecond))

	// Idle costs, with the cluster left alone.
	if !sleep(ctx, o.Settle) {
		return nil, ctx.Err()
	}
	o.Log.Info("measuring idle costs", "window", o.Idle)
	if err := idleCosts(ctx, hc, c.Live(), o.Idle, fig); err != nil {
		return nil, err
	}

	o.Log.Info("measuring API latency", "requests", o.APIRequests, "rate", o.APIRate)
	var apis []string
	for _, p := range c.Live() {
		apis = append(apis, p.Info().API)
	}
	body, err := viewBody(ctx, hc, apis[0])
	if err != nil {
		return nil, err
	}
	floor, err := startFloor(ctx, o.Bin, body)
	if err != nil {
		return nil, err
	}
	m0, _ := procstat.MachineCPU()
	lat, floorLat, err := apiLatencyWithFloor(ctx, hc, apis, floor.addr, o.APIRate, o.APIRequests)
	floor.stop()
	if err != nil {
		return nil, err
	}
	fig["api_floor_p99_ms"] = msOf(nearestRank(floorLat, 99))
	m1, _ := procstat.MachineCPU()
	if st, ok := procstat.StealPct(m0, m1); ok {
		fig["steal_api_pct"] = st
	}
	fig["api_p50_ms"] = msOf(nearestRank(lat, 50))
	fig["api_p99_ms"] = msOf(nearestRank(lat, 99))

	// Events: a crash, a graceful leave, the crashed node's return. The
	// seed stays up: the restarted node bootstraps from it.
	members := c.Members()
	victim, leaver := members[nodes-1], members[nodes-2]
	victimID, leaverID := victim.Info().PeerID, leaver.Info().PeerID
	observers := procsWithout(c.Live(), victim)
	o.Log.Info("kill -9", "node", victim.Name())
	t0 := time.Now()
	c.Kill9(victim)
	took, err := waitAllAgree(ctx, observers, victim.Org(), poll, o.Timeout, t0, func(ps []orgs.PeerInfo) string {
		if n, st := findPeer(ps, victimID); n == 1 && st == orgs.StateAlive {
			return "still counts it alive"
		}
		return ""
	})
	if err != nil {
		return nil, fmt.Errorf("kill -9 of %s: %w", victim.Name(), err)
	}
	fig["kill9_detect_all_s"] = took.Seconds()

	o.Log.Info("SIGTERM", "node", leaver.Name())
	observers = procsWithout(observers, leaver)
	t0 = time.Now()
	var stopped sync.WaitGroup
	stopped.Go(func() { c.Stop(leaver) })
	took, err = waitAllAgree(ctx, observers, leaver.Org(), poll, o.Timeout, t0, func(ps []orgs.PeerInfo) string {
		if n, st := findPeer(ps, leaverID); n != 1 || st != orgs.StateLeft {
			return fmt.Sprintf("lists it %d times, state %v", n, st)
		}
		return ""
	})
	stopped.Wait()
	if err != nil {
		return nil, fmt.Errorf("SIGTERM to %s: %w", leaver.Name(), err)
	}
	fig["leave_detect_all_s"] = took.Seconds()

	o.Log.Info("restarting", "node", victim.Name())
	t0 = time.Now()
	if err := c.Start(ctx, victim); err != nil {
		return nil, err
	}
	if victim.Info().PeerID != victimID {
		return nil, fmt.Errorf("restart changed the peer ID of %s", victim.Name())
	}
	took, err = waitAllAgree(ctx, c.Live(), victim.Org(), poll, o.Timeout, t0, func(ps []orgs.PeerInfo) string {
		if n, st := findPeer(ps, victimID); n != 1 || st != orgs.StateAlive {
			return fmt.Sprintf("lists it %d times, state %v", n, st)
		}
		return ""
	})
	if err != nil {
		return nil, fmt.Errorf("restart of %s: %w", victim.Name(), err)
	}
	fig["rejoin_all_s"] = took.Seconds()
	o.Log.Info("run done", "nodes", nodes)
	return fig, nil
}

// launchAll prepares every node's identity and credential, then
// launches the seed, then every other node in parallel, each bootstrapped
// from the seed only, in organizations org1..orgK in turn. It returns when
// the launch began: preparing the data dirs is not part of starting.
func launchAll(ctx context.Context, c *cluster.Cluster, nodes, nOrgs int) (time.Time, error) {
	org := func(i int) string { return fmt.Sprintf("org%d", i%nOrgs+1) }
	host := func(i int) string { return cluster.HostName(i % 2) }
	var names []string
	for i := range nOrgs {
		names = append(names, org(i))
	}
	if err := c.EnsureOrgKeys(names...); err != nil { // counts are verified ones
		return time.Time{}, err
	}
	ps := make([]*cluster.Proc, nodes)
	for i := range nodes {
		ps[i] = c.Add(cluster.Spec{Org: org(i), Host: host(i)})
	}
	if err := c.Prepare(ps...); err != nil {
		return time.Time{}, err
	}
	launch := time.Now()
	if err := c.Start(ctx, ps[0]); err != nil {
		return launch, err
	}
	boot := ps[0].Info().Addrs[:1]
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := 1; i < nodes; i++ {
		c.SetBootstrap(ps[i], boot)
		wg.Go(func() { errs[i] = c.Start(ctx, ps[i]) })
	}
	wg.Wait()
	return launch, errors.Join(errs...)
}

// idleCosts measures, per node, CPU and traffic over the window, then
// memory and goroutines at its end, and records their averages and maxima.
func idleCosts(ctx context.Context, hc *http.Client, ps []*cluster.Proc, window time.Duration, fig runFigures) error {
	type sample struct {
		at  time.Time
		cpu time.Duration
		m   scrapedMetrics
	}
	take := func(p *cluster.Proc) (sample, error) {
		s := sample{at: time.Now()}
		var err error
		if s.cpu, err = procstat.CPU(p.PID()); err != nil {
			return s, err
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s.m, err = scrapeMetrics(sctx, hc, p.Info().API)
		return s, err
	}
	m0, _ := procstat.MachineCPU()
	self0, _ := procstat.CPU(os.Getpid())
	first := make([]sample, len(ps))
	for i, p := range ps {
		var err error
		if first[i], err = take(p); err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
	}
	if !sleep(ctx, window) {
		return ctx.Err()
	}
	m1, _ := procstat.MachineCPU()
	self1, _ := procstat.CPU(os.Getpid())
	var nodesCPU time.Duration
	var rss, cpu, in, out, total, gor, psIn, dhtIn, msgs []float64
	for i, p := range ps {
		last, err := take(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
		r, err := procstat.RSS(p.PID())
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
		secs := last.at.Sub(first[i].at).Seconds()
		bin := (last.m.bytesIn - first[i].m.bytesIn) / secs / 1e3
		bout := (last.m.bytesOut - first[i].m.bytesOut) / secs / 1e3
		rss = append(rss, float64(r)/1e6)
		cpu = append(cpu, 100*(last.cpu-first[i].cpu).Seconds()/secs)
		nodesCPU += last.cpu - first[i].cpu
		in, out, total = append(in, bin), append(out, bout), append(total, bin+bout)
		gor = append(gor, last.m.goroutines)
		psIn = append(psIn, (last.m.pubsubIn-first[i].m.pubsubIn)/secs/1e3)
		dhtIn = append(dhtIn, (last.m.dhtIn-first[i].m.dhtIn)/secs/1e3)
		msgs = append(msgs, (last.m.accepted-first[i].m.accepted)/secs)
	}
	fig["rss_avg_mb"], fig["rss_max_mb"] = meanOf(rss), slices.Max(rss)
	fig["cpu_idle_avg_pct"], fig["cpu_idle_max_pct"] = meanOf(cpu), slices.Max(cpu)
	fig["traffic_in_avg_kBps"], fig["traffic_out_avg_kBps"] = meanOf(in), meanOf(out)
	fig["traffic_max_kBps"] = slices.Max(total)
	fig["goroutines_avg"], fig["goroutines_max"] = meanOf(gor), slices.Max(gor)
	// Details behind the traffic, in the JSON only (see detailKeys).
	fig["pubsub_in_avg_kBps"], fig["dht_in_avg_kBps"] = meanOf(psIn), meanOf(dhtIn)
	fig["messages_in_avg_per_s"] = meanOf(msgs)
	if st, ok := procstat.StealPct(m0, m1); ok {
		// The machine's busy time not spent by the nodes, the benchmark or
		// the hypervisor: other work that inflates every figure of this run.
		others := (m1.Busy - m0.Busy) - (m1.Steal - m0.Steal) - nodesCPU - (self1 - self0)
		fig["others_cpu_pct"] = max(0, 100*others.Seconds()/(m1.Total-m0.Total).Seconds())
		fig["steal_idle_pct"] = st
	}
	if m := meanOf(msgs); m > 0 {
		fig["pubsub_bytes_per_message"] = meanOf(psIn) * 1e3 / m
	}
	return nil
}

// waitAllAgree asks every observer, every interval, for its peers of org until
// check returns "" for each, and returns how long after t0 the last one got
// there. check says what is still wrong.
func waitAllAgree(ctx context.Context, observers []*cluster.Proc, org string, interval, timeout time.Duration, t0 time.Time, check func([]orgs.PeerInfo) string) (time.Duration, error) {
	wctx, cancel := context.WithDeadline(ctx, t0.Add(timeout))
	defer cancel()
	took := make([]time.Duration, len(observers))
	wrong := make([]string, len(observers))
	var wg sync.WaitGroup
	for i, p := range observers {
		client := p.Client()
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				qctx, qcancel := context.WithTimeout(wctx, 2*time.Second)
				ps, err := client.Peers(qctx, org, "")
				qcancel()
				switch {
				case err != nil:
					wrong[i] = err.Error()
				default:
					wrong[i] = check(ps)
				}
				if wrong[i] == "" {
					took[i] = time.Since(t0)
					return
				}
				select {
				case <-wctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
	var late []string
	for i, p := range observers {
		if wrong[i] != "" {
			late = append(late, p.Name()+": "+wrong[i])
		}
	}
	if len(late) > 0 {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("not within %v at %d of %d nodes (%s)", timeout, len(late), len(observers), strings.Join(late, "; "))
	}
	return slices.Max(took), nil
}

// findPeer returns how many times ps lists the peer, and its state.
func findPeer(ps []orgs.PeerInfo, id string) (int, orgs.PeerState) {
	n, st := 0, orgs.StateUnknown
	for _, p := range ps {
		if p.PeerID == id {
			n, st = n+1, p.State
		}
	}
	return n, st
}

func procsWithout(ps []*cluster.Proc, drop *cluster.Proc) []*cluster.Proc {
	return slices.DeleteFunc(slices.Clone(ps), func(p *cluster.Proc) bool { return p == drop })
}

func meanOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
