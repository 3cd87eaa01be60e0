package orgs

import "testing"

func TestEstimateStrings(t *testing.T) {
	e := Estimate{Peers: 1250.4, Low: 1180.6, High: 1319.2, Samples: 412, Level: 3, WindowMs: 60_000, Source: SourceSamples}
	for _, tc := range []struct {
		got, want string
	}{
		{e.String(), "~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3)"},
		{e.Short(), "~1,250"},
		{Estimate{Peers: 12_345_678, Low: 12_000_000, High: 12_700_000.2, Samples: 1, Level: 12, WindowMs: 2500, Source: SourceCensus}.String(),
			"~12,345,678 (12,000,000–12,700,001, 95 %, 1 sample / 2.5 s, level 12, census)"},
		{OrgCounts{Mode: ModeEstimate, Alive: 40, Estimate: &e}.CountString(), e.String()},
		{OrgCounts{Mode: ModeExact, Alive: 1234}.CountString(), "1,234"},
		{OrgCounts{Mode: ModeEstimate, Alive: 40}.CountString(), "40"}, // no estimate: what it holds
		{Thousands(-1234567), "-1,234,567"},
		{Thousands(999), "999"},
		{Thousands(0), "0"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if c := (OrgCounts{Mode: ModeEstimate, Alive: 40, Estimate: &e}); c.Count() != 1250 || !c.Estimated() {
		t.Errorf("estimate row: Count %d, Estimated %t", c.Count(), c.Estimated())
	}
	if c := (OrgCounts{Mode: ModeExact, Alive: 40, Estimate: &e}); c.Count() != 40 || c.Estimated() {
		t.Errorf("exact row: Count %d, Estimated %t", c.Count(), c.Estimated())
	}
	if !e.Contains(1180.6) || !e.Contains(1319.2) || e.Contains(1180) || e.Contains(1320) {
		t.Error("Contains: the interval is closed, no wider")
	}
}

// A snapshot's zero row for an organization it does not have is exact, as
// every row the view counts itself.
func TestSnapshotZeroRowsAreExact(t *testing.T) {
	v, _, _ := newTestView(t)
	v.KeepOrg("globex") // counted, no member heard: a zero row
	s := v.Snapshot()
	for _, o := range append(s.Orgs, s.Total) {
		if o.Mode != ModeExact || o.Estimate != nil {
			t.Errorf("row %q of the view: mode %q, estimate %v", o.Org, o.Mode, o.Estimate)
		}
	}
	if m := s.OrgCounts("hooli").Mode; m != ModeExact {
		t.Errorf("OrgCounts of a missing org: mode %q", m)
	}
	if m := s.ByID("k51").Mode; m != ModeExact {
		t.Errorf("ByID of a missing org: mode %q", m)
	}
}
