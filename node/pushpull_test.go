package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

func ppCount(n *Node, event string) float64 {
	return testutil.ToFloat64(n.metrics.pushPull.WithLabelValues(event))
}

// verifiedAll reports how n's verified counts differ from truth.
func verifiedAll(n *Node, truth map[string]int) string {
	s := n.view.Snapshot()
	for org, want := range truth {
		if got := s.OrgCounts(org).Verified; got != want {
			return fmt.Sprintf("%s counts %d verified in %s, want %d", n.Info().PeerID, got, org, want)
		}
	}
	return ""
}

// TestPushPullCountsEveryoneAtOnce: a newcomer that reaches only its seed
// counts every member, verified, from the seed's answer, within a fraction
// of the second that GossipSub's first mesh upkeep and the members'
// greetings take; the seed's neighbours count the newcomer from the
// passed-on join as quickly. The members' heartbeats are 5 s apart and
// compact by then: the credentials come with the records.
func TestPushPullCountsEveryoneAtOnce(t *testing.T) {
	orgNames := []string{"acme", "globex", "acme", "globex"}
	keys := map[string]*orgs.OrgKey{}
	var trust []string
	for _, o := range []string{"acme", "globex"} {
		k, pub := savedOrgKey(t, o)
		keys[o], trust = k, append(trust, pub)
	}
	slow := func(c *Config) {
		c.HeartbeatInterval, c.LivenessWindow, c.ProbeAfter = 5*time.Second, 15*time.Second, 7*time.Second
		c.MaxMessageAge = c.LivenessWindow
		c.Trust = trust
		withCredential(t, c, keys[c.Org], 1)
	}
	nodes := startNodes(t, orgNames, slow)
	nodetest.Eventually(t, 30*time.Second, func() string {
		for _, n := range nodes {
			if msg := verifiedAll(n, truthOf(orgNames)); msg != "" {
				return msg
			}
		}
		return ""
	})
	// Past the members' start-up: their heartbeats are compact now.
	nodetest.Eventually(t, 30*time.Second, func() string {
		for _, n := range nodes {
			if time.Since(n.pres.beats.started) < 6*time.Second {
				return "still starting"
			}
		}
		return ""
	})

	answeredBefore, passedBefore := ppCount(nodes[0], "answered-in"), 0.0
	for _, n := range nodes[1:] {
		passedBefore += ppCount(n, "passed-in")
	}
	cfg := testConfig(t, "acme")
	slow(&cfg)
	cfg.Bootstrap = nodes[0].Info().Addrs[:1]
	cfg.MaxPeers = 1
	newcomer := newTestNode(t, cfg)
	all := append(orgNames, "acme")
	took := nodetest.Eventually(t, 5*time.Second, func() string { return verifiedAll(newcomer, truthOf(all)) })
	t.Logf("the newcomer counted everyone after %v", took)
	id := newcomer.Info().PeerID
	nodetest.Eventually(t, 5*time.Second, func() string {
		switch {
		case ppCount(newcomer, "asked") != 1 || ppCount(newcomer, "answered") != 1:
			return fmt.Sprintf("the newcomer asked %v times and had %v answers, want 1 and 1", ppCount(newcomer, "asked"), ppCount(newcomer, "answered"))
		case ppCount(nodes[0], "answered-in") != answeredBefore+1:
			return fmt.Sprintf("the seed answered %v times, want 1", ppCount(nodes[0], "answered-in")-answeredBefore)
		}
		passed := -passedBefore
		for _, n := range nodes[1:] {
			passed += ppCount(n, "passed-in")
			if p, ok := n.view.Get(id); ok && (p.State != orgs.StateAlive || !p.Verified) {
				return fmt.Sprintf("%s counts the newcomer %v, verified %v", n.Info().PeerID, p.State, p.Verified)
			}
		}
		// The seed passes it to every other member (fewer than
		// pushJoinPassOn); those past their start-up pass it on among
		// themselves, where it is no longer news.
		if passed < float64(min(pushJoinPassOn, len(nodes)-1)) {
			return fmt.Sprintf("the join was passed on to %v neighbours, want at least %d", passed, min(pushJoinPassOn, len(nodes)-1))
		}
		return ""
	})
}

