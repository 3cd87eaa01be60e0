package bench

import (
	"html"
	"strings"
	"testing"
)

func TestDisturbedRunsAreNamed(t *testing.T) {
	runs := []runFigures{
		{"steal_idle_pct": 0.1, "steal_api_pct": 0.5},
		{"steal_idle_pct": 0.2, "steal_api_pct": 7.36},
		{},
		{"steal_idle_pct": 3},
	}
	if got := disturbed(runs); !strings.Contains(got, "run 2 (0.20 % idle, 7.36 % API test)") || strings.Contains(got, "run 1") || strings.Contains(got, "run 3") ||
		!strings.Contains(got, "run 4 (3.00 % idle)") {
		t.Fatalf("disturbed: %q", got)
	}
	if got := disturbed(runs[:1]); got != "" {
		t.Fatalf("quiet runs called disturbed: %q", got)
	}
}

func TestReportTableAndChart(t *testing.T) {
	rep := Report{Metrics: Metrics, Settings: Settings{Orgs: 3, Runs: 2, Preset: "local"}}
	for _, n := range []int{10, 20} {
		runs := []runFigures{{"converge_all_s": 1, "rss_avg_mb": 30}, {"converge_all_s": 3, "rss_avg_mb": 32}}
		rep.Results = append(rep.Results, newSizeResult(n, runs))
	}
	if sp := rep.Results[0].Summary["converge_all_s"]; sp != (figureSpread{Min: 1, Median: 2, Max: 3}) {
		t.Fatalf("spread of two runs: %+v", sp)
	}
	var table strings.Builder
	if err := PrintTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	// converge_all_s has a 2 s target at N = 20, and one run took 3 s.
	if !strings.Contains(table.String(), "2.00 (1.00-3.00) MISSED") || !strings.Contains(table.String(), "N=10") {
		t.Errorf("table:\n%s", table.String())
	}
	var svg strings.Builder
	if err := writeSVG(&svg, rep); err != nil {
		t.Fatal(err)
	}
	for _, title := range panels {
		if !strings.Contains(svg.String(), html.EscapeString(title)) {
			t.Errorf("chart has no panel %q", title)
		}
	}
}
