package orgs

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testCfg = Config{
	LivenessWindow:   3 * time.Second,
	SuspectRetention: 30 * time.Second,
	LeftRetention:    60 * time.Second,
	OrgRetention:     60 * time.Second,
	MaxPeers:         100,
	MaxOrgs:          10,
}

type recorded struct {
	mu  sync.Mutex
	evs []string
	trs []Transition
}

func (r *recorded) sink(tr Transition) {
	r.mu.Lock()
	if tr.StateChanged() {
		r.evs = append(r.evs, fmt.Sprintf("%s:%s->%s", tr.Peer.PeerID, tr.From, tr.Peer.State))
	} else {
		r.evs = append(r.evs, fmt.Sprintf("%s:verified=%t", tr.Peer.PeerID, tr.Peer.Verified))
	}
	r.trs = append(r.trs, tr)
	r.mu.Unlock()
}

func newTestView(t testing.TB) (*View, *fakeClock, *recorded) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	rec := &recorded{}
	v := NewView(testCfg, clk, PeerInfo{PeerID: "self", Org: "acme", Host: "h0"}, rec.sink)
	return v, clk, rec
}

func hb(id, org, host string, epoch, seq uint64) Heartbeat {
	return Heartbeat{PeerID: id, Org: org, Host: host, Version: Version{epoch, seq}, Direct: true}
}

func state(t *testing.T, v *View, id string) PeerState {
	t.Helper()
	p, ok := v.Get(id)
	if !ok {
		return StateUnknown
	}
	return p.State
}

func TestSelfIsCountedAlive(t *testing.T) {
	v, clk, _ := newTestView(t)
	clk.Advance(time.Hour) // self never expires
	s := v.Snapshot()
	c := s.OrgCounts("acme")
	if c.Alive != 1 || c.Hosts != 1 || s.Total.Alive != 1 {
		t.Fatalf("self not counted once: %+v", s)
	}
	if c.FreshestMs != nil {
		t.Fatalf("self must not give heartbeat ages: %+v", c)
	}
	if ps := v.Peers(Filter{}); len(ps) != 1 || !ps[0].Self || ps[0].Learned != LearnedSelf {
		t.Fatalf("peers = %+v", ps)
	}
}

func TestTransitionsAliveSuspectForgotten(t *testing.T) {
	v, clk, rec := newTestView(t)
	if out := v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 1)); out != Added {
		t.Fatalf("first heartbeat: %v", out)
	}
	if got := state(t, v, "a"); got != StateAlive {
		t.Fatalf("after heartbeat: %v", got)
	}
	clk.Advance(3 * time.Second) // exactly the window: still alive
	if got := state(t, v, "a"); got != StateAlive {
		t.Fatalf("at window: %v", got)
	}
	clk.Advance(time.Millisecond)
	if got := state(t, v, "a"); got != StateSuspect {
		t.Fatalf("past window: %v", got)
	}
	c := v.Snapshot().OrgCounts("acme")
	if c.Alive != 1 || c.Suspect != 1 {
		t.Fatalf("counts while suspect: %+v", c)
	}
	// A fresh heartbeat brings it back.
	if out := v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 2)); out != Rejoined {
		t.Fatalf("heartbeat while suspect: %v", out)
	}
	clk.Advance(31 * time.Second)
	if _, ok := v.Get("a"); ok {
		t.Fatal("peer silent past retention still remembered")
	}
	want := []string{"a:unknown->alive", "a:alive->suspect", "a:suspect->alive", "a:alive->suspect", "a:suspect->unknown"}
	if fmt.Sprint(rec.evs) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", rec.evs, want)
	}
}

