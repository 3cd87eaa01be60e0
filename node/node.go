// Package node is orgpeer's composition root: a libp2p host with its
// identity (node/datadir), DHT discovery, presence on pubsub (node/wire is
// what it says), the view those feed, the local HTTP API (node/api is its
// types and client) and the metrics.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/discovery"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// Version is reported by the API and the CLI.
const Version = "0.1.0"

// Option injects a dependency into New.
type Option func(*options)

type options struct {
	log        *slog.Logger
	transports []libp2p.Option
	apiLn      net.Listener
	prober     func(host.Host) Prober
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTransports gives the host these libp2p options in place of its TCP
// and QUIC transports (node/nodesim: QUIC over a simulated network); the
// host still listens on cfg.ListenAddrs.
func WithTransports(opts ...libp2p.Option) Option {
	return func(o *options) { o.transports = opts }
}

// WithAPIListener serves the API on ln instead of listening on
// cfg.APIAddr; Close closes it.
func WithAPIListener(ln net.Listener) Option { return func(o *options) { o.apiLn = ln } }

// WithProber replaces the probe of silent peers (default: their TCP
// addresses, see Prober); newProber is given the node's host.
func WithProber(newProber func(host.Host) Prober) Option {
	return func(o *options) { o.prober = newProber }
}

// Node is one running orgpeer peer. Close stops everything it started.
type Node struct {
	cfg     Config
	log     *slog.Logger
	priv    crypto.PrivKey
	host    host.Host
	disc    *discovery.Discovery
	ps      *pubsub.PubSub
	view    *orgs.View
	bw      *metrics.BandwidthCounter
	metrics *nodeMetrics
	obs     *observer
	pres    *presence
	member  *membership
	flood   *floodScore
	prober  Prober
	hints   *hints
	api     *apiServer
	dir     *datadir.Dir
	info    api.SelfInfo

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	leaveOnce sync.Once
	reloadMu  sync.Mutex // one Reload at a time
}

// New starts a node: identity, API listener, host, DHT, pubsub, presence.
// On error nothing it started is left running. ctx bounds start-up only;
// the node runs until Close.
func New(ctx context.Context, cfg Config, opts ...Option) (_ *Node, err error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{log: o.log}
	if cfg.HostID == "" {
		var machineID bool
		if cfg.HostID, machineID = defaultHostID(); !machineID {
			n.log.Warn("no /etc/machine-id: the host ID is derived from the hostname; set --host-id if hostnames repeat", "host", cfg.HostID)
		}
	}
	n.cfg = cfg
	var cleanup []func()
	defer func() {
		if err != nil {
			for _, f := range slices.Backward(cleanup) {
				f()
			}
		}
	}()

	if n.dir, err = datadir.Open(cfg.DataDir, n.log); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { n.dir.Close() })
	if n.priv, err = n.dir.Identity(); err != nil {
		return nil, err
	}
	self, err := peer.IDFromPrivateKey(n.priv)
	if err != nil {
		return nil, err
	}
	if n.member, err = loadMembership(&cfg, n.dir, self, time.Now()); err != nil {
		return nil, err
	}
	epoch, err := n.dir.NextEpoch()
	if err != nil {
		return nil, fmt.Errorf("epoch: %w", err)
	}

	apiLn := o.apiLn
	if apiLn == nil {
		if apiLn, err = net.Listen("tcp", cfg.APIAddr); err != nil {
			return nil, fmt.Errorf("API address %s: %w", cfg.APIAddr, unwrapOpErr(err))
		}
	}
	cleanup = append(cleanup, func() { apiLn.Close() })

	if n.host, n.bw, err = newHost(n.priv, &cfg, o.transports); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { n.host.Close() })

	seeds, _ := parseSeeds(cfg.Bootstrap) // checked by Validate
	n.disc, err = discovery.New(n.host, discovery.Config{
		Seeds:             seeds,
		RetryJoin:         cfg.RetryJoin,
		MDNS:              cfg.MDNS,
		AdvertiseInterval: cfg.AdvertiseInterval,
		FindInterval:      cfg.FindInterval,
		MaxPeers:          cfg.MaxPeers,
		FindLimit:         2 * cfg.MaxPeers,
		BackoffMin:        cfg.BackoffMin,
		BackoffMax:        cfg.BackoffMax,
		DialTimeout:       cfg.DialTimeout,
		BucketSize:        cfg.DHTBucketSize,
		Concurrency:       cfg.DHTConcurrency,
		Known:             n.knownMembers,
	}, n.log.With("part", "discovery"))
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { n.disc.Close() })

	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	cleanup = append(cleanup, func() { cancel(); n.wg.Wait() })

	n.metrics = newMetrics()
	n.flood = newFloodScore()
	tcp := &prober{hostID: cfg.HostID, oneMachine: cfg.OneMachine, seen: newConnIPs(cfg.MaxKnownPeers),
		onLink: &localNets{}, dials: n.metrics.probeDials}
	n.host.Network().Notify(tcp.seen.notifiee())
	n.prober = tcp
	if o.prober != nil {
		n.prober = o.prober(n.host)
	}
	n.hints = newHints(self, cfg.MaxPeers, n.metrics.hints)
	if cfg.ProbeAfter > 0 {
		n.host.SetStreamHandler(wire.ProbeHintProtocol, n.hints.handle)
		cleanup = append(cleanup, func() { n.host.RemoveStreamHandler(wire.ProbeHintProtocol) })
	}
	inflight := newInFlight(inFlightMax, n.metrics.copies.Inc)
	n.ps, err = pubsub.NewGossipSub(runCtx, n.host, append(gossipOptions(&cfg),
		pubsub.WithMaxMessageSize(64<<10),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithRawTracer(rejectTracer{n.metrics, inflight, n.flood}),
		pubsub.WithAppSpecificRpcInspector(inflight.inspect),
		pubsub.WithPeerScore(peerScoreParams(n.flood), peerScoreThresholds()),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(n.flood.inspect), time.Second),
		pubsub.WithValidateThrottle(256),
	)...)
	if err != nil {
		return nil, fmt.Errorf("start pubsub: %w", err)
	}

	n.info = api.SelfInfo{
		PeerID:  n.host.ID().String(),
		Org:     cfg.Org,
		Host:    cfg.HostID,
		Addrs:   fullAddrs(n.host),
		API:     apiLn.Addr().String(),
		Epoch:   epoch,
		Version: Version,
		Started: time.Now().UTC(),
		PID:     os.Getpid(),
	}
	if n.member.own != nil {
		n.info.OrgID = string(n.member.own.OrgID)
	}
	n.obs = newObserver(n.logTransition, cfg.MaxKnownPeers)
	n.view = orgs.NewView(cfg.viewConfig(), orgs.SystemClock{}, orgs.PeerInfo{
		PeerID: n.info.PeerID, Org: cfg.Org, Host: cfg.HostID, Addrs: listenAddrs(n.host),
	}, n.obs.transition)
	n.obs.view, n.obs.explain = n.view, n.explain
	n.verifySelf()
	for _, name := range append(n.member.trust.Names(), cfg.Watch...) {
		n.view.KeepOrg(name) // counted and followed whether or not a member was heard
	}
	n.pres = newPresence(&cfg, epoch, n.host, n.priv, n.ps, n.view, n.member, n.metrics, n.flood, n.log, n.obs.evidence)
	if err := n.pres.start(runCtx); err != nil {
		return nil, err
	}
	n.metrics.reg.MustRegister(newCollector(n.view, n.host, n.bw, n.flood, n.disc.Stats))
	health := &health{host: n.host, view: n.view, self: n.info.PeerID, window: cfg.LivenessWindow,
		running: n.pres.running.Load, bootstrap: len(cfg.Bootstrap) > 0}
	n.api = newAPIServer(apiLn, &cfg, n.log, n.view, n.Info, health, n.metrics.reg, n.obs)

	n.wg.Go(func() { n.disc.Run(runCtx, cfg.Org, n.orgsToFind) })
	n.wg.Go(func() { n.pres.run(runCtx) })
	n.wg.Go(func() { n.pres.wants.run(runCtx) })
	n.wg.Go(func() { n.pres.hellos.run(runCtx) })
	n.wg.Go(func() { n.pres.pp.run(runCtx) })
	if cfg.natTraversal() {
		n.wg.Go(func() { n.pres.hellos.relayed(runCtx) })
	}
	n.wg.Go(func() { n.watchConnections(runCtx) })
	n.wg.Go(func() { n.obs.watchCounts(runCtx) })
	if cfg.ProbeAfter > 0 {
		n.wg.Go(func() { n.probeLoop(runCtx) })
	}
	n.wg.Go(func() { n.api.serve(runCtx) })

	if err := n.dir.WriteInfo(n.info); err != nil {
		return nil, fmt.Errorf("write %s: %w", api.InfoFile, err)
	}
	n.log.Info("node started", "peer", n.info.PeerID, "org", cfg.Org, "host", cfg.HostID,
		"epoch", epoch, "api", n.info.API, "addrs", n.info.Addrs)
	return n, nil
}

