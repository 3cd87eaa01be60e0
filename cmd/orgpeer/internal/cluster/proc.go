package cluster

import (
	"fmt"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/child"
	"github.com/orgpeer/orgpeer/node/api"
)

// Spec describes a member to add.
type Spec struct {
	Org, Host string
	Bootstrap []string // full multiaddrs it joins through
	DataDir   string   // "": a directory named after the member, in the cluster's
	Impostor  bool     // claims Org without a credential
	Netns     string   // run inside this network namespace ("": the host's)
	Listen    []string // --listen addresses (none: the preset's loopback ones)
	Args      []string // more flags of `orgpeer run` for this member
}

// Proc is one member of a cluster, up or down. Its methods read its state
// under the cluster's lock.
type Proc struct {
	c *Cluster

	// Fixed when the member is added.
	name, org, host, dataDir string
	impostor                 bool
	netns                    string
	listen, args             []string

	// Guarded by c.mu.
	bootstrap []string
	proc      *child.Process // the last process started (nil: never)
	info      api.SelfInfo
	client    *api.Client
	up        bool
	downAt    time.Time // when it was last stopped or killed
}

// Name is the member's name in the cluster: n01, n02...
func (p *Proc) Name() string { return p.name }

// Org is the organization the member claims.
func (p *Proc) Org() string { return p.org }

// Host is the member's simulated physical host.
func (p *Proc) Host() string { return p.host }

// DataDir is the member's data directory.
func (p *Proc) DataDir() string { return p.dataDir }

// Netns is the network namespace the member runs in ("": the host's).
func (p *Proc) Netns() string { return p.netns }

// Info is the node.json of the member's last start.
func (p *Proc) Info() api.SelfInfo {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.info
}

// Client returns the member's API client, nil while it starts or is down.
func (p *Proc) Client() *api.Client {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if !p.up {
		return nil
	}
	return p.client
}

// PID is the process ID of the member's last process (0: never started).
func (p *Proc) PID() int {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.proc.PID()
}

// Up reports whether the member is running, as far as the cluster knows:
// started and neither stopped nor killed.
func (p *Proc) Up() bool {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.up
}

// Running reports whether the member's last process has not exited yet,
// whatever the cluster asked of it.
func (p *Proc) Running() bool {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.proc.Running()
}

// DownSince reports whether the member is down and since when (zero if it
// never ran).
func (p *Proc) DownSince() (time.Time, bool) {
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	return p.downAt, !p.up
}

// MemberState is a copy of one member's state, for display.
type MemberState struct {
	Name   string `json:"name"`
	Org    string `json:"org"`
	Host   string `json:"host"`
	PeerID string `json:"peer_id,omitempty"`
	API    string `json:"api,omitempty"`
	PID    int    `json:"pid,omitempty"` // of the last process started
	Up     bool   `json:"up"`
}

// States copies every member's state, in the order they were added.
func (c *Cluster) States() []MemberState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]MemberState, 0, len(c.procs))
	for _, p := range c.procs {
		out = append(out, MemberState{Name: p.name, Org: p.org, Host: p.host, PeerID: p.info.PeerID, API: p.info.API,
			PID: p.proc.PID(), Up: p.up})
	}
	return out
}

// Member returns the member called name, or nil.
func (c *Cluster) Member(name string) *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// SeedAddrs returns one address of each of the first two members that are
// up and answering (other than except): the seeds a new or restarted
// member bootstraps from, so that the topology stays partial.
func (c *Cluster) SeedAddrs(except *Proc) []string {
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

// HostName names the i-th simulated host: host-1, host-2...
func HostName(i int) string { return fmt.Sprintf("host-%d", i+1) }
