package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// apiLatency sends count GET /v1/view requests, spread round-robin over
// the given API addresses, at a fixed rate (open loop: a slow answer does
// not delay the next request), and returns every request's latency, from
// sending to the last byte of the body, sorted. Each address first gets one
// unmeasured request that opens the connection.
func apiLatency(ctx context.Context, hc *http.Client, apis []string, rate float64, count int) ([]time.Duration, error) {
	get := func(api string) (time.Duration, error) {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+api+"/v1/view", nil)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s/v1/view: HTTP %d", api, resp.StatusCode)
		}
		return took, err
	}
	for _, a := range apis {
		if _, err := get(a); err != nil {
			return nil, err
		}
	}

	lat := make([]time.Duration, count)
	errs := make([]error, count)
	interval := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range count {
		if i > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
		wg.Go(func() { lat[i], errs[i] = get(apis[i%len(apis)]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("API latency: %w", err)
		}
	}
	slices.Sort(lat)
	return lat, nil
}

// apiLatencyWithFloor runs apiLatency against the nodes and, at the same
// rate and in the same window (half an interval apart), against the floor
// server, and returns both latencies.
func apiLatencyWithFloor(ctx context.Context, hc *http.Client, apis []string, floor string, rate float64, count int) (nodes, floors []time.Duration, err error) {
	var floorErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if !sleep(ctx, time.Duration(float64(time.Second)/rate/2)) {
			floorErr = ctx.Err()
			return
		}
		floors, floorErr = apiLatency(ctx, hc, []string{floor}, rate, count)
	})
	nodes, err = apiLatency(ctx, hc, apis, rate, count)
	wg.Wait()
	if err == nil && floorErr != nil {
		err = fmt.Errorf("floor server: %w", floorErr)
	}
	return nodes, floors, err
}

// nearestRank returns the p-th percentile (0 < p <= 100) of sorted values,
// by the nearest-rank method.
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted)) * p / 100))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