// Info returns the node's own record, as written to node.json.
func (n *Node) Info() api.SelfInfo {
	i := n.info
	i.Addrs = slices.Clone(i.Addrs)
	return i
}

// Leave announces that this node is leaving, then waits a moment for the
// announcement to spread. Call it before Close for a graceful departure.
func (n *Node) Leave(ctx context.Context) error {
	var err error
	n.leaveOnce.Do(func() {
		if err = n.pres.leave(ctx); err != nil {
			return
		}
		n.log.Info("announced leave")
		t := time.NewTimer(n.cfg.LeavePropagateDelay)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	})
	return err
}

// Close stops every goroutine and releases the host, DHT, API and data dir.
// Without Leave first, other nodes see this node fail rather than leave.
func (n *Node) Close() error {
	var errs []error
	n.closeOnce.Do(func() {
		n.cancel()
		n.api.shutdown()
		n.wg.Wait()
		n.pres.close()
		n.host.RemoveStreamHandler(wire.ProbeHintProtocol)
		errs = append(errs, n.disc.Close(), n.host.Close(), n.dir.RemoveInfo())
		n.dir.Close()
		n.log.Info("node stopped")
	})
	return errors.Join(errs...)
}

func (n *Node) logTransition(tr orgs.Transition) {
	p := tr.Peer
	if !tr.StateChanged() {
		n.log.Info("peer verification changed", "peer", p.PeerID, "org", p.Org, "verified", p.Verified, "reason", tr.Reason)
		return
	}
	to := api.ToName(p.State)
	n.log.Info("peer "+to, "peer", p.PeerID, "org", p.Org, "from", tr.From.String(), "host", p.Host, "cause", tr.Cause)
	n.metrics.transitions.WithLabelValues(to).Inc()
}

func unwrapOpErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
