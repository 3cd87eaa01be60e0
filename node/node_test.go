package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/orgs"
)

// testConfig is the local preset with faster timers for in-process tests.
func testConfig(t testing.TB, org string) Config {
	t.Helper()
	c := LocalConfig()
	c.Org = org
	c.DataDir = t.TempDir()
	c.HostID = "test-host"
	c.HeartbeatInterval = 300 * time.Millisecond
	c.LivenessWindow = 1200 * time.Millisecond
	c.ProbeAfter = 450 * time.Millisecond
	c.DirectoryInterval = time.Second
	c.FindInterval = time.Second
	c.LeavePropagateDelay = 200 * time.Millisecond
	c.BackoffMax = time.Second
	return c
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestNode starts a node on loopback and closes it when the test ends.
func newTestNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := New(ctx, cfg, WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// startNodes starts one node per org in orgNames, each bootstrapped from the
// first only.
func startNodes(t testing.TB, orgNames []string, tweak func(*Config)) []*Node {
	t.Helper()
	var nodes []*Node
	for i, o := range orgNames {
		cfg := testConfig(t, o)
		cfg.HostID = fmt.Sprintf("host-%d", i%2)
		if i > 0 {
			cfg.Bootstrap = nodes[0].Info().Addrs[:1]
		}
		if tweak != nil {
			tweak(&cfg)
		}
		nodes = append(nodes, newTestNode(t, cfg))
	}
	return nodes
}

func truthOf(orgNames []string) map[string]int {
	m := map[string]int{}
	for _, o := range orgNames {
		m[o]++
	}
	return m
}

// countsMatch reports how a node's alive counts differ from truth ("" if not).
func countsMatch(n *Node, truth map[string]int) string {
	s := n.view.Snapshot()
	for org, want := range truth {
		if got := s.OrgCounts(org).Alive; got != want {
			return fmt.Sprintf("%s counts %d alive in %s, want %d", n.Info().PeerID, got, org, want)
		}
	}
	if s.Total.Alive != sum(truth) {
		return fmt.Sprintf("%s counts %d alive in all, want %d", n.Info().PeerID, s.Total.Alive, sum(truth))
	}
	return ""
}

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

func allMatch(nodes []*Node, truth map[string]int) func() string {
	return func() string {
		for _, n := range nodes {
			if msg := countsMatch(n, truth); msg != "" {
				return msg
			}
		}
		return ""
	}
}

func TestNodesConvergeToExactCounts(t *testing.T) {
	// acme runs twice on host-0, globex on host-1 and host-0.
	orgNames := []string{"acme", "globex", "acme", "initech", "globex"}
	nodes := startNodes(t, orgNames, nil)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))

	// The API serves the same view, with hosts and per-org peer lists.
	c := api.NewClient(nodes[3].Info().API, "")
	ctx := context.Background()
	s, err := c.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if acme, globex := s.OrgCounts("acme"), s.OrgCounts("globex"); acme.Alive != 2 || acme.Hosts != 1 || globex.Hosts != 2 || s.Total.Hosts != 2 {
		t.Fatalf("API view: %+v", s)
	}
	ps, err := c.Peers(ctx, "globex", "alive")
	if err != nil || len(ps) != 2 {
		t.Fatalf("peers globex alive: %v %+v", err, ps)
	}
	for _, p := range ps {
		if p.Org != "globex" || p.State != orgs.StateAlive || p.Host == "" || p.LastSeen.IsZero() {
			t.Fatalf("peer %+v", p)
		}
	}
	self, err := c.Self(ctx)
	if err != nil || self.PeerID != nodes[3].Info().PeerID || self.Org != "initech" {
		t.Fatalf("self %v %+v", err, self)
	}
	checkMetrics(t, get(t, nodes[3].Info().API, "/metrics", ""), len(orgNames))
}