func TestProbeSuspectsEarly(t *testing.T) {
	v, clk, rec := newTestView(t)
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 1))
	v.ApplyHeartbeat(hb("b", "acme", "h2", 1, 1))
	if s, next := v.Silent(time.Second, 10); len(s) != 0 || next != time.Second {
		t.Fatalf("silent right after heartbeats: %v, next in %v", s, next)
	}
	clk.Advance(400 * time.Millisecond)
	if s, next := v.Silent(time.Second, 10); len(s) != 0 || next != 600*time.Millisecond {
		t.Fatalf("silent 0.4 s after heartbeats: %v, next in %v, want 600ms", s, next)
	}
	clk.Advance(1300 * time.Millisecond)
	v.ApplyHeartbeat(hb("b", "acme", "h2", 1, 2))
	s, next := v.Silent(time.Second, 10)
	if len(s) != 1 || s[0].PeerID != "a" || next != time.Second {
		t.Fatalf("silent after 1.7 s: %v, next in %v; want only a, and b in 1s", s, next)
	}
	seen := s[0].LastSeen

	// A heartbeat between the probe's start and its verdict wins.
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 2))
	if v.Suspect("a", seen) || state(t, v, "a") != StateAlive {
		t.Fatal("a probe's verdict overrode a newer heartbeat")
	}
	clk.Advance(1500 * time.Millisecond)
	s, _ = v.Silent(time.Second, 1)
	if len(s) != 1 || s[0].PeerID != "a" {
		t.Fatalf("silent, limit 1: %v, want the longest silent, a", s)
	}
	if !v.Suspect("a", s[0].LastSeen) || state(t, v, "a") != StateSuspect {
		t.Fatal("a peer found gone is not suspect")
	}
	if v.Suspect("a", s[0].LastSeen) {
		t.Fatal("suspected twice")
	}
	if c := v.Snapshot().OrgCounts("acme"); c.Alive != 2 || c.Suspect != 1 {
		t.Fatalf("counts: %+v, want self and b alive, a suspect", c) // before its window ran out
	}
	// Left and unknown peers are not made suspect; past the window the
	// window itself decides, and Silent no longer lists the peer.
	v.ApplyLeave("b", Version{1, 3})
	if v.Suspect("b", clk.Now()) || v.Suspect("nobody", clk.Now()) {
		t.Fatal("a left or unknown peer became suspect")
	}
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 3))
	clk.Advance(4 * time.Second)
	if s, _ := v.Silent(time.Second, 10); len(s) != 0 {
		t.Fatalf("silent past the liveness window: %v", s)
	}
	if got := state(t, v, "a"); got != StateSuspect {
		t.Fatalf("past the window: %v", got)
	}
	want := []string{"a:unknown->alive", "b:unknown->alive", "a:alive->suspect", "b:alive->left", "a:suspect->alive", "a:alive->suspect"}
	if fmt.Sprint(rec.evs) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", rec.evs, want)
	}
}

func TestLeaveThenForgottenThenRejoin(t *testing.T) {
	v, clk, _ := newTestView(t)
	v.ApplyHeartbeat(hb("a", "globex", "h1", 1, 5))
	if out := v.ApplyLeave("a", Version{1, 4}); out != Stale {
		t.Fatalf("leave older than last heartbeat: %v", out)
	}
	if out := v.ApplyLeave("a", Version{1, 6}); out != Applied {
		t.Fatalf("leave: %v", out)
	}
	if got := state(t, v, "a"); got != StateLeft {
		t.Fatalf("after leave: %v", got)
	}
	c := v.Snapshot().OrgCounts("globex")
	if c.Alive != 0 || c.Left != 1 {
		t.Fatalf("counts after leave: %+v", c)
	}
	// The heartbeat it sent before leaving arrives late: ignored.
	if out := v.ApplyHeartbeat(hb("a", "globex", "h1", 1, 5)); out != Stale {
		t.Fatalf("late heartbeat: %v", out)
	}
	// Restarted (new epoch, seq from 1): alive again, counted once.
	if out := v.ApplyHeartbeat(hb("a", "globex", "h1", 2, 1)); out != Rejoined {
		t.Fatalf("restart after leave: %v", out)
	}
	v.ApplyLeave("a", Version{2, 2})
	clk.Advance(61 * time.Second)
	if _, ok := v.Get("a"); ok {
		t.Fatal("left peer kept past LeftRetention")
	}
	if out := v.ApplyLeave("zzz", Version{1, 1}); out != Unknown {
		t.Fatalf("leave of unknown peer: %v", out)
	}
}

