package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/node"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, errOut, code := orgpeer(t, args...)
		if code != 0 || !strings.HasPrefix(out, "orgpeer "+node.Version+"\n") || !strings.Contains(out, "module:   github.com/orgpeer/orgpeer") || !strings.Contains(out, "go:       go1.") {
			t.Errorf("orgpeer %v: exit %d, %q %q", args, code, out, errOut)
		}
	}
}

// TestCompletion: the scripts parse, and bash completes commands, flags
// and flag values from the command table.
func TestCompletion(t *testing.T) {
	if _, _, code := orgpeer(t, "completion", "fish"); code != 2 {
		t.Errorf("completion fish: exit %d, want 2", code)
	}
	script, _, code := orgpeer(t, "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: exit %d", code)
	}
	path := filepath.Join(t.TempDir(), "orgpeer.bash")
	os.WriteFile(path, []byte(script), 0o600)
	complete := func(words ...string) string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		sh := fmt.Sprintf(`source %q; COMP_WORDS=(%s); COMP_CWORD=%d; _orgpeer; echo "${COMPREPLY[*]}"`,
			path, strings.Join(quoted, " "), len(words)-1)
		out, err := exec.Command("bash", "--norc", "-c", sh).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"orgpeer", "v"}, "view version"},
		{[]string{"orgpeer", "run", "--pre"}, "--preset"},
		{[]string{"orgpeer", "run", "--preset", ""}, "lan wan local"},
		{[]string{"orgpeer", "peers", "--state", "s"}, "suspect"},
		{[]string{"orgpeer", "org", "re"}, "revoke"},
		{[]string{"orgpeer", "org", "issue", "--ex"}, "--expires"},
		{[]string{"orgpeer", "completion", ""}, "bash zsh"},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("completing %q: %q, want %q", tc.words, got, tc.want)
		}
	}
	zsh, _, code := orgpeer(t, "completion", "zsh")
	if code != 0 || !strings.HasPrefix(zsh, "#compdef orgpeer") || !strings.Contains(zsh, "'--preset[") {
		t.Fatalf("completion zsh: exit %d\n%s", code, zsh)
	}
	if _, err := exec.LookPath("zsh"); err == nil {
		path := filepath.Join(t.TempDir(), "_orgpeer")
		os.WriteFile(path, []byte(zsh), 0o600)
		if out, err := exec.Command("zsh", "-n", path).CombinedOutput(); err != nil {
			t.Fatalf("zsh -n: %v\n%s", err, out)
		}
	}
}

// TestHelpNeverPrintsToken: -h shows no token set in the environment.
func TestHelpNeverPrintsToken(t *testing.T) {
	const secret = "s3cret-from-env"
	for _, cmd := range []string{"run", "view", "peers", "id"} {
		out, errOut, code := orgpeerEnv(t, []string{"ORGPEER_API_TOKEN=" + secret}, cmd, "-h")
		if code != 0 || !strings.Contains(out, "-api-token") || strings.Contains(out+errOut, secret) {
			t.Errorf("%s -h: exit %d, token shown: %v\n%s", cmd, code, strings.Contains(out+errOut, secret), out)
		}
	}
}

