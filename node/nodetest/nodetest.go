// Package nodetest helps test orgpeer nodes from outside: a rogue libp2p
// host that breaks every rule a node checks, and a poller for what becomes
// true eventually. It never imports node, so that any package's tests can
// use it against a node in the same process or in another.
package nodetest

import (
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
)

// Eventually polls cond every 100 ms until it returns "" or deadline has
// passed; then it fails t with cond's last complaint. It returns how long
// cond took to hold.
func Eventually(t testing.TB, deadline time.Duration, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	end := start.Add(deadline)
	for {
		msg := cond()
		if msg == "" {
			return time.Since(start)
		}
		if time.Now().After(end) {
			t.Fatalf("not within %v: %s", deadline, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Rogue is a real libp2p host on loopback TCP with a fresh identity. With a
// topic it runs GossipSub without validators, so it can publish anything,
// signed with its own key or not at all; with or without, it can say
// anything on a hello stream.
type Rogue struct {
	Host  host.Host
	ID    peer.ID
	Topic *pubsub.Topic        // nil without a topic
	Sub   *pubsub.Subscription // what the rogue hears on its topic
}

// NewRogue starts a rogue host connected to target, closed when the test
// ends. With topic not "", it also runs GossipSub with flood publishing
// (then opts), joins topic and waits until target is its neighbour there:
// flood publishing sends straight to target whether or not target keeps the
// rogue in its mesh, which a target with more than Dhi mesh peers may not.
func NewRogue(t testing.TB, target peer.AddrInfo, topic string, opts ...pubsub.Option) *Rogue {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(priv), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := &Rogue{Host: h, ID: h.ID()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if topic != "" {
		ps, err := pubsub.NewGossipSub(ctx, h, append([]pubsub.Option{pubsub.WithFloodPublish(true)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Topic, err = ps.Join(topic); err != nil {
			t.Fatal(err)
		}
		if r.Sub, err = r.Topic.Subscribe(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Sub.Cancel)
	}
	if err := h.Connect(ctx, target); err != nil {
		t.Fatal(err)
	}
	if r.Topic != nil {
		Eventually(t, 10*time.Second, func() string {
			if len(r.Topic.ListPeers()) == 0 {
				return "the target never joined the rogue's topic"
			}
			return ""
		})
	}
	return r
}

// Publish publishes m on the rogue's topic.
func (r *Rogue) Publish(t testing.TB, m *wire.Message, opts ...pubsub.PubOpt) {
	t.Helper()
	r.PublishRaw(t, m.Encode(), opts...)
}

// PublishRaw publishes data, whatever it is, on the rogue's topic.
func (r *Rogue) PublishRaw(t testing.TB, data []byte, opts ...pubsub.PubOpt) {
	t.Helper()
	if err := r.Topic.Publish(context.Background(), data, opts...); err != nil {
		t.Fatal(err)
	}
}

// NextFrom returns the next message the rogue hears on its topic from id
// that decodes and satisfies want, or fails t after timeout.
func (r *Rogue) NextFrom(t testing.TB, id peer.ID, timeout time.Duration, want func(*wire.Message) bool) *wire.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		m, err := r.Sub.Next(ctx)
		if err != nil {
			t.Fatalf("no matching message from %s within %v: %v", id, timeout, err)
		}
		if m.GetFrom() != id {
			continue
		}
		msg, err := wire.DecodeMessage(m.Data, 1<<20)
		if err != nil {
			t.Fatalf("undecodable message from %s: %v", id, err)
		}
		if want(msg) {
			return msg
		}
	}
}

// Hello writes data on a hello stream to peer to, closes its side and
// returns the answer (empty when to answered nothing).
func (r *Rogue) Hello(t testing.TB, to peer.ID, data []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.Host.NewStream(ctx, to, wire.HelloProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	answer, _ := io.ReadAll(s)
	return answer
}
