// Package model is a MODEL-LEVEL simulation of sampled heartbeats: the
// algorithm of orgs/sample alone, with no cryptography, no transport and
// no libp2p. Members publish or not by their real ranks and levels;
// observers receive each published heartbeat unless a random loss drops
// it, in the round it was sent, and estimate with the real Window and
// Controller. It answers how accurate and how costly the algorithm is at
// sizes the real-stack simulator (node/nodesim) cannot reach; it says
// nothing of the network's own costs. Every figure it prints says so.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/orgpeer/orgpeer/orgs/sample"
)

// Label heads every output of the model.
const Label = "MODEL-LEVEL SIMULATION (algorithm only: no crypto, no transport)"

// Params are one run's settings.
type Params struct {
	Nodes     int           // members in the whole network, the small orgs included
	Mix       string        // "uniform10" (ten equal orgs) or "zipf20" (twenty orgs, sizes 1/k); both add SmallOrgs
	SmallOrgs int           // orgs of SmallSize members beside the mix: they must stay exact
	SmallSize int           // 100: the promise
	Budget    float64       // heartbeats per round an org may publish (node.Config.SampleBudget)
	Window    int           // rounds in an estimator window
	Round     time.Duration // round length: the heartbeat interval (5 s in lan)
	Liveness  int           // rounds of an exact count's liveness window (3 in lan)
	Observers int           // nodes whose view is measured; each follows every org
	Loss      float64       // chance that a heartbeat misses one observer
	Warm      int           // rounds before measuring
	Measure   int           // rounds measured before the kill
	After     int           // rounds after killing KillShare of the largest org
	KillShare float64
	Seed      uint64
}

// Defaults are the lan preset's figures.
func Defaults() Params {
	return Params{Mix: "uniform10", SmallOrgs: 5, SmallSize: 100, Budget: 128, Window: 16, Round: 5 * time.Second, Liveness: 3,
		Observers: 20, Loss: 0.001, Warm: 30, Measure: 60, After: 30, KillShare: 0.1, Seed: 1}
}

// Result is one run's figures.
type Result struct {
	Label  string `json:"label"`
	Params Params `json:"params"`
	Orgs   int    `json:"orgs"`
	// Sampled is the orgs in estimate mode at the end of the warm-up.
	Sampled int `json:"sampled_orgs"`
	// Err95 is the 95th percentile of |estimate - truth| / truth over
	// every (observer, sampled org, round) measured.
	Err95 float64 `json:"err95"`
	// Coverage is the share of those whose 95 % interval held the truth.
	Coverage float64 `json:"coverage"`
	Points   int     `json:"points"`
	// Heartbeats per second one observer receives from one org: the mean
	// over orgs, and the largest org's.
	HBPerOrgMean float64 `json:"hb_per_s_per_org_mean"`
	HBPerOrgMax  float64 `json:"hb_per_s_per_org_max"`
	HBTotal      float64 `json:"hb_per_s_total"`
	// SmallExact says whether every small org (SmallSize members) was counted
	// exactly (level 0, the count equal to the truth) at every observer
	// and round.
	SmallExact bool `json:"small_orgs_exact"`
	// LevelMin and LevelMax are the levels of the largest org's members.
	LevelMax int `json:"level_max"`
	// After the kill of KillShare of the largest org: seconds until every
	// observer's interval held the new truth, at its first such round
	// (median and worst observer); and until every observer's interval
	// held it for good.
	KillCoverS  float64 `json:"kill_cover_s_median"`
	KillCoverWS float64 `json:"kill_cover_s_worst"`
	KillStayS   float64 `json:"kill_stay_s"`
	// Rises: after the kill, rounds in which an observer's estimate of the
	// org rose above its previous round's, of all observer-rounds; and the
	// largest rise above the estimate at the kill, relative to the new
	// truth.
	Rises      int     `json:"rises_after_kill"`
	RiseRounds int     `json:"observer_rounds_after_kill"`
	MaxRise    float64 `json:"max_rise_above_kill_estimate"`
	WallS      float64 `json:"wall_s"`
}

type org struct {
	name    string
	members []string
	alive   []bool
	n       int                  // alive members
	views   []*sample.Window     // members' own windows: three stand in for all
	ctrls   []*sample.Controller // their controllers, one each
	obs     []*sample.Window     // the observers'
	heard   []int                // heartbeats each observer received, measured rounds only
	pending []int
}

// sizes is the mix's org sizes for n members (small orgs apart).
func sizes(mix string, n int) []int {
	var w []float64
	switch mix {
	case "zipf20":
		for k := 1; k <= 20; k++ {
			w = append(w, 1/float64(k))
		}
	default:
		for range 10 {
			w = append(w, 1)
		}
	}
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	out := make([]int, len(w))
	for i, x := range w {
		out[i] = max(1, int(math.Round(float64(n)*x/sum)))
	}
	return out
}

const memberViews = 3