// A peer forgotten, then its old heartbeats replayed: they stay ignored for
// TombstoneRetention; a restart (a newer epoch) is taken at once.
func TestReplayAfterForgetIsStale(t *testing.T) {
	v, clk, _ := newTestView(t)
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 5))
	v.ApplyHeartbeat(hb("b", "acme", "h2", 1, 1))
	v.ApplyLeave("b", Version{1, 2})
	clk.Advance(61 * time.Second) // a expired, b's leave retention over: both forgotten
	if _, ok := v.Get("a"); ok {
		t.Fatal("a not forgotten")
	}
	for _, h := range []Heartbeat{hb("a", "acme", "h1", 1, 5), hb("a", "acme", "h1", 1, 4), hb("b", "acme", "h2", 1, 1)} {
		if !v.IsStale(h.PeerID, h.Version) {
			t.Errorf("IsStale(%s, %v) false after forgetting", h.PeerID, h.Version)
		}
		if out := v.ApplyHeartbeat(h); out != Stale {
			t.Fatalf("replayed %s %v: %v, want stale", h.PeerID, h.Version, out)
		}
	}
	if v.IsStale("a", Version{1, 6}) {
		t.Fatal("a newer version is stale")
	}
	if out := v.ApplyHeartbeat(hb("a", "acme", "h1", 2, 1)); out != Added {
		t.Fatalf("restart after forgetting: %v, want added", out)
	}
	if out := v.ApplyHeartbeat(hb("a", "acme", "h1", 2, 1)); out != Stale {
		t.Fatalf("the restart's own heartbeat again: %v", out)
	}
	clk.Advance(601 * time.Second) // the default retention: 10 × LeftRetention
	if out := v.ApplyHeartbeat(hb("b", "acme", "h2", 1, 1)); out != Added {
		t.Fatalf("past TombstoneRetention: %v, want added (tombstones are bounded in time)", out)
	}
}

func TestTombstonesBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := testCfg
	cfg.MaxTombstones = 2
	v := NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, nil)
	for _, id := range []string{"a", "b", "c"} {
		v.ApplyHeartbeat(hb(id, "acme", "h", 1, 1))
		clk.Advance(10 * time.Second)
	}
	for range 3 { // forgotten 31, 41 and 51 s after they were heard: a, b, c
		clk.Advance(time.Second)
		v.Expire()
		clk.Advance(9 * time.Second)
	}
	for id, want := range map[string]Outcome{"a": Added, "b": Stale, "c": Stale} {
		if out := v.ApplyHeartbeat(hb(id, "acme", "h", 1, 1)); out != want {
			t.Errorf("%s replayed: %v, want %v", id, out, want)
		}
	}
}

func TestStaleAndReplayIgnored(t *testing.T) {
	v, _, _ := newTestView(t)
	v.ApplyHeartbeat(hb("a", "acme", "h1", 3, 10))
	for _, ver := range []Version{{3, 10}, {3, 9}, {2, 99}} {
		h := hb("a", "evil", "hx", ver.Epoch, ver.Seq)
		if out := v.ApplyHeartbeat(h); out != Stale {
			t.Fatalf("version %v: %v", ver, out)
		}
	}
	p, _ := v.Get("a")
	if p.Org != "acme" || p.Host != "h1" || p.Version != (Version{3, 10}) {
		t.Fatalf("stale heartbeat changed the peer: %+v", p)
	}
}

func TestRestartNotDoubleCounted(t *testing.T) {
	v, clk, _ := newTestView(t)
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 100))
	clk.Advance(5 * time.Second) // crashed: suspect
	if out := v.ApplyHeartbeat(hb("a", "acme", "h1", 2, 1)); out != Rejoined {
		t.Fatalf("restart: %v", out)
	}
	c := v.Snapshot().OrgCounts("acme")
	if c.Alive != 2 || c.Suspect != 0 { // self + a
		t.Fatalf("restart counted twice or lost: %+v", c)
	}
}

