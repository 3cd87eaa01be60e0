package nodesim

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

// TestDHTOnSimnet checks that kad-dht, as package discovery sets it up (a
// server under the /orgpeer prefix), works on the simulated network, where
// upstream has not run it: 12 hosts that know only the first fill their
// routing tables, and a provider lookup finds every provider.
func TestDHTOnSimnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, ns = 12, "orgpeer/org/x"
		nw := newNetwork(n, 20*time.Millisecond, 20, 1)
		nw.sn.Start()
		defer nw.sn.Close()
		ctx := context.Background()
		var ds []*dht.IpfsDHT
		var first peer.AddrInfo
		for i := range n {
			var ep *endpoint
			h, err := libp2p.New(append(nw.transports(i, &ep), libp2p.ListenAddrStrings(listenAddr(i)))...)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			opts := []dht.Option{dht.Mode(dht.ModeServer), dht.ProtocolPrefix("/orgpeer"), dht.DisableValues()}
			if i > 0 {
				opts = append(opts, dht.BootstrapPeers(first))
			}
			d, err := dht.New(h, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if i == 0 {
				first = peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
			} else if err := h.Connect(ctx, first); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		for _, d := range ds[1:] {
			if err := d.Bootstrap(ctx); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Second)
		for i, d := range ds {
			if got := d.RoutingTable().Size(); got < n/2 {
				t.Errorf("host %d: %d peers in its routing table, want at least %d", i, got, n/2)
			}
		}
		providers := 0
		for i := 1; i < n; i += 2 {
			if _, err := drouting.NewRoutingDiscovery(ds[i]).Advertise(ctx, ns); err != nil {
				t.Fatalf("host %d advertises: %v", i, err)
			}
			providers++
		}
		for i := 0; i < n; i += 3 {
			ch, err := drouting.NewRoutingDiscovery(ds[i]).FindPeers(ctx, ns)
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for range ch {
				found++
			}
			if found != providers {
				t.Errorf("host %d found %d providers, want %d", i, found, providers)
			}
		}
	})
}
