package model

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
)

var (
	out   = flag.String("model-out", "", "TestModelTable: write the table's JSON here (make sim-model)")
	sizeF = flag.String("model-sizes", "1000,3000,10000,30000,100000", "TestModelTable: network sizes")
	mixF  = flag.String("model-mixes", "uniform10,zipf20", "TestModelTable: org mixes")
	winF  = flag.Int("model-window", 16, "TestModelTable: rounds in an estimator window (16: lan's 80 s)")
	budF  = flag.Float64("model-budget", 128, "TestModelTable: heartbeats per round an org may publish (lan's SampleBudget)")
)

// TestModelSmall runs the model at two small sizes with a small budget, so
// that orgs of a few hundred sample, and asserts what the table promises:
// the intervals cover the truth, the heartbeats an observer receives per
// org do not grow with the network, the orgs under the budget stay exact.
func TestModelSmall(t *testing.T) {
	var rates []float64
	for _, n := range []int{1000, 3000} {
		p := Defaults()
		p.Nodes, p.Budget, p.SmallOrgs, p.SmallSize, p.Observers, p.Measure, p.After = n, 16, 2, 12, 8, 40, 20
		r := Run(p)
		t.Logf("%s: N=%d sampled orgs %d, err95 %.3f, coverage %.3f of %d, hb/s per org max %.2f, kill cover %.0f s",
			Label, n, r.Sampled, r.Err95, r.Coverage, r.Points, r.HBPerOrgMax, r.KillCoverS)
		if r.Sampled < 10 || r.Points == 0 {
			t.Fatalf("N=%d: %d orgs sampled, %d points: the model measured nothing", n, r.Sampled, r.Points)
		}
		if r.Coverage < 0.9 {
			t.Errorf("N=%d: the 95 %% interval held the truth in %.3f of %d (observer, org, round) points", n, r.Coverage, r.Points)
		}
		if !r.SmallExact {
			t.Errorf("N=%d: an org of 12 members, under the budget of 16, was not counted exactly", n)
		}
		rates = append(rates, r.HBPerOrgMax)
	}
	if ratio := rates[1] / rates[0]; ratio > 1.5 || ratio < 1/1.5 {
		t.Errorf("heartbeats per second per org: %.2f at 1000, %.2f at 3000 (%.2fx): not flat", rates[0], rates[1], ratio)
	}
}

// TestModelTable is make sim-model: every size and mix, a table on stdout
// and its JSON in -model-out. Skipped without -model-out.
func TestModelTable(t *testing.T) {
	if *out == "" {
		t.Skip("make sim-model runs it (-model-out)")
	}
	var results []Result
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Printf("%s; budget %g heartbeats per %v round, window %d rounds, loss %.1f %%\n", Label, *budF, Defaults().Round, *winF, 100*Defaults().Loss)
	fmt.Fprintln(tw, "mix\tN\torgs\tsampled\terr95\tcoverage\thb/s/org mean\thb/s/org max\thb/s total\tlevel\tkill: cover med\tworst\tall stay\trises\tmax rise\t≤100 exact\twall s\t")
	for _, mix := range strings.Split(*mixF, ",") {
		for _, s := range strings.Split(*sizeF, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			p := Defaults()
			p.Nodes, p.Mix, p.Window, p.Budget = n, mix, *winF, *budF
			r := Run(p)
			results = append(results, r)
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%.1f\t%.1f\t%.0f\t%d\t%.0f s\t%.0f s\t%.0f s\t%d/%d\t%.1f%%\t%v\t%.0f\t\n",
				mix, n, r.Orgs, r.Sampled, 100*r.Err95, 100*r.Coverage, r.HBPerOrgMean, r.HBPerOrgMax, r.HBTotal, r.LevelMax,
				r.KillCoverS, r.KillCoverWS, r.KillStayS, r.Rises, r.RiseRounds, 100*r.MaxRise, r.SmallExact, r.WallS)
		}
	}
	tw.Flush() // once: the columns take the widest row's width
	b, err := json.MarshalIndent(map[string]any{"label": Label, "results": results}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
