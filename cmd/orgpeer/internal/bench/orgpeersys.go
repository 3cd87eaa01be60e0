package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
)

// orgName names the organization of the i-th member of a cluster of
// nOrgs organizations: org1, org2... in turn.
func orgName(i, nOrgs int) string { return fmt.Sprintf("org%d", i%nOrgs+1) }

// orgpeerSystem is `orgpeer run` processes, asked through their HTTP API.
type orgpeerSystem struct{ c *cluster.Cluster }

func (s orgpeerSystem) launch(ctx context.Context, nodes, nOrgs int) (time.Time, error) {
	return launchAll(ctx, s.c, nodes, nOrgs)
}

func (s orgpeerSystem) all() []*cluster.Proc  { return s.c.Members() }
func (s orgpeerSystem) live() []*cluster.Proc { return s.c.Live() }

func (s orgpeerSystem) counts(ctx context.Context, o *cluster.Proc) (map[string]int, error) {
	client := o.Client()
	if client == nil {
		return nil, errors.New("no API")
	}
	v, err := client.View(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, org := range s.c.OrgNames() {
		out[org] = v.OrgCounts(org).Verified
	}
	return out, nil
}

func (s orgpeerSystem) lists(ctx context.Context, o, target *cluster.Proc) ([]string, error) {
	client := o.Client()
	if client == nil {
		return nil, errors.New("no API")
	}
	ps, err := client.Peers(ctx, target.Org(), "")
	if err != nil {
		return nil, err
	}
	var states []string
	id := target.Info().PeerID
	for _, p := range ps {
		if p.PeerID == id {
			states = append(states, p.State.String())
		}
	}
	return states, nil
}

func (s orgpeerSystem) kill9(p *cluster.Proc) { s.c.Kill9(p) }

// leave is SIGTERM (or SIGINT): the node announces its leave, then exits.
func (s orgpeerSystem) leave(p *cluster.Proc) { s.c.Stop(p) }

func (s orgpeerSystem) restart(ctx context.Context, p *cluster.Proc) error {
	id := p.Info().PeerID
	if err := s.c.Start(ctx, p); err != nil { // its bootstrap is still the seed
		return err
	}
	if p.Info().PeerID != id {
		return fmt.Errorf("restart changed the peer ID of %s", p.Name())
	}
	return nil
}
