package orgs

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// causes lists the recorded transitions as "peer:from->to/cause[/reason]".
func (r *recorded) causes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, tr := range r.trs {
		s := fmt.Sprintf("%s:%s->%s/%s", tr.Peer.PeerID, tr.From, tr.Peer.State, tr.Cause)
		if tr.VerifiedChanged() {
			s += fmt.Sprintf("/verified=%t:%s", tr.Peer.Verified, tr.Reason)
		}
		out = append(out, s)
	}
	return out
}

// expect fails t unless the transitions recorded are want (as causes
// lists them), and returns them.
func (r *recorded) expect(t *testing.T, want []string) []Transition {
	t.Helper()
	if got := r.causes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("transitions\n%v, want\n%v", got, want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.trs)
}

func TestTransitionsNameTheirCause(t *testing.T) {
	v, clk, rec := newTestView(t)
	a := hb("a", "acme", "h1", 1, 1)
	a.Hello = true
	v.ApplyHeartbeat(a)
	v.ApplyHeartbeat(hb("b", "acme", "h2", 1, 1))
	clk.Advance(2 * time.Second)
	v.ApplyHeartbeat(hb("b", "acme", "h2", 1, 2))
	p, _ := v.Get("a")
	v.Suspect("a", p.LastSeen) // a probe found it gone
	v.ApplyLeave("b", Version{1, 3})
	clk.Advance(31 * time.Second) // a forgotten (suspect retention 30 s); b still left (60 s)
	v.Expire()
	clk.Advance(30 * time.Second) // b forgotten too
	v.Expire()
	c := hb("c", "acme", "h3", 1, 1)
	v.ApplyHeartbeat(c)
	clk.Advance(4 * time.Second) // past the window
	v.Expire()
	want := []string{"a:unknown->alive/hello", "b:unknown->alive/heartbeat", "a:alive->suspect/probe",
		"b:alive->left/leave", "a:suspect->unknown/expiry", "b:left->unknown/expiry",
		"c:unknown->alive/heartbeat", "c:alive->suspect/window"}
	leave := rec.expect(t, want)[3]
	if leave.Version != (Version{1, 3}) || !leave.At.Equal(clk.Now().Add(-65*time.Second)) {
		t.Fatalf("leave carries version %v at %v", leave.Version, leave.At)
	}

	// What the view keeps of a forgotten peer: when, from what, since when.
	f, ok := v.Forgotten("a")
	if !ok || f.Cause != CauseExpiry || f.From != StateSuspect || f.Org != "acme" || f.Version != (Version{1, 1}) ||
		!f.Since.Equal(f.At.Add(-31*time.Second)) {
		t.Fatalf("forgotten a: %+v %v", f, ok)
	}
	if _, ok := v.Forgotten("c"); ok {
		t.Fatal("a peer in the view reported forgotten")
	}
	if _, ok := v.Forgotten("nobody"); ok {
		t.Fatal("a peer never heard of reported forgotten")
	}
}

func TestVerifiedFlipsAreTransitions(t *testing.T) {
	v, clk, rec := newTestView(t)
	bare := hb("a", "acme", "h", 1, 1)
	v.ApplyHeartbeat(bare)
	missing := hb("a", "acme", "h", 1, 2)
	missing.Why = UnverifiedMissing
	v.ApplyHeartbeat(missing) // still unverified: no change
	good := hb("a", "acme", "h", 1, 3)
	good.Verified, good.OrgID, good.Serial = true, "k51acme", 7
	v.ApplyHeartbeat(good)
	good.Version.Seq = 4
	v.ApplyHeartbeat(good) // still verified: no change
	n := v.Unverify(func(p PeerInfo) bool { return p.Serial == 7 })
	if n != 1 {
		t.Fatalf("unverified %d", n)
	}
	untrusted := hb("a", "acme", "h", 1, 5)
	untrusted.Why = UnverifiedUntrusted
	v.ApplyHeartbeat(untrusted)
	// A credential that expires: the peer is verified until then.
	short := hb("a", "acme", "h", 1, 6)
	short.Verified, short.OrgID, short.Serial, short.NotAfter = true, "k51acme", 8, clk.Now().Add(2*time.Second)
	v.ApplyHeartbeat(short)
	clk.Advance(1999 * time.Millisecond)
	short.Version.Seq = 7
	v.ApplyHeartbeat(short)
	clk.Advance(time.Millisecond)
	if p, _ := v.Get("a"); p.Verified || p.Serial != 0 || p.State != StateAlive {
		t.Fatalf("verified past its credential's expiry: %+v", p)
	}
	want := []string{"a:unknown->alive/heartbeat", "a:alive->alive/heartbeat/verified=true:credential-valid",
		"a:alive->alive/revocation/verified=false:credential-revoked",
		"a:alive->alive/heartbeat/verified=true:credential-valid", "a:alive->alive/expiry/verified=false:credential-expired"}
	first := rec.expect(t, want)[0]
	if first.Reason != UnverifiedNoCredential || first.Version != (Version{1, 1}) {
		t.Fatalf("first transition: %+v", first)
	}
}

