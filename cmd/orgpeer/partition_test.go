package main

import (
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
)

func TestPartitionAndHeal(t *testing.T) {
	l := newLAN(t, 2, "acme", "globex")
	c, nsA, nsB, linkA := l.c, l.hosts[0], l.hosts[1], l.ports[0]
	const addrA, addrB = "10.201.0.11", "10.201.0.12"
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
	all := append(append([]*cluster.Proc{}, sideA...), sideB...)
	full := map[string]int{"acme": 2, "globex": 2}
	t.Logf("both sides converged in %v", poll(t, 30*time.Second, counting(c, all, full)))

	if err := l.sw.Cut(linkA, true); err != nil {
		t.Fatal(err)
	}
	half := map[string]int{"acme": 1, "globex": 1}
	// Liveness window (4.5 s; a cut link refuses nothing, so probes do
	// not decide) plus a margin; each side keeps its own exact.
	took := poll(t, 8*time.Second, func() string {
		if msg := counting(c, sideA, half)(); msg != "" {
			return msg
		}
		return counting(c, sideB, half)()
	})
	t.Logf("partition: each side counts only itself after %v", took)

	if err := l.sw.Cut(linkA, false); err != nil {
		t.Fatal(err)
	}
	t.Logf("healed: full counts again after %v, nothing restarted", poll(t, 60*time.Second, counting(c, all, full)))
	for _, p := range all {
		if !p.Running() {
			t.Fatalf("%s exited during the partition", p.Name())
		}
	}
}