// checkMetrics checks the /metrics of the initech node of a settled
// cluster of n nodes (two in acme, none verified): orgpeer_peers counts
// every peer once, in one state; the alive peers' sub-counts stand apart;
// the build is named.
func checkMetrics(t *testing.T, body string, n int) {
	t.Helper()
	for series, want := range map[string]float64{
		`orgpeer_peers{org="acme",org_id="",state="alive"}`:      2,
		`orgpeer_peers{org="acme",org_id="",state="suspect"}`:    0,
		`orgpeer_peers{org="acme",org_id="",state="left"}`:       0,
		`orgpeer_peers_alive_verified{org="acme",org_id=""}`:     0,
		`orgpeer_peers_alive_unverified{org="acme",org_id=""}`:   2,
		`orgpeer_peers_alive_connected{org="initech",org_id=""}`: 0, // the node itself
		`orgpeer_hosts{org="acme",org_id=""}`:                    1,
		`orgpeer_org_exact{org="acme",org_id=""}`:                1, // small: counted exactly
		`orgpeer_org_sampling_level{org="acme",org_id=""}`:       0,
	} {
		if got, ok := sample(body, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	total := 0.0
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "orgpeer_peers{") {
			if !regexp.MustCompile(`state="(alive|suspect|left)"`).MatchString(l) {
				t.Errorf("orgpeer_peers has a state that is not exclusive: %s", l)
			}
			v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			total += v
		}
	}
	if total != float64(n) {
		t.Errorf("sum(orgpeer_peers) = %v, want %d: a peer is counted twice or not at all", total, n)
	}
	build := regexp.MustCompile(`(?m)^orgpeer_build_info\{goversion="` + regexp.QuoteMeta(runtime.Version()) + `",revision="[^"]+",version="` + regexp.QuoteMeta(Version) + `"\} 1$`)
	if !build.MatchString(body) {
		t.Errorf("no orgpeer_build_info for %s %s: %q", Version, runtime.Version(), regexp.MustCompile(`(?m)^orgpeer_build_info.*$`).FindAllString(body, -1))
	}
	if !strings.Contains(body, `orgpeer_messages_total{reason="ok",result="accepted"}`) {
		t.Error("no accepted messages counted")
	}
}

func TestLeaveAndFailure(t *testing.T) {
	orgNames := []string{"acme", "globex", "acme", "globex"}
	// No probes: this test is about the liveness window (see
	// TestCrashFoundByProbe).
	nodes := startNodes(t, orgNames, func(c *Config) { c.ProbeAfter = 0 })
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	leaver, crasher := nodes[3], nodes[2]
	rest := nodes[:2]

	ctx := context.Background()
	start := time.Now()
	if err := leaver.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	leaver.Close()
	id := leaver.Info().PeerID
	nodetest.Eventually(t, 2*time.Second, func() string {
		for _, n := range rest {
			if p, ok := n.view.Get(id); !ok || p.State != orgs.StateLeft {
				return fmt.Sprintf("%s sees the leaver as %v", n.Info().PeerID, p.State)
			}
		}
		return ""
	})
	t.Logf("leave seen everywhere after %v", time.Since(start))

	// Close without Leave is a failure: the others notice only by silence.
	crasher.Close()
	start = time.Now()
	id = crasher.Info().PeerID
	nodetest.Eventually(t, 5*time.Second, func() string {
		for _, n := range rest {
			if p, _ := n.view.Get(id); p.State != orgs.StateSuspect {
				return fmt.Sprintf("%s sees the crashed peer as %v", n.Info().PeerID, p.State)
			}
		}
		return ""
	})
	// Suspect no sooner than a liveness window after the last heartbeat
	// each observer heard (measured from Close, a heartbeat the crasher
	// was late to send under load made it look early).
	for _, n := range rest {
		p, _ := n.view.Get(id)
		if silent := p.Since.Sub(p.LastSeen); silent < n.cfg.LivenessWindow {
			t.Fatalf("a silent peer turned suspect %v after its last heartbeat, within the liveness window (%v); %v after Close",
				silent, n.cfg.LivenessWindow, time.Since(start))
		}
	}
	nodetest.Eventually(t, 2*time.Second, allMatch(rest, map[string]int{"acme": 1, "globex": 1}))
}

// TestCrashFoundByProbe: a peer that stops without a leave, its listener
// closed as by a crash, is suspect once its heartbeat is ProbeAfter late,
// well before its liveness window ends; a silent peer that still listens
// is left to the window.
func TestCrashFoundByProbe(t *testing.T) {
	orgNames := []string{"acme", "globex", "acme"}
	nodes := startNodes(t, orgNames, func(c *Config) {
		c.HeartbeatInterval = 300 * time.Millisecond
		c.ProbeAfter = 450 * time.Millisecond
		c.LivenessWindow = 3 * time.Second // long, so that only a probe explains an early suspect
	})
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	crasher, rest := nodes[2], nodes[:2]
	id := crasher.Info().PeerID
	crasher.Close()
	start := time.Now()
	nodetest.Eventually(t, 3*time.Second, func() string {
		for _, n := range rest {
			p, _ := n.view.Get(id)
			if p.State != orgs.StateSuspect {
				return fmt.Sprintf("%s sees the crashed peer as %v", n.Info().PeerID, p.State)
			}
			if silent := time.Since(p.LastSeen); silent >= n.cfg.LivenessWindow {
				return fmt.Sprintf("suspect only by the liveness window (silent %v)", silent)
			}
		}
		return ""
	})
	t.Logf("crash found by probes after %v", time.Since(start))
	for _, n := range rest {
		if got := testutil.ToFloat64(n.metrics.probes.WithLabelValues("gone")); got < 1 {
			t.Fatalf("%s counted %v probes that found a peer gone", n.Info().PeerID, got)
		}
	}
}

