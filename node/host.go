package node

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/node/wire"
)

// newHost starts the libp2p host: TCP and QUIC on every listen address
// (or the given transports instead), the capped connection manager, the
// loopback dial ranker and a bandwidth counter for the metrics.
func newHost(priv crypto.PrivKey, cfg *Config, transports []libp2p.Option) (host.Host, *metrics.BandwidthCounter, error) {
	if transports == nil {
		transports = []libp2p.Option{
			// No SO_REUSEPORT: an address in use must fail, not be shared.
			libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
			libp2p.Transport(quic.NewTransport),
			libp2p.QUICReuse(quicreuse.NewConnManager, quicreuse.DisableReuseport()),
		}
	}
	listen, _ := parseListenAddrs(cfg.ListenAddrs) // checked by Validate
	cm, err := connmgr.NewConnManager(cfg.MaxPeers, cfg.MaxPeers,
		connmgr.WithGracePeriod(cfg.ConnGrace), connmgr.WithSilencePeriod(cfg.ConnGrace/2+time.Second))
	if err != nil {
		return nil, nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.DefaultLimits.AutoScale()))
	if err != nil {
		return nil, nil, err
	}
	bw := metrics.NewBandwidthCounter()
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrs(listen...),
		libp2p.ChainOptions(transports...),
		libp2p.ConnectionManager(cappedConnMgr{cm}),
		libp2p.SwarmOpts(swarm.WithDialRanker(dialRanker)),
		// Noise first: its handshake costs a fraction of TLS's, and a node
		// opens many connections while it joins. TLS stays for peers without.
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.ResourceManager(rm),
		libp2p.BandwidthReporter(bw),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("orgpeer/"+Version),
	)
	if err != nil {
		rm.Close()
		return nil, nil, fmt.Errorf("start libp2p host: %w", err)
	}
	// libp2p starts when at least one address works; orgpeer wants all.
	if got := h.Network().ListenAddresses(); len(got) < len(listen) {
		h.Close()
		return nil, nil, fmt.Errorf("listen: only %d of %d addresses could be bound (in use?): asked %v, got %v", len(got), len(listen), listen, got)
	}
	return h, bw, nil
}

func fullAddrs(h host.Host) []string {
	infos, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil {
		return nil
	}
	out := make([]string, len(infos))
	for i, a := range infos {
		out[i] = a.String()
	}
	return out
}

func listenAddrs(h host.Host) []string {
	var out []string
	for _, a := range h.Addrs() {
		out = append(out, a.String())
	}
	if len(out) > wire.MaxAddrs {
		out = out[:wire.MaxAddrs]
	}
	return out
}

func parseListenAddrs(ss []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, configErr("--listen %q: %v", s, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func parseBootstrap(ss []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, configErr("--bootstrap %q: %v", s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, configErr("--bootstrap %q: want a full multiaddr ending in /p2p/<peer id>: %v", s, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}

// isConnected reports whether h has a live connection to the peer.
func isConnected(h host.Host, id string) bool {
	pid, err := peer.Decode(id)
	return err == nil && h.Network().Connectedness(pid) == network.Connected
}
