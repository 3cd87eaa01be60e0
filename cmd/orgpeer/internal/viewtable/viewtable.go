// Package viewtable prints a node's view as the table that `orgpeer view`
// and the demo show.
package viewtable

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// Write prints a snapshot as an aligned table.
func Write(w io.Writer, s orgs.Snapshot) { WriteTrend(w, s, nil) }

// WriteTrend prints a snapshot as an aligned table, with a TREND column
// of what trend gives each row when it is not nil.
//
// An organization counted exactly shows its counts as they are. One whose
// count is an estimate shows the point estimate in ALIVE ("~1,250") and
// its other columns count only the members this node heard (exact lower
// bounds); a line under the table gives the estimate in full, its 95 %
// interval, sample size, window and level, and says when it is a census.
func WriteTrend(w io.Writer, s orgs.Snapshot, trend func(orgs.OrgCounts) string) {
	fmt.Fprintf(w, "view of %s (org %s) at %s\n", s.Self, s.Org, s.At.Format(time.TimeOnly))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "ORG\tORG ID\tALIVE\tCONNECTED\tSUSPECT\tLEFT\tVERIFIED\tUNVERIFIED\tHOSTS\tFRESHEST\tSTALEST"
	if trend != nil {
		head += "\tTREND"
	}
	fmt.Fprintln(tw, head)
	var notes []string
	row := func(name string, o orgs.OrgCounts) {
		id := "-"
		if o.OrgID != "" {
			id = orgs.OrgID(o.OrgID).Short()
		}
		alive := strconv.Itoa(o.Alive)
		if o.Estimated() {
			alive = o.Estimate.Short() + "*"
			notes = append(notes, fmt.Sprintf("* %s: estimate %s%s; the other columns count only the %d members this node heard",
				name, o.Estimate, censusNote(o.Estimate.Source), o.Alive))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s", name, id, alive, o.Connected, o.Suspect,
			o.Left, o.Verified, o.Unverified, o.Hosts, ageCell(o.FreshestMs), ageCell(o.StalestMs))
		if trend != nil {
			fmt.Fprintf(tw, "\t%s", trend(o))
		}
		fmt.Fprintln(tw)
	}
	for _, o := range s.Orgs {
		name := o.Org
		if o.Org == s.Org {
			name += " (own)"
		}
		row(name, o)
	}
	row("TOTAL", s.Total)
	tw.Flush()
	if len(notes) > 0 && !s.Total.Estimated() {
		notes = append(notes, "  TOTAL counts the peers this node heard, not the estimates")
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// censusNote says where a census estimate comes from.
func censusNote(source string) string {
	if source == orgs.SourceCensus {
		return ": the median of its members' signed census summaries (this node does not follow it)"
	}
	return ""
}

// Sparkline draws vals as bars from zero to the largest of them, one
// character each.
func Sparkline(vals []int) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	top := 0
	for _, v := range vals {
		top = max(top, v)
	}
	out := make([]rune, len(vals))
	for i, v := range vals {
		switch {
		case top == 0 || v <= 0:
			out[i] = ' '
		default:
			out[i] = levels[(v*len(levels)-1)/top]
		}
	}
	return string(out)
}

func ageCell(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return (time.Duration(*ms) * time.Millisecond).Round(10 * time.Millisecond).String()
}
