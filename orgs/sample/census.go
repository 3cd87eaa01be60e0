package sample

import (
	"slices"
)

// Census: an organization a node does not follow still gets a size, from
// a few of its members' signed summaries of their own estimate. In each
// census window a member reports only when its census rank falls below
// Reporters/n̂ (n̂ its own estimate): about Reporters members per window,
// which anyone can check against the summary's own estimate.

// Reporters is how many members of an organization report per census
// window, on average.
const Reporters = 3

// CensusRank is a member's draw for census window w: a rank of its own,
// apart from the heartbeat ranks of the same numbers.
func CensusRank(org string, w uint64, peerID string) float64 {
	return Rank("census/"+org, w, peerID)
}

// Reports reports whether a member with census rank rank reports in a
// window when its organization's estimated size is n.
func Reports(rank, n float64) bool { return n <= Reporters || rank < Reporters/n }

// Summary is one member's signed census report.
type Summary struct {
	Reporter string
	Window   uint64
	Estimate
}

// Merge is the census estimate from the summaries of one organization's
// latest window: the median of each figure, since a minority of members
// lying can then move it no further than the honest spread. ok false for
// none. Samples is the median of the reporters' own.
func Merge(sums []Summary) (Estimate, bool) {
	if len(sums) == 0 {
		return Estimate{}, false
	}
	med := func(f func(Summary) float64) float64 {
		xs := make([]float64, len(sums))
		for i, s := range sums {
			xs[i] = f(s)
		}
		slices.Sort(xs)
		if n := len(xs); n%2 == 1 {
			return xs[n/2]
		} else {
			return (xs[n/2-1] + xs[n/2]) / 2
		}
	}
	return Estimate{
		Peers:   med(func(s Summary) float64 { return s.Peers }),
		Low:     med(func(s Summary) float64 { return s.Low }),
		High:    med(func(s Summary) float64 { return s.High }),
		Samples: int(med(func(s Summary) float64 { return float64(s.Samples) })),
		Level:   int(med(func(s Summary) float64 { return float64(s.Level) })),
		Rounds:  int(med(func(s Summary) float64 { return float64(s.Rounds) })),
	}, true
}
