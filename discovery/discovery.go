// Package discovery finds the peers of each organization: a Kademlia DHT in
// server mode under a private protocol prefix, bootstrapped from given peers,
// with one provider namespace per organization.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	ma "github.com/multiformats/go-multiaddr"
	madns "github.com/multiformats/go-multiaddr-dns"
)

// protocolPrefix keeps orgpeer's DHT apart from every other Kademlia network.
const protocolPrefix protocol.ID = "/orgpeer"

// namespace is the DHT namespace under which the members of org advertise.
func namespace(org string) string { return "orgpeer/org/" + org }

// Config sets the discovery timers and bounds.
type Config struct {
	// Seeds to join the DHT through: full multiaddrs ending in /p2p/<id>
	// (/dns4/... names included, which the host resolves as it dials), or
	// /dnsaddr/<name>, whose TXT records list such addresses, as Kubo's
	// bootstrap list does; a /dnsaddr/ seed is resolved on each attempt.
	Seeds []ma.Multiaddr
	// Resolver resolves /dnsaddr/ seeds (nil: madns.DefaultResolver).
	Resolver *madns.Resolver
	// RetryJoin keeps every seed connected, retrying each with its
	// backoff, also while the node is in the network through other peers;
	// without it a seed is dialled only while the node is out of it.
	RetryJoin bool
	// MDNS announces the node by multicast DNS and connects to the orgpeer
	// nodes heard on the local networks.
	MDNS bool
	// AdvertiseInterval: how often the node re-advertises itself under its
	// organization's namespace.
	AdvertiseInterval time.Duration
	// FindInterval: how often the node looks up the peers of every
	// organization it knows and tops up its connections.
	FindInterval time.Duration
	// MaxPeers: discovery dials only while the node has fewer connections.
	MaxPeers int
	// FindLimit: how many providers one lookup asks for.
	FindLimit int
	// BackoffMin and BackoffMax bound the retry delays for bootstrap peers
	// and failed advertisements.
	BackoffMin, BackoffMax time.Duration
	// DialTimeout bounds each connection attempt.
	DialTimeout time.Duration
	// BucketSize is Kademlia's K: peers per routing table bucket, replicas
	// of each provider record, peers in each answer (0: the DHT's 20).
	BucketSize int
	// Concurrency is Kademlia's alpha: requests one lookup has in flight
	// (0: the DHT's 10).
	Concurrency int
	// Known returns members the node has heard of, with the addresses
	// their own heartbeats gave (nil: none). While the node holds no
	// connection at all and no seed answers, a few of them are dialled:
	// a node whose only way in was a seed that died rejoins through the
	// members it knows, as a Serf agent rejoins through its member list.
	Known func() []peer.AddrInfo
}

// knownDials bounds the members dialled per look while the node is cut off.
const knownDials = 3

// Discovery owns the DHT. Run drives bootstrapping, advertising and lookups;
// Close releases the DHT.
type Discovery struct {
	cfg   Config
	h     host.Host
	dht   *dht.IpfsDHT
	rd    *drouting.RoutingDiscovery
	log   *slog.Logger
	mu    sync.Mutex
	stat  Stats
	seeds [][]peer.AddrInfo // each seed's peers as last resolved; under mu
}

// Stats are discovery's counters since New, for the node's metrics.
type Stats struct {
	BootstrapFailures int // failed attempts to reach a bootstrap peer
	Advertised        int // successful advertisements
	Lookups           int // lookups done
	Dials             int // connections to discovered peers opened
	DialFailures      int // connections to discovered peers that failed
}

// New starts a DHT server on h.
func New(h host.Host, cfg Config, log *slog.Logger) (*Discovery, error) {
	if cfg.Resolver == nil {
		cfg.Resolver = madns.DefaultResolver
	}
	d := &Discovery{cfg: cfg, h: h, log: log, seeds: make([][]peer.AddrInfo, len(cfg.Seeds))}
	for i, s := range cfg.Seeds {
		if ai, err := peer.AddrInfoFromP2pAddr(s); err == nil && !isDNSAddr(s) {
			d.seeds[i] = []peer.AddrInfo{*ai}
		}
	}
	opts := []dht.Option{
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocolPrefix),
		dht.BootstrapPeersFunc(d.seedPeers),
		dht.DisableValues(),
	}
	if cfg.BucketSize > 0 {
		opts = append(opts, dht.BucketSize(cfg.BucketSize))
	}
	if cfg.Concurrency > 0 {
		opts = append(opts, dht.Concurrency(cfg.Concurrency))
	}
	kad, err := dht.New(h, opts...)
	if err != nil {
		return nil, fmt.Errorf("start DHT: %w", err)
	}
	d.dht, d.rd = kad, drouting.NewRoutingDiscovery(kad)
	return d, nil
}