func TestCountsPerOrgAndHost(t *testing.T) {
	v, clk, _ := newTestView(t)
	// acme: self on h0, a and b on h1; globex: c on h1, d on h2 (relayed); initech: e suspect.
	v.ApplyHeartbeat(hb("e", "initech", "h3", 1, 1))
	clk.Advance(2 * time.Second)
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 1))
	v.ApplyHeartbeat(hb("b", "acme", "h1", 1, 1))
	v.ApplyHeartbeat(hb("c", "globex", "h1", 1, 1))
	d := hb("d", "globex", "h2", 1, 1)
	d.Direct, d.Verified = false, true
	v.ApplyHeartbeat(d)
	v.SetConnected("a", true)
	v.SetConnected("c", true)
	v.SetConnected("nobody", true) // a connection is not a member
	clk.Advance(1500 * time.Millisecond)
	v.ApplyHeartbeat(hb("b", "acme", "h1", 1, 2))

	s := v.Snapshot()
	acme, globex, initech := s.OrgCounts("acme"), s.OrgCounts("globex"), s.OrgCounts("initech")
	if acme.Alive != 3 || acme.Connected != 1 || acme.Hosts != 2 || acme.Unverified != 3 {
		t.Fatalf("acme %+v", acme)
	}
	if *acme.FreshestMs != 0 || *acme.StalestMs != 1500 {
		t.Fatalf("acme ages %d %d", *acme.FreshestMs, *acme.StalestMs)
	}
	if globex.Alive != 2 || globex.Connected != 1 || globex.Hosts != 2 || globex.Verified != 1 {
		t.Fatalf("globex %+v", globex)
	}
	if initech.Alive != 0 || initech.Suspect != 1 || initech.Hosts != 0 {
		t.Fatalf("initech %+v", initech)
	}
	if s.Total.Alive != 5 || s.Total.Hosts != 3 || s.Total.Suspect != 1 || s.Total.Connected != 2 {
		t.Fatalf("total %+v", s.Total)
	}
	if len(s.Orgs) != 3 {
		t.Fatalf("orgs %+v", s.Orgs)
	}
	if p, _ := v.Get("d"); p.Learned != LearnedRelayed {
		t.Fatalf("learned %q", p.Learned)
	}
	if got := v.Peers(Filter{Org: "acme", State: StateAlive}); len(got) != 3 {
		t.Fatalf("acme alive peers %+v", got)
	}
	v.SetConnected("a", false)
	if c := v.Snapshot().OrgCounts("acme"); c.Connected != 0 {
		t.Fatalf("disconnect not seen: %+v", c)
	}
}

// Two keys that both name acme are two organizations: rows of their own.
// Bare claims to acme, with no one key to give them, count apart.
func TestSameNameTwoKeysCountApart(t *testing.T) {
	v, _, _ := newTestView(t) // self: acme, unverified
	verified := func(id, orgID string) Heartbeat {
		h := hb(id, "acme", "h-"+id, 1, 1)
		h.Verified, h.OrgID = true, orgID
		return h
	}
	v.ApplyHeartbeat(verified("a", "k51one"))
	v.ApplyHeartbeat(verified("b", "k51two"))
	v.ApplyHeartbeat(verified("c", "k51two"))
	v.ApplyHeartbeat(hb("u", "acme", "h-u", 1, 1))
	s := v.Snapshot()
	if len(s.Orgs) != 3 {
		t.Fatalf("rows %+v, want k51one, k51two and the bare claims", s.Orgs)
	}
	if one, two := s.ByID("k51one"), s.ByID("k51two"); one.Org != "acme" || one.Verified != 1 || one.Alive != 1 ||
		two.Org != "acme" || two.Verified != 2 || two.Alive != 2 {
		t.Fatalf("k51one %+v, k51two %+v", one, two)
	}
	if claims := s.Orgs[0]; claims.OrgID != "" || claims.Unverified != 2 || claims.Verified != 0 { // self and u
		t.Fatalf("bare claims %+v", claims)
	}
	if s.Total.Alive != 5 {
		t.Fatalf("total %+v", s.Total)
	}
}

