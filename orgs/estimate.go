package orgs

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Estimated reports whether c's count is an estimate: Mode says so and
// the Estimate is there. A row that says estimate without one is shown as
// what it still holds, the members heard.
func (c OrgCounts) Estimated() bool { return c.Mode == ModeEstimate && c.Estimate != nil }

// Count is the row's size as one whole number: the point estimate,
// rounded, of an estimate row; Alive otherwise.
func (c OrgCounts) Count() int {
	if c.Estimated() {
		return int(math.Round(c.Estimate.Peers))
	}
	return c.Alive
}

// CountString is the row's size as people read it: "1,250" for an exact
// row, the estimate with its interval for an estimate row (Estimate.String).
func (c OrgCounts) CountString() string {
	if c.Estimated() {
		return c.Estimate.String()
	}
	return Thousands(c.Alive)
}

// Short is the point estimate alone, "~1,250", for a narrow column.
func (e Estimate) Short() string { return "~" + Thousands(int(math.Round(e.Peers))) }

// String is the estimate with everything a reader needs to judge it:
// "~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3)", and ", census"
// before the parenthesis closes when it is the median of members' census
// summaries rather than this node's own samples. The interval's bounds are
// rounded outwards, so that it never looks narrower than it is.
func (e Estimate) String() string {
	var b strings.Builder
	b.WriteString(e.Short())
	b.WriteString(" (")
	b.WriteString(Thousands(int(math.Floor(e.Low))))
	b.WriteString("–")
	b.WriteString(Thousands(int(math.Ceil(e.High))))
	b.WriteString(", 95 %, ")
	b.WriteString(Thousands(e.Samples))
	if e.Samples == 1 {
		b.WriteString(" sample / ")
	} else {
		b.WriteString(" samples / ")
	}
	b.WriteString(windowString(e.WindowMs))
	b.WriteString(", level ")
	b.WriteString(strconv.Itoa(e.Level))
	if e.Source == SourceCensus {
		b.WriteString(", census")
	}
	b.WriteString(")")
	return b.String()
}

// Contains reports whether n lies within the estimate's 95 % interval.
func (e Estimate) Contains(n float64) bool { return e.Low <= n && n <= e.High }

// windowString is a window in whole seconds ("60 s"), or tenths below
// ten seconds ("2.5 s").
func windowString(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d < 10*time.Second && d%time.Second != 0 {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return Thousands(int(d.Round(time.Second)/time.Second)) + " s"
}

// Thousands writes n with a comma between groups of three digits: 12,345.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
