package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgpeer/orgpeer/orgs"
)

// The bookkeeping without an orgpeer binary: names, org keys, the truth,
// exactness, and a start whose process exits at once.
func TestClusterKeepsTheTruth(t *testing.T) {
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1) to stand in for a node that exits")
	}
	dir := t.TempDir()
	c := New(falseBin, dir)
	if err := c.EnsureOrgKeys("acme", "globex"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"acme.org", "acme.orgkey", "globex.org", "globex.orgkey"} {
		if _, err := os.Stat(filepath.Join(dir, "orgs", f)); err != nil {
			t.Errorf("org key file: %v", err)
		}
	}
	a := c.Add(Spec{Org: "acme", Host: HostName(0)})
	g := c.Add(Spec{Org: "globex", Host: HostName(1), Impostor: true})
	if a.Name() != "n01" || g.Name() != "n02" || a.DataDir() != filepath.Join(dir, "n01") || g.Host() != "host-2" {
		t.Fatalf("members %s %s %s %s", a.Name(), g.Name(), a.DataDir(), g.Host())
	}
	if c.Member("n02") != g || c.Member("n09") != nil {
		t.Fatal("Member does not find members by name")
	}
	if len(c.Live()) != 0 || len(c.Truth()) != 0 || a.Client() != nil || a.PID() != 0 || a.Running() {
		t.Fatal("a member that never started counts as up")
	}
	if got := c.OrgNames(); strings.Join(got, ",") != "acme,globex" {
		t.Fatalf("org names %v", got)
	}

	// Counted exactly means verified members, per organization.
	truth := map[string]int{"acme": 1}
	exact := orgs.Snapshot{Orgs: []orgs.OrgCounts{{Org: "acme", Alive: 2, Verified: 1}}}
	if !c.IsExact(exact, truth) {
		t.Error("a view with the verified members of every org is not exact")
	}
	if c.IsExact(orgs.Snapshot{Orgs: []orgs.OrgCounts{{Org: "acme", Alive: 1}}}, truth) {
		t.Error("an unverified count is exact")
	}
	// An estimated row is right when its interval holds the truth, whatever
	// the members it heard.
	est := func(low, high float64) orgs.Snapshot {
		return orgs.Snapshot{Orgs: []orgs.OrgCounts{{Org: "acme", Verified: 0, Mode: orgs.ModeEstimate,
			Estimate: &orgs.Estimate{Peers: (low + high) / 2, Low: low, High: high, Samples: 9}}}}
	}
	if !c.IsExact(est(0.5, 3), truth) {
		t.Error("an estimate whose interval holds the truth is not right")
	}
	if c.IsExact(est(1.5, 3), truth) {
		t.Error("an estimate whose interval misses the truth is right")
	}

	// An impostor needs no credential, so its process starts at once, and
	// false(1) exits at once.
	err = c.Start(t.Context(), g)
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Fatalf("start of a process that exits: %v", err)
	}
	if g.Up() || g.Running() || g.PID() == 0 {
		t.Fatalf("after the exit: up %v, running %v, pid %d", g.Up(), g.Running(), g.PID())
	}
	if _, err := os.Stat(c.LogPath(g)); err != nil {
		t.Errorf("no log: %v", err)
	}
	// A member needs its identity from `orgpeer id`, which false(1) refuses.
	if err := c.Start(t.Context(), a); err == nil || !strings.Contains(err.Error(), "identity of n01") {
		t.Fatalf("start without an identity: %v", err)
	}
	c.StopAll()
}
