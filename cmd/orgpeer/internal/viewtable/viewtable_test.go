package viewtable

import (
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// estimateSnapshot is a view with an exact organization, one estimated from
// this node's own samples and one from a census.
func estimateSnapshot() orgs.Snapshot {
	return orgs.Snapshot{Self: "12D3KooWself", Org: "acme", At: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC),
		Orgs: []orgs.OrgCounts{
			{Org: "acme", Mode: orgs.ModeExact, Alive: 7, Connected: 3, Suspect: 1, Verified: 7, Hosts: 2},
			{Org: "bigcorp", Mode: orgs.ModeEstimate, Alive: 41, Connected: 4, Verified: 41, Hosts: 39,
				Estimate: &orgs.Estimate{Peers: 1250, Low: 1180, High: 1320, Samples: 412, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}},
			{Org: "hugeco", Mode: orgs.ModeEstimate, Alive: 2, Verified: 2, Hosts: 2,
				Estimate: &orgs.Estimate{Peers: 20_400, Low: 19_100, High: 21_800, Samples: 96, Level: 8, WindowMs: 300_000, Source: orgs.SourceCensus}},
		},
		Total: orgs.OrgCounts{Mode: orgs.ModeExact, Alive: 50, Connected: 7, Suspect: 1, Verified: 50, Hosts: 43},
	}
}

func TestWriteShowsExactAndEstimatedRows(t *testing.T) {
	var b strings.Builder
	Write(&b, estimateSnapshot())
	out := b.String()
	t.Logf("\n%s", out)
	lines := strings.Split(out, "\n")
	field := func(prefix string, i int) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				if f := strings.Fields(l); len(f) > i {
					return f[i]
				}
			}
		}
		return ""
	}
	if got := field("acme (own)", 3); got != "7" { // "acme", "(own)", ORG ID, ALIVE
		t.Errorf("exact row's ALIVE %q, want 7", got)
	}
	if got := field("bigcorp", 2); got != "~1,250*" {
		t.Errorf("estimate row's ALIVE %q, want ~1,250*", got)
	}
	if got := field("bigcorp", 3); got != "4" {
		t.Errorf("estimate row's CONNECTED %q, want the 4 heard", got)
	}
	for _, want := range []string{
		"* bigcorp: estimate ~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3); the other columns count only the 41 members this node heard",
		"* hugeco: estimate ~20,400 (19,100–21,800, 95 %, 96 samples / 300 s, level 8, census): the median of its members' signed census summaries",
		"TOTAL counts the peers this node heard",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if table, _, _ := strings.Cut(out, "* "); strings.Contains(table, "census") {
		t.Error("census named in the table itself")
	}
}

// A view of exact rows only prints no notes.
func TestWriteExactHasNoNotes(t *testing.T) {
	s := estimateSnapshot()
	s.Orgs = s.Orgs[:1]
	var b strings.Builder
	Write(&b, s)
	if strings.Contains(b.String(), "*") || strings.Contains(b.String(), "estimate") {
		t.Errorf("notes in an exact view:\n%s", b.String())
	}
}