// With one key for the name, verified peers and bare claims share its row.
func TestSameNameOneKeyOneRow(t *testing.T) {
	v, _, _ := newTestView(t)
	h := hb("a", "acme", "h1", 1, 1)
	h.Verified, h.OrgID = true, "k51one"
	v.ApplyHeartbeat(h)
	v.ApplyHeartbeat(hb("u", "acme", "h2", 1, 1))
	s := v.Snapshot()
	if c := s.OrgCounts("acme"); len(s.Orgs) != 1 || c.OrgID != "k51one" || c.Verified != 1 || c.Unverified != 2 || s.ByID("k51one").Org != "acme" {
		t.Fatalf("rows %+v, want one acme row: k51one, 1 verified and 2 unverified", s.Orgs)
	}
}

func TestBoundsAndCopies(t *testing.T) {
	v, clk, _ := newTestView(t)
	cfg := testCfg
	cfg.MaxPeers, cfg.MaxOrgs = 2, 2
	v = NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, nil)
	v.ApplyHeartbeat(hb("a", "acme", "h", 1, 1))
	v.ApplyHeartbeat(hb("b", "globex", "h", 1, 1))
	if out := v.ApplyHeartbeat(hb("c", "acme", "h", 1, 1)); out != Full {
		t.Fatalf("over MaxPeers with everyone alive: %v", out)
	}
	clk.Advance(4 * time.Second) // a and b suspect: one may be evicted for c
	if out := v.ApplyHeartbeat(hb("c", "acme", "h", 1, 1)); out != Added {
		t.Fatalf("eviction of a suspect: %v", out)
	}
	v = NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, nil)
	for i, org := range []string{"globex", "initech", "hooli"} {
		if out := v.ApplyHeartbeat(hb(fmt.Sprint(i), org, "h", 1, 1)); out != Added {
			t.Fatalf("%s: %v", org, out)
		}
		clk.Advance(4 * time.Second) // suspect: evictable
	}
	clk.Advance(30 * time.Second) // the peers forgotten, the MaxOrgs organizations heard first not yet
	if got := v.CountedOrgs(); fmt.Sprint(got) != "[acme globex initech]" {
		t.Fatalf("MaxOrgs not enforced: %v", got)
	}
	h := hb("x", "acme", "h", 1, 1)
	h.Addrs = []string{"/ip4/127.0.0.1/tcp/1"}
	v = NewView(testCfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, nil)
	v.ApplyHeartbeat(h)
	h.Addrs[0] = "mutated"
	p, _ := v.Get("x")
	p.Addrs[0] = "mutated too"
	if q, _ := v.Get("x"); q.Addrs[0] != "/ip4/127.0.0.1/tcp/1" {
		t.Fatalf("view shares memory with callers: %v", q.Addrs)
	}
}

func TestEvictionIsHeard(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	rec := &recorded{}
	cfg := testCfg
	cfg.MaxPeers = 1
	v := NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, rec.sink)
	v.ApplyHeartbeat(hb("a", "acme", "h", 1, 1))
	clk.Advance(4 * time.Second) // a silent past its window: evicted for b
	if out := v.ApplyHeartbeat(hb("b", "acme", "h", 1, 1)); out != Added {
		t.Fatalf("b: %v", out)
	}
	want := []string{"a:unknown->alive", "a:alive->unknown", "b:unknown->alive"}
	if fmt.Sprint(rec.evs) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", rec.evs, want)
	}
}