// TestQueryWithoutFlags: view, peers and id need no flag for the node of
// the default data dir, and ORGPEER_API reaches a node anywhere.
func TestQueryWithoutFlags(t *testing.T) {
	state := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + state, "ORGPEER_DATA_DIR=", "ORGPEER_API=", "STATE_DIRECTORY="}
	c := newTestCluster(t)
	p := c.Add(cluster.Spec{Org: "acme", Host: "h", DataDir: filepath.Join(state, "orgpeer")})
	if err := c.Start(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"view"}, {"peers"}, {"id"}} {
		out, errOut, code := orgpeerEnv(t, env, args...)
		if code != 0 || !strings.Contains(out, p.Info().PeerID) {
			t.Errorf("orgpeer %v: exit %d, %q %q", args, code, out, errOut)
		}
	}
	out, _, _ := orgpeerEnv(t, env, "id")
	if !strings.Contains(out, "--bootstrap "+p.Info().Addrs[0]) && !strings.Contains(out, "--bootstrap /ip4/127.0.0.1/tcp/") {
		t.Errorf("id prints no --bootstrap line:\n%s", out)
	}
	other := append(env, "XDG_STATE_HOME="+t.TempDir(), "ORGPEER_API="+p.Info().API)
	if out, errOut, code := orgpeerEnv(t, other, "view", "--json"); code != 0 || !strings.Contains(out, p.Info().PeerID) {
		t.Errorf("view with ORGPEER_API: exit %d, %q", code, errOut)
	}
}

// runProc is an `orgpeer run` a test started itself, with its own
// environment; it is killed when the test ends.
type runProc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	info api.SelfInfo
	err  error // of Wait, once done is closed
}