// TestPushPullRecordIsTheMembersOwn: a member's compact heartbeat as
// GossipSub carried it, signed by the member, with the member's credential
// beside it, makes a node that never heard the member count it verified;
// without the credential, unverified; changed in any byte, not at all.
func TestPushPullRecordIsTheMembersOwn(t *testing.T) {
	key, pub := savedOrgKey(t, "acme")
	cfg := testConfig(t, "acme")
	cfg.Trust = []string{pub}
	withCredential(t, &cfg, key, 1)
	member := newTestNode(t, cfg)
	rogue := rogueOn(t, member, wire.OrgTopic("acme"))
	env := rogue.Record(t, member.host.ID(), 10*time.Second, func(m *wire.Message) bool {
		return m.Kind == wire.KindHeartbeat && len(m.Cred) == 0 && len(m.CredID) > 0
	})
	cred := member.pres.beats.cred

	judgeOn := func(rec record) (orgs.PeerInfo, bool) {
		c := testConfig(t, "globex")
		c.Trust = []string{pub}
		n := newTestNode(t, c)
		n.pres.pp.judge(rec, rogue.ID)
		return n.view.Get(member.Info().PeerID)
	}
	if p, ok := judgeOn(record{env: env, cred: cred}); !ok || p.State != orgs.StateAlive || !p.Verified {
		t.Fatalf("with its credential the member is %v, verified %v (known %v)", p.State, p.Verified, ok)
	}
	if p, ok := judgeOn(record{env: env}); !ok || p.Verified {
		t.Fatalf("without its credential the member is known %v, verified %v", ok, p.Verified)
	}
	bad := &pb.Message{From: env.From, Data: slices.Clone(env.Data), Seqno: env.Seqno, Topic: env.Topic, Signature: env.Signature, Key: env.Key}
	bad.Data[len(bad.Data)-1] ^= 1
	if _, ok := judgeOn(record{env: bad, cred: cred}); ok {
		t.Fatal("a changed envelope was counted")
	}
}

// TestPushPullRefusesBadRecords: what a hostile peer writes on a push-pull
// stream (garbage, unsigned or forged envelopes, another peer's join,
// stale heartbeats) is counted and changes nothing, and a join beyond the
// answer rate gets no answer.
func TestPushPullRefusesBadRecords(t *testing.T) {
	cfg := testConfig(t, "acme")
	n := newTestNode(t, cfg)
	rogue := rogueOn(t, n, "")
	key, minted := nodetest.Mint(t)
	rogueKey := rogue.Host.Peerstore().PrivKey(rogue.ID)

	signed := func(author peer.ID, m *wire.Message, topic string) *pb.Message {
		env := &pb.Message{From: []byte(author), Data: m.Encode(), Seqno: make([]byte, 8), Topic: &topic}
		k := key
		if author == rogue.ID {
			k = rogueKey
		}
		if err := signEnvelope(k, env); err != nil {
			t.Fatal(err)
		}
		return env
	}
	hb := func(sent time.Time) *wire.Message {
		return &wire.Message{Kind: wire.KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1, Sent: sent.UnixMilli()}
	}
	topic := wire.OrgTopic("acme")
	unsigned := signed(minted, hb(time.Now()), topic)
	unsigned.Signature = nil
	forged := signed(minted, hb(time.Now()), topic)
	forged.Data = (&wire.Message{Kind: wire.KindHeartbeat, Org: "acme", Epoch: 9, Seq: 9, Sent: time.Now().UnixMilli()}).Encode()
	for _, c := range []struct {
		name, event string
		data        []byte
	}{
		{"garbage", "bad-request", []byte{pushPullJoin, 0xff, 0xff, 0xff}},
		{"an unknown mode", "bad-request", append([]byte{9}, encodeRecord(nil, record{env: signed(rogue.ID, hb(time.Now()), topic)})...)},
		{"another peer's join", "bad-request", append([]byte{pushPullJoin}, encodeRecord(nil, record{env: signed(minted, hb(time.Now()), topic)})...)},
		{"an oversized record", "bad-request", append([]byte{pushPullPass}, bytes.Repeat([]byte{0xff}, 10)...)},
		{"an unsigned envelope", "refused-record", append([]byte{pushPullPass}, encodeRecord(nil, record{env: unsigned})...)},
		{"a forged envelope", "refused-record", append([]byte{pushPullPass}, encodeRecord(nil, record{env: forged})...)},
		{"a stale heartbeat", "refused-record", append([]byte{pushPullPass}, encodeRecord(nil, record{env: signed(minted, hb(time.Now().Add(-time.Minute)), topic)})...)},
		{"the wrong topic", "refused-record", append([]byte{pushPullPass}, encodeRecord(nil, record{env: signed(minted, hb(time.Now()), wire.OrgTopic("globex"))})...)},
	} {
		before := ppCount(n, c.event)
		ppWrite(t, rogue.Host, n.host.ID(), c.data)
		nodetest.Eventually(t, 2*time.Second, func() string {
			if ppCount(n, c.event) <= before {
				return c.name + ": not counted as " + c.event
			}
			return ""
		})
	}
	if _, ok := n.view.Get(minted.String()); ok {
		t.Fatal("a refused record put its author in the view")
	}

	// A valid pass-on is counted; joins past the burst are not answered.
	ppWrite(t, rogue.Host, n.host.ID(), append([]byte{pushPullPass}, encodeRecord(nil, record{env: signed(minted, hb(time.Now()), topic)})...))
	nodetest.Eventually(t, 2*time.Second, func() string {
		if _, ok := n.view.Get(minted.String()); !ok {
			return "a valid passed-on join was not counted"
		}
		return ""
	})
	for i := range pushPullBurst + 2 {
		m := hb(time.Now())
		m.Seq = uint64(2 + i)
		ppWrite(t, rogue.Host, n.host.ID(), append([]byte{pushPullJoin}, encodeRecord(nil, record{env: signed(rogue.ID, m, topic)})...))
	}
	nodetest.Eventually(t, 2*time.Second, func() string {
		if ppCount(n, "busy") < 1 {
			return fmt.Sprintf("%v joins answered, none refused", ppCount(n, "answered-in"))
		}
		return ""
	})
}