// TestSecondProbe: a silent peer whose port still accepts at the first
// probe (a process shutting down, say) is probed once more before its
// liveness window ends, and found gone then.
func TestSecondProbe(t *testing.T) {
	nodes := startNodes(t, []string{"acme"}, func(c *Config) {
		c.HeartbeatInterval = 300 * time.Millisecond
		c.ProbeAfter = 450 * time.Millisecond
		c.LivenessWindow = 3 * time.Second
	})
	n := nodes[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts into its backlog unasked
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	const ghost = "12D3KooWGhostGhostGhostGhostGhostGhostGhostGhost1"
	n.view.ApplyHeartbeat(orgs.Heartbeat{PeerID: ghost, Org: "acme", Version: orgs.Version{Epoch: 1, Seq: 1}, Addrs: []string{addr}})
	inconclusive := n.metrics.probes.WithLabelValues("inconclusive")
	nodetest.Eventually(t, 2*time.Second, func() string {
		if testutil.ToFloat64(inconclusive) < 1 {
			return "no inconclusive probe of the listening ghost yet"
		}
		return ""
	})
	ln.Close()
	nodetest.Eventually(t, 2*time.Second, func() string {
		p, _ := n.view.Get(ghost)
		switch {
		case p.State != orgs.StateSuspect:
			return fmt.Sprintf("the ghost is %v", p.State)
		case time.Since(p.LastSeen) >= 3*time.Second:
			return "suspect only by the liveness window"
		}
		return ""
	})
	if got := testutil.ToFloat64(n.metrics.probes.WithLabelValues("gone")); got != 1 {
		t.Fatalf("%v probes found the ghost gone, want 1", got)
	}
}

// TestSilentPeerAsked: a live peer whose heartbeats stop reaching a node
// (here GossipSub between the two is cut: each blacklists the other) is
// asked for its heartbeat after a probe that proves nothing, answers on a
// hello stream and stays alive past its liveness window.
func TestSilentPeerAsked(t *testing.T) {
	orgNames := []string{"acme", "globex"}
	nodes := startNodes(t, orgNames, func(c *Config) {
		c.HeartbeatInterval = 300 * time.Millisecond
		c.ProbeAfter = 450 * time.Millisecond
		c.LivenessWindow = 1500 * time.Millisecond
	})
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	a, b := nodes[0], nodes[1]
	a.ps.BlacklistPeer(b.host.ID())
	b.ps.BlacklistPeer(a.host.ID())
	// Two liveness windows: without the ask, each would be suspect after one.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if msg := allMatch(nodes, truthOf(orgNames))(); msg != "" {
			t.Fatalf("with GossipSub cut between them: %s", msg)
		}
	}
	for _, n := range nodes {
		if got := testutil.ToFloat64(n.metrics.probes.WithLabelValues("answered")); got < 1 {
			t.Fatalf("%s counted %v answered asks", n.Info().PeerID, got)
		}
	}
}

func TestRefusedEverywhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	listening := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "/ip4/127.0.0.1/tcp/" + strconv.Itoa(closedLn.Addr().(*net.TCPAddr).Port)
	closedLn.Close()
	ctx := context.Background()
	for _, c := range []struct {
		addrs []string
		want  bool
	}{
		{[]string{closed}, true},
		{[]string{closed, "/ip4/127.0.0.1/udp/9/quic-v1"}, true}, // QUIC is not probed
		{[]string{closed, listening}, false},                     // one listens: proves nothing
		{[]string{listening}, false},
		{[]string{"/ip4/127.0.0.1/udp/9/quic-v1"}, false}, // nothing to probe
		{[]string{"/ip4/0.0.0.0/tcp/1", closed + "/ws", "garbage"}, false},
		{nil, false},
	} {
		pr := &prober{oneMachine: true, seen: newConnIPs(8), onLink: &localNets{}}
		if got := pr.refusedEverywhere(ctx, pr.targets(orgs.PeerInfo{Addrs: c.addrs}), time.Second); got != c.want {
			t.Errorf("refusedEverywhere(%q) = %v, want %v", c.addrs, got, c.want)
		}
	}
}

