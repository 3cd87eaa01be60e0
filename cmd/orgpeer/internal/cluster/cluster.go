// Package cluster runs real `orgpeer run` processes on this machine and
// keeps the ground truth: which of them are up, in which organization, on
// which simulated host. The demo, the benchmark and the multi-process tests
// use it. It drives the orgpeer binary it is given, as a user would, and
// links nothing of the p2p stack.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/child"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/netns"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

// Cluster is a set of members, each an `orgpeer run` process or a place
// for one. Every organization gets a real org key in the cluster's
// directory, every member a credential issued to its peer ID, and every
// node trusts the organizations whose keys exist when it starts. Its
// methods may be called concurrently.
type Cluster struct {
	bin   string   // the orgpeer binary
	dir   string   // parent of every member's data dir and log
	extra []string // flags added to every `run`

	mu    sync.Mutex // guards procs, keys and every Proc's changing fields
	procs []*Proc
	keys  map[string]*orgs.OrgKey // by org name
}

// New returns an empty cluster that runs bin with its state under dir and
// adds extra to every `orgpeer run`.
func New(bin, dir string, extra ...string) *Cluster {
	return &Cluster{bin: bin, dir: dir, extra: extra, keys: map[string]*orgs.OrgKey{}}
}

// LogPath is the file p's processes write their output to.
func (c *Cluster) LogPath(p *Proc) string { return filepath.Join(c.dir, p.name+".log") }

// EnsureOrgKeys creates the org key of every named organization that has
// none yet. Create them all before starting nodes: a node trusts the
// organizations whose keys exist when it starts.
func (c *Cluster) EnsureOrgKeys(names ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ensureOrgKeysLocked(names...)
}

func (c *Cluster) ensureOrgKeysLocked(names ...string) error {
	for _, name := range names {
		if _, ok := c.keys[name]; ok {
			continue
		}
		k, err := orgs.NewOrgKey(name)
		if err != nil {
			return err
		}
		base := filepath.Join(c.dir, "orgs", name)
		if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
			return err
		}
		if err := orgfile.SaveKey(k, base+".orgkey", base+".org"); err != nil {
			return err
		}
		c.keys[name] = k
	}
	return nil
}

// Prepare creates the identity and credential of every member in ps, a
// few at a time, rather than when each first starts, so that a measured
// start does not include them.
func (c *Cluster) Prepare(ps ...*Proc) error {
	slots := make(chan struct{}, 4) // `orgpeer id` processes at once
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			_, errs[i] = c.membershipArgs(p)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// membershipArgs returns the --trust flags for every organization so far
// and, unless p is an impostor, the --credential of p, issuing it (and the
// org key) on first use.
func (c *Cluster) membershipArgs(p *Proc) ([]string, error) {
	c.mu.Lock()
	err := c.ensureOrgKeysLocked(p.org)
	k := c.keys[p.org]
	var args []string
	for name := range c.keys {
		args = append(args, "--trust", filepath.Join(c.dir, "orgs", name+".org"))
	}
	c.mu.Unlock()
	if err != nil || p.impostor {
		return args, err
	}
	credPath := filepath.Join(p.dataDir, "member.cred")
	if _, err := os.Stat(credPath); err != nil {
		id, err := c.peerID(p.dataDir)
		if err != nil {
			return nil, fmt.Errorf("identity of %s: %w", p.name, err)
		}
		cred, err := k.Issue(id, time.Now().Add(-time.Minute), 24*time.Hour, orgs.RandomSerial())
		if err != nil {
			return nil, err
		}
		if err := orgfile.WriteFileAtomic(credPath, cred, 0o600); err != nil {
			return nil, err
		}
	}
	return append(args, "--credential", credPath), nil
}

// peerID asks `orgpeer id` for the peer ID of dataDir, which it creates
// if missing: the binary, not this package, knows the identity's format.
func (c *Cluster) peerID(dataDir string) (peer.ID, error) {
	out, err := exec.Command(c.bin, "id", "--data-dir", dataDir, "--json").Output()
	if err != nil {
		return "", err
	}
	var info api.SelfInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	return peer.Decode(info.PeerID)
}

// Add creates a member (not started).
func (c *Cluster) Add(s Spec) *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := fmt.Sprintf("n%02d", len(c.procs)+1)
	p := &Proc{c: c, name: name, org: s.Org, host: s.Host, dataDir: s.DataDir, bootstrap: s.Bootstrap,
		impostor: s.Impostor, netns: s.Netns, listen: s.Listen, args: s.Args}
	if p.dataDir == "" {
		p.dataDir = filepath.Join(c.dir, name)
	}
	c.procs = append(c.procs, p)
	return p
}

// SetBootstrap changes the addresses p joins through on its next start.
func (c *Cluster) SetBootstrap(p *Proc, addrs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.bootstrap = addrs
}

