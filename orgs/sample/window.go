package sample

import (
	"slices"
)

// Estimate is one receiver's estimate of an organization's size from the
// samples of its window.
type Estimate struct {
	Peers   float64 // Samples / (Rounds × Prob(Level))
	Low     float64 // Garwood's 95 % interval, scaled likewise
	High    float64 //
	Samples int     // distinct (peer, round) samples whose rank passes Level
	Level   int     // the level the samples were filtered at
	Rounds  int     // complete rounds the window covers
}

// Exact reports whether the estimate is a count: level 0, where every
// member publishes every round.
func (e Estimate) Exact() bool { return e.Level == 0 }

// Conf is the confidence of every interval.
const Conf = 0.95

// adoptShare is the share of a round's publishers that must claim a level
// (or higher) for a receiver to filter at it. The highest level claimed
// keeps the estimate unbiased while members move up together, but one
// member could then claim the top level and starve every receiver of
// samples; a tenth (at least two publishers) costs at most a small,
// passing bias during a change of level.
const adoptShare = 0.1

// Window holds one organization's samples, as one receiver heard them,
// over its last Rounds complete rounds: at most one per peer and round,
// with the rank and the level its publisher claimed. It is not safe for
// concurrent use. The zero value is not usable: see NewWindow.
type Window struct {
	rounds int
	first  uint64 // the round this receiver started listening in (incomplete)
	seen   bool
	byRnd  map[uint64]*roundSamples
}

type roundSamples struct {
	ranks  map[string]float64
	levels []int // the level each publisher claimed, one per sample
}

// NewWindow returns an empty window of the given number of rounds.
func NewWindow(rounds int) *Window {
	return &Window{rounds: max(rounds, 1), byRnd: map[uint64]*roundSamples{}}
}

// Add records peer's heartbeat covering round r, with its claimed level,
// heard in round cur. It reports whether it is a new sample: false for a
// second heartbeat of the same peer and round, a round outside the window
// or a rank that does not pass the claimed level (the caller counts
// those: a member lying about its level or its round).
func (w *Window) Add(peer string, r uint64, level int, rank float64, cur uint64) bool {
	if !w.seen {
		w.first, w.seen = cur, true
	}
	if !Passes(rank, level) || r > cur+1 || r+uint64(w.rounds)+2 < cur {
		return false
	}
	rs := w.byRnd[r]
	if rs == nil {
		rs = &roundSamples{ranks: map[string]float64{}}
		w.byRnd[r] = rs
	}
	if _, dup := rs.ranks[peer]; dup {
		return false
	}
	rs.ranks[peer] = rank
	rs.levels = append(rs.levels, level)
	return true
}

// Start makes the window count from round cur on (the node started
// listening then), if it has not started already.
func (w *Window) Start(cur uint64) {
	if !w.seen {
		w.first, w.seen = cur, true
	}
}

// span is the window's complete rounds at cur: [from, to]; ok false when
// none is complete yet. A round is complete two rounds after it began: a
// member covers each round at most one tick late (Cover), and the heartbeat
// must still cross the network.
func (w *Window) span(cur uint64) (from, to uint64, ok bool) {
	if !w.seen || cur < 2 {
		return 0, 0, false
	}
	to = cur - 2
	from = w.first + 1 // the first round was heard only in part
	if to+1 > uint64(w.rounds) {
		from = max(from, to+1-uint64(w.rounds))
	}
	return from, to, from <= to
}

// Estimate is the estimate at round cur, over the window's complete
// rounds; ok false before one round is complete. It also forgets the
// rounds that left the window.
func (w *Window) Estimate(cur uint64) (Estimate, bool) {
	for r := range w.byRnd {
		if r+uint64(w.rounds)+2 < cur {
			delete(w.byRnd, r)
		}
	}
	from, to, ok := w.span(cur)
	if !ok {
		return Estimate{}, false
	}
	// The level is the highest adopted in the window or since, the rounds
	// not yet complete included: filtering older rounds at a level
	// claimed later is unbiased (they were published at a level as low
	// or lower), and the estimate switches as soon as the members do.
	level := 0
	for r, rs := range w.byRnd {
		if r >= from {
			level = max(level, rs.adopted())
		}
	}
	n := 0
	for r := from; r <= to; r++ {
		if rs := w.byRnd[r]; rs != nil {
			for _, rank := range rs.ranks {
				if Passes(rank, level) {
					n++
				}
			}
		}
	}
	rounds := int(to - from + 1)
	scale := 1 / (float64(rounds) * Prob(level))
	e := Estimate{Samples: n, Level: level, Rounds: rounds, Peers: float64(n) * scale}
	if level == 0 {
		e.Low, e.High = e.Peers, e.Peers
		return e, true
	}
	lo, hi := PoissonInterval(n, Conf)
	e.Low, e.High = lo*scale, hi*scale
	return e, true
}

// Level is the level the window filters at now, from the rounds it holds
// (0 when it holds none): what a member just joining adopts at once.
func (w *Window) Level() int {
	level := 0
	for _, rs := range w.byRnd {
		level = max(level, rs.adopted())
	}
	return level
}

// adopted is the highest level that at least adoptShare of the round's
// publishers (and two, when there are two) claim.
func (rs *roundSamples) adopted() int {
	if len(rs.levels) == 0 {
		return 0
	}
	ls := slices.Clone(rs.levels)
	slices.Sort(ls)
	k := max(2, int(float64(len(ls))*adoptShare+0.999))
	return ls[max(0, len(ls)-k)]
}

// Heard is how many distinct peers the window heard in rounds
// [cur-k, cur-1], whatever their rank: what an exact count over a liveness
// window of k rounds would see.
func (w *Window) Heard(cur uint64, k int) int {
	peers := map[string]struct{}{}
	for r, rs := range w.byRnd {
		if r < cur && r+uint64(k) >= cur {
			for p := range rs.ranks {
				peers[p] = struct{}{}
			}
		}
	}
	return len(peers)
}