// ppWrite opens a push-pull stream from h to to, writes data and reads
// whatever comes back.
func ppWrite(t *testing.T, h host.Host, to peer.ID, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, to, wire.PushPullProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(2 * time.Second))
	s.Write(data)
	s.CloseWrite()
	io.Copy(io.Discard, s)
}

// TestLeavePassedOn: a node that applies a signed leave passes it on to its
// neighbours, who apply it too: a leave does not depend on the GossipSub
// mesh alone.
func TestLeavePassedOn(t *testing.T) {
	nodes := passers(t, nil)
	first := nodes[0]
	key, leaver := nodetest.Mint(t)
	for _, n := range nodes {
		n.view.ApplyHeartbeat(orgs.Heartbeat{PeerID: leaver.String(), Org: "acme", Version: orgs.Version{Epoch: 1, Seq: 1}})
	}
	passSigned(t, first, key, leaver, &wire.Message{Kind: wire.KindLeave, Org: "acme", Epoch: 1, Seq: 2, Sent: time.Now().UnixMilli()})
	nodetest.Eventually(t, 3*time.Second, func() string {
		for _, n := range nodes {
			if p, _ := n.view.Get(leaver.String()); p.State != orgs.StateLeft {
				return fmt.Sprintf("%s sees the leaver as %v", n.Info().PeerID, p.State)
			}
		}
		return ""
	})
	if got := ppCount(first, "leave-passed"); got != 1 {
		t.Fatalf("the first node passed the leave on %v times, want 1", got)
	}
}

// TestJoinPassedOnWhereNews: a join passed on to a node that has started
// is passed on again by every node it is news to (but back to the node it
// came from, or to the newcomer), as a leave is: a node restarting is
// counted everywhere before its GossipSub mesh forms.
func TestJoinPassedOnWhereNews(t *testing.T) {
	nodes := passers(t, func(nodes []*Node) string {
		if !isConnected(nodes[1].host, nodes[2].Info().PeerID) {
			return "the two others are not connected yet"
		}
		for _, n := range nodes {
			if time.Since(n.pres.pp.started) < n.pres.pp.startup {
				return "still starting"
			}
		}
		return ""
	})
	first, rest := nodes[0], nodes[1:]
	passedBefore := 0.0
	for _, n := range rest {
		passedBefore += ppCount(n, "passed-out")
	}
	key, newcomer := nodetest.Mint(t)
	passSigned(t, first, key, newcomer, &wire.Message{Kind: wire.KindHeartbeat, Org: "acme", Epoch: 1, Seq: 1, Sent: time.Now().UnixMilli(), Host: "elsewhere"})
	nodetest.Eventually(t, 3*time.Second, func() string {
		// Known at all will do: the newcomer sends no heartbeat, and a
		// node that counted it alive suspects it a liveness window later.
		for _, n := range nodes {
			if _, ok := n.view.Get(newcomer.String()); !ok {
				return fmt.Sprintf("%s never heard of the newcomer", n.Info().PeerID)
			}
		}
		passed := -passedBefore
		for _, n := range rest {
			passed += ppCount(n, "passed-out")
		}
		if passed < 1 {
			return "no node the first passed the join to passed it on"
		}
		return ""
	})
}

// passSigned passes m, signed by author's key as GossipSub signs, on to n
// on a push-pull stream from a stranger.
func passSigned(t *testing.T, n *Node, key crypto.PrivKey, author peer.ID, m *wire.Message) {
	t.Helper()
	topic := wire.OrgTopic(m.Org)
	env := &pb.Message{From: []byte(author), Data: m.Encode(), Seqno: make([]byte, 8), Topic: &topic}
	if err := signEnvelope(key, env); err != nil {
		t.Fatal(err)
	}
	rogue := rogueOn(t, n, "")
	ppWrite(t, rogue.Host, n.host.ID(), append([]byte{pushPullPass}, encodeRecord(nil, record{env: env})...))
}

// passers starts three nodes (acme, globex, acme) and waits until they count
// each other and the first is connected to the other two, and until ready
// (when not nil) says nothing is missing.
func passers(t *testing.T, ready func([]*Node) string) []*Node {
	t.Helper()
	orgNames := []string{"acme", "globex", "acme"}
	nodes := startNodes(t, orgNames, nil)
	nodetest.Eventually(t, 30*time.Second, allMatch(nodes, truthOf(orgNames)))
	nodetest.Eventually(t, 10*time.Second, func() string {
		for _, n := range nodes[1:] {
			if !isConnected(nodes[0].host, n.Info().PeerID) {
				return "not all connected to the first node yet"
			}
		}
		if ready != nil {
			return ready(nodes)
		}
		return ""
	})
	return nodes
}