// Run runs the model.
func Run(p Params) Result {
	start := time.Now()
	rng := rand.New(rand.NewPCG(p.Seed, 0x5a3))
	main := sizes(p.Mix, p.Nodes-p.SmallSize*p.SmallOrgs)
	all := append(slices.Clone(main), slices.Repeat([]int{p.SmallSize}, p.SmallOrgs)...)
	var os []*org
	for i, size := range all {
		o := &org{name: fmt.Sprintf("org%02d", i), n: size}
		for m := range size {
			o.members = append(o.members, fmt.Sprintf("o%d-m%d", i, m))
			o.alive = append(o.alive, true)
		}
		// The network has been running: members start at the level the
		// org's size calls for (a cold start of everyone at once is not
		// modelled), and every window starts empty.
		start := levelFor(float64(size), p.Budget)
		for range memberViews {
			o.views = append(o.views, sample.NewWindow(p.Window))
			c := &sample.Controller{Budget: p.Budget, Window: p.Window}
			c.Follow(start, 0)
			o.ctrls = append(o.ctrls, c)
		}
		for range p.Observers {
			o.obs = append(o.obs, sample.NewWindow(p.Window))
		}
		o.heard, o.pending = make([]int, p.Observers), make([]int, p.Observers)
		os = append(os, o)
	}
	largest := os[0]
	res := Result{Label: Label, Params: p, Orgs: len(os), SmallExact: true}
	var errs []float64
	covered := 0
	const r0 = 1_000_000
	total := p.Warm + p.Measure + p.After
	killAt := r0 + uint64(p.Warm+p.Measure)
	var killEst []float64
	prevEst := make([]float64, p.Observers)
	firstCover := make([]int, p.Observers)
	for i := range firstCover {
		firstCover[i] = -1
	}
	lastMiss := -1
	for step := range total {
		r := r0 + uint64(step)
		if r == killAt {
			kill := int(math.Round(float64(largest.n) * p.KillShare))
			for _, i := range rng.Perm(len(largest.members))[:kill] {
				largest.alive[i] = false
			}
			largest.n -= kill
		}
		// Publish: each alive member whose rank passes its level.
		for _, o := range os {
			for i, id := range o.members {
				if !o.alive[i] {
					continue
				}
				level := o.ctrls[i%memberViews].Level()
				rank := sample.Rank(o.name, r, id)
				if !sample.Passes(rank, level) {
					continue
				}
				for _, w := range o.views {
					if rng.Float64() >= p.Loss {
						w.Add(id, r, level, rank, r)
					}
				}
				for k, w := range o.obs {
					if rng.Float64() >= p.Loss {
						w.Add(id, r, level, rank, r)
						o.pending[k]++
					}
				}
			}
		}
		// The next round begins: estimate and adjust.
		cur := r + 1
		measuring := step >= p.Warm
		for i, o := range os {
			for k, w := range o.views {
				if e, ok := w.Estimate(cur); ok {
					o.ctrls[k].Update(e.Peers, e.High, cur)
				}
			}
			for k, w := range o.obs {
				if measuring {
					o.heard[k] += o.pending[k]
				}
				o.pending[k] = 0
				e, ok := w.Estimate(cur)
				if !ok || !measuring {
					continue
				}
				if e.Exact() {
					// At level 0 a node counts from its view: the members
					// heard within the liveness window.
					h := float64(w.Heard(cur, p.Liveness))
					e.Peers, e.Low, e.High = h, h, h
				}
				truth := float64(o.n)
				if i >= len(main) { // a small org
					if !e.Exact() || int(e.Peers) != o.n {
						res.SmallExact = false
					}
				}
				if o != largest || r < killAt {
					if e.Exact() {
						continue
					}
					errs = append(errs, math.Abs(e.Peers-truth)/truth)
					if e.Low <= truth && truth <= e.High {
						covered++
					}
					continue
				}
				// After the kill, in the largest org.
				if r == killAt {
					killEst = append(killEst, e.Peers)
				} else {
					res.RiseRounds++
					if e.Peers > prevEst[k] {
						res.Rises++
					}
					res.MaxRise = max(res.MaxRise, (e.Peers-killEst[k])/truth)
				}
				prevEst[k] = e.Peers
				if e.Low <= truth && truth <= e.High {
					if firstCover[k] < 0 {
						firstCover[k] = int(r - killAt)
					}
				} else {
					lastMiss = int(r - killAt)
				}
			}
		}
		if step == p.Warm {
			for _, o := range os {
				if o.ctrls[0].Level() > 0 {
					res.Sampled++
				}
			}
		}
	}
	res.Points = len(errs)
	if len(errs) > 0 {
		slices.Sort(errs)
		res.Err95 = errs[int(0.95*float64(len(errs)-1))]
		res.Coverage = float64(covered) / float64(len(errs))
	}
	rate := func(o *org) float64 {
		sum := 0
		for _, h := range o.heard {
			sum += h
		}
		return float64(sum) / float64(len(o.heard)) / float64(p.Measure+p.After) / p.Round.Seconds()
	}
	for _, o := range os {
		x := rate(o)
		res.HBTotal += x
		res.HBPerOrgMax = max(res.HBPerOrgMax, x)
	}
	res.HBPerOrgMean = res.HBTotal / float64(len(os))
	res.LevelMax = largest.ctrls[0].Level()
	// The cover times, in seconds from the kill; a round's estimate is
	// known at its end.
	var covers []float64
	for _, c := range firstCover {
		if c < 0 {
			c = p.After
		}
		covers = append(covers, float64(c+1)*p.Round.Seconds())
	}
	slices.Sort(covers)
	res.KillCoverS, res.KillCoverWS = covers[len(covers)/2], covers[len(covers)-1]
	res.KillStayS = float64(lastMiss+2) * p.Round.Seconds()
	res.WallS = time.Since(start).Seconds()
	return res
}

// levelFor is the level a controller settles at for n members.
func levelFor(n, budget float64) int {
	c := sample.Controller{Budget: budget}
	return c.Update(n, n, 0)
}