func startRun(t *testing.T, dataDir string, env []string, args ...string) *runProc {
	t.Helper()
	os.Remove(filepath.Join(dataDir, api.InfoFile))
	p := &runProc{log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(orgpeerBin(t), append([]string{"run"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("--- log of pid %d:\n%s", p.cmd.Process.Pid, tail(p.log.String(), 30))
		}
	})
	poll(t, 30*time.Second, func() string {
		select {
		case <-p.done:
			t.Fatalf("orgpeer run %v exited: %v\n%s", args, p.err, p.log.String())
		default:
		}
		info, err := api.ReadInfo(dataDir)
		if err != nil {
			return err.Error()
		}
		p.info = info
		return ""
	})
	return p
}

// signal sends sig and, for SIGTERM, waits for a clean exit.
func (p *runProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	if sig != syscall.SIGTERM {
		return
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20 s after SIGTERM")
	}
}

// TestSIGHUPReloadsTrustAndNodeJSONLifecycle: a node run by a config file
// tells a (fake) systemd it is ready, starts trusting an organization on
// SIGHUP after its config file changed, keeps its state on a bad file,
// tells which changes need a restart, never logs its token, removes its
// node.json on SIGTERM; after a kill -9 the CLI names the node.json stale.
func TestSIGHUPReloadsTrustAndNodeJSONLifecycle(t *testing.T) {
	const secret = "s3cret-api-token"
	dir := t.TempDir()
	globex, err := orgs.NewOrgKey("globex")
	if err != nil {
		t.Fatal(err)
	}
	globexOrg := filepath.Join(dir, "globex.org")
	if err := orgfile.SaveKey(globex, filepath.Join(dir, "globex.orgkey"), globexOrg); err != nil {
		t.Fatal(err)
	}
	bDir := filepath.Join(dir, "b")
	priv, err := datadir.LoadOrCreateIdentity(bDir)
	if err != nil {
		t.Fatal(err)
	}
	bID, _ := peer.IDFromPrivateKey(priv)
	cred, _ := globex.Issue(bID, time.Now().Add(-time.Minute), time.Hour, 1)
	credPath := filepath.Join(dir, "b.cred")
	os.WriteFile(credPath, cred, 0o600)

	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	notice := func() string {
		t.Helper()
		buf := make([]byte, 512)
		notify.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := notify.Read(buf)
		if err != nil {
			t.Fatalf("no notice from the node: %v", err)
		}
		return string(buf[:n])
	}

	aDir := filepath.Join(dir, "a")
	config := filepath.Join(dir, "orgpeer.json")
	writeConfig := func(s string) {
		if err := orgfile.WriteFileAtomic(config, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := `"org": "acme", "preset": "local", "data-dir": "` + aDir + `", "host-id": "a"`
	writeConfig("{" + base + "}")
	aEnv := []string{"ORGPEER_API_TOKEN=" + secret, "NOTIFY_SOCKET=" + filepath.Join(dir, "notify")}
	a := startRun(t, aDir, aEnv, "--config", config)
	if got := notice(); !strings.HasPrefix(got, "READY=1") {
		t.Fatalf("first notice %q, want READY=1", got)
	}
	startRun(t, bDir, nil, "--preset", "local", "--org", "globex", "--data-dir", bDir, "--host-id", "b",
		"--api", "127.0.0.1:0", "--trust", globexOrg, "--credential", credPath, "--bootstrap", a.info.Addrs[0])

	viewEnv := []string{"ORGPEER_API_TOKEN=" + secret}
	globexAt := func(want string) func() string {
		return func() string {
			out, errOut, code := orgpeerEnv(t, viewEnv, "view", "--data-dir", aDir, "--json")
			var s orgs.Snapshot
			if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
				return fmt.Sprintf("view: exit %d %s", code, errOut)
			}
			g := s.OrgCounts("globex")
			if got := fmt.Sprintf("%d alive, %d verified", g.Alive, g.Verified); got != want {
				return "globex: " + got + ", want " + want
			}
			return ""
		}
	}
	poll(t, 30*time.Second, globexAt("1 alive, 0 verified"))

	writeConfig("{" + base + `, "trust": ["` + globexOrg + `"], "log-level": "debug"}`)
	a.signal(t, syscall.SIGHUP)
	poll(t, 15*time.Second, globexAt("1 alive, 1 verified"))
	for _, want := range []string{"reload: organization trusted", "reload: log level changed"} {
		if !strings.Contains(a.log.String(), want) {
			t.Errorf("no %q in the log", want)
		}
	}

	writeConfig("{" + base + `, "trust": ["` + globexOrg + `"], "colour": "blue"}`)
	a.signal(t, syscall.SIGHUP)
	poll(t, 10*time.Second, func() string {
		if !strings.Contains(a.log.String(), `unknown key \"colour\"`) {
			return "the bad config file is not logged"
		}
		return ""
	})
	writeConfig("{" + strings.Replace(base, `"host-id": "a"`, `"host-id": "elsewhere"`, 1) + `, "trust": ["` + globexOrg + `"], "log-level": "debug"}`)
	a.signal(t, syscall.SIGHUP)
	poll(t, 10*time.Second, func() string {
		if !strings.Contains(a.log.String(), "take effect on restart only") || !strings.Contains(a.log.String(), "flags=[host-id]") {
			return "the change that needs a restart is not named"
		}
		return ""
	})
	if msg := globexAt("1 alive, 1 verified")(); msg != "" {
		t.Fatalf("after the refused reloads: %s", msg)
	}

	a.signal(t, syscall.SIGTERM)
	if got := notice(); got != "STOPPING=1" {
		t.Errorf("last notice %q, want STOPPING=1", got)
	}
	if _, err := os.Stat(filepath.Join(aDir, api.InfoFile)); !os.IsNotExist(err) {
		t.Errorf("node.json left behind by a clean exit: %v", err)
	}
	if strings.Contains(a.log.String(), secret) {
		t.Error("the log shows the API token")
	}
	_, errOut, code := orgpeer(t, "view", "--data-dir", aDir)
	if code != 1 || !strings.Contains(errOut, "no running node found") {
		t.Errorf("view after a clean exit: exit %d, %q", code, errOut)
	}

	a = startRun(t, aDir, aEnv, "--config", config)
	a.signal(t, syscall.SIGKILL)
	<-a.done
	_, errOut, code = orgpeer(t, "view", "--data-dir", aDir)
	want := fmt.Sprintf("node.json in %s is stale (the node at pid %d is gone)", aDir, a.cmd.Process.Pid)
	if code != 1 || strings.TrimSpace(errOut) != "orgpeer: "+want {
		t.Errorf("view after kill -9: exit %d, %q; want %q", code, errOut, want)
	}
}
