package node

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

// rogueOn starts a rogue host connected to n, on topic unless it is "".
func rogueOn(t *testing.T, n *Node, topic string, opts ...pubsub.Option) *nodetest.Rogue {
	t.Helper()
	return nodetest.NewRogue(t, peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}, topic, opts...)
}

// publishUntil publishes m, again on every poll, until the node has counted
// one more message under result/reason: a message that reaches the node
// before its GossipSub has set up the attacker's stream is lost, not judged.
func publishUntil(t *testing.T, a *nodetest.Rogue, n *Node, m *wire.Message, result, reason string) {
	t.Helper()
	before := counter(n, result, reason)
	nodetest.Eventually(t, 10*time.Second, func() string {
		a.Publish(t, m)
		if counter(n, result, reason) <= before {
			return fmt.Sprintf("%s/%s not counted", result, reason)
		}
		return ""
	})
}

func counter(n *Node, result, reason string) float64 {
	return testutil.ToFloat64(n.metrics.messages.WithLabelValues(result, reason))
}

func TestAttacksFail(t *testing.T) {
	acme, acmePub := savedOrgKey(t, "acme")
	globex := mustOrgKey(t, "globex")
	cfg := testConfig(t, "acme")
	cfg.Trust = []string{acmePub}
	cfg.SenderBurst, cfg.SenderRate = 40, 10
	victim := newTestNode(t, cfg)
	att := rogueOn(t, victim, wire.OrgTopic("acme"))
	now := time.Now()
	hb := func(seq uint64, cred []byte) *wire.Message {
		return &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Peer: att.ID.String(), Org: "acme", Epoch: 1, Seq: seq, Host: "evil", Cred: cred}
	}
	issue := func(k *orgs.OrgKey, p peer.ID, from time.Time, valid time.Duration, serial uint64) []byte {
		c, err := k.Issue(p, from, valid, serial)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	verifiedAcme := func() int { return victim.view.Snapshot().OrgCounts("acme").Verified }
	if verifiedAcme() != 0 {
		t.Fatalf("victim without credential counted verified")
	}

	impostorKey := &orgs.OrgKey{Name: "acme", ID: acme.ID, Priv: globex.Priv}
	victimID, _ := peer.Decode(victim.Info().PeerID)
	cases := []struct {
		name   string
		msg    *wire.Message
		reason string
	}{
		{"credential signed by a key that is not the org's", hb(1, issue(impostorKey, att.ID, now.Add(-time.Minute), time.Hour, 1)), orgs.ReasonBadCredential},
		{"another peer's valid credential replayed", hb(2, issue(acme, victimID, now.Add(-time.Minute), time.Hour, 2)), orgs.ReasonWrongPeer},
		{"expired credential", hb(3, issue(acme, att.ID, now.Add(-2*time.Hour), time.Hour, 3)), orgs.ReasonExpired},
		{"not yet valid credential", hb(4, issue(acme, att.ID, now.Add(time.Hour), time.Hour, 4)), orgs.ReasonNotYetValid},
		{"forged sender", &wire.Message{Kind: wire.KindHeartbeat, Peer: victim.Info().PeerID, Org: "acme", Epoch: 9, Seq: 9}, "forged-sender"},
		{"heartbeat for another org's topic", &wire.Message{Kind: wire.KindHeartbeat, Peer: att.ID.String(), Org: "globex", Epoch: 1, Seq: 5}, "wrong-topic"},
	}
	for _, tc := range cases {
		publishUntil(t, att, victim, tc.msg, "rejected", tc.reason)
		if _, ok := victim.view.Get(att.ID.String()); ok {
			t.Fatalf("%s: the attacker reached the view", tc.name)
		}
	}
	// Undecodable payloads, each from a fresh peer: a peer that keeps
	// sending invalid messages is soon graylisted, and then nothing it
	// sends is judged (or counted) any more.
	for _, raw := range [][]byte{[]byte("garbage"), []byte(`{"k":"hb","p":"x"}`), []byte(strings.Repeat("x", 5000))} {
		reason := "malformed"
		if len(raw) > 4096 {
			reason = "oversized"
		}
		junk := rogueOn(t, victim, wire.OrgTopic("acme"))
		before := counter(victim, "rejected", reason)
		nodetest.Eventually(t, 10*time.Second, func() string {
			junk.PublishRaw(t, raw)
			if counter(victim, "rejected", reason) <= before {
				return reason + " not counted"
			}
			return ""
		})
	}

	// A bare claim is counted, but only as unverified.
	nodetest.Eventually(t, 10*time.Second, func() string {
		att.Publish(t, hb(10, nil)) // again until seen; later copies are stale
		p, ok := victim.view.Get(att.ID.String())
		if !ok || p.State != orgs.StateAlive || p.Verified {
			return fmt.Sprintf("bare claim: %+v %v", p, ok)
		}
		if c := victim.view.Snapshot().OrgCounts("acme"); c.Unverified != 2 || c.Verified != 0 {
			return fmt.Sprintf("acme counts %+v", c)
		}
		return ""
	})

	// A valid credential makes the attacker a verified member...
	good := issue(acme, att.ID, now.Add(-time.Minute), time.Hour, 77)
	nodetest.Eventually(t, 10*time.Second, func() string {
		att.Publish(t, hb(11, good))
		if p, _ := victim.view.Get(att.ID.String()); !p.Verified || p.Serial != 77 {
			return fmt.Sprintf("valid credential not verified: %+v", p)
		}
		return ""
	})
	// ...until acme revokes it: the revocation list may come from anyone,
	// it is the org's signature that counts.
	rev, err := acme.SignRevocation(&orgs.Revocation{Seq: 1, Issued: now, Serials: []uint64{77}})
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() string {
		att.Publish(t, &wire.Message{Kind: wire.KindRevoke, Peer: att.ID.String(), Org: "acme", Rev: rev})
		if p, _ := victim.view.Get(att.ID.String()); p.Verified {
			return "revoked member still verified"
		}
		return ""
	})
	publishUntil(t, att, victim, hb(12, good), "rejected", orgs.ReasonRevoked)

	// A replayed old heartbeat (properly signed, lower sequence) is ignored.
	publishUntil(t, att, victim, hb(5, nil), "ignored", "stale")
	if p, _ := victim.view.Get(att.ID.String()); p.Version.Seq != 10 && p.Version.Seq != 11 {
		t.Fatalf("replay changed the view: %+v", p.Version)
	}

	// A flood from one peer is rate-limited, its author graylisted (its
	// messages then never reach validation), and the API keeps answering.
	// A fresh peer floods: the attacker above may already be graylisted
	// by its invalid messages (P4 grows with their square).
	fl := rogueOn(t, victim, wire.OrgTopic("acme"))
	flooded := func() float64 {
		return counter(victim, "ignored", "rate-limited") + counter(victim, "rejected", "pubsub-validation-queue-full") +
			counter(victim, "rejected", "pubsub-validation-throttled")
	}
	before := flooded()
	nodetest.Eventually(t, 10*time.Second, func() string {
		if !slices.Contains(fl.Topic.ListPeers(), victim.host.ID()) {
			return "the victim left the attacker's topic"
		}
		return ""
	})
	// 200 messages a second (a faster burst only overflows the attacker's
	// own send queue), until the victim graylists it: at most 3000 (15 s).
	pace := time.NewTicker(5 * time.Millisecond)
	sent := 0
	for ; sent < 3000 && victim.flood.graylisted.Load() == 0; sent++ {
		<-pace.C
		fl.Publish(t, &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Peer: fl.ID.String(), Org: "acme", Epoch: 1, Seq: uint64(1 + sent)})
	}
	pace.Stop()
	if n := flooded() - before; n < 5 {
		t.Fatalf("only %v flood messages refused (rate limit or full validation queue) of %d sent; app score %.0f; graylisted %d; connected %v",
			n, sent, victim.flood.score(fl.ID), victim.flood.graylisted.Load(), victim.host.Network().Connectedness(fl.ID))
	}
	nodetest.Eventually(t, 5*time.Second, func() string {
		if victim.flood.graylisted.Load() < 1 {
			return fmt.Sprintf("flooder not graylisted after %d messages (app score %.0f; accepted %v, rate-limited %v, queue-full %v, throttled %v)", sent, victim.flood.score(fl.ID),
				counter(victim, "accepted", "ok"), counter(victim, "ignored", "rate-limited"), counter(victim, "rejected", "pubsub-validation-queue-full"), counter(victim, "rejected", "pubsub-validation-throttled"))
		}
		return ""
	})
	t.Logf("flooder graylisted after %d messages", sent)
	if body := get(t, victim.Info().API, "/metrics", ""); !strings.Contains(body, "orgpeer_graylisted_peers 1") {
		t.Fatal("graylisted peer not in /metrics")
	}
	start := time.Now()
	if _, err := api.NewClient(victim.Info().API, "").View(context.Background()); err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("API during flood: %v after %v", err, time.Since(start))
	}

	// The revocation list survives a restart of the victim.
	victim.Close()
	again := newTestNode(t, cfg)
	if again.member.trust.RevocationOf(acme.ID) == nil {
		t.Fatal("revocation list lost across a restart")
	}
}

