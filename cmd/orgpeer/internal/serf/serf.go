// Package serf runs HashiCorp Serf agents on this machine: the reference
// that `orgpeer bench --vs serf` compares orgpeer with. Each member is one
// `serf agent` process with gossip and RPC ports of its own on loopback,
// its organization as a tag (-tag org=NAME), and a timing profile; it is
// asked what it sees through Serf's RPC (msgpack over TCP, what `serf
// members` speaks). It links nothing of orgpeer's node or of the libp2p
// stack, and nothing of Serf's.
package serf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/child"
)

// Cluster is a set of Serf agents, each a process or a place for one. Its
// methods may be called concurrently.
type Cluster struct {
	bin     string // the serf binary
	dir     string // where every agent's log goes
	profile string // -profile: lan, wan or local

	mu     sync.Mutex // guards agents
	agents []*Agent
}

// New returns an empty cluster that runs bin with the timing profile
// (lan, wan or local) and writes the agents' logs under dir.
func New(bin, dir, profile string) *Cluster {
	return &Cluster{bin: bin, dir: dir, profile: profile}
}

// Add creates a member of org (not started), with a gossip port and an
// RPC port of its own that it keeps across restarts, as a restarted
// agent of a real cluster keeps its address.
func (c *Cluster) Add(org string) (*Agent, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &Agent{name: fmt.Sprintf("s%02d", len(c.agents)+1), org: org,
		bind: fmt.Sprintf("127.0.0.1:%d", ports[0]), rpc: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	c.agents = append(c.agents, a)
	return a, nil
}

// LogPath is the file a's processes write their output to.
func (c *Cluster) LogPath(a *Agent) string { return filepath.Join(c.dir, a.name+".log") }

// Start launches a, joining the agents at join (gossip addresses, none
// for the first agent), and returns once its RPC answers.
func (c *Cluster) Start(ctx context.Context, a *Agent, join ...string) error {
	if a.Running() {
		return fmt.Errorf("%s is already running", a.name)
	}
	args := []string{"agent", "-node", a.name, "-bind", a.bind, "-rpc-addr", a.rpc, "-tag", "org=" + a.org,
		"-profile", c.profile}
	for _, j := range join {
		args = append(args, "-join", j)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	proc, err := child.Start(exec.Command(c.bin, args...), c.LogPath(a))
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.proc, a.up = proc, true
	a.mu.Unlock()
	err = proc.Await(ctx, 30*time.Second, func() bool {
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		defer cancel()
		_, err := a.connect(cctx)
		return err == nil
	})
	switch {
	case errors.Is(err, child.ErrExited):
		a.setDown()
		return fmt.Errorf("%s exited during start-up (see %s)", a.name, c.LogPath(a))
	case errors.Is(err, child.ErrTimeout):
		return fmt.Errorf("%s: no RPC at %s within 30s (see %s)", a.name, a.rpc, c.LogPath(a))
	}
	return err
}

// Kill9 crashes a: no leave is announced.
func (c *Cluster) Kill9(a *Agent) { a.signal(syscall.SIGKILL) }

// Leave stops a the way Serf documents a graceful leave, SIGINT, and
// returns once the process has exited.
func (c *Cluster) Leave(a *Agent) { a.signal(syscall.SIGINT) }

// StopAll ends every agent still running, in parallel and without a leave
// (SIGTERM: Serf's leave_on_terminate is off by default): the end of a run
// measures nothing.
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, a := range c.Members() {
		wg.Go(func() { a.signal(syscall.SIGTERM) })
	}
	wg.Wait()
}

// Members returns every member, in the order they were added.
func (c *Cluster) Members() []*Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Agent(nil), c.agents...)
}

// Live returns the members that are up.
func (c *Cluster) Live() []*Agent {
	var out []*Agent
	for _, a := range c.Members() {
		if a.Up() {
			out = append(out, a)
		}
	}
	return out
}

// FindBin returns the serf binary: want if given, else serf in dir (the
// directory of the orgpeer binary, where `make bin/serf` puts it), else
// serf on PATH.
func FindBin(want, dir string) (string, error) {
	if want != "" {
		if _, err := os.Stat(want); err != nil {
			return "", fmt.Errorf("--serf-bin: %w", err)
		}
		return want, nil
	}
	if p := filepath.Join(dir, "serf"); isExecutable(p) {
		return p, nil
	}
	if p, err := exec.LookPath("serf"); err == nil {
		return p, nil
	}
	return "", errors.New("no serf binary: none next to orgpeer (" + filepath.Join(dir, "serf") +
		") nor on PATH; `make bin/serf` installs v0.11.0 there, or pass --serf-bin")
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Version returns what `serf version` prints first, such as "0.10.2-dev".
func Version(bin string) (string, error) {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", bin, err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimPrefix(line, "Serf v"), nil
}
