package node

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

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
const (
	probeGap      = 100 * time.Millisecond // the loop looks at most this often
	probeRetry    = 200 * time.Millisecond // next look when every probe slot was busy
	probeTimeout  = 500 * time.Millisecond // bound on one probe
	probeParallel = 8                      // probes in flight at most
)

// A Prober looks for proof that a silent peer is gone. Gone reports true
// only on proof of absence, false when the probe proves nothing; ctx
// bounds it (probeTimeout). The probe loop calls it from up to
// probeParallel goroutines at once.
type Prober interface {
	Gone(ctx context.Context, p orgs.PeerInfo) bool
}

// tcpProber is the default Prober: every TCP address refused.
type tcpProber struct{}

func (tcpProber) Gone(ctx context.Context, p orgs.PeerInfo) bool {
	return refusedEverywhere(ctx, p.Addrs, probeTimeout)
}

// probeLoop probes the peers that went silent until ctx ends; it returns
// when its probes have. It sleeps until the next peer can go silent
// (View.Silent says when), not on a fixed tick: an idle node has no timer
// of its own to wake it between heartbeats. A silence gets a second probe
// halfway between the first and the end of the liveness window when the
// first proved nothing (a process that is shutting down may still accept
// a connection).
func (n *Node) probeLoop(ctx context.Context) {
	probes := newPool(probeParallel)
	defer probes.wait()
	t := time.NewTimer(n.cfg.ProbeAfter)
	defer t.Stop()
	type probe struct {
		seen  time.Time // the LastSeen the peer was probed for
		again time.Time // when to probe it once more; zero: done
	}
	probed := map[string]probe{}
	secondAfter := max((n.cfg.LivenessWindow-n.cfg.ProbeAfter)/2, probeGap)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		silent, next := n.view.Silent(n.cfg.ProbeAfter, n.cfg.MaxKnownPeers)
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
				pctx, cancel := context.WithTimeout(ctx, probeTimeout)
				gone := n.prober.Gone(pctx, p)
				cancel()
				switch {
				case ctx.Err() != nil:
				case gone && n.view.Suspect(p.PeerID, p.LastSeen):
					n.metrics.probes.WithLabelValues("gone").Inc()
				default:
					n.metrics.probes.WithLabelValues("inconclusive").Inc()
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

// refusedEverywhere reports whether the peer announced at least one plain
// TCP address and every such address refused a connection within timeout.
// A connection that opens is closed at once.
func refusedEverywhere(ctx context.Context, addrs []string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	tried := 0
	for _, s := range addrs {
		hostport, ok := plainTCP(s)
		if !ok {
			continue
		}
		tried++
		c, err := d.DialContext(ctx, "tcp", hostport)
		if err == nil {
			c.Close()
			return false
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return false
		}
	}
	return tried > 0
}

// plainTCP returns host:port of an /ip4|ip6/.../tcp/PORT address (nothing
// after the port), and whether s is one.
func plainTCP(s string) (string, bool) {
	a, err := ma.NewMultiaddr(s)
	if err != nil || len(a) != 2 || a[1].Code() != ma.P_TCP {
		return "", false
	}
	na, err := manet.ToNetAddr(a)
	if err != nil {
		return "", false
	}
	tcp, ok := na.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "", false
	}
	return tcp.String(), true
}
