package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestPoissonIntervalKnownValues(t *testing.T) {
	// Garwood's limits from tables (e.g. Ulm 1990): k=0 [0, 3.689],
	// k=1 [0.0253, 5.572], k=10 [4.795, 18.39], k=100 [81.37, 121.6].
	for _, tc := range []struct {
		k      int
		lo, hi float64
	}{{0, 0, 3.689}, {1, 0.0253, 5.572}, {10, 4.795, 18.39}, {100, 81.37, 121.6}} {
		lo, hi := PoissonInterval(tc.k, 0.95)
		if math.Abs(lo-tc.lo) > 0.01*tc.lo+1e-3 || math.Abs(hi-tc.hi) > 0.01*tc.hi {
			t.Errorf("k=%d: [%.4f, %.4f], want [%.4f, %.4f]", tc.k, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestRankUniformAndStable(t *testing.T) {
	if Rank("acme", 7, "peerA") != Rank("acme", 7, "peerA") {
		t.Fatal("rank not reproducible")
	}
	if Rank("acme", 7, "peerA") == Rank("acme", 8, "peerA") || Rank("acme", 7, "peerA") == Rank("acme2", 7, "peerA") {
		t.Fatal("rank does not depend on round and org")
	}
	var below [10]int
	const n = 20000
	for i := range n {
		r := Rank("acme", uint64(i%50), fmt.Sprint("p", i))
		if r < 0 || r >= 1 {
			t.Fatalf("rank %v out of [0,1)", r)
		}
		below[int(r*10)]++
	}
	for i, c := range below { // each decile 2000 ± 5 sd (sd ≈ 42)
		if c < 1790 || c > 2210 {
			t.Errorf("decile %d has %d of %d", i, c, n)
		}
	}
}

func TestProbHalvesPerOctave(t *testing.T) {
	if Prob(0) != 1 || math.Abs(Prob(LevelSteps)-0.5) > 1e-12 || math.Abs(Prob(3*LevelSteps)-0.125) > 1e-12 {
		t.Fatal(Prob(0), Prob(LevelSteps), Prob(3*LevelSteps))
	}
	if !Passes(0.99, 0) || Passes(0.6, LevelSteps) || !Passes(0.4, LevelSteps) {
		t.Fatal("Passes")
	}
}

func TestCoverEveryRoundOnce(t *testing.T) {
	d := 5 * time.Second
	base := time.Unix(1_700_000_000, 0)
	for _, jitter := range []time.Duration{0, 10 * time.Millisecond, 300 * time.Millisecond} {
		rng := rand.New(rand.NewPCG(1, uint64(jitter)))
		covered := map[uint64]int{}
		var last uint64
		at := base.Add(d - 5*time.Millisecond) // ticks near a boundary: the hard case
		for range 2000 {
			for _, r := range Cover(last, at, d) {
				if !PlausibleRound(r, at, d) {
					t.Fatalf("covers round %d at %v: not plausible", r, at)
				}
				covered[r]++
				last = r
			}
			at = at.Add(d + time.Duration(rng.Int64N(int64(2*jitter)+1)) - jitter)
		}
		first, lastR := Round(base, d), last
		for r := first + 1; r < lastR; r++ {
			if covered[r] != 1 {
				t.Fatalf("jitter %v: round %d covered %d times", jitter, r, covered[r])
			}
		}
	}
}

// members simulates an organization of n members at level j for rounds,
// feeding every published heartbeat to w; it returns the round after.
func members(w *Window, org string, n, level int, from, rounds uint64) uint64 {
	for r := from; r < from+rounds; r++ {
		for i := range n {
			p := fmt.Sprint("peer-", i)
			if rank := Rank(org, r, p); Passes(rank, level) {
				w.Add(p, r, level, rank, r)
			}
		}
	}
	return from + rounds
}

func TestWindowExactAtLevelZero(t *testing.T) {
	w := NewWindow(12)
	cur := members(w, "acme", 37, 0, 1000, 20)
	e, ok := w.Estimate(cur)
	if !ok || !e.Exact() || e.Peers != 37 || e.Rounds != 12 || e.Low != 37 {
		t.Fatalf("%+v %v", e, ok)
	}
}

func TestWindowCoverage(t *testing.T) {
	// 200 organizations' windows: the 95 % interval must cover the truth
	// in at least 90 % of them (the exact interval covers ≥ 95 % in
	// expectation; 90 % leaves room for chance at 200 trials) and the
	// mean estimate must be within 3 % of it.
	covered, sum := 0, 0.0
	const n, orgs = 1000, 200
	for o := range orgs {
		w := NewWindow(12)
		org := fmt.Sprint("org", o)
		cur := members(w, org, n, 12, 1000, 16) // p = 1/8: 125 a round
		e, ok := w.Estimate(cur)
		if !ok || e.Level != 12 || e.Rounds != 12 {
			t.Fatalf("%+v", e)
		}
		if e.Low <= n && n <= e.High {
			covered++
		}
		sum += e.Peers
	}
	if covered < orgs*90/100 {
		t.Errorf("interval covered the truth in %d of %d", covered, orgs)
	}
	if mean := sum / orgs; math.Abs(mean-n)/n > 0.03 {
		t.Errorf("mean estimate %.0f, truth %d", mean, n)
	}
}

func TestWindowRefusesLiesAndDuplicates(t *testing.T) {
	w := NewWindow(4)
	w.Start(100)
	// A rank that does not pass the claimed level is no sample.
	var liar string
	for i := 0; ; i++ {
		liar = fmt.Sprint("liar", i)
		if Rank("acme", 101, liar) > 0.9 {
			break
		}
	}
	if w.Add(liar, 101, 8, Rank("acme", 101, liar), 101) {
		t.Fatal("a rank failing its level was counted")
	}
	if !w.Add("p", 101, 0, 0.5, 101) || w.Add("p", 101, 0, 0.5, 101) {
		t.Fatal("duplicate (peer, round) counted twice or first refused")
	}
	if w.Add("q", 200, 0, 0.5, 101) || w.Add("q", 50, 0, 0.5, 101) {
		t.Fatal("a round far from now was counted")
	}
}

func TestWindowIgnoresLoneHighLevelClaim(t *testing.T) {
	// 500 members at level 4 and one claiming level 60: the receiver
	// keeps filtering at level 4, else it would throw away almost every
	// sample.
	w := NewWindow(6)
	for r := uint64(10); r < 20; r++ {
		for i := range 500 {
			p := fmt.Sprint("m", i)
			if rank := Rank("acme", r, p); Passes(rank, 4) {
				w.Add(p, r, 4, rank, r)
			}
		}
		for i := 0; ; i++ {
			p := fmt.Sprint("x", i)
			if rank := Rank("acme", r, p); Passes(rank, 60) {
				w.Add(p, r, 60, rank, r)
				break
			}
		}
	}
	e, _ := w.Estimate(20)
	if e.Level != 4 || e.Low > 500 || e.High < 500 {
		t.Fatalf("%+v", e)
	}
}

func TestControllerHysteresis(t *testing.T) {
	c := Controller{Budget: 100, Window: 12}
	if c.Update(90, 90, 1) != 0 {
		t.Fatal("under budget: sampled")
	}
	j := c.Update(1000, 1000, 2)
	if rate := 1000 * Prob(j); rate > 100 || rate < 100*math.Exp2(-0.25) {
		t.Fatalf("level %d: rate %.0f", j, rate)
	}
	// A small drop does not lower it; a big one does, only after a window.
	if c.Update(900, 950, 3) != j {
		t.Fatal("fell on a 10 % drop")
	}
	if c.Update(300, 330, 5) != j {
		t.Fatal("fell within a window of the last change")
	}
	if k := c.Update(300, 330, 14); k >= j || 300*Prob(k) > 100 {
		t.Fatalf("level %d after the drop (was %d)", k, j)
	}
	off := Controller{}
	if off.Update(1e6, 1e6, 1) != 0 {
		t.Fatal("budget 0 sampled")
	}
}

func TestMergeIsMedian(t *testing.T) {
	sums := []Summary{{Estimate: Estimate{Peers: 1000, Low: 900, High: 1100}},
		{Estimate: Estimate{Peers: 1e9, Low: 1e9, High: 1e9}}, // a liar
		{Estimate: Estimate{Peers: 1020, Low: 920, High: 1120}}}
	e, ok := Merge(sums)
	if !ok || e.Peers != 1020 || e.Low != 920 {
		t.Fatalf("%+v", e)
	}
	if _, ok := Merge(nil); ok {
		t.Fatal("merged nothing")
	}
}
