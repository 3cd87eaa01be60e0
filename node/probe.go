package node

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// Probing a silent peer, as Serf's members probe one another, lets the
// node notice a crash sooner than its liveness window: a peer whose
// heartbeat is ProbeAfter late has its TCP listen addresses tried, and if
// every one refuses the connection, nothing listens where the peer said it
// does and its process is gone: it is suspect at once. A refusal proves
// absence; an accepted connection or a timeout proves nothing (a peer is
// alive only by its heartbeats), so then the liveness window decides, as it
// does for peers without a TCP address.
//
// A refusal proves absence only where the address means the peer's own
// machine: the prober dials only addresses that do from where it stands
// (prober.targets).
const (
	probeGap      = 100 * time.Millisecond // the loop looks at most this often
	probeRetry    = 200 * time.Millisecond // next look when every probe slot was busy
	probeTimeout  = 500 * time.Millisecond // bound on one probe
	probeParallel = 8                      // probes in flight at most
	probeAsk      = 2 * time.Second        // bound on asking a silent peer for its heartbeat: a connection and a hello
)

// A Prober looks for proof that a silent peer is gone. Gone reports true
// only on proof of absence, false when the probe proves nothing; ctx
// bounds it (probeTimeout). The probe loop calls it from up to
// probeParallel goroutines at once.
type Prober interface {
	Gone(ctx context.Context, p orgs.PeerInfo) bool
}

// probeLoop probes the peers that went silent, and the peers hints name
// (hints.go), until ctx ends; it returns when its probes have. It sleeps
// until the next peer can go silent (View.Silent says when), not on a fixed
// tick: an idle node has no timer of its own to wake it between heartbeats.
// A silence gets a second probe halfway between the first and the end of
// the liveness window when the first proved nothing (a process that is
// shutting down may still accept a connection).
func (n *Node) probeLoop(ctx context.Context) {
	tells := newPool(hintParallel) // probes start tells: waited for after them
	defer tells.wait()
	probes := newPool(probeParallel)
	defer probes.wait()
	t := time.NewTimer(n.cfg.ProbeAfter)
	defer t.Stop()
	type probe struct {
		seen  time.Time // the LastSeen the peer was probed for
		again time.Time // when to probe it once more; zero: done
	}
	probed := map[string]probe{}
	hinted := newHintProbes(n.cfg.MaxKnownPeers)
	var waiting []hint // hints that found every probe slot busy
	secondAfter := max((n.cfg.LivenessWindow-n.cfg.ProbeAfter)/2, probeGap)
	for {
		select {
		case <-ctx.Done():
			return
		case h := <-n.hints.queue:
			if !n.probeHinted(ctx, probes, tells, hinted, h) {
				waiting = append(waiting[:min(len(waiting), hintQueue-1)], h)
				t.Reset(probeRetry)
			}
			continue
		case <-t.C:
		}
		waiting = slices.DeleteFunc(waiting, func(h hint) bool { return n.probeHinted(ctx, probes, tells, hinted, h) })
		silent, next := n.view.Silent(n.cfg.ProbeAfter, n.cfg.MaxKnownPeers)
		if len(waiting) > 0 {
			next = min(next, probeRetry)
		}
		now := time.Now()
		still := make(map[string]bool, len(silent))
		for _, p := range silent {
			still[p.PeerID] = true
			pr, ok := probed[p.PeerID]
			switch {
			case !ok || !pr.seen.Equal(p.LastSeen):
				pr = probe{seen: p.LastSeen, again: now.Add(secondAfter)}
			case pr.again.IsZero():
				continue
			case now.Before(pr.again):
				next = min(next, pr.again.Sub(now))
				continue
			default:
				pr.again = time.Time{}
			}
			started := probes.try(func() {
				if !n.probeOnce(ctx, tells, p, "") {
					n.askSilent(ctx, p)
				}
			})
			if !started {
				next = min(next, probeRetry) // busy: look again soon
				continue
			}
			probed[p.PeerID] = pr
			if !pr.again.IsZero() {
				next = min(next, secondAfter)
			}
		}
		for id := range probed {
			if !still[id] {
				delete(probed, id)
			}
		}
		// Just past the moment, so that the peer is silent by then.
		t.Reset(max(next+time.Millisecond, probeGap))
	}
}

