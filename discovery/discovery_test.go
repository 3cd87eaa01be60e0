package discovery

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

func testHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// start runs a Discovery on h until the test ends.
func start(t *testing.T, h host.Host, org string, boot ...host.Host) *Discovery {
	t.Helper()
	cfg := Config{AdvertiseInterval: time.Minute, FindInterval: time.Second, MaxPeers: 8, FindLimit: 8,
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, DialTimeout: 3 * time.Second}
	for _, b := range boot {
		cfg.Bootstrap = append(cfg.Bootstrap, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()})
	}
	d, err := New(h, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx, org, func() []string { return []string{"acme", "globex"} }) })
	t.Cleanup(func() { cancel(); wg.Wait(); d.Close() })
	return d
}

func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPeersFindEachOtherThroughTheDHT: two nodes that know only a seed
// find each other by their organizations' namespaces and connect, on a
// DHT under orgpeer's own protocol prefix.
func TestPeersFindEachOtherThroughTheDHT(t *testing.T) {
	seed, a, b := testHost(t), testHost(t), testHost(t)
	start(t, seed, "acme")
	da := start(t, a, "acme", seed)
	db := start(t, b, "globex", seed)
	within(t, 20*time.Second, "a and b connected", func() bool {
		return a.Network().Connectedness(b.ID()) == network.Connected
	})
	within(t, 10*time.Second, "both advertised and looked up", func() bool {
		return da.Stats().Advertised > 0 && db.Stats().Advertised > 0 && da.Stats().Lookups > 0
	})
	protos := seed.Mux().Protocols()
	if !slices.Contains(protos, protocolPrefix+"/kad/1.0.0") || slices.Contains(protos, protocol.ID("/ipfs/kad/1.0.0")) {
		t.Fatalf("the DHT speaks %v, want orgpeer's prefix only", protos)
	}
}

// TestBootstrapPeerReconnected: a node whose only connection, to its
// bootstrap peer, is closed dials it again and refills its routing table.
func TestBootstrapPeerReconnected(t *testing.T) {
	seed, a := testHost(t), testHost(t)
	start(t, seed, "acme")
	da := start(t, a, "acme", seed)
	within(t, 10*time.Second, "connected to the seed", func() bool {
		return a.Network().Connectedness(seed.ID()) == network.Connected
	})
	seed.Network().ClosePeer(a.ID())
	within(t, 10*time.Second, "reconnected to the seed", func() bool {
		return a.Network().Connectedness(seed.ID()) == network.Connected && da.dht.RoutingTable().Size() > 0
	})
}
