package serf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/child"
)

// Agent is one member of a cluster, up or down. Its methods may be called
// concurrently.
type Agent struct {
	// Fixed when the member is added.
	name, org string
	bind, rpc string // gossip and RPC addresses, 127.0.0.1:PORT

	rpcMu sync.Mutex // one RPC call at a time

	mu   sync.Mutex     // guards the fields below
	proc *child.Process // the last process started (nil: never)
	up   bool
	conn *rpcConn // nil until the RPC answers, and after a failed call
}

// Name is the agent's node name (-node): s01, s02...
func (a *Agent) Name() string { return a.name }

// Org is the organization the agent is tagged with.
func (a *Agent) Org() string { return a.org }

// Addr is the agent's gossip address, which others join through.
func (a *Agent) Addr() string { return a.bind }

// PID is the process ID of the agent's last process (0: never started).
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.proc.PID()
}

// Up reports whether the agent is running, as far as the cluster knows:
// started and neither stopped nor killed.
func (a *Agent) Up() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.up
}

// Running reports whether the agent's last process has not exited yet.
func (a *Agent) Running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.proc.Running()
}

// Member is one entry of an agent's member list.
type Member struct {
	Name   string // the node name
	Org    string // its org tag
	Status string // alive, leaving, left or failed
}

// rpcTimeout bounds an RPC call whose context has no deadline.
const rpcTimeout = 2 * time.Second

// Members asks the agent, over its RPC, for every member it knows, with
// the status it gives each. It keeps one RPC connection per agent, as an
// HTTP client keeps its connection to an orgpeer node; calls to one agent
// take turns.
func (a *Agent) Members(ctx context.Context) ([]Member, error) {
	a.rpcMu.Lock()
	defer a.rpcMu.Unlock()
	c, err := a.connect(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := c.members(ctx)
	if err != nil {
		a.dropConn(c)
		return nil, fmt.Errorf("%s: members: %w", a.name, err)
	}
	return ms, nil
}

// connect returns the agent's RPC connection, dialling one if it has none.
func (a *Agent) connect(ctx context.Context) (*rpcConn, error) {
	a.mu.Lock()
	up, c := a.up, a.conn
	a.mu.Unlock()
	switch {
	case !up:
		return nil, fmt.Errorf("%s is down", a.name)
	case c != nil:
		return c, nil
	}
	c, err := dialRPC(ctx, a.rpc)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case !a.up: // stopped meanwhile
		c.Close()
		return nil, fmt.Errorf("%s is down", a.name)
	case a.conn != nil: // another call connected meanwhile
		c.Close()
		return a.conn, nil
	}
	a.conn = c
	return c, nil
}

// dropConn closes c and forgets it if it is still the agent's.
func (a *Agent) dropConn(c *rpcConn) {
	a.mu.Lock()
	if a.conn == c {
		a.conn = nil
	}
	a.mu.Unlock()
	c.Close()
}

func (a *Agent) setDown() {
	a.mu.Lock()
	c := a.conn
	a.up, a.conn = false, nil
	a.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// signal sends sig to the agent's process and returns once it has exited;
// after 30 s (a graceful leave that hangs) it kills it.
func (a *Agent) signal(sig syscall.Signal) {
	a.mu.Lock()
	proc := a.proc
	a.mu.Unlock()
	a.setDown()
	proc.Stop(sig, 30*time.Second)
}

// Ports are taken from below the kernel's ephemeral range (32768 and up by
// default), so that no process binding port 0 takes an agent's port while
// the agent is down between two starts; every port is handed out once per
// process.
const portLow, portHigh = 20000, 32000

var (
	portsMu sync.Mutex
	given   = map[int]bool{}
)

// freePorts returns n loopback ports on which TCP and UDP are both free
// (Serf gossips over both on its bind port).
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var out []int
	for range 10000 {
		if len(out) == n {
			return out, nil
		}
		p := portLow + rand.IntN(portHigh-portLow)
		if given[p] || !free(p) {
			continue
		}
		given[p] = true
		out = append(out, p)
	}
	return nil, errors.New("no free loopback port between 20000 and 32000")
}

func free(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}
