package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
	"github.com/orgpeer/orgpeer/node"
	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

// cliView runs `orgpeer view --json` against p.
func cliView(t testing.TB, p *cluster.Proc) (orgs.Snapshot, error) {
	out, errOut, code := orgpeer(t, "view", "--data-dir", p.DataDir(), "--json")
	var s orgs.Snapshot
	if code != 0 {
		return s, fmt.Errorf("view at %s: exit %d: %s", p.Name(), code, errOut)
	}
	return s, json.Unmarshal([]byte(out), &s)
}

// stateAt is the state p's node gives peer id ("" when it does not know it).
func stateAt(p *cluster.Proc, id string) string {
	ps, err := p.Client().Peers(context.Background(), "", "")
	if err != nil {
		return "unreachable: " + err.Error()
	}
	for _, q := range ps {
		if q.PeerID == id {
			return q.State.String()
		}
	}
	return ""
}

func TestMultiProcessCountsFollowCrashLeaveAndRestart(t *testing.T) {
	c := newTestCluster(t)
	orgNames := []string{"acme", "globex", "initech", "acme", "globex", "initech"}
	ps := startAll(t, c, orgNames)

	converged := func() string {
		truth := c.Truth()
		for _, p := range c.Live() {
			s, err := cliView(t, p)
			if err != nil {
				return err.Error()
			}
			if !c.IsExact(s, truth) {
				return fmt.Sprintf("%s counts %+v, truth %v", p.Name(), s.Orgs, truth)
			}
		}
		return ""
	}
	t.Logf("converged in %v", poll(t, 30*time.Second, converged))

	// kill -9: no leave; every other node must stop counting it alive
	// once its heartbeat is late and its port refuses (2.5 s in the local
	// preset; the liveness window, 4.5 s, if probes did not decide) plus a
	// margin.
	crashed := ps[4]
	c.Kill9(crashed)
	took := poll(t, 4500*time.Millisecond+2*time.Second, func() string {
		for _, p := range c.Live() {
			if st := stateAt(p, crashed.Info().PeerID); st == "alive" {
				return fmt.Sprintf("%s still counts the killed %s alive", p.Name(), crashed.Name())
			}
		}
		return ""
	})
	t.Logf("kill -9 noticed everywhere after %v", took)
	for _, p := range c.Live() {
		if st := stateAt(p, crashed.Info().PeerID); st != "suspect" {
			t.Fatalf("%s gives the killed peer state %q, want suspect", p.Name(), st)
		}
	}

	// SIGTERM: a graceful leave, seen as left everywhere within 2 s.
	leaver := ps[5]
	c.Stop(leaver)
	took = poll(t, 2*time.Second, func() string {
		for _, p := range c.Live() {
			if st := stateAt(p, leaver.Info().PeerID); st != "left" {
				return fmt.Sprintf("%s gives the stopped %s state %q", p.Name(), leaver.Name(), st)
			}
		}
		return ""
	})
	t.Logf("SIGTERM seen as left everywhere after %v", took)
	poll(t, 5*time.Second, converged)

	// Restart the killed one from its data dir: same peer, counted once.
	before := crashed.Info().PeerID
	if err := c.Start(context.Background(), crashed); err != nil {
		t.Fatal(err)
	}
	if crashed.Info().PeerID != before {
		t.Fatalf("restart changed the peer ID: %s -> %s", before, crashed.Info().PeerID)
	}
	t.Logf("restarted node counted everywhere after %v", poll(t, 30*time.Second, converged))
	for _, p := range c.Live() {
		n := 0
		ps, _ := p.Client().Peers(context.Background(), "globex", "")
		for _, q := range ps {
			if q.PeerID == before {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s lists the restarted peer %d times", p.Name(), n)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // a data dir open to others is tightened with a warning, a second line
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "no command"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "--data-dir", dir}, 2, "--org is required"},
		{[]string{"run", "--org", "acme", "--data-dir", dir, "--bootstrap", "/ip4/127.0.0.1/tcp/notaport"}, 2, "--bootstrap"},
		{[]string{"run", "--org", "acme", "--data-dir", dir, "--listen", "127.0.0.1:4001"}, 2, "--listen"},
		{[]string{"run", "--org", "acme", "--data-dir", dir, "--api", "0.0.0.0:0"}, 2, "--api-token"},
		{[]string{"run", "--org", "acme", "--data-dir", dir, "--frob"}, 2, "flag provided but not defined: -frob"},
		{[]string{"run", "--org", "acme", "--data-dir", dir, "--preset", "fast"}, 2, "--preset"},
		{[]string{"view", "--api", "127.0.0.1:1", "--data-dir", dir}, 2, "--api or --data-dir, not both"},
		{[]string{"view", "--data-dir", dir}, 1, "no running node found"},
		{[]string{"peers", "--api", "127.0.0.1:1", "--state", "dead"}, 2, "unknown peer state"},
		{[]string{"explain", "--api", "127.0.0.1:1"}, 2, "give the PEER_ID"},
		{[]string{"explain", "not-a-peer", "--api", "127.0.0.1:1"}, 2, "is not a peer ID"},
		{[]string{"view", "--api", "127.0.0.1:1", "--watch", "--json"}, 2, "--watch or --json"},
		{[]string{"watch", "--api", "127.0.0.1:1", "--org", "ACME"}, 2, "not a valid organization name"},
		{[]string{"demo", "--nodes", "0"}, 2, "--nodes"},
		{[]string{"demo", "--nodes", "2", "--orgs", "3"}, 2, "--orgs"},
	} {
		_, errOut, code := orgpeer(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != tc.code || !strings.Contains(errOut, tc.want) || len(lines) != 1 {
			t.Errorf("orgpeer %v: exit %d, stderr %q; want exit %d and one line containing %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// A port in use is a runtime failure: exit 1, one line, nothing left.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errOut, code := orgpeer(t, "run", "--org", "acme", "--data-dir", dir, "--api", ln.Addr().String())
	if code != 1 || !strings.Contains(errOut, "address already in use") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("API port in use: exit %d, %q", code, errOut)
	}
	// A damaged identity stops the node rather than making it a new peer.
	broken := filepath.Join(t.TempDir(), "n")
	os.MkdirAll(broken, 0o700)
	os.WriteFile(filepath.Join(broken, "identity.key"), []byte("truncated"), 0o600)
	if _, errOut, code := orgpeer(t, "run", "--org", "acme", "--data-dir", broken); code == 0 || !strings.Contains(errOut, "corrupt") {
		t.Errorf("corrupt identity: exit %d, %q", code, errOut)
	}
	if out, _, code := orgpeer(t, "run", "-h"); code != 0 || !strings.Contains(out, "-bootstrap") || strings.Count(out, "usage:") != 1 {
		t.Errorf("run -h: exit %d, %q", code, out)
	}
}

func TestIDWorksOfflineAndMatchesTheRunningNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	out, errOut, code := orgpeer(t, "id", "--data-dir", dir, "--json")
	if code != 0 {
		t.Fatalf("id offline: %d %s", code, errOut)
	}
	var offline struct {
		PeerID string `json:"peer_id"`
	}
	if err := json.Unmarshal([]byte(out), &offline); err != nil || !strings.HasPrefix(offline.PeerID, "12D3KooW") {
		t.Fatalf("id offline: %v %q", err, out)
	}
	c := newTestCluster(t)
	p := c.Add(cluster.Spec{Org: "acme", Host: "h", DataDir: dir})
	if err := c.Start(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if p.Info().PeerID != offline.PeerID {
		t.Fatalf("node runs as %s, id said %s", p.Info().PeerID, offline.PeerID)
	}
	out, _, code = orgpeer(t, "id", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "org:     acme") || !strings.Contains(out, "/p2p/"+offline.PeerID) {
		t.Fatalf("id of the running node: %d %q", code, out)
	}
}

func TestDemoRunsAndCleansUp(t *testing.T) {
	out, errOut, code := orgpeer(t, "demo", "--nodes", "4", "--orgs", "2", "--duration", "1s")
	if code != 0 || !strings.Contains(out, "converged: every node counts every organization exactly") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, tail(errOut, 20))
	}
	if n := strings.Count(out, "== n0"); n != 4 {
		t.Fatalf("demo printed %d views, want 4:\n%s", n, out)
	}
}

func TestImpostorStaysUnverified(t *testing.T) {
	c := newTestCluster(t)
	ps := startAll(t, c, []string{"acme", "globex", "acme", "globex"})
	// A process that claims acme but holds no acme credential.
	imp := c.Add(cluster.Spec{Org: "acme", Host: "host-x", Bootstrap: ps[0].Info().Addrs[:1], Impostor: true})
	if err := c.Start(context.Background(), imp); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, func() string {
		truth := c.Truth()
		for _, p := range c.Live() {
			s, err := cliView(t, p)
			if err != nil {
				return err.Error()
			}
			acme := s.OrgCounts("acme")
			if !c.IsExact(s, truth) || acme.Alive != 3 {
				return fmt.Sprintf("%s counts acme %+v, truth %v verified + 1 impostor", p.Name(), acme, truth)
			}
			// Everyone, the impostor itself included, sees one unverified acme peer.
			if acme.Unverified != 1 || acme.Verified != 2 {
				return fmt.Sprintf("%s: acme verified %d unverified %d", p.Name(), acme.Verified, acme.Unverified)
			}
		}
		return ""
	})
	out, _, code := orgpeer(t, "peers", "--data-dir", ps[1].DataDir(), "--org", "acme", "--json")
	var peers []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &peers) != nil || len(peers) != 3 {
		t.Fatalf("peers --json: %d %q", code, out)
	}
	for _, p := range peers {
		if want := p["peer_id"] != imp.Info().PeerID; p["verified"] != want {
			t.Fatalf("peer %v verified=%v, want %v", p["peer_id"], p["verified"], want)
		}
	}
}

