package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// TestHelloCountsANeighbourAtOnce: a peer that has only said hello, with a
// valid credential, is counted alive and verified, and the node answers
// with its own full heartbeat.
func TestHelloCountsANeighbourAtOnce(t *testing.T) {
	acme, acmePub := savedOrgKey(t, "acme")
	cfg := testConfig(t, "acme")
	cfg.Trust = []string{acmePub}
	n := newTestNode(t, cfg)
	h := rogueOn(t, n, "") // no pubsub: what the node learns of it comes through hellos
	cred, err := acme.Issue(h.ID, time.Now().Add(-time.Minute), time.Hour, 7)
	if err != nil {
		t.Fatal(err)
	}
	hello := &wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Org: "acme", Epoch: 1, Seq: 1, Host: "bare", Cred: cred}
	answer := h.Hello(t, n.host.ID(), hello.Encode())
	m, err := wire.DecodeMessage(answer, cfg.MaxMessageSize)
	if err != nil {
		t.Fatalf("the node's answer: %v", err)
	}
	if m.Kind != wire.KindHeartbeat || m.Org != "acme" || len(m.Addrs) == 0 || m.Epoch == 0 || m.Seq == 0 {
		t.Fatalf("the node's answer is not its full heartbeat: %+v", m)
	}
	p, ok := n.view.Get(h.ID.String())
	if !ok || p.State != orgs.StateAlive || !p.Verified || p.Host != "bare" {
		t.Fatalf("after its hello the bare peer is %+v (known %v), want alive and verified", p, ok)
	}
	if c := counter(n, "accepted", "ok"); c < 1 {
		t.Fatalf("accepted messages: %v", c)
	}
	// The same hello again is an old version: ignored, not counted twice.
	h.Hello(t, n.host.ID(), hello.Encode())
	if c := counter(n, "ignored", "stale"); c < 1 {
		t.Fatalf("a replayed hello was not ignored as stale (%v)", c)
	}
	// A goodbye: the peer has left, and is not answered.
	leave := &wire.Message{Kind: wire.KindLeave, Sent: time.Now().UnixMilli(), Org: "acme", Epoch: 1, Seq: 2}
	if answer := h.Hello(t, n.host.ID(), leave.Encode()); len(answer) != 0 {
		t.Fatalf("a goodbye was answered: %q", answer)
	}
	if p, _ := n.view.Get(h.ID.String()); p.State != orgs.StateLeft {
		t.Fatalf("after its goodbye the bare peer is %v, want left", p.State)
	}
	// Hellos take sequence numbers, but not the place of the first full
	// heartbeats: those still number startFull.
	for i := range 6 {
		h.Hello(t, n.host.ID(), (&wire.Message{Kind: wire.KindHeartbeat, Sent: time.Now().UnixMilli(), Org: "acme", Epoch: 2, Seq: uint64(i + 1), Host: "bare", Cred: cred}).Encode())
	}
	nodetest.Eventually(t, 10*time.Second, func() string {
		if all := testutil.ToFloat64(n.metrics.sent.WithLabelValues(wire.KindHeartbeat)); all <= startFull {
			return fmt.Sprintf("%v heartbeats sent", all)
		}
		return ""
	})
	if full := testutil.ToFloat64(n.metrics.fullSent); full < startFull {
		t.Fatalf("%v of the first heartbeats were full, want %d", full, startFull)
	}
}

// TestLeaveSaysGoodbyeToNeighbours: a leaving node sends its leave on a
// hello stream to each neighbour that speaks the protocol.
func TestLeaveSaysGoodbyeToNeighbours(t *testing.T) {
	n := newTestNode(t, testConfig(t, "acme"))
	h := rogueOn(t, n, "") // no pubsub: what the node learns of it comes through hellos
	got := make(chan []byte, 16)
	h.Host.SetStreamHandler(wire.HelloProtocol, func(s network.Stream) {
		defer s.Close()
		data, _ := io.ReadAll(s)
		select {
		case got <- data:
		default:
		}
	})
	// The node learns that h speaks hello from identify's push.
	nodetest.Eventually(t, 10*time.Second, func() string {
		if ok, _ := n.host.Peerstore().SupportsProtocols(h.ID, wire.HelloProtocol); len(ok) == 0 {
			return "the node does not know that its neighbour speaks hello"
		}
		return ""
	})
	if err := n.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case data := <-got:
			m, err := wire.DecodeMessage(data, n.cfg.MaxMessageSize)
			if err != nil || m.Kind != wire.KindLeave || m.Org != "acme" {
				continue // a hello from before the leave
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("no goodbye within 5s of the leave")
		}
	}
}

// TestHelloRejectsBadInput: hostile hellos are rejected and counted; the
// node counts nothing from them and keeps answering.
func TestHelloRejectsBadInput(t *testing.T) {
	cfg := testConfig(t, "acme")
	n := newTestNode(t, cfg)
	h := rogueOn(t, n, "") // no pubsub: what the node learns of it comes through hellos
	cases := []struct {
		name, result, reason string
		data                 []byte
	}{
		{"garbage", "rejected", "malformed", []byte{0xff, 0xff, 0xff, 0x01}},
		{"oversized", "rejected", "oversized", bytes.Repeat([]byte{0}, cfg.MaxMessageSize+1)},
		{"a directory listing", "rejected", "wrong-kind", (&wire.Message{Kind: wire.KindDirectory, Orgs: []string{"acme"}}).Encode()},
		{"another peer's name", "rejected", "forged-sender",
			(&wire.Message{Kind: wire.KindHeartbeat, Peer: n.Info().PeerID, Org: "acme", Epoch: 1, Seq: 1}).Encode()},
	}
	for _, tc := range cases {
		before := counter(n, tc.result, tc.reason)
		h.Hello(t, n.host.ID(), tc.data)
		if got := counter(n, tc.result, tc.reason); got != before+1 {
			t.Errorf("%s: %s/%s counted %v times, want %v", tc.name, tc.result, tc.reason, got, before+1)
		}
	}
	if _, ok := n.view.Get(h.ID.String()); ok {
		t.Fatal("a hostile hello put its sender in the view")
	}
	if s := n.view.Snapshot(); s.OrgCounts("acme").Alive != 1 {
		t.Fatalf("acme counts %d alive after hostile hellos, want 1 (the node itself)", s.OrgCounts("acme").Alive)
	}
}
