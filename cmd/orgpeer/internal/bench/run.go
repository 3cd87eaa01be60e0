package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
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
	startCPU(c.Live(), fig)
	o.Log.Info("converged", "after", time.Since(launch).Round(time.Millisecond), "cpu_per_node_s", fig["converge_cpu_avg_s"])

	// Idle costs, with the cluster left alone.
	if !sleep(ctx, o.Settle) {
		return nil, ctx.Err()
	}
	o.Log.Info("measuring idle costs", "window", o.Idle)
	if err := idleCosts(ctx, hc, c.Live(), o.Idle, fig); err != nil {
		return nil, err
	}

	if err := estimates(ctx, c, fig, o.Log); err != nil {
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

	// Events: a crash, a graceful leave, the crashed node's return; a
	// phase that does not end within the timeout fails the run.
	if err := events(ctx, orgpeerSystem{c}, poll, o.Timeout, fig, o.Log, func(_ string, err error) error { return err }); err != nil {
		return nil, err
	}
	o.Log.Info("run done", "nodes", nodes)
	return fig, nil
}

// launchAll prepares every node's identity and credential, then
// launches the seed, then every other node in parallel, each bootstrapped
// from the seed only, in organizations org1..orgK in turn. It returns when
// the launch began: preparing the data dirs is not part of starting.
func launchAll(ctx context.Context, c *cluster.Cluster, nodes, nOrgs int) (time.Time, error) {
	host := func(i int) string { return cluster.HostName(i % 2) }
	var names []string
	for i := range nOrgs {
		names = append(names, orgName(i, nOrgs))
	}
	if err := c.EnsureOrgKeys(names...); err != nil { // counts are verified ones
		return time.Time{}, err
	}
	ps := make([]*cluster.Proc, nodes)
	for i := range nodes {
		ps[i] = c.Add(cluster.Spec{Org: orgName(i, nOrgs), Host: host(i)})
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
		at time.Time
		m  scrapedMetrics
	}
	scrapeAll := func() ([]sample, error) {
		out := make([]sample, len(ps))
		for i, p := range ps {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := scrapeMetrics(sctx, hc, p.Info().API)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name(), err)
			}
			out[i] = sample{time.Now(), m}
		}
		return out, nil
	}
	first, err := scrapeAll()
	if err != nil {
		return err
	}
	if err := procCosts(ctx, ps, window, fig); err != nil {
		return err
	}
	last, err := scrapeAll()
	if err != nil {
		return err
	}
	var in, out, total, gor, psIn, dhtIn, msgs []float64
	for i := range ps {
		a, b := first[i].m, last[i].m
		secs := last[i].at.Sub(first[i].at).Seconds()
		bin := (b.bytesIn - a.bytesIn) / secs / 1e3
		bout := (b.bytesOut - a.bytesOut) / secs / 1e3
		in, out, total = append(in, bin), append(out, bout), append(total, bin+bout)
		gor = append(gor, b.goroutines)
		psIn = append(psIn, (b.pubsubIn-a.pubsubIn)/secs/1e3)
		dhtIn = append(dhtIn, (b.dhtIn-a.dhtIn)/secs/1e3)
		msgs = append(msgs, (b.accepted-a.accepted)/secs)
	}
	fig["traffic_in_avg_kBps"], fig["traffic_out_avg_kBps"] = meanOf(in), meanOf(out)
	fig["traffic_max_kBps"] = slices.Max(total)
	fig["goroutines_avg"], fig["goroutines_max"] = meanOf(gor), slices.Max(gor)
	// Details behind the traffic, in the JSON only (see detailKeys).
	fig["pubsub_in_avg_kBps"], fig["dht_in_avg_kBps"] = meanOf(psIn), meanOf(dhtIn)
	fig["messages_in_avg_per_s"] = meanOf(msgs)
	if m := meanOf(msgs); m > 0 {
		fig["pubsub_bytes_per_message"] = meanOf(psIn) * 1e3 / m
	}
	return nil
}

func meanOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
