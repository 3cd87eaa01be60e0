package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/orgs"
)

// netnsPair creates two network namespaces joined by a veth pair, with the
// given addresses on either end, and removes them when the test ends.
// Traffic between them never leaves this machine.
func netnsPair(t *testing.T, addrA, addrB string) (nsA, nsB, linkA string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition test needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("partition test needs iproute2's ip")
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	nsA, nsB, linkA, linkB := "opA"+id, "opB"+id, "opa"+id, "opb"+id
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", nsA)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsA).Run() })
	ip("netns", "add", nsB)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsB).Run() })
	ip("link", "add", linkA, "type", "veth", "peer", "name", linkB)
	ip("link", "set", linkA, "netns", nsA)
	ip("link", "set", linkB, "netns", nsB)
	ip("-n", nsA, "addr", "add", addrA+"/24", "dev", linkA)
	ip("-n", nsB, "addr", "add", addrB+"/24", "dev", linkB)
	for _, ns := range []string{nsA, nsB} {
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("-n", nsA, "link", "set", linkA, "up")
	ip("-n", nsB, "link", "set", linkB, "up")
	return nsA, nsB, linkA
}

// nsView runs `orgpeer view --json` inside p's namespace, where its API is.
func nsView(t testing.TB, p *cluster.Proc) (orgs.Snapshot, error) {
	var s orgs.Snapshot
	out, err := exec.Command("ip", "netns", "exec", p.Netns(), orgpeerBin(t), "view", "--data-dir", p.DataDir(), "--json").Output()
	if err != nil {
		return s, fmt.Errorf("view at %s: %v", p.Name(), err)
	}
	return s, json.Unmarshal(out, &s)
}

func TestPartitionAndHeal(t *testing.T) {
	const addrA, addrB = "10.250.77.1", "10.250.77.2"
	nsA, nsB, linkA := netnsPair(t, addrA, addrB)
	c := newTestCluster(t)
	if err := c.EnsureOrgKeys("acme", "globex"); err != nil {
		t.Fatal(err)
	}
	var sideA, sideB []*cluster.Proc
	var boot []string
	for i, spec := range []struct{ org, ns, addr string }{
		{"acme", nsA, addrA}, {"globex", nsA, addrA}, {"acme", nsB, addrB}, {"globex", nsB, addrB},
	} {
		p := c.Add(cluster.Spec{Org: spec.org, Host: spec.ns, Bootstrap: boot, Netns: spec.ns,
			Listen: []string{"/ip4/" + spec.addr + "/tcp/0", "/ip4/" + spec.addr + "/udp/0/quic-v1"}})
		if err := c.Start(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			boot = p.Info().Addrs[:1]
		}
		if spec.ns == nsA {
			sideA = append(sideA, p)
		} else {
			sideB = append(sideB, p)
		}
	}
	counting := func(ps []*cluster.Proc, want map[string]int) func() string {
		return func() string {
			for _, p := range ps {
				s, err := nsView(t, p)
				if err != nil {
					return err.Error()
				}
				for org, n := range want {
					if got := s.OrgCounts(org); got.Alive != n || got.Verified != n {
						return fmt.Sprintf("%s counts %s %+v, want %d", p.Name(), org, got, n)
					}
				}
			}
			return ""
		}
	}
	all := append(append([]*cluster.Proc{}, sideA...), sideB...)
	full := map[string]int{"acme": 2, "globex": 2}
	t.Logf("both sides converged in %v", poll(t, 30*time.Second, counting(all, full)))

	link := func(state string) {
		if out, err := exec.Command("ip", "-n", nsA, "link", "set", linkA, state).CombinedOutput(); err != nil {
			t.Fatalf("link %s: %v %s", state, err, out)
		}
	}
	link("down")
	half := map[string]int{"acme": 1, "globex": 1}
	// Liveness window (4.5 s; a cut link refuses nothing, so probes do
	// not decide) plus a margin; each side keeps its own exact.
	took := poll(t, 8*time.Second, func() string {
		if msg := counting(sideA, half)(); msg != "" {
			return msg
		}
		return counting(sideB, half)()
	})
	t.Logf("partition: each side counts only itself after %v", took)

	link("up")
	t.Logf("healed: full counts again after %v, nothing restarted", poll(t, 60*time.Second, counting(all, full)))
	for _, p := range all {
		if !p.Running() {
			t.Fatalf("%s exited during the partition", p.Name())
		}
	}
}
