package node

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/orgs"
)

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

func TestAddrPolicy(t *testing.T) {
	const relayed = "/ip4/192.0.0.130/tcp/4101/p2p/12D3KooWSijZa5fEMapbBWQbJnYb5hGERbDyXYXtQTs8TEPDxGjy/p2p-circuit"
	for _, c := range []struct {
		name               string
		announce, noAnnnce []string
		in, want           []string
	}{
		{name: "loopback and link-local go while another address remains",
			in:   []string{"/ip4/127.0.0.1/tcp/4101", "/ip4/10.1.2.3/tcp/4101", "/ip6/fe80::1/udp/4101/quic-v1", "/ip4/169.254.1.1/tcp/4101", "/ip4/0.0.0.0/tcp/4101"},
			want: []string{"/ip4/10.1.2.3/tcp/4101"}},
		{name: "a loopback-only node keeps its loopback addresses",
			in:   []string{"/ip4/127.0.0.1/tcp/4101", "/ip6/::1/udp/4101/quic-v1"},
			want: []string{"/ip4/127.0.0.1/tcp/4101", "/ip6/::1/udp/4101/quic-v1"}},
		{name: "a relayed address is reachable from elsewhere",
			in:   []string{"/ip4/127.0.0.1/tcp/4101", relayed},
			want: []string{relayed}},
		{name: "--announce replaces the direct addresses, not the relayed ones",
			announce: []string{"/dns4/node1.example.com/tcp/4101"},
			in:       []string{"/ip4/10.1.2.3/tcp/4101", relayed},
			want:     []string{"/dns4/node1.example.com/tcp/4101", relayed}},
		{name: "--no-announce takes addresses and ranges",
			noAnnnce: []string{"10.0.0.0/8", "/ip4/192.168.0.0/ipcidr/16", "/ip4/203.0.114.9/udp/4101/quic-v1"},
			in:       []string{"/ip4/10.1.2.3/tcp/4101", "/ip4/192.168.7.7/tcp/4101", "/ip4/203.0.114.9/tcp/4101", "/ip4/203.0.114.9/udp/4101/quic-v1"},
			want:     []string{"/ip4/203.0.114.9/tcp/4101"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := newAddrPolicy(c.announce, c.noAnnnce)
			if err != nil {
				t.Fatal(err)
			}
			var in []ma.Multiaddr
			for _, s := range c.in {
				in = append(in, ma.StringCast(s))
			}
			want := slices.Sorted(slices.Values(c.want))
			if got := addrStrings(p.filter(in)); !slices.Equal(got, want) {
				t.Fatalf("offered %q, want %q", got, want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "/ip4/10.0.0.0/ipcidr/99"} {
		if _, err := newAddrPolicy(nil, []string{bad}); err == nil {
			t.Errorf("--no-announce %q accepted", bad)
		}
	}
}

// TestProbeTargets: a probe dials only the addresses that mean the peer's
// own machine from where the prober stands.
func TestProbeTargets(t *testing.T) {
	nets := &localNets{at: time.Now(), nets: []netip.Prefix{netip.MustParsePrefix("10.201.0.0/24")}}
	pr := &prober{hostID: "h1", seen: newConnIPs(8), onLink: nets}
	peer := orgs.PeerInfo{PeerID: "p", Host: "h2", Addrs: []string{
		"/ip4/127.0.0.1/tcp/4101",           // its loopback, another machine's
		"/ip4/10.201.0.12/tcp/4101",         // on this node's network
		"/ip4/192.168.1.5/tcp/4101",         // some other private network
		"/ip4/169.254.3.3/tcp/4101",         // link-local
		"/ip4/192.0.0.140/tcp/4101",         // public
		"/ip4/10.201.0.12/udp/4101/quic-v1", // not TCP
		"/ip4/10.201.0.12/tcp/4102/ws",      // not plain TCP
	}}
	got := func() (out []string) {
		for _, t := range pr.targets(peer) {
			out = append(out, t.scope+" "+t.addr.String())
		}
		return out
	}
	want := []string{"private 10.201.0.12:4101", "public 192.0.0.140:4101"}
	if g := got(); !slices.Equal(g, want) {
		t.Fatalf("targets %q, want %q", g, want)
	}
	// A private address elsewhere counts once this node reached the peer there.
	pr.seen.add("p", netip.MustParseAddr("192.168.1.5"))
	want = []string{"private 10.201.0.12:4101", "private 192.168.1.5:4101", "public 192.0.0.140:4101"}
	if g := got(); !slices.Equal(g, want) {
		t.Fatalf("targets %q, want %q", g, want)
	}
	// Loopback: on the same host only.
	peer.Host = "h1"
	want = append([]string{"loopback 127.0.0.1:4101"}, want...)
	if g := got(); !slices.Equal(g, want) {
		t.Fatalf("same host: targets %q, want %q", g, want)
	}
}