// probeHinted starts the probe a hint asks for, if the peer is counted
// alive and hinted allows it; it reports false only when every probe slot
// was busy (the hint waits then). A probe for a closed connection that
// proves nothing is tried once more after hintRetry, unless a connection or
// a heartbeat came meanwhile; one that still proves nothing quiets hints
// about the peer for hintQuiet.
func (n *Node) probeHinted(ctx context.Context, probes, tells *pool, hinted *hintProbes, h hint) bool {
	p, ok := n.view.Get(h.peer)
	if !ok || p.State != orgs.StateAlive || p.Self {
		n.hints.metrics.WithLabelValues("not-alive").Inc()
		return true
	}
	if h.via == "" && isConnected(n.host, h.peer) {
		return true // a new connection came: nothing was lost
	}
	if n.pres.sample.Sampled(p.Org) {
		n.hints.metrics.WithLabelValues("sampled").Inc()
		return true // a sampled organization's members are not probed (View.Silent)
	}
	if !hinted.take(p, time.Now()) {
		n.hints.metrics.WithLabelValues("repeat").Inc()
		return true
	}
	started := probes.try(func() {
		gone := n.probeOnce(ctx, tells, p, h.via)
		if !gone && h.via == "" && sleepCtx(ctx, hintRetry) {
			if q, ok := n.view.Get(p.PeerID); ok && q.State == orgs.StateAlive && q.LastSeen.Equal(p.LastSeen) && !isConnected(n.host, p.PeerID) {
				gone = n.probeOnce(ctx, tells, p, h.via)
			}
		}
		if !gone {
			hinted.quietFor(p.PeerID, time.Now().Add(hintQuiet))
		}
	})
	if !started {
		hinted.untake(p)
		return false
	}
	n.hints.metrics.WithLabelValues("probed").Inc()
	return true
}

// probeOnce probes p, makes it suspect if the probe proves it gone and
// nothing was heard from it since, and then tells the neighbours but via.
// It reports whether the probe proved p gone.
func (n *Node) probeOnce(ctx context.Context, tells *pool, p orgs.PeerInfo, via peer.ID) bool {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	gone := n.prober.Gone(pctx, p)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	n.obs.evidence.Probe(p.PeerID, gone)
	switch {
	case gone && n.view.Suspect(p.PeerID, p.LastSeen):
		n.metrics.probes.WithLabelValues("gone").Inc()
		n.tell(ctx, tells, p.PeerID, via)
	default:
		n.metrics.probes.WithLabelValues("inconclusive").Inc()
	}
	return gone
}

// askSilent asks a silent peer that a probe did not prove gone for its
// heartbeat, on a hello stream, as a SWIM member that hears no ack asks
// again: a live peer whose heartbeats stopped reaching this node (a
// GossipSub mesh that split into parts that only IHAVE gossip joins, a
// neighbour that died on the path) answers with its own heartbeat and stays
// alive, instead of turning suspect when the window ends. The answer is the
// peer's own state over a secure channel, judged like any hello, so nothing
// is taken on another peer's word. Only the probe loop asks, for silences:
// a probe hint follows a closed connection, and a peer whose connection a
// trim closed is not dialled back. A peer that is not connected is dialled
// only if its membership is proven. A peer that does not answer within
// probeAsk is left to its window.
func (n *Node) askSilent(ctx context.Context, p orgs.PeerInfo) {
	if q, ok := n.view.Get(p.PeerID); !ok || q.State != orgs.StateAlive || !q.LastSeen.Equal(p.LastSeen) {
		return // heard from meanwhile, or no longer counted alive
	}
	id, err := peer.Decode(p.PeerID)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, probeAsk)
	defer cancel()
	if n.host.Network().Connectedness(id) == network.NotConnected {
		if !p.Verified {
			return // a bare claim costs nothing to mint: its addresses get no dials from every node
		}
		ai := peer.AddrInfo{ID: id} // with the addresses it announced: the peerstore may have none
		for _, s := range p.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				ai.Addrs = append(ai.Addrs, a)
			}
		}
		if err := n.host.Connect(ctx, ai); err != nil {
			n.metrics.probes.WithLabelValues("unanswered").Inc()
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	if n.pres.hellos.say(ctx, id) == wire.KindHeartbeat {
		n.metrics.probes.WithLabelValues("answered").Inc()
	} else {
		n.metrics.probes.WithLabelValues("unanswered").Inc()
	}
}

// sleepCtx waits d and reports true, or false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// prober chooses the addresses of a silent peer that a refusal can prove
// it gone from, dials them and counts the dials by scope and result
// (orgpeer_probe_dials_total).
type prober struct {
	hostID     string // this node's host ID
	oneMachine bool   // every peer runs on this machine (Config.OneMachine)
	seen       *connIPs
	onLink     *localNets
	dials      *prometheus.CounterVec // scope, result
}

// Gone makes prober the default Prober: every TCP address of the peer
// that a refusal proves something from here refused.
func (pr *prober) Gone(ctx context.Context, p orgs.PeerInfo) bool {
	return pr.refusedEverywhere(ctx, pr.targets(p), probeTimeout)
}

