package bench

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/serf"
)

func TestRatiosAndTheirTargets(t *testing.T) {
	ours := []runFigures{
		{"converge_all_s": 1, "kill9_detect_all_s": 1, "leave_detect_all_s": 0.1, "rss_avg_mb": 30, "cpu_idle_avg_pct": 0.5},
		{"converge_all_s": 2, "kill9_detect_all_s": 2, "leave_detect_all_s": 0.2, "rss_avg_mb": 31, "cpu_idle_avg_pct": 0.6},
		{"converge_all_s": 9, "kill9_detect_all_s": 3, "leave_detect_all_s": 0.3, "rss_avg_mb": 32, "cpu_idle_avg_pct": 0.7},
	}
	theirs := []runFigures{
		{"converge_all_s": 1, "kill9_detect_all_s": 10, "leave_detect_all_s": 0.4, "rss_avg_mb": 20, "cpu_idle_avg_pct": 0},
		{"converge_all_s": 4, "kill9_detect_all_s": 5, "leave_detect_all_s": 0.5, "rss_avg_mb": 20, "cpu_idle_avg_pct": 0},
		{"converge_all_s": 4, "kill9_detect_all_s": 8, "leave_detect_all_s": 0.6, "rss_avg_mb": 20, "cpu_idle_avg_pct": 0},
	}
	r := newPairResult(20, Pairs[0], 80*time.Millisecond, sideResult{Runs: ours}, sideResult{Runs: theirs})
	got := map[string]ratio{}
	for _, q := range r.Ratios {
		got[q.Key] = q
	}
	check := func(key string, want float64, met bool) {
		t.Helper()
		q := got[key]
		if q.Ratio == nil || *q.Ratio < want-1e-9 || *q.Ratio > want+1e-9 || q.Met == nil || *q.Met != met || !q.Judged {
			t.Errorf("%s: %+v, want ratio %v met %v", key, q, want, met)
		}
	}
	check("converge_all_s", 0.5, true)      // medians 2 / 4
	check("kill9_detect_all_s", 0.25, true) // 2 / 8
	check("leave_detect_all_s", 0.4, false) // 0.2 / 0.5 > 0.34
	check("rss_avg_mb", 1.55, false)        // 31 / 20 > 1.5
	if q := got["cpu_idle_avg_pct"]; q.Ratio != nil || q.Met != nil {
		t.Errorf("a ratio over a zero median: %+v", q)
	}
	if q := got["rejoin_all_s"]; !q.Missing || q.Ratio != nil {
		t.Errorf("a figure neither side has: %+v", q)
	}
	if r.PollIntervalMs != 80 || r.Orgpeer.Summary["converge_all_s"].Max != 9 {
		t.Errorf("result: %+v", r)
	}
	// JSON has no infinities to refuse.
	if _, err := json.Marshal(Comparison{Results: []pairResult{r}}); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	if err := PrintComparison(&out, Comparison{Results: []pairResult{r}, Settings: CompareSettings{SerfVersion: "0.10.2-dev"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"N=20, local: orgpeer --preset local vs serf -profile=local, median (min-max) of 3 and 3 runs, every member asked every 80 ms",
		"converge_all_s      s     2.00 (1.00-9.00)  4.00 (1.00-4.00)",
		"0.50   <= 1.00  yes",
		"0.40   <= 0.34  NO",
		"serf 0.10.2-dev",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "indicative") {
		t.Errorf("three runs called indicative:\n%s", out.String())
	}
	r = newPairResult(20, Pairs[1], time.Second, sideResult{Runs: ours[:1]}, sideResult{Runs: theirs[:1], Failed: []string{"run 2: convergence: not within 2m0s"}})
	out.Reset()
	if err := PrintComparison(&out, Comparison{Results: []pairResult{r}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "indicative") || !strings.Contains(out.String(), "vs serf -profile=lan") || r.Ratios[0].Judged {
		t.Errorf("one run not called indicative:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "serf run 2: convergence: not within 2m0s") {
		t.Errorf("a failed run not named:\n%s", out.String())
	}
}

// A run in which not every member saw an event counts as slower than any
// run that has the figure.
func TestMissedEventsCountAsSlowest(t *testing.T) {
	leave := func(v float64) runFigures { return runFigures{"leave_detect_all_s": v} }
	missed := runFigures{missedKey("leave_detect_all_s"): 1}
	for _, c := range []struct {
		name           string
		ours, theirs   []runFigures
		ratio          string // as the table prints it
		met            *bool
		oNever, sNever bool
	}{
		{"Serf never in two of three", []runFigures{leave(0.1), leave(0.2), leave(0.3)}, []runFigures{leave(0.5), missed, missed}, "0", ptr(true), false, true},
		{"Serf never in one of three", []runFigures{leave(0.1), leave(0.2), leave(0.3)}, []runFigures{leave(0.5), leave(0.9), missed}, "0.22", ptr(true), false, false},
		{"orgpeer never in the median run", []runFigures{missed, missed, leave(0.3)}, []runFigures{leave(0.5), leave(0.5), leave(0.5)}, "inf", ptr(false), true, false},
		{"both never", []runFigures{missed}, []runFigures{missed}, "-", nil, true, true},
		{"an even count", []runFigures{leave(0.1), missed}, []runFigures{leave(1), leave(1)}, "inf", ptr(false), true, false},
	} {
		r := newPairResult(20, Pairs[0], time.Second, sideResult{Runs: c.ours}, sideResult{Runs: c.theirs})
		q := r.Ratios[slices.IndexFunc(r.Ratios, func(q ratio) bool { return q.Key == "leave_detect_all_s" })]
		if got := ratioCell(q); got != c.ratio || q.OrgpeerNever != c.oNever || q.SerfNever != c.sNever ||
			(q.Met == nil) != (c.met == nil) || (q.Met != nil && *q.Met != *c.met) {
			t.Errorf("%s: %+v (cell %s), want ratio %s, met %v, never %v/%v", c.name, q, got, c.ratio, c.met, c.oNever, c.sNever)
		}
		var out strings.Builder
		if err := PrintComparison(&out, Comparison{Results: []pairResult{r}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "never seen everywhere within the timeout") {
			t.Errorf("%s: the missed runs are not named:\n%s", c.name, out.String())
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestSerfMembersCounted(t *testing.T) {
	ms := []serf.Member{
		{Name: "s01", Org: "org1", Status: "alive"},
		{Name: "s02", Org: "org2", Status: "alive"},
		{Name: "s03", Org: "org1", Status: "failed"},
		{Name: "s04", Org: "org1", Status: "left"},
		{Name: "s05", Org: "org2", Status: "leaving"},
	}
	counts := aliveByOrg(ms)
	if w := countsWrong(counts, map[string]int{"org1": 1, "org2": 1}); w != "" {
		t.Errorf("counts %v: %s", counts, w)
	}
	if w := countsWrong(counts, map[string]int{"org1": 2, "org2": 1, "org3": 1}); w != "org1 1 of 2, org3 0 of 1" {
		t.Errorf("wrong counts said as %q", w)
	}
	if st := statesOf(ms, "s04"); len(st) != 1 || st[0] != stateLeft {
		t.Errorf("s04: %v", st)
	}
	if st := statesOf(ms, "s09"); len(st) != 0 {
		t.Errorf("s09: %v", st)
	}
}

// TestSerfSide runs the comparison's Serf side with three agents, if a
// serf binary is at hand (`make bin/serf`): launch, convergence, idle
// costs, kill -9, leave and rejoin, each timed as orgpeer's are. Serf may
// miss the crash or the leave within the phase's timeout (with three
// agents, the leave right after a crash is sometimes gossiped only to the
// dead one, and the leaver is then counted failed, never left): the run
// goes on without that figure, as the comparison does.
func TestSerfSide(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := serfBinary(t)
	o := CompareOptions{SerfBin: bin, Orgs: 2, Runs: 1, Idle: time.Second, Timeout: 8 * time.Second,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	c := serf.New(bin, t.TempDir(), "local")
	t.Cleanup(c.StopAll)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fig, err := compareRun(ctx, o, serfSystem{c}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"converge_all_s", "rejoin_all_s", "rss_avg_mb", "kill9_detect_all_s", "leave_detect_all_s"} {
		switch {
		case fig[key] > 0:
		case fig[missedKey(key)] > 0 && (key == "kill9_detect_all_s" || key == "leave_detect_all_s"):
			t.Logf("Serf missed %s within %v", key, o.Timeout)
		default:
			t.Errorf("%s = %v, want it positive", key, fig[key])
		}
	}
	if _, ok := fig["cpu_idle_avg_pct"]; !ok {
		t.Error("no idle CPU")
	}
	if live := c.Live(); len(live) != 2 {
		t.Errorf("%d agents up after the run, want 2 (the leaver is gone)", len(live))
	}
}

// serfBinary returns bin/serf of the module, or serf on PATH, or skips.
func serfBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir != filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	bin, err := serf.FindBin("", filepath.Join(dir, "bin"))
	if err != nil {
		t.Skipf("no serf binary, so no Serf side to run (%v)", err)
	}
	return bin
}
