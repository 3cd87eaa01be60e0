package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
)

// What the benchmark reads from a running child besides /proc: its own
// Prometheus figures at /metrics.

// scrapedMetrics are the figures the benchmark takes from a node's /metrics.
type scrapedMetrics struct {
	bytesIn, bytesOut float64 // orgpeer_libp2p_bytes_total
	goroutines        float64 // go_goroutines
	// Optional: received bytes of GossipSub and of the DHT
	// (orgpeer_libp2p_protocol_bytes_total), and messages accepted from
	// others (orgpeer_messages_total).
	pubsubIn, dhtIn, accepted float64
}

// getOK sends GET path to the node API at api and returns the body of a
// 200 answer; the caller closes it.
func getOK(ctx context.Context, hc *http.Client, api, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s%s: HTTP %d", api, path, resp.StatusCode)
	}
	return resp.Body, nil
}

// scrapeMetrics reads the node's Prometheus text exposition at api.
func scrapeMetrics(ctx context.Context, hc *http.Client, api string) (scrapedMetrics, error) {
	var s scrapedMetrics
	body, err := getOK(ctx, hc, api, "/metrics")
	if err != nil {
		return s, err
	}
	defer body.Close()
	m, err := procstat.ParseMetrics(body)
	if err != nil {
		return s, fmt.Errorf("%s/metrics: %w", api, err)
	}
	for series, dst := range map[string]*float64{
		`orgpeer_libp2p_bytes_total{direction="in"}`:  &s.bytesIn,
		`orgpeer_libp2p_bytes_total{direction="out"}`: &s.bytesOut,
		`go_goroutines`: &s.goroutines,
	} {
		v, ok := m[series]
		if !ok {
			return s, fmt.Errorf("%s/metrics: no %s, which the benchmark needs", api, series)
		}
		*dst = v
	}
	prefixed := func(prefix string) func(string) bool {
		return func(series string) bool { return strings.HasPrefix(series, prefix) }
	}
	s.pubsubIn = m.Sum(prefixed(`orgpeer_libp2p_protocol_bytes_total{direction="in",protocol="/meshsub/`))
	s.dhtIn = m.Sum(prefixed(`orgpeer_libp2p_protocol_bytes_total{direction="in",protocol="/orgpeer/kad/`))
	s.accepted = m.Sum(func(series string) bool {
		return strings.HasPrefix(series, `orgpeer_messages_total{`) && strings.Contains(series, `result="accepted"`)
	})
	return s, nil
}

// quietSteal is the hypervisor's share of the vCPUs under which the
// machine counts as quiet, and a run as undisturbed.
const quietSteal = 2.0

// waitQuiet waits, at most max, until the hypervisor takes under
// quietSteal % of the vCPUs over 2 s, because steal moves every figure of
// a run. It reports false only when ctx ended; after max it goes on.
func waitQuiet(ctx context.Context, log *slog.Logger, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		a, err := procstat.MachineCPU()
		if err != nil || max == 0 {
			return ctx.Err() == nil
		}
		if !sleep(ctx, 2*time.Second) {
			return false
		}
		b, _ := procstat.MachineCPU()
		st, ok := procstat.StealPct(a, b)
		switch {
		case !ok:
			return true
		case st < quietSteal:
			return true
		case time.Now().After(deadline):
			log.Warn("the hypervisor still takes the vCPUs; measuring anyway", "steal_pct", fmt.Sprintf("%.1f", st))
			return true
		}
		log.Info("the hypervisor takes the vCPUs: waiting for a quieter machine", "steal_pct", fmt.Sprintf("%.1f", st), "until", deadline.Format(time.TimeOnly))
		if !sleep(ctx, 5*time.Second) {
			return false
		}
	}
}