// Close stops the DHT.
func (d *Discovery) Close() error { return d.dht.Close() }

// Stats returns a copy of the counters.
func (d *Discovery) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stat
}

func (d *Discovery) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stat)
	d.mu.Unlock()
}

// Run bootstraps, advertises own under its namespace and looks up the peers
// of every organization that orgs returns, until ctx ends. It returns when
// all its goroutines have.
func (d *Discovery) Run(ctx context.Context, own string, orgs func() []string) {
	var wg sync.WaitGroup
	wg.Go(func() { d.bootstrapLoop(ctx) })
	wg.Go(func() { d.advertiseLoop(ctx, own) })
	wg.Go(func() { d.findLoop(ctx, orgs) })
	if d.cfg.MDNS {
		wg.Go(func() { d.mdnsLoop(ctx) })
	}
	wg.Wait()
}

// bootstrapLoop keeps the seeds connected while the node has no other way
// into the network (with RetryJoin: always), retrying each seed with its own
// backoff. It refreshes the DHT's routing table after each new connection
// to a seed only: a refresh is a lookup of the node's own ID, too costly for
// every tick. While nothing is to be done it looks again only when a peer
// disconnects, or after BackoffMax: an idle node has no timer of its own.
func (d *Discovery) bootstrapLoop(ctx context.Context) {
	if len(d.cfg.Seeds) == 0 {
		return
	}
	lost := make(chan struct{}, 1) // a connection closed: look again
	nudge := &network.NotifyBundle{DisconnectedF: func(network.Network, network.Conn) {
		select { // the swarm calls this inline: never block it
		case lost <- struct{}{}:
		default:
		}
	}}
	d.h.Network().Notify(nudge)
	defer d.h.Network().StopNotify(nudge)
	backoff := make([]time.Duration, len(d.cfg.Seeds))
	next := make([]time.Time, len(d.cfg.Seeds))
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-lost:
		}
		joined := false
		var due time.Time // the next retry of a seed still to join
		for i, seed := range d.cfg.Seeds {
			if d.seedConnected(i) {
				backoff[i] = 0
				continue
			}
			// Once in the network, a lost seed is not needed, unless
			// RetryJoin asks to keep them all.
			if !d.cfg.RetryJoin && d.dht.RoutingTable().Size() > 0 {
				continue
			}
			if time.Now().Before(next[i]) {
				if due.IsZero() || next[i].Before(due) {
					due = next[i]
				}
				continue
			}
			id, err := d.joinSeed(ctx, i, seed)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				d.count(func(s *Stats) { s.BootstrapFailures++ })
				backoff[i] = min(max(2*backoff[i], d.cfg.BackoffMin), d.cfg.BackoffMax)
				next[i] = time.Now().Add(jitter(backoff[i]))
				if due.IsZero() || next[i].Before(due) {
					due = next[i]
				}
				d.log.Warn("seed unreachable, will retry", "seed", seed, "retry_in", backoff[i].Round(time.Millisecond), "err", err)
				continue
			}
			d.log.Info("connected to seed", "seed", seed, "peer", id)
			joined = true
		}
		if len(d.h.Network().Peers()) == 0 && d.rejoinKnown(ctx) {
			joined = true
		}
		if joined {
			if err := d.dht.Bootstrap(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("DHT bootstrap", "err", err)
			}
		}
		// Out of the network (no routing table or no peer at all): every
		// BackoffMin, as each seed's backoff allows. A seed to retry
		// (RetryJoin): when its backoff ends. Otherwise: on the next
		// disconnection.
		wait := d.cfg.BackoffMax
		if !due.IsZero() {
			wait = max(time.Until(due), d.cfg.BackoffMin)
		}
		if d.dht.RoutingTable().Size() == 0 || len(d.h.Network().Peers()) == 0 {
			wait = d.cfg.BackoffMin
		}
		t.Reset(wait)
	}
}