// probeTarget is a TCP address to probe and its scope.
type probeTarget struct {
	addr  netip.AddrPort
	scope string
}

// targets returns the plain TCP addresses among those the peer announced
// that mean its own machine from here: a loopback address when the peer
// runs on this node's host (by the host ID in its heartbeats), an address
// this node has reached the peer at over a direct connection, a private
// address on one of this machine's own networks, and a public address.
// Link-local addresses and private ones elsewhere (another site's
// 192.168.1.5 may well be a different machine that refuses) are never
// dialled.
func (pr *prober) targets(p orgs.PeerInfo) []probeTarget {
	var out []probeTarget
	for _, s := range p.Addrs {
		ap, ok := plainTCP(s)
		if !ok {
			continue
		}
		ip := ap.Addr()
		scope := ipScope(ip)
		switch {
		case scope == scopeLoopback:
			ok = pr.oneMachine || p.Host != "" && p.Host == pr.hostID
		case scope == scopeLinkLocal:
			ok = false
		case pr.seen.has(p.PeerID, ip):
			ok = true
		case scope == scopePrivate:
			ok = pr.onLink.contains(ip)
		default:
			ok = scope == scopePublic
		}
		if ok {
			out = append(out, probeTarget{ap, scope})
		}
	}
	return out
}

// refusedEverywhere reports whether there is at least one target and every
// one refused a connection within timeout. A connection that opens is
// closed at once.
func (pr *prober) refusedEverywhere(ctx context.Context, targets []probeTarget, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for _, t := range targets {
		c, err := d.DialContext(ctx, "tcp", t.addr.String())
		result := dialResult(err)
		if pr.dials != nil {
			pr.dials.WithLabelValues(t.scope, result).Inc()
		}
		if err == nil {
			c.Close()
		}
		if result != "refused" {
			return false
		}
	}
	return len(targets) > 0
}

// dialResult names the outcome of a probe dial for the metric.
func dialResult(err error) string {
	switch {
	case err == nil:
		return "accepted"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "timeout"
	}
	return "error"
}

// plainTCP returns the IP and port of an /ip4|ip6/.../tcp/PORT address
// (nothing after the port, not unspecified), and whether s is one.
func plainTCP(s string) (netip.AddrPort, bool) {
	a, err := ma.NewMultiaddr(s)
	if err != nil || len(a) != 2 || a[1].Code() != ma.P_TCP {
		return netip.AddrPort{}, false
	}
	na, err := manet.ToNetAddr(a)
	if err != nil {
		return netip.AddrPort{}, false
	}
	tcp, ok := na.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	ap := tcp.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// connIPs remembers, per peer, the remote IPs of this node's direct
// connections to it, after they close too: a crashed peer's connections
// are gone by the time it is probed. At most a few IPs per peer, and the
// memory is cleared when it holds max peers.
type connIPs struct {
	max int
	mu  sync.Mutex
	ips map[string][]netip.Addr
}

const connIPsPerPeer = 4

func newConnIPs(max int) *connIPs { return &connIPs{max: max, ips: map[string][]netip.Addr{}} }

// notifiee records each direct connection as it opens.
func (c *connIPs) notifiee() network.Notifiee {
	return &network.NotifyBundle{ConnectedF: func(_ network.Network, conn network.Conn) {
		if conn.Stat().Limited || isRelayed(conn.RemoteMultiaddr()) {
			return
		}
		if ip, ok := firstIP(conn.RemoteMultiaddr()); ok {
			c.add(conn.RemotePeer().String(), ip)
		}
	}}
}

func (c *connIPs) add(id string, ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ips := c.ips[id]
	if slices.Contains(ips, ip) {
		return
	}
	if len(c.ips) >= c.max {
		clear(c.ips)
	}
	if len(ips) == connIPsPerPeer {
		ips = ips[1:]
	}
	c.ips[id] = append(slices.Clip(ips), ip)
}

func (c *connIPs) has(id string, ip netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.ips[id], ip)
}

// localNets are the networks this machine's interfaces are on, read again
// when older than localNetsTTL.
type localNets struct {
	mu   sync.Mutex
	at   time.Time
	nets []netip.Prefix
}

const localNetsTTL = 30 * time.Second

func (l *localNets) contains(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.at) > localNetsTTL {
		l.nets, l.at = l.nets[:0], time.Now()
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				ip, ok := netip.AddrFromSlice(ipn.IP)
				ones, bits := ipn.Mask.Size()
				if ok && bits > 0 {
					ones -= bits - ip.Unmap().BitLen() // a 16-byte mask of an IPv4 address
					l.nets = append(l.nets, netip.PrefixFrom(ip.Unmap(), ones).Masked())
				}
			}
		}
	}
	for _, n := range l.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