func TestStartBeats(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		want     string
	}{
		{300 * time.Millisecond, "[120ms]"},
		{time.Second, "[400ms]"},
		{1500 * time.Millisecond, "[400ms 1s]"},
		{5 * time.Second, "[400ms 1s 2s 3s 4s]"},
	} {
		if got := fmt.Sprint(startBeats(c.interval)); got != c.want {
			t.Errorf("startBeats(%v) = %s, want %s", c.interval, got, c.want)
		}
	}
}

func TestPartialViewCountsBeyondConnections(t *testing.T) {
	orgNames := []string{"acme", "globex", "initech", "acme", "globex", "initech", "acme", "globex"}
	nodes := startNodes(t, orgNames, func(c *Config) {
		c.MaxPeers = 2
		c.ConnGrace = time.Second
	})
	truth := truthOf(orgNames)
	nodetest.Eventually(t, 60*time.Second, func() string {
		if msg := allMatch(nodes, truth)(); msg != "" {
			return msg
		}
		conns := 0
		for _, n := range nodes {
			s := n.view.Snapshot()
			if s.Total.Connected >= len(nodes)-1 {
				return fmt.Sprintf("%s is connected to all %d others", n.Info().PeerID, s.Total.Connected)
			}
			conns += s.Total.Connected
		}
		// The cap (2) is enforced by trimming, so a node may briefly hold
		// a few more; on average it must stay near the cap.
		if avg := float64(conns) / float64(len(nodes)); avg > 4 {
			return fmt.Sprintf("%.1f connections per node on average, with --max-peers 2", avg)
		}
		return ""
	})
	relayed := 0
	for _, n := range nodes {
		s := n.view.Snapshot()
		t.Logf("%s: alive %d, connected %d, libp2p connections %d", n.Info().PeerID, s.Total.Alive, s.Total.Connected, len(n.host.Network().Peers()))
		for _, p := range n.view.Peers(orgs.Filter{}) {
			if p.Learned == orgs.LearnedRelayed {
				relayed++
			}
		}
	}
	if relayed == 0 {
		t.Fatal("no peer was learned through a relayed heartbeat")
	}
}

func TestRestartKeepsIdentityAndIsCountedOnce(t *testing.T) {
	nodes := startNodes(t, []string{"acme", "globex"}, nil)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, map[string]int{"acme": 1, "globex": 1}))
	old := nodes[1]
	cfg := old.cfg
	old.Close() // crash: no leave
	again := newTestNode(t, cfg)
	if again.Info().PeerID != old.Info().PeerID {
		t.Fatalf("restart changed the peer ID: %s -> %s", old.Info().PeerID, again.Info().PeerID)
	}
	if again.Info().Epoch != old.Info().Epoch+1 {
		t.Fatalf("epoch %d after %d", again.Info().Epoch, old.Info().Epoch)
	}
	nodetest.Eventually(t, 30*time.Second, func() string {
		p, ok := nodes[0].view.Get(again.Info().PeerID)
		if !ok || p.Version.Epoch != again.Info().Epoch {
			return "the restarted peer's new epoch is not seen"
		}
		return countsMatch(nodes[0], map[string]int{"acme": 1, "globex": 1})
	})
}