// rejoinKnown dials up to knownDials of the members the node knows, in
// random order, and reports whether one answered.
func (d *Discovery) rejoinKnown(ctx context.Context) bool {
	if d.cfg.Known == nil {
		return false
	}
	known := d.cfg.Known()
	rand.Shuffle(len(known), func(i, j int) { known[i], known[j] = known[j], known[i] })
	ok := false
	for _, ai := range known[:min(len(known), knownDials)] {
		if ai.ID == d.h.ID() || len(ai.Addrs) == 0 || ctx.Err() != nil {
			continue
		}
		if err := d.connect(ctx, ai); err != nil {
			d.count(func(s *Stats) { s.DialFailures++ })
			continue
		}
		d.count(func(s *Stats) { s.Dials++ })
		d.log.Info("cut off: rejoined through a known member", "peer", ai.ID)
		ok = true
	}
	return ok
}

// seedConnected reports whether the node holds a connection to a peer of
// seed i as last resolved (a seed naming this node itself counts as one).
func (d *Discovery) seedConnected(i int) bool {
	d.mu.Lock()
	peers := d.seeds[i]
	d.mu.Unlock()
	for _, ai := range peers {
		if ai.ID == d.h.ID() || d.h.Network().Connectedness(ai.ID) == network.Connected {
			return true
		}
	}
	return false
}

// joinSeed resolves seed i and connects to one of its peers, in random
// order, at every address the seeds give it (seedPeers); it returns the
// peer it connected to.
func (d *Discovery) joinSeed(ctx context.Context, i int, seed ma.Multiaddr) (peer.ID, error) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	peers, err := resolveSeed(rctx, d.cfg.Resolver, seed)
	cancel()
	if err != nil {
		return "", err
	}
	peers = slices.DeleteFunc(peers, func(ai peer.AddrInfo) bool { return ai.ID == d.h.ID() })
	d.mu.Lock()
	d.seeds[i] = peers
	d.mu.Unlock()
	if len(peers) == 0 {
		return "", errors.New("it names no peer but this one")
	}
	rand.Shuffle(len(peers), func(a, b int) { peers[a], peers[b] = peers[b], peers[a] })
	merged := d.seedPeers()
	var errs []error
	for _, ai := range peers {
		if j := slices.IndexFunc(merged, func(m peer.AddrInfo) bool { return m.ID == ai.ID }); j >= 0 {
			ai = merged[j]
		}
		err := d.connect(ctx, ai)
		if err == nil {
			return ai.ID, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", errors.Join(errs...)
}

// seedPeers returns every seed's peers as last resolved, for the DHT,
// which dials them when its routing table empties: each peer once, with
// the addresses of every seed that names it.
//
// A peer given as several seeds (its QUIC and its TCP address apart, as a
// relay is given) must be dialled at all of them at once: the swarm ranks
// the addresses it knows when a dial starts, so a first dial given the TCP
// address alone dials it at once, without the node's wait for QUIC, and
// when TCP connects first the QUIC dial added a moment later is dropped. A
// node behind a NAT then has no QUIC connection from its listen port to
// the relay, hence no observed public address, which hole punching waits
// for.
func (d *Discovery) seedPeers() []peer.AddrInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []peer.AddrInfo
	byID := map[peer.ID]int{}
	for _, peers := range d.seeds {
		for _, ai := range peers {
			if j, ok := byID[ai.ID]; ok {
				out[j].Addrs = append(out[j].Addrs, ai.Addrs...)
				continue
			}
			byID[ai.ID] = len(out)
			out = append(out, peer.AddrInfo{ID: ai.ID, Addrs: slices.Clone(ai.Addrs)})
		}
	}
	return out
}

// Bounds on resolving a /dnsaddr/ seed: its records may name further
// /dnsaddr/ names, as bootstrap.libp2p.io's do.
const (
	maxDNSAddrDepth = 4
	maxSeedAddrs    = 64
)

// resolveSeed returns the peers a seed names: the one of a full multiaddr,
// or those that a /dnsaddr/ name's records list (recursively; addresses
// without a /p2p/ part are skipped). Other DNS names are left to the host,
// which resolves them as it dials.
func resolveSeed(ctx context.Context, r *madns.Resolver, seed ma.Multiaddr) ([]peer.AddrInfo, error) {
	addrs := []ma.Multiaddr{seed}
	for depth := 0; slices.ContainsFunc(addrs, isDNSAddr); depth++ {
		if depth == maxDNSAddrDepth {
			return nil, fmt.Errorf("/dnsaddr/ records nested deeper than %d", maxDNSAddrDepth)
		}
		var next []ma.Multiaddr
		for _, a := range addrs {
			if !isDNSAddr(a) {
				next = append(next, a)
				continue
			}
			got, err := r.Resolve(ctx, a)
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", a, err)
			}
			next = append(next, got...)
		}
		addrs = next[:min(len(next), maxSeedAddrs)]
	}
	byID := map[peer.ID]int{}
	var out []peer.AddrInfo
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			continue
		}
		if j, ok := byID[ai.ID]; ok {
			out[j].Addrs = append(out[j].Addrs, ai.Addrs...)
			continue
		}
		byID[ai.ID] = len(out)
		out = append(out, *ai)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no peer (want addresses ending in /p2p/<peer id>)", seed)
	}
	return out, nil
}

