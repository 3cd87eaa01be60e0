package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/orgs"
)

// cluster runs real `orgpeer run` child processes on loopback and knows the
// ground truth: which of them are up, in which organization, on which
// simulated host. The demo, the benchmark and the multi-process tests use it.
type cluster struct {
	bin   string   // the orgpeer binary
	dir   string   // parent of every node's data dir and log
	extra []string // flags added to every `run`
	log   *slog.Logger

	// With credentials on, every organization gets a real org key in dir,
	// every member a credential issued to its peer ID, and every node
	// trusts every organization's .org file.
	credentials bool

	mu    sync.Mutex
	procs []*proc
	keys  map[string]*orgs.OrgKey // by org name
}

// proc is one member of the cluster, alive or not.
type proc struct {
	name, org, host, dataDir string
	bootstrap                []string
	cmd                      *exec.Cmd
	done                     chan struct{} // closed when cmd has been waited for
	info                     api.SelfInfo
	client                   *api.Client
	up                       bool
	impostor                 bool      // claims its org without a credential
	downAt                   time.Time // when it was last stopped or killed
	netns                    string    // run inside this network namespace ("": the host's)
	listen                   []string  // --listen addresses (none: the preset's loopback ones)
}

func newCluster(bin, dir string, log *slog.Logger, extra ...string) *cluster {
	return &cluster{bin: bin, dir: dir, extra: extra, log: log, credentials: true, keys: map[string]*orgs.OrgKey{}}
}

// ensureOrgKeys creates the org key of every named organization that has
// none yet. Create them all before starting nodes: a node trusts the
// organizations whose keys exist when it starts.
func (c *cluster) ensureOrgKeys(names ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ensureOrgKeysLocked(names...)
}

func (c *cluster) ensureOrgKeysLocked(names ...string) error {
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
		if err := k.Save(base+".orgkey", base+".org"); err != nil {
			return err
		}
		c.keys[name] = k
	}
	return nil
}

