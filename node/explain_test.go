package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// credentialFor gives cfg a credential of k for its node's identity,
// valid from a second ago for valid, and returns the node's peer ID.
func credentialFor(t *testing.T, cfg *Config, k *orgs.OrgKey, valid time.Duration, serial uint64) peer.ID {
	t.Helper()
	priv, err := datadir.LoadOrCreateIdentity(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := k.Issue(id, time.Now().Add(-time.Second), valid, serial)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CredentialFile = filepath.Join(t.TempDir(), "node.cred")
	if err := os.WriteFile(cfg.CredentialFile, cred, 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

// explained polls a's explanation of id until ok accepts it.
func explained(t *testing.T, a *Node, id string, what string, ok func(api.Explanation) bool) api.Explanation {
	t.Helper()
	c := api.NewClient(a.Info().API, "")
	var x api.Explanation
	nodetest.Eventually(t, 20*time.Second, func() string {
		var err error
		if x, err = c.Explain(context.Background(), id); err != nil {
			return err.Error()
		}
		if !ok(x) {
			return fmt.Sprintf("%s: known %s, why %q, summary %q", what, x.Known, x.Why, x.Summary)
		}
		return ""
	})
	return x
}

// TestExplainGivesTheReason: a node explains a revoked, an expired, an
// untrusted and a forgotten peer, one whose every message it refused, one
// it never heard of, and itself.
func TestExplainGivesTheReason(t *testing.T) {
	acme, acmePub := savedOrgKey(t, "acme")
	globex := mustOrgKey(t, "globex") // not trusted
	acfg := testConfig(t, "acme")
	acfg.Trust = []string{acmePub}
	acfg.SuspectRetention = 2 * time.Second
	a := newTestNode(t, acfg)
	boot := a.Info().Addrs[:1]
	start := func(org string, setup func(*Config) peer.ID) (*Node, string) {
		cfg := testConfig(t, org)
		cfg.Bootstrap = boot
		id := setup(&cfg)
		n := newTestNode(t, cfg)
		if id != "" && n.Info().PeerID != id.String() {
			t.Fatalf("node runs as %s, its credential names %s", n.Info().PeerID, id)
		}
		return n, n.Info().PeerID
	}
	_, revoked := start("acme", func(c *Config) peer.ID { return credentialFor(t, c, acme, time.Hour, 11) })
	_, expired := start("acme", func(c *Config) peer.ID { return credentialFor(t, c, acme, 4*time.Second, 12) })
	_, untrusted := start("globex", func(c *Config) peer.ID { return credentialFor(t, c, globex, time.Hour, 13) })
	gone, goneID := start("acme", func(*Config) peer.ID { return "" })

	x := explained(t, a, revoked, "revoked peer verified", func(x api.Explanation) bool {
		return x.Known == api.KnownInView && x.Why == orgs.ReasonVerified && x.Credential != nil && x.Credential.Serial == 11
	})
	if x.Message == nil || x.Learned == "" || x.Peer.State != orgs.StateAlive || x.Peer.Since.IsZero() || len(x.Transitions) == 0 {
		t.Fatalf("a verified peer's story: %+v", x)
	}
	x = explained(t, a, untrusted, "untrusted", func(x api.Explanation) bool {
		return x.Known == api.KnownInView && x.Why == orgs.UnverifiedUntrusted
	})
	if x.Credential.OrgName != "globex" || x.Credential.Serial != 13 || x.Peer.Verified {
		t.Fatalf("untrusted peer's credential: %+v", x.Credential)
	}

	// A peer that sends another's credential: refused, never counted.
	att := rogueOn(t, a, wire.OrgTopic("acme"))
	cred, err := acme.Issue(peer.ID(mustDecode(t, revoked)), time.Now().Add(-time.Minute), time.Hour, 99)
	if err != nil {
		t.Fatal(err)
	}
	publishUntil(t, att, a, &wire.Message{Kind: wire.KindHeartbeat, Peer: att.ID.String(), Org: "acme", Epoch: 1, Seq: 1, Cred: cred, Sent: time.Now().UnixMilli()},
		"rejected", orgs.ReasonWrongPeer)
	x = explained(t, a, att.ID.String(), "refused", func(x api.Explanation) bool {
		return x.Known == api.KnownRefused && x.Why == orgs.ReasonWrongPeer && x.Refusals != nil
	})
	if !strings.Contains(strings.Join(x.Summary, " "), "refused") {
		t.Fatalf("refused peer's summary: %q", x.Summary)
	}

	// acme revokes serial 11; anyone may carry the list.
	rev, err := acme.SignRevocation(&orgs.Revocation{Seq: 1, Issued: time.Now(), Serials: []uint64{11}})
	if err != nil {
		t.Fatal(err)
	}
	att.Publish(t, &wire.Message{Kind: wire.KindRevoke, Peer: att.ID.String(), Org: "acme", Rev: rev})
	revocation := func(tr orgs.TransitionNote) bool {
		return tr.Cause == orgs.CauseRevocation && tr.WasVerified && !tr.Verified && tr.Reason == orgs.ReasonRevoked
	}
	x = explained(t, a, revoked, "revoked", func(x api.Explanation) bool {
		return x.Why == orgs.ReasonRevoked && slices.ContainsFunc(x.Transitions, revocation)
	})
	if x.Peer == nil || x.Peer.Verified {
		t.Fatalf("revoked peer still verified: %+v", x.Peer)
	}

	expiry := func(tr orgs.TransitionNote) bool {
		return tr.Cause == orgs.CauseExpiry && tr.WasVerified && !tr.Verified && tr.Reason == orgs.ReasonExpired
	}
	// The refusals and the expiry's transition come from two paths (a
	// heartbeat judged, the view's sweep): wait for both.
	x = explained(t, a, expired, "expired, with the expiry in its history", func(x api.Explanation) bool {
		return x.Why == orgs.ReasonExpired && x.Refusals != nil && x.Refusals.ByReason["rejected: "+orgs.ReasonExpired] > 0 &&
			slices.ContainsFunc(x.Transitions, expiry)
	})
	if !strings.Contains(strings.Join(x.Summary, " "), "expired") {
		t.Fatalf("expired peer's summary: %q", x.Summary)
	}

	// Closed without a leave: suspect, then forgotten after 2 s.
	gone.Close()
	x = explained(t, a, goneID, "forgotten", func(x api.Explanation) bool {
		return x.Known == api.KnownForgotten && x.Forgotten != nil
	})
	if f := x.Forgotten; f.Cause != orgs.CauseExpiry || f.From != orgs.StateSuspect || f.At.Sub(f.Since) < acfg.SuspectRetention-acfg.LivenessWindow {
		t.Fatalf("forgotten: %+v", f)
	}
	if s := strings.Join(x.Summary, " "); !strings.Contains(s, "Forgotten at") || !strings.Contains(s, "after being suspect since") {
		t.Fatalf("forgotten peer's summary: %q", x.Summary)
	}

	never := nodetest.NewRogue(t, peer.AddrInfo{ID: a.host.ID(), Addrs: a.host.Addrs()}, "").ID.String()
	if x := explained(t, a, never, "never", func(x api.Explanation) bool { return x.Known == api.KnownNever }); len(x.Summary) != 1 {
		t.Fatalf("never heard of: %q", x.Summary)
	}
	if x := explained(t, a, a.Info().PeerID, "self", func(x api.Explanation) bool { return x.Known == api.KnownSelf }); x.Peer == nil || !x.Peer.Self {
		t.Fatalf("self: %+v", x)
	}
	if code, body := request(t, a.Info().API, "/v1/peers/not-a-peer", "", ""); code != 400 || !strings.Contains(body, "not a peer ID") {
		t.Fatalf("bad peer ID: %d %s", code, body)
	}
}

func mustDecode(t *testing.T, id string) peer.ID {
	t.Helper()
	p, err := peer.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
