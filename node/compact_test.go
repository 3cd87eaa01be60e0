package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// TestCompactHeartbeats: a node sends its credential only while starting
// and when asked; receivers judge compact heartbeats by the credential they
// remember for the sender, count a credential they never received as
// unverified and ask for it, and count a compact heartbeat naming a
// refused credential as a bare claim.
func TestCompactHeartbeats(t *testing.T) {
	dir := t.TempDir()
	acme, acmePub := savedOrgKey(t, "acme")
	now := time.Now()
	issue := func(p peer.ID, from time.Time, serial uint64) []byte {
		c, err := acme.Issue(p, from, time.Hour, serial)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := testConfig(t, "acme")
	cfg.Trust = []string{acmePub}
	cfg.SenderBurst, cfg.SenderRate = 40, 10
	priv, err := datadir.LoadOrCreateIdentity(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	victimID, _ := peer.IDFromPrivateKey(priv)
	cfg.CredentialFile = filepath.Join(dir, "victim.cred")
	if err := os.WriteFile(cfg.CredentialFile, issue(victimID, now.Add(-time.Minute), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	victim := newTestNode(t, cfg)
	att := rogueOn(t, victim, wire.OrgTopic("acme"))

	// Past its first heartbeats the node sends compact ones: the
	// credential's ID, no credential, no addresses.
	compact := att.NextFrom(t, victimID, 10*time.Second, func(m *wire.Message) bool { return m.Kind == wire.KindHeartbeat && m.Cred == nil })
	if len(compact.CredID) != orgs.CredentialIDLen || compact.Addrs != nil || compact.Peer != "" {
		t.Fatalf("compact heartbeat: %+v", compact)
	}
	// A peer that wants credentials gets a full heartbeat.
	publishUntil(t, att, victim, &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Org: "acme", Epoch: 1, Seq: 1, Want: true}, "accepted", "ok")
	full := att.NextFrom(t, victimID, 5*time.Second, func(m *wire.Message) bool { return m.Kind == wire.KindHeartbeat && m.Cred != nil })
	if len(full.Addrs) == 0 || string(full.CredID) != string(orgs.CredentialID(full.Cred)) {
		t.Fatalf("full heartbeat: %+v", full)
	}

	// A member whose full heartbeats this node missed: counted, but
	// unverified, and asked for its credential.
	member := rogueOn(t, victim, wire.OrgTopic("acme"))
	good := issue(member.ID, now.Add(-time.Minute), 2)
	missing := func() float64 { return testutil.ToFloat64(victim.metrics.credMissing) }
	before := missing()
	hb := func(seq uint64, cred []byte, id []byte) *wire.Message {
		return &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Org: "acme", Epoch: 1, Seq: seq, Host: "h", Cred: cred, CredID: id}
	}
	publishUntil(t, member, victim, hb(1, nil, orgs.CredentialID(good)), "accepted", "ok")
	if p, ok := victim.view.Get(member.ID.String()); !ok || p.State != orgs.StateAlive || p.Verified {
		t.Fatalf("member with an unknown credential: %+v %v", p, ok)
	}
	if missing() <= before {
		t.Fatal("missing credential not counted")
	}
	member.NextFrom(t, victimID, 10*time.Second, func(m *wire.Message) bool { return m.Kind == wire.KindHeartbeat && m.Want })

	// Its full heartbeat verifies it, and its compact ones keep it verified.
	publishUntil(t, member, victim, hb(2, good, orgs.CredentialID(good)), "accepted", "ok")
	publishUntil(t, member, victim, hb(3, nil, orgs.CredentialID(good)), "accepted", "ok")
	// The verdict's metric comes before the handler applies the message:
	// poll the view (a loaded machine read it in between once).
	nodetest.Eventually(t, 5*time.Second, func() string {
		if p, _ := victim.view.Get(member.ID.String()); !p.Verified || p.Version.Seq != 3 || p.Serial != 2 {
			return fmt.Sprintf("compact heartbeat after the credential: %+v", p)
		}
		return ""
	})
	// A credential ID that does not match the credential is malformed.
	publishUntil(t, member, victim, hb(4, good, []byte("12345678")), "rejected", "malformed")

	// A refused credential is not remembered: the compact heartbeats
	// naming it are bare claims, never verified.
	expired := rogueOn(t, victim, wire.OrgTopic("acme"))
	old := issue(expired.ID, now.Add(-2*time.Hour), 3)
	publishUntil(t, expired, victim, hb(1, old, nil), "rejected", orgs.ReasonExpired)
	if _, ok := victim.view.Get(expired.ID.String()); ok {
		t.Fatal("a peer with an expired credential reached the view")
	}
	publishUntil(t, expired, victim, hb(2, nil, orgs.CredentialID(old)), "accepted", "ok")
	if p, ok := victim.view.Get(expired.ID.String()); !ok || p.Verified {
		t.Fatalf("compact heartbeat naming an expired credential: %+v %v", p, ok)
	}
	if got := victim.view.Snapshot().OrgCounts("acme"); got.Verified != 2 {
		t.Fatalf("acme counts %+v, want 2 verified (the node and the member)", got)
	}
}

// TestLateJoinerVerifiesEveryone: nodes past their first heartbeats send
// compact ones; a node that joins later still counts every member
// verified, through greetings and its Want.
func TestLateJoinerVerifiesEveryone(t *testing.T) {
	keys := map[string]*orgs.OrgKey{}
	var trust []string
	for _, name := range []string{"acme", "globex"} {
		k, pub := savedOrgKey(t, name)
		keys[name] = k
		trust = append(trust, pub)
	}
	withCred := func(cfg *Config) {
		priv, err := datadir.LoadOrCreateIdentity(cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(priv)
		cred, err := keys[cfg.Org].Issue(id, time.Now().Add(-time.Minute), time.Hour, orgs.RandomSerial())
		if err != nil {
			t.Fatal(err)
		}
		cfg.CredentialFile = filepath.Join(cfg.DataDir, "member.cred")
		if err := os.WriteFile(cfg.CredentialFile, cred, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Trust = trust
	}
	names := []string{"acme", "globex", "acme", "globex"}
	nodes := startNodes(t, names, withCred)
	verified := func(nodes []*Node, want map[string]int) func() string {
		return func() string {
			for i, n := range nodes {
				snap := n.view.Snapshot()
				for org, c := range want {
					if got := snap.OrgCounts(org); got.Verified != c || got.Alive != c {
						return fmt.Sprintf("node %d: %s %d alive, %d verified; want %d", i, org, got.Alive, got.Verified, c)
					}
				}
			}
			return ""
		}
	}
	nodetest.Eventually(t, 20*time.Second, verified(nodes, map[string]int{"acme": 2, "globex": 2}))
	nodetest.Eventually(t, 10*time.Second, func() string { // everyone past its full heartbeats
		for i, n := range nodes {
			full, all := testutil.ToFloat64(n.metrics.fullSent), testutil.ToFloat64(n.metrics.sent.WithLabelValues(wire.KindHeartbeat))
			if all <= full {
				return fmt.Sprintf("node %d still starting: %v heartbeats, all full", i, all)
			}
		}
		return ""
	})
	cfg := testConfig(t, "globex")
	cfg.Bootstrap = nodes[0].Info().Addrs[:1]
	withCred(&cfg)
	late := newTestNode(t, cfg)
	nodetest.Eventually(t, 15*time.Second, verified(append(nodes, late), map[string]int{"acme": 2, "globex": 3}))
	for i, n := range nodes { // the joiner cost each at most a greeting and an answer in full
		full, all := testutil.ToFloat64(n.metrics.fullSent), testutil.ToFloat64(n.metrics.sent.WithLabelValues(wire.KindHeartbeat))
		if full > startFull+3 || full >= all {
			t.Errorf("node %d sent %v of %v heartbeats in full", i, full, all)
		}
	}
}
