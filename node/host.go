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
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
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
// loopback dial ranker, the address policy, NAT traversal unless the node
// listens on loopback only, and a bandwidth counter for the metrics.
func newHost(priv crypto.PrivKey, cfg *Config, transports []libp2p.Option) (host.Host, *metrics.BandwidthCounter, error) {
	injected := transports != nil // they bring their own QUIC socket manager
	if !injected {
		transports = []libp2p.Option{
			// No SO_REUSEPORT for TCP: an address in use must fail, not be shared.
			libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
			libp2p.Transport(quic.NewTransport),
		}
	}
	listen, _ := parseListenAddrs(cfg.ListenAddrs) // checked by Validate
	policy, _ := newAddrPolicy(cfg.Announce, cfg.NoAnnounce)
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
	opts := []libp2p.Option{
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
		libp2p.AddrsFactory(policy.filter),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("orgpeer/" + Version),
	}
	opts = append(opts, natOptions(cfg, !injected)...)
	h, err := libp2p.New(opts...)
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

// natOptions are the parts of go-libp2p that get a node through NATs, for
// a node that listens beyond loopback (or is given relays): the circuit
// relay v2 transport, AutoNAT v2 (which of its addresses peers can dial
// back), DCUtR hole punching over relayed connections, and, as configured,
// AutoRelay with static relays, the relay service and UPnP/NAT-PMP port
// mapping. A loopback-only node (the local preset) has no use for them and
// keeps its per-node costs as before.
//
// QUIC dials leave from the listen port then (quicreuse's shared socket;
// it binds without SO_REUSEPORT, so an address in use still fails): a NAT
// that keeps the source port maps it to the same public port for every
// peer, which is what hole punching needs. TCP dials use ephemeral ports,
// so hole punches succeed over QUIC.
func natOptions(cfg *Config, quicReuse bool) []libp2p.Option {
	relays, _ := parseRelays(cfg.Relays) // checked by Validate
	var opts []libp2p.Option
	if !cfg.natTraversal() {
		if quicReuse {
			opts = append(opts, libp2p.QUICReuse(quicreuse.NewConnManager, quicreuse.DisableReuseport()))
		}
		return append(opts, libp2p.DisableRelay())
	}
	if quicReuse {
		opts = append(opts, libp2p.QUICReuse(quicreuse.NewConnManager))
	}
	opts = append(opts,
		libp2p.EnableRelay(),
		libp2p.EnableAutoNATv2(),
		libp2p.EnableHolePunching(),
	)
	if len(relays) > 0 {
		// A node given relays may be behind a NAT: it reserves a slot with
		// each at once rather than after AutoNAT v1 says so, which needs a
		// dial-back service and takes its time. Its relayed addresses are
		// offered until AutoNAT v2 confirms a direct address.
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(relays,
			autorelay.WithBackoff(cfg.BackoffMax), autorelay.WithBootDelay(0)),
			libp2p.ForceReachabilityPrivate())
	}
	if cfg.RelayService {
		// go-libp2p serves relays only when it deems itself public: the
		// operator says so.
		opts = append(opts, libp2p.EnableRelayService(), libp2p.ForceReachabilityPublic())
	}
	if cfg.NATPortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	return opts
}

// natTraversal reports whether the node uses natOptions: it listens beyond
// loopback, or is given relays or the relay service.
func (c *Config) natTraversal() bool {
	listen, _ := parseListenAddrs(c.ListenAddrs) // checked by Validate
	return !loopbackOnly(listen) || len(c.Relays) > 0 || c.RelayService
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
	return parseAddrs("--listen", ss, "", nil)
}

// parseSeeds checks --bootstrap: each a full multiaddr ending in
// /p2p/<peer id> (an /ip4, /ip6, /dns* or /dnsaddr address), or a bare
// /dnsaddr/<name> whose TXT records list such addresses.
func parseSeeds(ss []string) ([]ma.Multiaddr, error) {
	return parseAddrs("--bootstrap", ss, "want a full multiaddr ending in /p2p/<peer id>, or /dnsaddr/<name>",
		func(a ma.Multiaddr) error {
			if a[0].Code() == ma.P_DNSADDR {
				return nil
			}
			_, err := peer.AddrInfoFromP2pAddr(a)
			return err
		})
}

// parseRelays checks --relay: full multiaddrs ending in /p2p/<peer id>;
// the addresses of one relay given apart are merged.
func parseRelays(ss []string) ([]peer.AddrInfo, error) {
	addrs, err := parseAddrs("--relay", ss, "want a full multiaddr ending in /p2p/<peer id>", func(a ma.Multiaddr) error {
		_, err := peer.AddrInfoFromP2pAddr(a)
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, configErr("--relay: %v", err)
	}
	return out, nil
}

// parseAddrs parses the multiaddrs given to flag and checks each with
// check (nil: none); a failed check is explained by want.
func parseAddrs(flag string, ss []string, want string, check func(ma.Multiaddr) error) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, configErr("%s %q: %v", flag, s, err)
		}
		if check != nil {
			if err := check(a); err != nil {
				return nil, configErr("%s %q: %s: %v", flag, s, want, err)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// connKind says how h reaches the peer: "direct", "relayed" (through
// circuit relays only) or "" (not connected).
func connKind(h host.Host, id string) string {
	pid, err := peer.Decode(id)
	if err != nil {
		return ""
	}
	switch h.Network().Connectedness(pid) {
	case network.Connected:
		return "direct"
	case network.Limited:
		return "relayed"
	}
	return ""
}

// isConnected reports whether h has a live connection to the peer.
func isConnected(h host.Host, id string) bool {
	pid, err := peer.Decode(id)
	return err == nil && h.Network().Connectedness(pid) == network.Connected
}