// membershipArgs returns the --trust flags for every organization so far
// and, unless p is an impostor, the --credential of p, issuing it (and the
// org key) on first use.
func (c *cluster) membershipArgs(p *proc) ([]string, error) {
	if !c.credentials {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensureOrgKeysLocked(p.org); err != nil {
		return nil, err
	}
	k := c.keys[p.org]
	var args []string
	for name := range c.keys {
		args = append(args, "--trust", filepath.Join(c.dir, "orgs", name+".org"))
	}
	if p.impostor {
		return args, nil
	}
	credPath := filepath.Join(p.dataDir, "member.cred")
	if _, err := os.Stat(credPath); err != nil {
		priv, err := datadir.LoadOrCreateIdentity(p.dataDir)
		if err != nil {
			return nil, err
		}
		id, _ := peer.IDFromPrivateKey(priv)
		cred, err := k.Issue(id, time.Now().Add(-time.Minute), 24*time.Hour, orgs.RandomSerial())
		if err != nil {
			return nil, err
		}
		if err := orgs.WriteFileAtomic(credPath, cred, 0o600); err != nil {
			return nil, err
		}
	}
	return append(args, "--credential", credPath), nil
}

// add creates a member (not started).
func (c *cluster) add(org, host string, bootstrap []string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := fmt.Sprintf("n%02d", len(c.procs)+1)
	p := &proc{name: name, org: org, host: host, dataDir: filepath.Join(c.dir, name), bootstrap: bootstrap}
	c.procs = append(c.procs, p)
	return p
}

// start launches p and waits until it has written its node.json.
func (c *cluster) start(ctx context.Context, p *proc) error {
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return err
	}
	os.Remove(filepath.Join(p.dataDir, "node.json"))
	c.mu.Lock()
	p.client = nil // the API of a previous run is gone; views skip p until it answers again
	c.mu.Unlock()
	args := append([]string{"run", "--preset", "local", "--org", p.org, "--data-dir", p.dataDir,
		"--host-id", p.host, "--api", "127.0.0.1:0"}, c.extra...)
	for _, b := range p.bootstrap {
		args = append(args, "--bootstrap", b)
	}
	for _, l := range p.listen {
		args = append(args, "--listen", l)
	}
	margs, err := c.membershipArgs(p)
	if err != nil {
		return err
	}
	args = append(args, margs...)
	logf, err := os.OpenFile(filepath.Join(c.dir, p.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, args...)
	if p.netns != "" { // ip execs the binary: the PID stays the node's
		cmd = exec.Command("ip", append([]string{"netns", "exec", p.netns, c.bin}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() { // owned by the process: ends when it exits
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	c.mu.Lock()
	p.cmd, p.done, p.up = cmd, done, true
	c.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	// node.json appears about 0.1 s after the start on an idle machine:
	// look often at first, so that a launch that waits for the seed does
	// not wait for the poll as well.
	wait := 5 * time.Millisecond
	for {
		info, err := api.ReadInfo(p.dataDir)
		if err == nil {
			c.mu.Lock()
			p.info, p.client = info, api.NewClient(info.API, "")
			c.mu.Unlock()
			return nil
		}
		select {
		case <-done:
			c.mu.Lock()
			p.up = false
			c.mu.Unlock()
			return fmt.Errorf("%s exited during start-up (see %s)", p.name, filepath.Join(c.dir, p.name+".log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
		if time.Now().After(deadline) {
			return fmt.Errorf("%s wrote no node.json within 30s", p.name)
		}
	}
}

// kill9 crashes p: no leave is announced.
func (c *cluster) kill9(p *proc) { c.signal(p, syscall.SIGKILL) }

// stop ends p gracefully: it announces its leave first.
func (c *cluster) stop(p *proc) { c.signal(p, syscall.SIGTERM) }

func (c *cluster) signal(p *proc, sig syscall.Signal) {
	c.mu.Lock()
	cmd, done := p.cmd, p.done
	if p.up {
		p.downAt = time.Now()
	}
	p.up = false
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// stopAll stops every member still running, gracefully and in parallel.
func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, p := range c.members() {
		wg.Go(func() { c.stop(p) })
	}
	wg.Wait()
}

func (c *cluster) members() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*proc(nil), c.procs...)
}

// live returns the members that are up.
func (c *cluster) live() []*proc {
	var out []*proc
	for _, p := range c.members() {
		c.mu.Lock()
		up := p.up
		c.mu.Unlock()
		if up {
			out = append(out, p)
		}
	}
	return out
}

// truth is the number of live members per organization (impostors,
// which claim an organization without its credential, are not members).
func (c *cluster) truth() map[string]int {
	t := map[string]int{}
	for _, p := range c.live() {
		if !p.impostor {
			t[p.org]++
		}
	}
	return t
}

// orgNames lists every organization the cluster has members in.
func (c *cluster) orgNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range c.members() {
		if !seen[p.org] {
			seen[p.org] = true
			out = append(out, p.org)
		}
	}
	return out
}

// views asks every live member for its view. Members that do not answer
// are missing from the result.
func (c *cluster) views(ctx context.Context) map[*proc]orgs.Snapshot {
	out := map[*proc]orgs.Snapshot{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range c.live() {
		c.mu.Lock()
		client := p.client
		c.mu.Unlock()
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

// exact reports whether s counts exactly the truth alive in every org.
func exact(s orgs.Snapshot, truth map[string]int, orgNames []string) bool {
	for _, o := range orgNames {
		if s.OrgCounts(o).Alive != truth[o] {
			return false
		}
	}
	return true
}

// isExact reports whether s counts exactly the truth: with credentials on,
// the verified count of every organization; without, the alive count.
func (c *cluster) isExact(s orgs.Snapshot, truth map[string]int) bool {
	if !c.credentials {
		return exact(s, truth, c.orgNames())
	}
	for _, o := range c.orgNames() {
		if s.OrgCounts(o).Verified != truth[o] {
			return false
		}
	}
	return true
}

// waitConverged polls until every live member counts the truth exactly, or
// the deadline passes.
func (c *cluster) waitConverged(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		truth, live := c.truth(), c.live()
		vs := c.views(ctx)
		right := 0
		for _, s := range vs {
			if c.isExact(s, truth) {
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

// errStopped is returned when the user ends a run early.
var errStopped = errors.New("stopped")
