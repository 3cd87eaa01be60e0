package main

import (
	"context"
	"fmt"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
)

// memberState is a copy of one member's state, for display.
type memberState struct {
	Name   string `json:"name"`
	Org    string `json:"org"`
	Host   string `json:"host"`
	PeerID string `json:"peer_id,omitempty"`
	API    string `json:"api,omitempty"`
	PID    int    `json:"pid,omitempty"` // of the last process started
	Up     bool   `json:"up"`
}

// states copies every member's state, in the order they were added.
func (c *cluster) states() []memberState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]memberState, 0, len(c.procs))
	for _, p := range c.procs {
		m := memberState{Name: p.name, Org: p.org, Host: p.host, PeerID: p.info.PeerID, API: p.info.API, Up: p.up}
		if p.cmd != nil && p.cmd.Process != nil {
			m.PID = p.cmd.Process.Pid
		}
		out = append(out, m)
	}
	return out
}

// member returns the member called name, or nil.
func (c *cluster) member(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// isUp reports whether p is running.
func (c *cluster) isUp(p *proc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.up
}

// downSince reports whether p is down and since when (zero if it never ran).
func (c *cluster) downSince(p *proc) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.downAt, !p.up
}

// clientOf returns p's API client, nil while p is starting or down.
func (c *cluster) clientOf(p *proc) *api.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !p.up {
		return nil
	}
	return p.client
}

// seedAddrs returns one address of each of the first two members that are up
// and answering (other than except): the seeds a new or restarted member
// bootstraps from, so that the topology stays partial.
func (c *cluster) seedAddrs(except *proc) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.procs {
		if p != except && p.up && p.client != nil && len(p.info.Addrs) > 0 {
			out = append(out, p.info.Addrs[0])
			if len(out) == 2 {
				break
			}
		}
	}
	return out
}

// restart starts a member that is down again, from its data dir: the same
// identity, a higher epoch. It bootstraps from the current seeds, since the
// ones it first joined through may be down.
func (c *cluster) restart(ctx context.Context, p *proc) error {
	c.mu.Lock()
	if p.up {
		c.mu.Unlock()
		return fmt.Errorf("%s is already running", p.name)
	}
	c.mu.Unlock()
	seeds := c.seedAddrs(p)
	c.mu.Lock()
	p.bootstrap = seeds
	c.mu.Unlock()
	return c.start(ctx, p)
}
