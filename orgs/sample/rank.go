// Package sample is the algorithm of verifiable sampled heartbeats (#18):
// per round each member of an organization draws a rank anyone can
// recompute, publishes its heartbeat only when the rank passes the
// organization's sampling level, and receivers estimate the organization's
// size from the samples with an exact Poisson interval. It is pure logic:
// no network, no clock of its own (callers pass rounds and times).
//
// Level 0 is today's exact protocol: every member publishes every round.
package sample

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"time"
)

// LevelSteps is how many levels make one halving of the sampling
// probability: level j samples a member with probability 2^(-j/LevelSteps)
// per round. Whole octaves (1) would let an organization's heartbeat rate
// swing by 2x as it grows, plus the hysteresis; quarter octaves keep the
// rate a receiver hears within about 1.4x of the budget at any size.
const LevelSteps = 4

// MaxLevel bounds a level on the wire and in the controller: 2^-20 of a
// member per round, enough for organizations of a hundred million.
const MaxLevel = 20 * LevelSteps

// Prob is the probability that a member's rank passes level j.
func Prob(level int) float64 {
	if level <= 0 {
		return 1
	}
	return math.Exp2(-float64(level) / LevelSteps)
}

// Passes reports whether a rank passes level j: the member publishes (and
// a receiver counts) its heartbeat of that round.
func Passes(rank float64, level int) bool { return level <= 0 || rank < Prob(level) }

// Rank is a member's draw for one round, uniform in [0,1): the first 53
// bits of SHA-256 over the organization's name, the round and the peer ID.
// Anyone can recompute it; a member cannot choose it without another peer
// ID, and its credential binds the peer ID to the organization. The name
// rather than the org ID keys it so that a receiver that has not yet
// received a compact heartbeat's credential computes the same rank.
func Rank(org string, round uint64, peerID string) float64 {
	h := sha256.New()
	h.Write([]byte("orgpeer-sample/1\x00"))
	h.Write([]byte(org))
	var b [9]byte
	binary.BigEndian.PutUint64(b[1:], round)
	h.Write(b[:])
	h.Write([]byte(peerID))
	var sum [sha256.Size]byte
	return float64(binary.BigEndian.Uint64(h.Sum(sum[:0]))>>11) / (1 << 53)
}

// Round is the round a time falls in: rounds of length d since the Unix
// epoch, so that every member's clock names the same rounds.
func Round(t time.Time, d time.Duration) uint64 {
	if d <= 0 || t.UnixMilli() < 0 {
		return 0
	}
	return uint64(t.UnixMilli() / d.Milliseconds())
}

// RoundStart is when round r begins.
func RoundStart(r uint64, d time.Duration) time.Time {
	return time.UnixMilli(int64(r) * d.Milliseconds())
}

// PlausibleRound reports whether a heartbeat that says it covers round r
// may have been sent at sent: its own round or a neighbour. A member's
// ticks drift across round boundaries, and it covers each round once, a
// tick early or late (see Cover); a sender cannot gain a sample by it,
// since receivers count at most one per peer and round.
func PlausibleRound(r uint64, sent time.Time, d time.Duration) bool {
	s := Round(sent, d)
	return r+1 >= s && r <= s+1
}

// Cover returns the rounds a member's heartbeat tick at now covers, given
// the last round it covered (0: none): every round once, with no gaps while
// the ticks keep coming. A tick in a round already covered covers the next
// one (early); a tick that finds a round skipped covers it too (late, at
// most one back); after a longer silence it starts from now's round.
func Cover(last uint64, now time.Time, d time.Duration) []uint64 {
	cur := Round(now, d)
	switch {
	case last == 0 || last+2 < cur:
		return []uint64{cur}
	case last >= cur+1:
		return nil // already a round ahead: nothing is due
	case last == cur:
		return []uint64{cur + 1}
	case last+1 == cur:
		return []uint64{cur}
	}
	return []uint64{last + 1, cur} // one round skipped
}