// The sink hears the changes in the order the view made them, also when
// many goroutines change the view at once.
func TestSinkHearsChangesInOrder(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	var mu sync.Mutex
	last := map[string]Transition{}
	var bad []string
	sink := func(tr Transition) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := last[tr.Peer.PeerID]; ok && prev.Peer.State != tr.From {
			bad = append(bad, fmt.Sprintf("%s: %s->%s after ->%s", tr.Peer.PeerID, tr.From, tr.Peer.State, prev.Peer.State))
		}
		last[tr.Peer.PeerID] = tr
	}
	v := NewView(testCfg, clk, PeerInfo{PeerID: "self", Org: "acme"}, sink)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("p%d", i%5)
				switch (i + g) % 3 {
				case 0:
					v.ApplyHeartbeat(hb(id, "acme", "h", 1, uint64(i*4+g+1)))
				case 1:
					v.ApplyLeave(id, Version{1, uint64(i*4 + g + 1)})
				default:
					if p, ok := v.Get(id); ok {
						v.Suspect(id, p.LastSeen)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d transitions out of order, first: %s", len(bad), bad[0])
	}
}

func TestEvidenceIsBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	e := NewEvidence(2, 2, clk)
	for i := range 20 {
		e.Transition(Transition{At: clk.Now(), Peer: PeerInfo{PeerID: "a", State: StateAlive}, From: StateSuspect, Cause: CauseHeartbeat,
			Version: Version{1, uint64(i)}})
		e.Probe("a", i%2 == 0)
	}
	got, ok := e.Of("a")
	if !ok || len(got.Transitions) != EvidenceHistory || got.Transitions[0].Version.Seq != 4 || len(got.Probes) != EvidenceProbes {
		t.Fatalf("a: %d transitions from seq %d, %d probes", len(got.Transitions), got.Transitions[0].Version.Seq, len(got.Probes))
	}
	e.Message("b", MessageNote{Kind: "heartbeat"}, &CredentialNote{Verified: true, Reason: ReasonVerified, Serial: 3})
	e.Transition(Transition{Peer: PeerInfo{PeerID: "b", State: StateAlive}, From: StateAlive, WasVerified: true,
		Cause: CauseRevocation, Reason: ReasonRevoked})
	if b, _ := e.Of("b"); b.Credential.Verified || b.Credential.Reason != ReasonRevoked || b.Credential.Serial != 3 {
		t.Fatalf("revoked b's credential: %+v", b.Credential)
	}
	for _, id := range []string{"x", "y", "z"} { // refusals of minted peers: apart
		e.Refuse(id, "rejected", ReasonBadCredential)
	}
	e.Refuse("z", "rejected", ReasonExpired)
	if _, ok := e.Of("x"); ok {
		t.Fatal("refusals of 3 peers kept in a store for 2")
	}
	z, _ := e.Of("z")
	if z.Refusals.Total != 2 || z.Refusals.LastReason != ReasonExpired || z.Refusals.ByReason["rejected: "+ReasonBadCredential] != 1 {
		t.Fatalf("z: %+v", z.Refusals)
	}
	if _, ok := e.Of("a"); !ok {
		t.Fatal("refusals displaced a peer's evidence")
	}
	e.Message("c", MessageNote{}, nil) // a third peer: a, the least recently noted, goes
	if _, ok := e.Of("a"); ok {
		t.Fatal("3 peers kept in a store for 2")
	}
}
