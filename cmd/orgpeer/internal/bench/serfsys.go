package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/serf"
)

// serfSystem is `serf agent` processes, asked through Serf's RPC.
type serfSystem struct{ c *serf.Cluster }

func (s serfSystem) launch(ctx context.Context, nodes, nOrgs int) (time.Time, error) {
	as := make([]*serf.Agent, nodes)
	for i := range nodes {
		var err error
		if as[i], err = s.c.Add(orgName(i, nOrgs)); err != nil {
			return time.Time{}, err
		}
	}
	launch := time.Now()
	if err := s.c.Start(ctx, as[0]); err != nil {
		return launch, err
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := 1; i < nodes; i++ {
		wg.Go(func() { errs[i] = s.c.Start(ctx, as[i], as[0].Addr()) })
	}
	wg.Wait()
	return launch, errors.Join(errs...)
}

func (s serfSystem) all() []*serf.Agent  { return s.c.Members() }
func (s serfSystem) live() []*serf.Agent { return s.c.Live() }

func (s serfSystem) counts(ctx context.Context, o *serf.Agent) (map[string]int, error) {
	ms, err := o.Members(ctx)
	if err != nil {
		return nil, err
	}
	return aliveByOrg(ms), nil
}

// aliveByOrg counts the members Serf lists alive, by their org tag.
func aliveByOrg(ms []serf.Member) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		if m.Status == stateAlive {
			out[m.Org]++
		}
	}
	return out
}

func (s serfSystem) lists(ctx context.Context, o, target *serf.Agent) ([]string, error) {
	ms, err := o.Members(ctx)
	if err != nil {
		return nil, err
	}
	return statesOf(ms, target.Name()), nil
}

// statesOf returns the status of every entry of ms named name.
func statesOf(ms []serf.Member, name string) []string {
	var out []string
	for _, m := range ms {
		if m.Name == name {
			out = append(out, m.Status)
		}
	}
	return out
}

func (s serfSystem) kill9(a *serf.Agent) { s.c.Kill9(a) }

// leave is SIGINT, Serf's graceful leave (SIGTERM leaves without one
// unless leave_on_terminate is set).
func (s serfSystem) leave(a *serf.Agent) { s.c.Leave(a) }

func (s serfSystem) restart(ctx context.Context, a *serf.Agent) error {
	return s.c.Start(ctx, a, s.c.Members()[0].Addr())
}
