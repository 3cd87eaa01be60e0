package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// What the benchmark reads from a running child: its kernel accounting in
// /proc and its own Prometheus figures at /metrics.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// Linux fixes it at 100 on every architecture Go supports.
const clockTicks = 100

// procRSS returns the resident set size of pid in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd VmRSS line %q", pid, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb << 10, err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS (process gone?)", pid)
}

// procCPU returns the CPU time pid has used, user plus system.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis. utime and stime are fields 14
	// and 15, so the 12th and 13th after the parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

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
	required := map[string]*float64{
		`orgpeer_libp2p_bytes_total{direction="in"}`:  &s.bytesIn,
		`orgpeer_libp2p_bytes_total{direction="out"}`: &s.bytesOut,
		`go_goroutines`: &s.goroutines,
	}
	found := 0
	sc := bufio.NewScanner(io.LimitReader(body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		var dst *float64
		switch {
		case required[name] != nil:
			dst = required[name]
			found++
		case strings.HasPrefix(name, `orgpeer_libp2p_protocol_bytes_total{direction="in",protocol="/meshsub/`):
			dst = &s.pubsubIn
		case strings.HasPrefix(name, `orgpeer_libp2p_protocol_bytes_total{direction="in",protocol="/orgpeer/kad/`):
			dst = &s.dhtIn
		case strings.HasPrefix(name, `orgpeer_messages_total{`) && strings.Contains(name, `result="accepted"`):
			dst = &s.accepted
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return s, fmt.Errorf("%s/metrics: %s: %v", api, name, err)
		}
		*dst += v
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if found != len(required) {
		return s, fmt.Errorf("%s/metrics: found %d of the %d series the benchmark needs", api, found, len(required))
	}
	return s, nil
}

// loadAverage returns the machine's 1-minute load average, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// cpuTimes is the CPU time the whole machine has spent, over every core.
type cpuTimes struct {
	busy  time.Duration // user, nice, system, interrupts and steal
	steal time.Duration // the hypervisor ran something else while this machine's vCPUs wanted to run
	total time.Duration
}

// stealPct is the share of all cores' time that the hypervisor took from
// a to b; ok is false when either reading failed (zero) or no time passed.
func stealPct(a, b cpuTimes) (pct float64, ok bool) {
	if a.total == 0 || b.total <= a.total {
		return 0, false
	}
	return 100 * (b.steal - a.steal).Seconds() / (b.total - a.total).Seconds(), true
}

// machineCPU reads the machine's CPU times from the first line of /proc/stat;
// on failure they are zero, which stealPct refuses.
func machineCPU() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat: odd first line %q", line)
	}
	var ticks [8]int64 // user nice system idle iowait irq softirq steal
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat: %v", err)
		}
	}
	var busy, total int64
	for i, v := range ticks {
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	dur := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return cpuTimes{busy: dur(busy), steal: dur(ticks[7]), total: dur(total)}, nil
}

// quietSteal is the hypervisor's share of the vCPUs under which the
// machine counts as quiet, and a run as undisturbed.
const quietSteal = 2.0

// waitQuiet waits, at most max, until the hypervisor takes under
// quietSteal % of the vCPUs over 2 s (on this VM it took 5-48 % for minutes
// at a time, and every figure of a run then moves: the API's p99 by tens of
// milliseconds). It reports false only when ctx ended; after max it goes on.
func waitQuiet(ctx context.Context, log *slog.Logger, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		a, err := machineCPU()
		if err != nil || max == 0 {
			return ctx.Err() == nil
		}
		if !sleep(ctx, 2*time.Second) {
			return false
		}
		b, _ := machineCPU()
		st, ok := stealPct(a, b)
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