// savedOrgKey makes an org key and saves it in a temporary directory; it
// returns the key and the path of its public .org file, for cfg.Trust.
func savedOrgKey(t *testing.T, name string) (*orgs.OrgKey, string) {
	t.Helper()
	k := mustOrgKey(t, name)
	dir := t.TempDir()
	pub := filepath.Join(dir, name+".org")
	if err := orgfile.SaveKey(k, filepath.Join(dir, name+".orgkey"), pub); err != nil {
		t.Fatal(err)
	}
	return k, pub
}

func mustOrgKey(t *testing.T, name string) *orgs.OrgKey {
	t.Helper()
	k, err := orgs.NewOrgKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRequireCredentialsIgnoresBareClaims(t *testing.T) {
	cfg := testConfig(t, "acme")
	k := mustOrgKey(t, "acme")
	cfg.Trust = []string{string(k.ID)}
	cfg.RequireCredentials = true
	victim := newTestNode(t, cfg)
	att := rogueOn(t, victim, wire.OrgTopic("acme"))
	publishUntil(t, att, victim, &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Peer: att.ID.String(), Org: "acme", Epoch: 1, Seq: 1}, "ignored", "unverified")
	if _, ok := victim.view.Get(att.ID.String()); ok {
		t.Fatal("bare claim counted although credentials are required")
	}
}

func TestUnsignedMessageRejectedAndCounted(t *testing.T) {
	victim := newTestNode(t, testConfig(t, "acme"))
	att := rogueOn(t, victim, wire.OrgTopic("acme"), pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign))
	before := counter(victim, "rejected", "pubsub-missing-signature")
	seq := uint64(0)
	// Sent again on each poll: a message that arrives before the victim's
	// GossipSub has set up the attacker's stream is lost, not rejected.
	nodetest.Eventually(t, 10*time.Second, func() string {
		seq++
		att.Publish(t, &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Peer: att.ID.String(), Org: "acme", Epoch: 1, Seq: seq})
		if counter(victim, "rejected", "pubsub-missing-signature") == before {
			return "no unsigned message counted"
		}
		return ""
	})
	if _, ok := victim.view.Get(att.ID.String()); ok {
		t.Fatal("unsigned heartbeat reached the view")
	}
}
