package sample

// The controller's hysteresis: it rises as soon as the expected heartbeats
// per round at its level pass the budget, and falls only to a level whose
// rate would stay under down × budget even at the upper end of the
// estimate's interval, at most once per window: a small budget's noisy
// estimates would otherwise make it swing.
const down = 0.9

// Controller picks the level one member publishes at for its organization,
// from the organization's estimated size: the lowest level at which the
// expected heartbeats per round stay within Budget. Budget 0 never samples.
// Every member sees the same heartbeats and so the same estimate: they
// move together. It is not safe for concurrent use.
type Controller struct {
	Budget float64 // heartbeats per round the organization may publish
	Window int     // rounds of the estimator window: the wait between falls

	level   int
	changed uint64 // the round of the last change
}

// Level is the current level.
func (c *Controller) Level() int { return c.level }

// Follow raises the level to one that the organization's publishers use
// (a member that just started adopts it before it has an estimate).
func (c *Controller) Follow(level int, round uint64) {
	if c.Budget > 0 && level > c.level {
		c.level, c.changed = min(level, MaxLevel), round
	}
}

// Update takes the estimate of the organization's size at round (n, and
// high the upper end of its interval) and returns the level.
func (c *Controller) Update(n, high float64, round uint64) int {
	if c.Budget <= 0 {
		c.level = 0
		return 0
	}
	fit := func(n, budget float64) int {
		j := 0
		for j < MaxLevel && n*Prob(j) > budget {
			j++
		}
		return j
	}
	switch up, dn := fit(n, c.Budget), fit(max(n, high), down*c.Budget); {
	case up > c.level:
		c.level, c.changed = up, round
	case dn < c.level && round >= c.changed+uint64(c.Window):
		c.level, c.changed = dn, round
	}
	return c.level
}
