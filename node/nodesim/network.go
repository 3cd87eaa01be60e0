package nodesim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/marcopolo/simnet"
	quicgo "github.com/quic-go/quic-go"
	"go.uber.org/fx"
)

// network is the simulated internet: simnet's one router, and per node an
// endpoint (its UDP socket) behind a link of its own bandwidth. A packet's
// latency is the sum of its two ends' access latencies, so every pair of
// nodes has a latency of its own.
type network struct {
	sn     *simnet.Simnet
	link   simnet.NodeBiDiLinkSettings
	access map[netip.Addr]time.Duration // one-way access latency of each node's address
	ips    []net.IP
}

// newNetwork lays out n nodes: node i at simnet.IntToPublicIPv4(i), with an
// access latency drawn (seeded) evenly from [latency/4, 3·latency/4], so
// that the mean one-way latency between two nodes is latency.
func newNetwork(n int, latency time.Duration, mbps int, seed uint64) *network {
	rng := rand.New(rand.NewPCG(seed, 0x6f726770656572))
	nw := &network{
		link: simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: mbps * simnet.Mibps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: mbps * simnet.Mibps},
		},
		access: make(map[netip.Addr]time.Duration, n),
	}
	for i := range n {
		ip := simnetIP(i)
		a, _ := netip.AddrFromSlice(ip.To4())
		nw.access[a] = latency/4 + time.Duration(rng.Int64N(int64(latency/2)+1))
		nw.ips = append(nw.ips, ip)
	}
	// The map is complete before the router starts: it only reads it.
	nw.sn = &simnet.Simnet{LatencyFunc: nw.latency, Logger: slog.New(slog.DiscardHandler)}
	return nw
}

func (nw *network) latency(p *simnet.Packet) time.Duration {
	return nw.access[addrOf(p.From)] + nw.access[addrOf(p.To)]
}

func addrOf(a net.Addr) netip.Addr {
	if u, ok := a.(*net.UDPAddr); ok {
		ip, _ := netip.AddrFromSlice(u.IP.To4())
		return ip
	}
	return netip.Addr{}
}

// endpoint is a node's UDP socket on the simulated network. Once dead it
// sends nothing more: the node is gone without a word, as after a power
// loss, or a kill -9 of a node that speaks only QUIC.
type endpoint struct {
	*simnet.SimConn
	dead atomic.Bool
}

func (e *endpoint) WriteTo(p []byte, addr net.Addr) (int, error) {
	if e.dead.Load() {
		return len(p), nil
	}
	return e.SimConn.WriteTo(p, addr)
}

// fixedSourceIP answers quic-go's question "from which address?" with
// the node's own: the machine's routing table knows nothing of simnet.
type fixedSourceIP net.IP

func (ip fixedSourceIP) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) {
	return net.IP(ip), nil
}

// transports returns node i's libp2p options: QUIC over its simnet endpoint
// (which *ep receives once the host listens), as go-libp2p's
// x/simlibp2p.QUICSimnet builds it, and no identify address discovery,
// which stalls synctest (go-libp2p's simlibp2p says so).
func (nw *network) transports(i int, ep **endpoint) []libp2p.Option {
	listen := func(_ string, addr *net.UDPAddr) (net.PacketConn, error) {
		e := &endpoint{SimConn: nw.sn.NewEndpoint(addr, nw.link)}
		*ep = e
		return e, nil
	}
	// The connection manager is closed with the host: libp2p does that
	// only for the one it builds itself.
	reuse := func(l fx.Lifecycle, key quicgo.StatelessResetKey, tok quicgo.TokenGeneratorKey, opts ...quicreuse.Option) (*quicreuse.ConnManager, error) {
		cm, err := quicreuse.NewConnManager(key, tok, opts...)
		if err != nil {
			return nil, err
		}
		l.Append(fx.StopHook(cm.Close))
		return cm, nil
	}
	src := fixedSourceIP(nw.ips[i])
	return []libp2p.Option{
		libp2p.Transport(quic.NewTransport),
		libp2p.QUICReuse(reuse,
			quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return src, nil }),
			quicreuse.OverrideListenUDP(listen)),
		libp2p.DisableIdentifyAddressDiscovery(),
	}
}

// simnetIP is node i's address, as go-libp2p's simlibp2p numbers them.
func simnetIP(i int) net.IP { return simnet.IntToPublicIPv4(i) }

// listenAddr is node i's QUIC listen address.
func listenAddr(i int) string { return fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", simnetIP(i)) }
