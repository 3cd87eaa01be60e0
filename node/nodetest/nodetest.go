// Package nodetest helps test orgpeer nodes from outside: a rogue libp2p
// host that breaks every rule a node checks, and a poller for what becomes
// true eventually. It never imports node, so that any package's tests can
// use it against a node in the same process or in another.
package nodetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
	priv, _ := Mint(t)
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

// Mint returns a fresh identity: a peer anyone can make up at no cost.
func Mint(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

// PublishAs publishes data on the rogue's topic signed by key, a minted
// peer's: the rogue relays it as its author's.
func (r *Rogue) PublishAs(t testing.TB, key crypto.PrivKey, data []byte) {
	t.Helper()
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	r.PublishRaw(t, data, pubsub.WithSecretKeyAndPeerId(key, id))
}

// NextFrom returns the next message the rogue hears on its topic from id
// that decodes and satisfies want, or fails t after timeout.
func (r *Rogue) NextFrom(t testing.TB, id peer.ID, timeout time.Duration, want func(*wire.Message) bool) *wire.Message {
	t.Helper()
	msg, _ := r.next(t, id, timeout, want)
	return msg
}

// Record returns the next message the rogue hears on its topic from id
// that satisfies want as it travelled, signed by its author, for Replay.
func (r *Rogue) Record(t testing.TB, id peer.ID, timeout time.Duration, want func(*wire.Message) bool) *pb.Message {
	t.Helper()
	_, raw := r.next(t, id, timeout, want)
	return raw
}

func (r *Rogue) next(t testing.TB, id peer.ID, timeout time.Duration, want func(*wire.Message) bool) (*wire.Message, *pb.Message) {
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
			return msg, m.Message
		}
	}
}

// Replay sends recorded messages, signed by their authors, to peer to in
// one GossipSub RPC, as a relay would forward them. It opens a GossipSub
// stream of its own: call it on a rogue without a topic, since a second
// stream would replace its GossipSub's.
func (r *Rogue) Replay(t testing.TB, to peer.ID, msgs ...*pb.Message) {
	t.Helper()
	s := r.open(t, to, pubsub.GossipSubID_v11)
	defer s.Close()
	rpc, err := proto.Marshal(&pb.RPC{Publish: msgs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(append(protowire.AppendVarint(nil, uint64(len(rpc))), rpc...)); err != nil {
		t.Fatal(err)
	}
}

// Hello writes data on a hello stream to peer to, closes its side and
// returns the answer (empty when to answered nothing).
func (r *Rogue) Hello(t testing.TB, to peer.ID, data []byte) []byte {
	t.Helper()
	s := r.open(t, to, wire.HelloProtocol)
	defer s.Close()
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	answer, _ := io.ReadAll(s)
	return answer
}

// open opens a stream of protocol proto to peer to, which must be done
// within 5 seconds.
func (r *Rogue) open(t testing.TB, to peer.ID, proto protocol.ID) network.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.Host.NewStream(ctx, to, proto)
	if err != nil {
		t.Fatal(err)
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	return s
}

// Buffer is a bytes.Buffer that a process or a logger may write while a
// test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