// A flood of minted unverified peers fills MaxUnverified and no more: it
// never displaces a verified peer, not even one that went silent.
func TestUnverifiedBudget(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := testCfg
	cfg.MaxPeers, cfg.MaxUnverified = 10, 2
	v := NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, nil)
	verified := func(id string) Heartbeat {
		h := hb(id, "acme", "h", 1, 1)
		h.Verified, h.OrgID = true, "k51acme"
		return h
	}
	for _, h := range []Heartbeat{verified("v1"), verified("v2"), hb("u1", "acme", "h", 1, 1), hb("u2", "acme", "h", 1, 1)} {
		if out := v.ApplyHeartbeat(h); out != Added {
			t.Fatalf("%s: %v", h.PeerID, out)
		}
	}
	for i := range 100 {
		if out := v.ApplyHeartbeat(hb(fmt.Sprintf("minted%d", i), "acme", "h", 1, 1)); out != Full {
			t.Fatalf("minted peer %d: %v, want full", i, out)
		}
	}
	if out := v.ApplyHeartbeat(verified("v3")); out != Added {
		t.Fatalf("verified newcomer after the flood: %v", out)
	}
	clk.Advance(4 * time.Second) // everyone silent, v1 and v2 the longest
	for i := range 100 {
		v.ApplyHeartbeat(hb(fmt.Sprintf("late%d", i), "acme", "h", 1, 1)) // evict u1, u2, then full
	}
	for _, id := range []string{"v1", "v2", "v3"} {
		if _, ok := v.Get(id); !ok {
			t.Fatalf("verified peer %s displaced by unverified ones", id)
		}
	}
	if c := v.Snapshot().OrgCounts("acme"); c.Alive != 3 || c.Unverified != 3 { // self, late0, late1
		t.Fatalf("counts %+v, want 2 unverified peers besides self", c)
	}
	v.Unverify(func(p PeerInfo) bool { return p.PeerID == "v1" })
	n := 0
	for _, p := range v.Peers(Filter{}) {
		if !p.Verified && !p.Self {
			n++
		}
	}
	if n != 3 || v.unverified != n {
		t.Fatalf("unverified count %d, peers %d, want 3", v.unverified, n)
	}
}

// Directory listings are hints: 300 junk names are never counted, never
// stop a real organization from being counted, and are forgotten after
// OrgRetention.
func TestDirectoryNotesAreHintsOnly(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := testCfg
	cfg.MaxOrgs = 256
	v := NewView(cfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, nil)
	v.KeepOrg("initech") // trusted, say
	for i := range 300 {
		v.NoteOrg(fmt.Sprintf("junk%d", i))
	}
	v.NoteOrg("globex")
	if got := v.Snapshot().Orgs; len(got) != 2 || got[0].Org != "acme" || got[1].Org != "initech" {
		t.Fatalf("%d orgs counted after a junk listing, want acme and initech", len(got))
	}
	if got := v.Orgs(); len(got) != 2+cfg.MaxOrgs || !slices.Contains(got, "globex") {
		t.Fatalf("%d names known, want the two counted and %d hints, the newest included", len(got), cfg.MaxOrgs)
	}
	if out := v.ApplyHeartbeat(hb("g", "globex", "h1", 1, 1)); out != Added {
		t.Fatalf("a real organization's heartbeat: %v", out)
	}
	if c := v.Snapshot().OrgCounts("globex"); c.Alive != 1 {
		t.Fatalf("globex %+v, want 1 alive", c)
	}
	clk.Advance(61 * time.Second)
	if got := v.Orgs(); fmt.Sprint(got) != "[acme initech]" {
		t.Fatalf("after OrgRetention: %v, want the kept organizations only", got)
	}
}

func TestOrgRetention(t *testing.T) {
	v, clk, _ := newTestView(t)
	v.NoteOrg("globex")
	if got := v.Snapshot().OrgCounts("globex"); got.Alive != 0 || len(v.Orgs()) != 2 {
		t.Fatalf("known org missing: %v", v.Orgs())
	}
	clk.Advance(61 * time.Second)
	if got := v.Orgs(); len(got) != 1 || got[0] != "acme" {
		t.Fatalf("org not forgotten, or own org forgotten: %v", got)
	}
}

