// Package viewtable prints a node's view as the table that `orgpeer view`
// and the demo show.
package viewtable

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// Write prints a snapshot as an aligned table.
func Write(w io.Writer, s orgs.Snapshot) {
	fmt.Fprintf(w, "view of %s (org %s) at %s\n", s.Self, s.Org, s.At.Format(time.TimeOnly))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ORG\tORG ID\tALIVE\tCONNECTED\tSUSPECT\tLEFT\tVERIFIED\tUNVERIFIED\tHOSTS\tFRESHEST\tSTALEST")
	row := func(name string, o orgs.OrgCounts) {
		id := "-"
		if o.OrgID != "" {
			id = orgs.OrgID(o.OrgID).Short()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", name, id, o.Alive, o.Connected, o.Suspect,
			o.Left, o.Verified, o.Unverified, o.Hosts, ageCell(o.FreshestMs), ageCell(o.StalestMs))
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
}

func ageCell(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return (time.Duration(*ms) * time.Millisecond).Round(10 * time.Millisecond).String()
}
