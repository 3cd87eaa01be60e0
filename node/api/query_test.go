package api

import (
	"testing"

	"github.com/orgpeer/orgpeer/orgs"
)

// wantName is an oracle written apart from orgs.ValidName's regular
// expression, so the fuzz target compares two implementations of the rule.
func wantName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

func FuzzParsePeerQuery(f *testing.F) {
	for _, s := range [][2]string{{"acme", "alive"}, {"", ""}, {"ACME", "dead"}, {"-x", "left"},
		{"a\n", "suspect"}, {"acme", "Alive"}, {"x.y_z-1", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, org, state string) {
		flt, err := ParsePeerQuery(org, state)
		wantOK := (org == "" || wantName(org)) &&
			(state == "" || state == "alive" || state == "suspect" || state == "left")
		if (err == nil) != wantOK {
			t.Fatalf("ParsePeerQuery(%q, %q) = %v; want ok=%v", org, state, err, wantOK)
		}
		if err != nil {
			return
		}
		if flt.Org != org {
			t.Fatalf("org %q became %q", org, flt.Org)
		}
		if state == "" && flt.State != orgs.StateUnknown || state != "" && flt.State.String() != state {
			t.Fatalf("state %q became %v", state, flt.State)
		}
	})
}