func TestStateText(t *testing.T) {
	for _, s := range []PeerState{StateAlive, StateSuspect, StateLeft} {
		b, _ := s.MarshalText()
		var back PeerState
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%v round trip: %v %v", s, back, err)
		}
	}
	if _, err := ParseState("dead"); err == nil {
		t.Fatal("unknown state parsed")
	}
	if got := PeerState(200).String(); got != "PeerState(200)" {
		t.Fatalf("out-of-range state: %q", got)
	}
	if got, want := Stale.String(), "stale"; got != want {
		t.Fatalf("outcome %q, want %q", got, want)
	}
	if got := Outcome(200).String(); got != "Outcome(200)" {
		t.Fatalf("out-of-range outcome: %q", got) // once an index out of range
	}
}

func TestConcurrentUse(t *testing.T) {
	v, clk, _ := newTestView(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				v.ApplyHeartbeat(hb(fmt.Sprintf("p%d", i%20), "acme", "h", uint64(w), uint64(i)))
				v.Snapshot()
				clk.Advance(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if c := v.Snapshot().OrgCounts("acme"); c.Alive != 21 {
		t.Fatalf("alive %d, want 21", c.Alive)
	}
}

func TestCompactHeartbeatKeepsAddresses(t *testing.T) {
	v, _, _ := newTestView(t)
	full := hb("a", "acme", "h1", 1, 1)
	full.Addrs = []string{"/ip4/127.0.0.1/tcp/4001"}
	v.ApplyHeartbeat(full)
	v.ApplyHeartbeat(hb("a", "acme", "h1", 1, 2)) // compact: no addresses
	p, _ := v.Get("a")
	if len(p.Addrs) != 1 || p.Addrs[0] != full.Addrs[0] || p.Version.Seq != 2 {
		t.Fatalf("after a compact heartbeat: addrs %v, seq %d", p.Addrs, p.Version.Seq)
	}
	moved := hb("a", "acme", "h1", 1, 3)
	moved.Addrs = []string{"/ip4/127.0.0.1/tcp/4002"}
	v.ApplyHeartbeat(moved)
	if p, _ = v.Get("a"); p.Addrs[0] != moved.Addrs[0] {
		t.Fatalf("new addresses not taken: %v", p.Addrs)
	}
}

// TestProvenGoneNotRevivedByLastWords: a heartbeat its sender sent before a
// probe proved its process gone (in flight, or in a gossip cache, when the
// process died) does not bring it back; one sent after the proof does (the
// proof was wrong), and so does a new incarnation's.
func TestProvenGoneNotRevivedByLastWords(t *testing.T) {
	v, clk, _ := newTestView(t)
	at := func(h Heartbeat, sent time.Time) Heartbeat { h.Sent = sent; return h }
	v.ApplyHeartbeat(at(hb("a", "acme", "h1", 1, 1), clk.Now()))
	lastWords := clk.Now().Add(100 * time.Millisecond) // sent, still on its way
	clk.Advance(time.Second)
	p, _ := v.Get("a")
	if !v.Suspect("a", p.LastSeen) {
		t.Fatal("a probe's proof did not make the peer suspect")
	}
	if out := v.ApplyHeartbeat(at(hb("a", "acme", "h1", 1, 2), lastWords)); out != Stale || state(t, v, "a") != StateSuspect {
		t.Fatalf("a heartbeat sent before the proof: %v, state %v; want stale, suspect", out, state(t, v, "a"))
	}
	clk.Advance(100 * time.Millisecond)
	if out := v.ApplyHeartbeat(at(hb("a", "acme", "h1", 1, 3), clk.Now())); out != Rejoined || state(t, v, "a") != StateAlive {
		t.Fatalf("a heartbeat sent after the proof: %v; want rejoined", out)
	}
	// Proven gone again; a restart (a new epoch) is alive at once.
	p, _ = v.Get("a")
	clk.Advance(time.Second)
	v.Suspect("a", p.LastSeen)
	if out := v.ApplyHeartbeat(at(hb("a", "acme", "h1", 2, 1), clk.Now().Add(-time.Second))); out != Rejoined {
		t.Fatalf("a new incarnation's heartbeat: %v; want rejoined", out)
	}
}
