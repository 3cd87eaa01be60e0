package node

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// presence publishes this node's heartbeats and leave on its organization's
// topic, lists the organizations it knows on the directory topic, and feeds
// what arrives on the topics it follows and on hello streams into the view.
// Each concern is a part of its own, given what it uses: topics (topic
// membership), beats (the node's own messages), wants (answering Want),
// valid (validation), revs (revocation lists), dir (the directory), recv
// (applying to the view) and hellos.
type presence struct {
	host      host.Host
	view      *orgs.View
	interval  time.Duration            // the heartbeat interval
	connected func(peerID string) bool // for the view's connected flags
	running   atomic.Bool              // from start until run returns

	topics *topics
	beats  *heartbeats
	wants  *wants
	valid  *validator
	revs   *revocations
	dir    *directory
	recv   *receiver
	hellos *hellos
	sample *sampler
	pp     *pushPull
	follow chan struct{} // the view gained organizations: reconcile now
}

func newPresence(cfg *Config, epoch uint64, h host.Host, priv crypto.PrivKey, ps *pubsub.PubSub, view *orgs.View, member *membership,
	metrics *nodeMetrics, flood *floodScore, log *slog.Logger, evidence *orgs.Evidence) *presence {
	connected := func(id string) bool { return isConnected(h, id) }
	p := &presence{host: h, view: view, interval: cfg.HeartbeatInterval, connected: connected, follow: make(chan struct{}, 1)}
	p.topics = &topics{ps: ps, view: view, log: log, own: cfg.Org, watch: cfg.Watch, maxOrgs: cfg.MaxOrgs,
		probe: newProbation(probationFor(cfg.HeartbeatInterval), cfg.OrgRetention), orgs: map[string]*topicSub{}}
	ownID := ""
	if member.own != nil {
		ownID = string(member.own.OrgID)
	}
	p.sample = newSampler(cfg, ownID, time.Now, newSamplingMetrics(metrics.reg))
	view.SetSampling(p.sample)
	p.beats = &heartbeats{org: cfg.Org, hostID: cfg.HostID, epoch: epoch, startup: cfg.StartupPeriod(), host: h,
		cred: member.cred, credID: member.credID, topics: p.topics, view: view, metrics: metrics, log: log, started: time.Now(),
		sampler: p.sample, roundLen: cfg.HeartbeatInterval, selfID: h.ID().String(), ownID: ownID}
	p.wants = newWants(wantSpacing*cfg.HeartbeatInterval, cfg.MaxKnownPeers, p.beats.greet, p.beats.fullNext)
	p.revs = &revocations{org: cfg.Org, member: member, view: view, topics: p.topics, metrics: metrics, log: log}
	p.valid = &validator{self: h.ID(), maxSize: cfg.MaxMessageSize, maxAge: cfg.MaxMessageAge, maxSkew: cfg.MaxClockSkew, requireCreds: cfg.RequireCredentials, view: view,
		trust: member.trust, creds: orgs.NewPeerCredentials(cfg.MaxKnownPeers),
		limiter: newSenderLimiter(cfg.SenderRate, cfg.SenderBurst, 4*cfg.MaxKnownPeers),
		relays:  newRelayBudget(cfg.relayUnverified(), cfg.MaxPeers),
		flood:   flood, metrics: metrics, revs: p.revs, missing: p.beats.wantCredentials,
		round: cfg.HeartbeatInterval, censusLen: p.sample.censusLen, sampling: p.sample.metrics}
	p.dir = newDirectory(view, p.topics, cfg.DirectoryInterval, cfg.OrgRetention, metrics, log)
	env := newEnvelopes(cfg.MaxKnownPeers)
	p.recv = &receiver{view: view, connected: connected, wants: p.wants, sampler: p.sample, env: env}
	p.topics.orgValidator, p.topics.handleOrg = p.valid.org, p.recv.handleOrg
	p.hellos = &hellos{host: h, interval: cfg.HeartbeatInterval, maxKnown: cfg.MaxKnownPeers, maxSize: cfg.MaxMessageSize,
		beats: p.beats, valid: p.valid, follows: p.topics.follows, recv: p.recv, metrics: metrics, log: log}
	p.valid.evidence, p.recv.evidence = evidence, evidence
	p.pp = newPushPull(cfg, h, priv, view, env, metrics.pushPull, log)
	p.pp.beats, p.pp.valid, p.pp.recv, p.pp.follows = p.beats, p.valid, p.recv, p.topics.follows
	p.recv.passLeave = p.pp.passLeave
	p.pp.followed = func() {
		select {
		case p.follow <- struct{}{}:
		default:
		}
	}
	return p
}

// start joins the directory topic and the node's own organization, and
// answers hellos.
func (p *presence) start(ctx context.Context) error {
	if err := p.topics.start(ctx, p.valid.directory, p.handleDirectory); err != nil {
		return err
	}
	p.host.SetStreamHandler(wire.HelloProtocol, p.hellos.handle)
	p.pp.ctx = ctx
	p.host.SetStreamHandler(wire.PushPullProtocol, p.pp.handle)
	p.running.Store(true)
	return nil
}

// run publishes heartbeats, directory listings and revocation lists, and
// keeps the topics and the connected flags in step, until ctx ends. The
// regular heartbeats start after the start-up ones (startBeats).
func (p *presence) run(ctx context.Context) {
	defer p.running.Store(false)
	defer p.topics.wait()
	hb := time.NewTicker(p.interval)
	hb.Stop()
	defer hb.Stop()
	dir := time.NewTimer(0)
	defer dir.Stop()
	answer := time.NewTimer(time.Hour)
	answer.Stop()
	defer answer.Stop()
	beats := startBeats(p.interval)
	first := time.NewTimer(beats[0])
	defer first.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-first.C:
			p.beats.startBeat(ctx)
			if len(beats) > 1 {
				first.Reset(beats[1] - beats[0])
				beats = beats[1:]
			} else {
				hb.Reset(p.interval)
			}
		case <-hb.C:
			p.sample.tick()
			p.beats.publish(ctx)
			p.publishCensus(ctx)
			p.topics.reconcile(ctx)
			p.view.RefreshConnected(p.connected)
			p.view.Expire()
		case <-dir.C:
			next := p.dir.tick(ctx)
			p.revs.publish(ctx)
			p.topics.reconcile(ctx)
			dir.Reset(next)
		case <-p.dir.ask:
			if wait, ok := p.dir.asking(); ok {
				answer.Reset(wait)
			}
		case <-answer.C:
			p.dir.answer(ctx)
		case <-p.follow:
			p.topics.reconcile(ctx)
		}
	}
}

// leave publishes the node's leave on its topic and says it to its
// neighbours on hello streams.
func (p *presence) leave(ctx context.Context) error {
	leave, err := p.beats.leave(ctx)
	if err != nil {
		return err
	}
	p.pp.sayLeave(leave)
	p.hellos.goodbye(ctx, leave)
	return nil
}

// close stops answering hellos and leaves every topic; run must have
// returned.
func (p *presence) close() {
	p.host.RemoveStreamHandler(wire.HelloProtocol)
	p.host.RemoveStreamHandler(wire.PushPullProtocol)
	p.pp.close()
	p.topics.close()
}
