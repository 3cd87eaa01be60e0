package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
)

// convergedFn returns a poll condition: every live member counts the truth.
func convergedFn(c *cluster.Cluster) func() string {
	return func() string {
		truth := c.Truth()
		live := c.Live()
		vs := c.Views(context.Background())
		for _, p := range live {
			s, ok := vs[p]
			if !ok {
				return p.Name() + " does not answer"
			}
			if !c.IsExact(s, truth) {
				return fmt.Sprintf("%s counts %+v, truth %v", p.Name(), s.Orgs, truth)
			}
		}
		return ""
	}
}

func TestBootstrapLoss(t *testing.T) {
	c := newTestCluster(t)
	ps := startAll(t, c, []string{"acme", "globex", "acme", "globex"})
	poll(t, 30*time.Second, convergedFn(c))

	c.Kill9(ps[0]) // the seed every node bootstrapped from
	took := poll(t, 10*time.Second, convergedFn(c))
	t.Logf("survivors count each other exactly %v after the seed died", took)

	// A newcomer bootstrapped from any survivor joins and is counted.
	late := c.Add(cluster.Spec{Org: "initech", Host: "host-9", Bootstrap: ps[2].Info().Addrs[:1]})
	if err := c.EnsureOrgKeys("initech"); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	// The survivors started before initech's key existed, so they count the
	// newcomer as an unverified claim; the newcomer trusts everyone.
	took = poll(t, 30*time.Second, func() string {
		for _, p := range c.Live() {
			s, err := p.Client().View(context.Background())
			if err != nil {
				return err.Error()
			}
			if s.OrgCounts("initech").Alive != 1 || s.OrgCounts("acme").Alive != 1 || s.OrgCounts("globex").Alive != 2 {
				return fmt.Sprintf("%s counts %+v", p.Name(), s.Orgs)
			}
		}
		return ""
	})
	t.Logf("newcomer counted everywhere after %v", took)
}

func TestRestartStormNeverCountsTwice(t *testing.T) {
	c := newTestCluster(t)
	orgNames := []string{"acme", "globex", "acme", "globex", "acme", "globex"}
	ps := startAll(t, c, orgNames)
	poll(t, 30*time.Second, convergedFn(c))
	acme := []*cluster.Proc{ps[2], ps[4]} // ps[0] is the seed: keep it, so restarts can bootstrap
	acme = append(acme, ps[0])
	globex := []*cluster.Proc{ps[1], ps[3], ps[5]}

	// Watch every globex node the whole time: acme may never exceed 3.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var over []string
	reads, failed := 0, 0 // a watch that never read a view proves nothing
	for _, p := range globex {
		wg.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				qctx, qcancel := context.WithTimeout(ctx, time.Second)
				s, err := p.Client().View(qctx)
				qcancel()
				mu.Lock()
				if err != nil {
					failed++
				} else {
					reads++
					if a := s.OrgCounts("acme"); a.Alive > 3 || a.Verified > 3 || a.Alive+a.Suspect+a.Left > 3 {
						over = append(over, fmt.Sprintf("%s: %+v", p.Name(), a))
					}
				}
				mu.Unlock()
			}
		})
	}

	var kill sync.WaitGroup
	for _, p := range acme {
		kill.Go(func() { c.Kill9(p) })
	}
	kill.Wait()
	var start sync.WaitGroup
	errs := make(chan error, len(acme))
	for _, p := range acme {
		c.SetBootstrap(p, ps[1].Info().Addrs[:1])
		start.Go(func() { errs <- c.Start(context.Background(), p) })
	}
	start.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	took := poll(t, 30*time.Second, convergedFn(c))
	cancel()
	wg.Wait()
	t.Logf("all of acme restarted at once; counts exact again after %v; %d views read, %d reads failed", took, reads, failed)
	// The watchers poll every 50 ms per globex node for the whole restart:
	// far fewer successful reads means the check above barely ran.
	if want := int(took/(50*time.Millisecond)) * len(globex) / 4; reads < max(want, 10) || failed > reads/10 {
		t.Fatalf("the watch read %d views (%d failed) over %v: too few to show that acme never counted twice", reads, failed, took)
	}
	if len(over) > 0 {
		t.Fatalf("acme counted more than its 3 peers: %v", over[:min(len(over), 5)])
	}
}
