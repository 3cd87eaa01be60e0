package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchHarness runs the benchmark at its smallest (N = 4, one run, a
// short idle window) so that `make test` keeps the harness working; the
// figures themselves are judged by `make bench`, not here.
func TestBenchHarness(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	stdout, errOut, code := orgpeer(t, "bench", "--nodes", "4", "--orgs", "2", "--settle", "0s", "--idle", "2s",
		"--api-requests", "50", "--quiet-wait", "0", "--out", out)
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s\n%s", code, stdout, tail(errOut, 30))
	}
	var rep struct {
		Results []struct {
			Nodes   int                           `json:"nodes"`
			Summary map[string]map[string]float64 `json:"summary"`
		} `json:"results"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != 1 || rep.Results[0].Nodes != 4 {
		t.Fatalf("bench JSON: %v\n%s", err, b)
	}
	for _, name := range []string{"converge_all_s", "kill9_detect_all_s", "leave_detect_all_s", "rejoin_all_s",
		"rss_avg_mb", "cpu_idle_avg_pct", "api_p99_ms", "api_floor_p99_ms"} {
		f, ok := rep.Results[0].Summary[name]
		if !ok || f["median"] <= 0 {
			t.Errorf("figure %s missing or not positive: %v", name, f)
		}
	}
	for _, name := range []string{"steal_idle_pct", "steal_api_pct"} {
		if f, ok := rep.Results[0].Summary[name]; !ok || f["median"] < 0 || f["max"] > 100 {
			t.Errorf("figure %s missing or not a share: %v", name, f)
		}
	}
	svg, err := os.ReadFile(strings.TrimSuffix(out, ".json") + ".svg")
	if err != nil || !strings.Contains(string(svg), "<svg") {
		t.Fatalf("no SVG chart next to the JSON: %v", err)
	}
	if !strings.Contains(stdout, "converge_all_s") {
		t.Fatalf("no table printed:\n%s", stdout)
	}
}

// TestBenchVsSerfFlags checks the comparison's flags without running it.
func TestBenchVsSerfFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--vs", "consul"}, "only system to compare with is serf"},
		{[]string{"--pairs", "local"}, "go with --vs serf"},
		{[]string{"--vs", "serf", "--api-rate", "10"}, "no API latency test"},
		{[]string{"--vs", "serf", "--pairs", "wan"}, `--pairs "wan"`},
		{[]string{"--vs", "serf", "--poll", "1ms"}, "at least 5ms"},
		{[]string{"--vs", "serf", "--serf-bin", "/nonexistent/serf"}, "--serf-bin"},
		{[]string{"--vs", "serf", "--host-floor"}, "not a comparison"},
	} {
		_, errOut, code := orgpeer(t, append([]string{"bench"}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("bench %v: exit %d, %q; want an error with %q", c.args, code, errOut, c.want)
		}
	}
}

// TestBenchHostFloor runs the bare-host floor at its smallest: three hosts
// of each kind, each measured, and none left running.
func TestBenchHostFloor(t *testing.T) {
	stdout, errOut, code := orgpeer(t, "bench", "--host-floor", "--nodes", "3", "--settle", "2s", "--idle", "1s")
	if code != 0 {
		t.Fatalf("bench --host-floor: exit %d\n%s\n%s", code, stdout, tail(errOut, 30))
	}
	for _, want := range []string{"gossip=false mesh=0 every=0s", "gossip=true mesh=0 every=5s", "gossip=true mesh=3 every=5s", "gossip=true mesh=3 every=0s"} {
		if !strings.Contains(stdout, "N=3 "+want+": idle CPU per host ") {
			t.Errorf("no figure for %q in:\n%s", want, stdout)
		}
	}
}
