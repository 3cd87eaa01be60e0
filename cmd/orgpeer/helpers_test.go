package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/node/nodetest"
)

// built is the orgpeer binary, built on first use by the tests that run
// processes and shared by all of them.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// orgpeerBin returns the path of the orgpeer binary, building it once.
func orgpeerBin(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "orgpeer-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "orgpeer")
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build orgpeer: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// orgpeer runs the binary and returns its stdout, stderr and exit code.
func orgpeer(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	return orgpeerEnv(t, nil, args...)
}

// orgpeerEnv is orgpeer with env (KEY=value) added to the environment.
func orgpeerEnv(t testing.TB, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, orgpeerBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("orgpeer %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// newTestCluster returns a cluster whose every process is stopped, and
// checked to be gone, when the test ends.
func newTestCluster(t *testing.T, extra ...string) *cluster.Cluster {
	t.Helper()
	c := cluster.New(orgpeerBin(t), t.TempDir(), extra...)
	t.Cleanup(func() {
		c.StopAll()
		for _, p := range c.Members() {
			if p.Running() {
				t.Errorf("%s (pid %d) still running after the test", p.Name(), p.PID())
			}
		}
		if t.Failed() {
			for _, p := range c.Members() {
				b, _ := os.ReadFile(c.LogPath(p))
				t.Logf("--- log of %s:\n%s", p.Name(), tail(string(b), 30))
			}
		}
	})
	return c
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startAll starts one process per org name, each on one of two simulated
// hosts, all bootstrapped from the first.
func startAll(t *testing.T, c *cluster.Cluster, orgNames []string) []*cluster.Proc {
	t.Helper()
	ctx := context.Background()
	if err := c.EnsureOrgKeys(orgNames...); err != nil {
		t.Fatal(err)
	}
	var ps []*cluster.Proc
	var boot []string
	for i, o := range orgNames {
		p := c.Add(cluster.Spec{Org: o, Host: fmt.Sprintf("host-%d", i%2), Bootstrap: boot})
		if err := c.Start(ctx, p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			boot = p.Info().Addrs[:1]
		}
		ps = append(ps, p)
	}
	return ps
}

// syncBuffer is what a process writes while a test reads it.
type syncBuffer = nodetest.Buffer

// poll is nodetest.Eventually: every multi-process test waits the same way.
var poll = nodetest.Eventually

// counting returns a poll condition: every member of ps counts want[org]
// peers of each organization alive and verified.
func counting(c *cluster.Cluster, ps []*cluster.Proc, want map[string]int) func() string {
	return func() string {
		vs := c.Views(context.Background())
		for _, p := range ps {
			s, ok := vs[p]
			if !ok {
				return p.Name() + " does not answer"
			}
			for org, n := range want {
				if got := s.OrgCounts(org); got.Alive != n || got.Verified != n {
					return fmt.Sprintf("%s counts %s %+v, want %d", p.Name(), org, got, n)
				}
			}
		}
		return ""
	}
}