// isDNSAddr reports whether a starts with a /dnsaddr/ name.
func isDNSAddr(a ma.Multiaddr) bool { return len(a) > 0 && a[0].Code() == ma.P_DNSADDR }

// advertiseLoop advertises the node under its organization once the routing
// table has a peer, and again every AdvertiseInterval. go-libp2p's
// discovery util would fail on an empty table and then wait for minutes.
func (d *Discovery) advertiseLoop(ctx context.Context, org string) {
	ns := namespace(org)
	var backoff time.Duration
	for {
		wait := d.cfg.AdvertiseInterval
		if d.dht.RoutingTable().Size() == 0 {
			wait = d.cfg.BackoffMin
		} else if _, err := d.rd.Advertise(ctx, ns); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, d.cfg.BackoffMin), d.cfg.BackoffMax)
			wait = backoff
			d.log.Warn("advertise failed, will retry", "namespace", ns, "retry_in", wait, "err", err)
		} else {
			backoff = 0
			d.count(func(s *Stats) { s.Advertised++ })
			d.log.Debug("advertised", "namespace", ns)
		}
		if !sleep(ctx, jitter(wait)) {
			return
		}
	}
}

// findLoop looks up the providers of each known organization and connects
// to some of them while the node is below MaxPeers. It starts fast and slows
// to FindInterval; at MaxPeers it does not look up at all.
func (d *Discovery) findLoop(ctx context.Context, orgs func() []string) {
	wait := d.cfg.BackoffMin
	for {
		if !sleep(ctx, jitter(wait)) {
			return
		}
		wait = min(2*wait, d.cfg.FindInterval)
		// A lookup dials the peers closest to the key: with enough
		// connections already it would only churn them past MaxPeers.
		if d.dht.RoutingTable().Size() == 0 || len(d.h.Network().Peers()) >= d.cfg.MaxPeers {
			continue
		}
		for _, org := range orgs() {
			if ctx.Err() != nil {
				return
			}
			d.findOrg(ctx, org)
		}
	}
}

func (d *Discovery) findOrg(ctx context.Context, org string) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ch, err := d.rd.FindPeers(lctx, namespace(org))
	if err != nil {
		d.log.Debug("lookup failed", "org", org, "err", err)
		return
	}
	d.count(func(s *Stats) { s.Lookups++ })
	var found []peer.AddrInfo
	for ai := range ch {
		if ai.ID != d.h.ID() && len(ai.Addrs) > 0 && d.h.Network().Connectedness(ai.ID) != network.Connected {
			found = append(found, ai)
		}
		if len(found) >= d.cfg.FindLimit {
			break
		}
	}
	cancel()
	rand.Shuffle(len(found), func(i, j int) { found[i], found[j] = found[j], found[i] })
	for _, ai := range found {
		if len(d.h.Network().Peers()) >= d.cfg.MaxPeers || ctx.Err() != nil {
			return
		}
		d.dial(ctx, ai, "org "+org)
	}
}

// dial connects to a peer found by a lookup or by mDNS (how), and counts
// and logs the outcome.
func (d *Discovery) dial(ctx context.Context, ai peer.AddrInfo, how string) {
	if err := d.connect(ctx, ai); err != nil {
		d.count(func(s *Stats) { s.DialFailures++ })
		d.log.Debug("dial failed", "peer", ai.ID, "found_by", how, "err", err)
		return
	}
	d.count(func(s *Stats) { s.Dials++ })
	d.log.Debug("connected to discovered peer", "peer", ai.ID, "found_by", how)
}

func (d *Discovery) connect(ctx context.Context, ai peer.AddrInfo) error {
	cctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	err := d.h.Connect(cctx, ai)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v", d.cfg.DialTimeout)
	}
	return err
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