func get(t testing.TB, api, path, host string) string {
	t.Helper()
	code, body := request(t, api, path, host, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

// sample returns the value of one series in /metrics text: its name and
// labels as Prometheus writes them (labels sorted), `name{a="1",b="2"}`.
func sample(text, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

func request(t testing.TB, api, path, host, token string) (int, string) {
	t.Helper()
	code, body, _ := requestH(t, api, path, host, token)
	return code, body
}

// requestH is request with the response headers.
func requestH(t testing.TB, api, path, host, token string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+api+path, nil)
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestAPIRejectsBadRequests(t *testing.T) {
	cfg := testConfig(t, "acme")
	n := newTestNode(t, cfg)
	api := n.Info().API
	for _, tc := range []struct {
		path, host string
		code       int
		want       string
	}{
		{"/v1/peers?state=dead", "", 400, "unknown peer state"},
		{"/v1/peers?org=Not+Valid", "", 400, "not a valid organization"},
		{"/v1/peers?limit=3", "", 400, "unknown query parameter"},
		{"/v1/peers?org=a&org=b", "", 400, "given 2 times"},
		{"/v1/view?x=1", "", 400, "unknown query parameter"},
		{"/v1/view", "evil.example:80", 403, "not a loopback name"},
		{"/v1/nothing", "", 404, ""},
		{"/v1/peers?org=acme", "", 200, `"self": true`},
		{"/healthz", "localhost", 200, `"status": "ok"`},
	} {
		code, body, hdr := requestH(t, api, tc.path, tc.host, "")
		if cors := hdr.Get("Access-Control-Allow-Origin"); cors != "" {
			t.Errorf("GET %s: CORS header %q: other sites must not read the API", tc.path, cors)
		}
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s (Host %q): %d %q, want %d containing %q", tc.path, tc.host, code, body, tc.code, tc.want)
		}
		if code == 400 && !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("GET %s: error body is not JSON: %q", tc.path, body)
		}
	}
}

func TestAPIToken(t *testing.T) {
	cfg := testConfig(t, "acme")
	cfg.APIToken = "s3cret"
	n := newTestNode(t, cfg)
	if code, _ := request(t, n.Info().API, "/v1/view", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := request(t, n.Info().API, "/v1/view", "", "wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if _, err := api.NewClient(n.Info().API, "s3cret").View(context.Background()); err != nil {
		t.Fatalf("right token: %v", err)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no org", func(c *Config) { c.Org = "" }, "--org is required"},
		{"bad org", func(c *Config) { c.Org = "Acme Corp" }, "--org"},
		{"bad bootstrap", func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/x"} }, "--bootstrap"},
		{"bootstrap without peer id", func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/4001"} }, "/p2p/"},
		{"public API without token", func(c *Config) { c.APIAddr = "0.0.0.0:0" }, "--api-token"},
		{"bad listen", func(c *Config) { c.ListenAddrs = []string{"tcp:4001"} }, "--listen"},
		{"relay without peer id", func(c *Config) { c.Relays = []string{"/ip4/192.0.2.1/udp/4101/quic-v1"} }, "--relay"},
		{"relay and relay service", func(c *Config) {
			c.Relays, c.RelayService = []string{"/ip4/192.0.2.1/tcp/4101/p2p/12D3KooWSijZa5fEMapbBWQbJnYb5hGERbDyXYXtQTs8TEPDxGjy"}, true
		}, "--relay-service"},
		{"bad announce", func(c *Config) { c.Announce = []string{"192.0.2.1:4101"} }, "--announce"},
		{"bad no-announce range", func(c *Config) { c.NoAnnounce = []string{"10.0.0.0/40"} }, "--no-announce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "acme")
			tc.edit(&cfg)
			_, err := New(context.Background(), cfg)
			if _, ok := err.(*ConfigError); !ok || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a ConfigError about %q", err, tc.want)
			}
		})
	}
}

func TestAddressInUseLeavesNothingStarted(t *testing.T) {
	first := newTestNode(t, testConfig(t, "acme"))
	cfg := testConfig(t, "acme")
	cfg.APIAddr = first.Info().API
	if _, err := New(context.Background(), cfg, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("API port in use: %v", err)
	}
	cfg.APIAddr = "127.0.0.1:0"
	cfg.ListenAddrs = []string{strings.Split(first.Info().Addrs[0], "/p2p/")[0]}
	if _, err := New(context.Background(), cfg, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("listen address in use: %v", err)
	}
	// Nothing was left holding the data dir.
	cfg.ListenAddrs = LocalConfig().ListenAddrs
	newTestNode(t, cfg)
}

func TestDataDirLocked(t *testing.T) {
	cfg := testConfig(t, "acme")
	newTestNode(t, cfg)
	if _, err := New(context.Background(), cfg, WithLogger(quietLogger())); err == nil || !strings.Contains(err.Error(), "in use by another") {
		t.Fatalf("second node on one data dir: %v", err)
	}
}

func TestUnreachableBootstrapIsRetried(t *testing.T) {
	// The seed's identity and port exist before the seed runs.
	seedCfg := testConfig(t, "acme")
	priv, err := datadir.LoadOrCreateIdentity(seedCfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	seedID, _ := peer.IDFromPrivateKey(priv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	seedCfg.ListenAddrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}

	cfg := testConfig(t, "globex")
	cfg.Bootstrap = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", port, seedID)}
	joiner := newTestNode(t, cfg)
	nodetest.Eventually(t, 10*time.Second, func() string {
		if n, _ := sample(get(t, joiner.Info().API, "/metrics", ""), "orgpeer_discovery_bootstrap_failures_total"); n < 2 {
			return fmt.Sprintf("%v failed bootstrap attempts, want 2 retries", n)
		}
		return ""
	})
	// Alive, but not ready: it has not joined anyone.
	c := api.NewClient(joiner.Info().API, "")
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatalf("node without a reachable bootstrap peer stopped serving: %v", err)
	}
	if code, body := request(t, joiner.Info().API, "/readyz", "", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "no peer heard yet") {
		t.Fatalf("/readyz before joining: %d %s", code, body)
	}
	if h, err := c.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "joined: no peer heard yet") || h.Status != "failing" {
		t.Fatalf("Ready before joining: %+v, %v", h, err)
	}
	seed := newTestNode(t, seedCfg)
	nodetest.Eventually(t, 30*time.Second, allMatch([]*Node{seed, joiner}, map[string]int{"acme": 1, "globex": 1}))
	if h, err := c.Ready(context.Background()); err != nil || h.Status != "ok" {
		t.Fatalf("Ready after joining: %+v, %v", h, err)
	}
}

// TestHealthSaysWhatItChecked: a running node is live (listening, presence
// running, own heartbeat fresh) and, without bootstrap peers, ready; once
// its presence stops, both answer 503 and name the failing checks.
func TestHealthSaysWhatItChecked(t *testing.T) {
	n := newTestNode(t, testConfig(t, "acme"))
	c := api.NewClient(n.Info().API, "")
	ctx := context.Background()
	nodetest.Eventually(t, 5*time.Second, func() string { // past the first heartbeat
		if p, _ := n.view.Get(n.Info().PeerID); !p.LastSeen.After(n.Info().Started) {
			return "the node's own entry was never refreshed"
		}
		return ""
	})
	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" || len(h.Checks) != 3 {
		t.Fatalf("Health: %+v, %v", h, err)
	}
	for i, name := range []string{"listening", "presence", "fresh"} {
		if h.Checks[i].Name != name || !h.Checks[i].OK || h.Checks[i].Detail == "" {
			t.Errorf("check %d: %+v, want %s passing with a detail", i, h.Checks[i], name)
		}
	}
	if r, err := c.Ready(ctx); err != nil || len(r.Checks) != 4 || r.Checks[3].Name != "joined" || !r.Checks[3].OK {
		t.Fatalf("Ready without bootstrap peers: %+v, %v", r, err)
	}

	n.cancel() // presence stops; the API keeps serving
	nodetest.Eventually(t, 5*time.Second, func() string {
		_, err := c.Health(ctx)
		if err == nil || !strings.Contains(err.Error(), "presence: stopped") || !strings.Contains(err.Error(), "fresh: own heartbeat") {
			return fmt.Sprintf("Health with presence stopped: %v", err)
		}
		return ""
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := request(t, n.Info().API, path, "", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, `"status": "failing"`) {
			t.Errorf("%s with presence stopped: %d %s", path, code, body)
		}
	}
}

func TestWatchLimitsFollowedOrganizations(t *testing.T) {
	nodes := startNodes(t, []string{"acme", "globex", "initech"}, nil)
	cfg := testConfig(t, "acme")
	cfg.Bootstrap = nodes[0].Info().Addrs[:1]
	cfg.Watch = []string{"globex"}
	w := newTestNode(t, cfg)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, map[string]int{"acme": 2, "globex": 1, "initech": 1}))
	nodetest.Eventually(t, 30*time.Second, func() string { return countsMatch(w, map[string]int{"acme": 2, "globex": 1}) })
	// initech stays uncounted over several heartbeats, although known.
	for range 5 {
		if got := w.view.Snapshot().OrgCounts("initech").Alive; got != 0 {
			t.Fatalf("watching only globex, the node counts %d initech peers", got)
		}
		if slices.Contains(w.pres.topics.followed(), "initech") {
			t.Fatal("follows initech's topic despite --watch")
		}
		time.Sleep(cfg.HeartbeatInterval)
	}
	if !slices.Contains(w.view.Orgs(), "initech") {
		t.Fatal("the watcher never heard of initech, so the test proves nothing")
	}
}