// Start launches p and waits until it has written its node.json.
func (c *Cluster) Start(ctx context.Context, p *Proc) error {
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return err
	}
	os.Remove(filepath.Join(p.dataDir, api.InfoFile))
	c.mu.Lock()
	p.client = nil // the API of a previous run is gone; views skip p until it answers again
	args := append([]string{"run", "--preset", "local", "--org", p.org, "--data-dir", p.dataDir,
		"--host-id", p.host, "--api", "127.0.0.1:0"}, c.extra...)
	for _, b := range p.bootstrap {
		args = append(args, "--bootstrap", b)
	}
	c.mu.Unlock()
	for _, l := range p.listen {
		args = append(args, "--listen", l)
	}
	args = append(args, p.args...)
	margs, err := c.membershipArgs(p)
	if err != nil {
		return err
	}
	args = append(args, margs...)
	cmd := exec.Command(c.bin, args...)
	if p.netns != "" { // ip execs the binary: the PID stays the node's
		cmd = exec.Command("ip", append([]string{"netns", "exec", p.netns, c.bin}, args...)...)
	}
	proc, err := child.Start(cmd, c.LogPath(p))
	if err != nil {
		return err
	}
	c.mu.Lock()
	p.proc, p.up = proc, true
	c.mu.Unlock()

	// node.json appears about 0.1 s after the start on an idle machine:
	// Await looks often at first, so that a launch that waits for the seed
	// does not wait for the poll as well.
	err = proc.Await(ctx, 30*time.Second, func() bool {
		info, err := api.ReadInfo(p.dataDir)
		if err != nil {
			return false
		}
		client := api.NewClient(info.API, "")
		if p.netns != "" { // the API listens on the namespace's loopback
			client = api.NewClientVia(info.API, "", netns.Dialer(p.netns))
		}
		c.mu.Lock()
		p.info, p.client = info, client
		c.mu.Unlock()
		return true
	})
	switch {
	case errors.Is(err, child.ErrExited):
		c.mu.Lock()
		p.up = false
		c.mu.Unlock()
		return fmt.Errorf("%s exited during start-up (see %s)", p.name, c.LogPath(p))
	case errors.Is(err, child.ErrTimeout):
		return fmt.Errorf("%s wrote no node.json within 30s", p.name)
	}
	return err
}

// Restart starts a member that is down again, from its data dir: the same
// identity, a higher epoch. It bootstraps from the current seeds, since the
// ones it first joined through may be down.
func (c *Cluster) Restart(ctx context.Context, p *Proc) error {
	if p.Up() {
		return fmt.Errorf("%s is already running", p.name)
	}
	c.SetBootstrap(p, c.SeedAddrs(p))
	return c.Start(ctx, p)
}

// Kill9 crashes p: no leave is announced.
func (c *Cluster) Kill9(p *Proc) { c.signal(p, syscall.SIGKILL) }

// Stop ends p gracefully: it announces its leave first.
func (c *Cluster) Stop(p *Proc) { c.signal(p, syscall.SIGTERM) }

func (c *Cluster) signal(p *Proc, sig syscall.Signal) {
	c.mu.Lock()
	proc := p.proc
	if p.up {
		p.downAt = time.Now()
	}
	p.up = false
	c.mu.Unlock()
	proc.Stop(sig, 10*time.Second)
}

// StopAll stops every member still running, gracefully and in parallel.
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, p := range c.Members() {
		wg.Go(func() { c.Stop(p) })
	}
	wg.Wait()
}

// Members returns every member, in the order they were added.
func (c *Cluster) Members() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Proc(nil), c.procs...)
}

// Live returns the members that are up.
func (c *Cluster) Live() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Proc
	for _, p := range c.procs {
		if p.up {
			out = append(out, p)
		}
	}
	return out
}

// Truth is the number of live members per organization (impostors,
// which claim an organization without its credential, are not members).
func (c *Cluster) Truth() map[string]int {
	t := map[string]int{}
	for _, p := range c.Live() {
		if !p.impostor {
			t[p.org]++
		}
	}
	return t
}

// OrgNames lists every organization the cluster has members in.
func (c *Cluster) OrgNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range c.Members() {
		if !seen[p.org] {
			seen[p.org] = true
			out = append(out, p.org)
		}
	}
	return out
}

// Views asks every live member for its view. Members that do not answer
// are missing from the result.
func (c *Cluster) Views(ctx context.Context) map[*Proc]orgs.Snapshot {
	out := map[*Proc]orgs.Snapshot{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range c.Live() {
		client := p.Client()
		if client == nil {
			continue // still starting
		}
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := client.View(qctx)
			if err == nil {
				mu.Lock()
				out[p] = s
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// IsExact reports whether s counts the truth, the verified members of
// every organization: exactly in an exact row; in an estimated row (an
// organization past its sample budget, see orgs/sample) when the estimate's
// 95 % interval holds it, since the row's other counts are only the
// members the node heard.
func (c *Cluster) IsExact(s orgs.Snapshot, truth map[string]int) bool {
	for _, o := range c.OrgNames() {
		row := s.OrgCounts(o)
		if e := row.Estimate; e != nil && row.Mode == orgs.ModeEstimate {
			if !e.Contains(float64(truth[o])) {
				return false
			}
			continue
		}
		if row.Verified != truth[o] {
			return false
		}
	}
	return true
}

// WaitConverged polls until every live member counts the truth exactly, or
// the deadline passes, and returns how long that took.
func (c *Cluster) WaitConverged(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		truth, live := c.Truth(), c.Live()
		right := 0
		for _, s := range c.Views(ctx) {
			if c.IsExact(s, truth) {
				right++
			}
		}
		if right == len(live) {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("after %v only %d of %d nodes count the truth %v", timeout, right, len(live), truth)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
