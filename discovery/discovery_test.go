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
	ma "github.com/multiformats/go-multiaddr"
	madns "github.com/multiformats/go-multiaddr-dns"
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

func testConfig() Config {
	return Config{AdvertiseInterval: time.Minute, FindInterval: time.Second, MaxPeers: 8, FindLimit: 8,
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, DialTimeout: 3 * time.Second}
}

// start runs a Discovery on h, seeded by boot, until the test ends.
func start(t *testing.T, h host.Host, org string, boot ...host.Host) *Discovery {
	t.Helper()
	cfg := testConfig()
	for _, b := range boot {
		cfg.Seeds = append(cfg.Seeds, b.Addrs()[0].Encapsulate(ma.StringCast("/p2p/"+b.ID().String())))
	}
	return run(t, h, org, cfg)
}

// run runs a Discovery with cfg on h until the test ends.
func run(t *testing.T, h host.Host, org string, cfg Config) *Discovery {
	t.Helper()
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

// TestDNSAddrSeed: a seed given as /dnsaddr/<name> is resolved through its
// TXT records, nested ones included, as Kubo resolves its bootstrap list;
// the resolver here is a mock, so no DNS query leaves the test.
func TestDNSAddrSeed(t *testing.T) {
	seed, a := testHost(t), testHost(t)
	start(t, seed, "acme")
	full := seed.Addrs()[0].String() + "/p2p/" + seed.ID().String()
	r, err := madns.NewResolver(madns.WithDomainResolver("orgpeer.test.", &madns.MockResolver{TXT: map[string][]string{
		"_dnsaddr.seeds.orgpeer.test": {"dnsaddr=/dnsaddr/one.orgpeer.test", "not a dnsaddr record"},
		"_dnsaddr.one.orgpeer.test":   {"dnsaddr=" + full, "dnsaddr=/ip4/127.0.0.1/tcp/1"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	peers, err := resolveSeed(t.Context(), r, ma.StringCast("/dnsaddr/seeds.orgpeer.test"))
	if err != nil || len(peers) != 1 || peers[0].ID != seed.ID() {
		t.Fatalf("resolved %v, %v; want the seed only (an address without /p2p/ names no peer)", peers, err)
	}
	if _, err := resolveSeed(t.Context(), r, ma.StringCast("/dnsaddr/none.orgpeer.test")); err == nil {
		t.Fatal("a name without records resolved")
	}

	cfg := testConfig()
	cfg.Seeds, cfg.Resolver = []ma.Multiaddr{ma.StringCast("/dnsaddr/seeds.orgpeer.test")}, r
	run(t, a, "acme", cfg)
	within(t, 10*time.Second, "connected to the seed the name lists", func() bool {
		return a.Network().Connectedness(seed.ID()) == network.Connected
	})
}

// TestRetryJoinKeepsEverySeed: with RetryJoin a node redials a seed it lost
// although another seed keeps it in the network.
func TestRetryJoinKeepsEverySeed(t *testing.T) {
	s1, s2, a := testHost(t), testHost(t), testHost(t)
	start(t, s1, "acme")
	start(t, s2, "initech", s1)
	cfg := testConfig()
	for _, s := range []host.Host{s1, s2} {
		cfg.Seeds = append(cfg.Seeds, s.Addrs()[0].Encapsulate(ma.StringCast("/p2p/"+s.ID().String())))
	}
	cfg.RetryJoin = true
	run(t, a, "acme", cfg)
	within(t, 10*time.Second, "connected to both seeds", func() bool {
		return a.Network().Connectedness(s1.ID()) == network.Connected && a.Network().Connectedness(s2.ID()) == network.Connected
	})
	s2.Network().ClosePeer(a.ID())
	within(t, 10*time.Second, "the lost seed redialled", func() bool {
		return a.Network().Connectedness(s2.ID()) == network.Connected
	})
}

// TestSeedPeersMergedByPeer: a peer given as two seeds, its QUIC and its
// TCP address apart, is one bootstrap peer with both addresses, so that a
// dial of it is never of its TCP address alone; the seeds are left as
// they were.
func TestSeedPeersMergedByPeer(t *testing.T) {
	const relay, other = "12D3KooWSamExyne6QECYvtKqvJvtwdLchp317F2yAnUgS1ZSYgH", "12D3KooWBJa6sxq6uRBYG2ppZNyGd67uvv3FT7MwzKnvcDPWgXzZ"
	d := &Discovery{}
	for _, s := range []string{
		"/ip4/192.0.0.130/udp/4101/quic-v1/p2p/" + relay,
		"/ip4/192.0.0.140/tcp/4101/p2p/" + other,
		"/ip4/192.0.0.130/tcp/4101/p2p/" + relay,
	} {
		ai, err := peer.AddrInfoFromP2pAddr(ma.StringCast(s))
		if err != nil {
			t.Fatal(err)
		}
		d.seeds = append(d.seeds, []peer.AddrInfo{*ai})
	}
	got := d.seedPeers()
	if len(got) != 2 || got[0].ID.String() != relay || got[1].ID.String() != other {
		t.Fatalf("seed peers %v: want the relay, then the other peer, once each", got)
	}
	want := []ma.Multiaddr{ma.StringCast("/ip4/192.0.0.130/udp/4101/quic-v1"), ma.StringCast("/ip4/192.0.0.130/tcp/4101")}
	if !slices.EqualFunc(got[0].Addrs, want, ma.Multiaddr.Equal) {
		t.Errorf("the relay's addresses: %v, want %v", got[0].Addrs, want)
	}
	if n := len(d.seeds[0][0].Addrs); n != 1 {
		t.Errorf("the first seed has %d addresses after seedPeers, want 1", n)
	}
}
