package sample

import (
	"math"
	"sync"
)

// PoissonInterval is Garwood's exact interval for the mean of a Poisson
// count k at confidence conf (0.95): [G(α/2; k), G(1-α/2; k+1)], G the
// quantile of the gamma distribution of unit scale (χ²/2). Exact means it
// covers at least conf for every mean, never less: wider than the normal
// approximation when k is small.
func PoissonInterval(k int, conf float64) (lo, hi float64) {
	key := memoKey{k, conf}
	if k < memoMax {
		memoMu.Lock()
		iv, ok := memo[key]
		memoMu.Unlock()
		if ok {
			return iv[0], iv[1]
		}
	}
	lo, hi = garwood(k, conf)
	if k < memoMax {
		memoMu.Lock()
		memo[key] = [2]float64{lo, hi}
		memoMu.Unlock()
	}
	return lo, hi
}

// The intervals already computed, by count: every snapshot asks for one
// per sampled organization, and the bisection costs some thousand
// evaluations of the incomplete gamma. Counts are bounded by the samples a
// window holds, which the budget bounds.
const memoMax = 1 << 16

type memoKey struct {
	k    int
	conf float64
}

var (
	memoMu sync.Mutex
	memo   = map[memoKey][2]float64{}
)

func garwood(k int, conf float64) (lo, hi float64) {
	a := (1 - conf) / 2
	if k > 0 {
		lo = gammaQuantile(a, float64(k))
	}
	return lo, gammaQuantile(1-a, float64(k+1))
}

// gammaQuantile inverts the regularized lower incomplete gamma P(s, x) in
// x by bisection: monotone, and 100 halvings reach float precision.
func gammaQuantile(p, s float64) float64 {
	lo, hi := 0.0, s+10*math.Sqrt(s)+10
	for gammaP(s, hi) < p {
		hi *= 2
	}
	for range 100 {
		mid := (lo + hi) / 2
		if gammaP(s, mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// gammaP is the regularized lower incomplete gamma function P(s, x): its
// series below s+1, else one minus Lentz's continued fraction for Q
// (Numerical Recipes, 6.2).
func gammaP(s, x float64) float64 {
	if x <= 0 {
		return 0
	}
	lg, _ := math.Lgamma(s)
	front := math.Exp(s*math.Log(x) - x - lg)
	if x < s+1 {
		sum, term := 1/s, 1/s
		for n := 1.0; n < 10000; n++ {
			term *= x / (s + n)
			sum += term
			if term < sum*1e-15 {
				break
			}
		}
		return sum * front
	}
	const tiny = 1e-300
	b := x + 1 - s
	c, d := 1/tiny, 1/b
	f := d
	for i := 1.0; i < 10000; i++ {
		an := -i * (i - s)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		f *= delta
		if math.Abs(delta-1) < 1e-15 {
			break
		}
	}
	return 1 - front*f
}