func TestRunRefusesForeignExpiredOrMissingCredential(t *testing.T) {
	dir := t.TempDir()
	k, err := orgs.NewOrgKey("acme")
	if err != nil {
		t.Fatal(err)
	}
	keyPath, orgPath := filepath.Join(dir, "acme.orgkey"), filepath.Join(dir, "acme.org")
	if err := orgfile.SaveKey(k, keyPath, orgPath); err != nil {
		t.Fatal(err)
	}
	idOf := func(dataDir string) string {
		out, _, code := orgpeer(t, "id", "--data-dir", dataDir, "--json")
		var v struct {
			PeerID string `json:"peer_id"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("id: %d %q", code, out)
		}
		return v.PeerID
	}
	n1, n2 := filepath.Join(dir, "n1"), filepath.Join(dir, "n2")
	idOf(n1)
	other := filepath.Join(dir, "n2.cred")
	if _, e, code := orgpeer(t, "org", "issue", "--org-key", keyPath, "--peer", idOf(n2), "--out", other); code != 0 {
		t.Fatal(e)
	}
	expired := filepath.Join(dir, "expired.cred")
	if _, e, code := orgpeer(t, "org", "issue", "--org-key", keyPath, "--peer", idOf(n1), "--not-before", "2020-01-01T00:00:00Z", "--expires", "1h", "--out", expired); code != 0 {
		t.Fatal(e)
	}
	os.WriteFile(filepath.Join(dir, "broken.orgkey"), []byte("{"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--org", "acme", "--data-dir", n1, "--credential", other}, "was issued to peer"},
		{[]string{"run", "--org", "acme", "--data-dir", n1, "--credential", expired}, "is expired"},
		{[]string{"run", "--org", "acme", "--data-dir", n1, "--credential", filepath.Join(dir, "none.cred")}, "--credential"},
		{[]string{"run", "--org", "acme", "--data-dir", n1, "--trust", filepath.Join(dir, "none.org")}, "--trust"},
		{[]string{"org", "issue", "--org-key", filepath.Join(dir, "broken.orgkey"), "--peer", idOf(n1), "--out", filepath.Join(dir, "x")}, "--org-key"},
		{[]string{"org", "init", "--name", "acme", "--out", keyPath}, "refusing to overwrite"},
	} {
		_, errOut, code := orgpeer(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("orgpeer %v: exit %d %q, want exit 2 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestRunRelaxesGCWhileStarting: a local node collects garbage with the
// preset's start-up target while it starts, then with its own, as its
// /metrics (the Go runtime's go_gc_gogc_percent) says.
func TestRunRelaxesGCWhileStarting(t *testing.T) {
	cfg := node.LocalConfig()
	c := newTestCluster(t)
	p := c.Add(cluster.Spec{Org: "acme", Host: "h"})
	if err := c.Start(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	gogc := func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		text, err := p.Client().Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m, err := procstat.ParseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		v, ok := m["go_gc_gogc_percent"]
		if !ok {
			t.Fatal("no go_gc_gogc_percent in /metrics")
		}
		return v
	}
	if got := gogc(); got != float64(cfg.StartGCPercent) {
		t.Fatalf("GC target while starting: %v, want %d", got, cfg.StartGCPercent)
	}
	poll(t, cfg.StartupPeriod()+10*time.Second, func() string {
		if got := gogc(); got != float64(cfg.GCPercent) {
			return fmt.Sprintf("GC target %v after the start-up period, want %d", got, cfg.GCPercent)
		}
		return ""
	})
}

// TestRunSetsTimerSlack: `orgpeer run` executes itself again with the
// preset's timer slack, so that the Go runtime's threads inherit it; the
// node that answers is that second image, with the same PID.
func TestRunSetsTimerSlack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("timer slack is Linux's")
	}
	c := newTestCluster(t)
	p := c.Add(cluster.Spec{Org: "acme", Host: "h"})
	if err := c.Start(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", p.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), fmt.Sprint(node.LocalConfig().TimerSlack.Nanoseconds()); got != want {
		t.Fatalf("timer slack of the running node: %s ns, want %s", got, want)
	}
	// Executed again under its own name: `pkill orgpeer` finds it.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID())); err != nil || strings.TrimSpace(string(b)) != filepath.Base(orgpeerBin(t)) {
		t.Errorf("process name of the running node: %q (%v), want %q", b, err, filepath.Base(orgpeerBin(t)))
	}
	if v, err := cliView(t, p); err != nil || v.Self != p.Info().PeerID {
		t.Fatalf("the re-executed node does not answer as itself: %v %q", err, v.Self)
	}
}
