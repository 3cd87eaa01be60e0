package node

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// presence publishes this node's heartbeats and leave on its organization's
// topic, lists the organizations it knows on the directory topic, and feeds
// what arrives on the topics it follows into the view.
type presence struct {
	n       *Node
	epoch   uint64
	seq     atomic.Uint64
	leaving atomic.Bool // set by publishLeave: no heartbeat may follow the leave
	limiter *senderLimiter

	dir *topicSub
	// dirAsk is signalled when a peer's listing lacks organizations this
	// node knows (a newcomer): run answers with its own listing soon,
	// unless a complete listing from someone else (dirHeard) beats it.
	dirAsk   chan struct{}
	dirHeard atomic.Int64 // unix nanos of the last listing holding all we know

	// Compact heartbeats (see wire.Message). creds keeps each peer's last
	// credential; missing is set when a heartbeat named a credential this
	// node does not have, and the next heartbeat says Want; fullDue makes
	// the next heartbeat full, answered says whose wants were answered.
	creds     *orgs.PeerCredentials
	missing   atomic.Bool
	fullDue   atomic.Bool
	fullAddrs string // the addresses the last full heartbeat carried; owned by publishHeartbeat's callers, under pubMu
	beats     int    // heartbeats published (hellos aside: they take sequence numbers too); under pubMu
	pubMu     sync.Mutex
	answered  map[peer.ID]time.Time // under mu
	greetAsk  chan struct{}         // a greeting is due: answerWants sends it
	started   time.Time             // when presence was created: Want while starting

	mu     sync.Mutex
	topics map[string]*topicSub // followed organizations; owned by run
	loops  sync.WaitGroup       // one read loop per subscription
}

// received is a validated message with the validator's verdict on its
// credential, handed from validator to handler as ValidatorData.
type received struct {
	*wire.Message
	verified bool
	member   *orgs.Membership // the credential, when it opened
}

// topicSub is a joined topic, its subscription and its read loop's cancel.
type topicSub struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
}

func newPresence(n *Node, epoch uint64) *presence {
	return &presence{n: n, epoch: epoch, topics: map[string]*topicSub{}, dirAsk: make(chan struct{}, 1),
		limiter: newSenderLimiter(n.cfg.SenderRate, n.cfg.SenderBurst, 4*n.cfg.MaxKnownPeers),
		creds:   orgs.NewPeerCredentials(n.cfg.MaxKnownPeers), answered: map[peer.ID]time.Time{},
		greetAsk: make(chan struct{}, 1), started: time.Now()}
}

// start joins the directory topic and the node's own organization.
func (p *presence) start(ctx context.Context) error {
	var err error
	if p.dir, err = p.join(ctx, wire.DirectoryTopic, p.validateDirectory, p.handleDirectory); err != nil {
		return err
	}
	if err := p.follow(ctx, p.n.cfg.Org); err != nil {
		return err
	}
	p.n.host.SetStreamHandler(wire.HelloProtocol, p.handleHello)
	return nil
}

// join joins a topic with its validator and starts its read loop.
func (p *presence) join(ctx context.Context, name string, validate pubsub.ValidatorEx, handle func(*pubsub.Message, *received)) (*topicSub, error) {
	if err := p.n.ps.RegisterTopicValidator(name, validate); err != nil {
		return nil, err
	}
	t, err := p.n.ps.Join(name)
	if err == nil {
		err = t.SetScoreParams(topicScoreParams())
	}
	if err != nil {
		p.n.ps.UnregisterTopicValidator(name)
		return nil, err
	}
	sub, err := t.Subscribe()
	if err != nil {
		t.Close()
		p.n.ps.UnregisterTopicValidator(name)
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	ts := &topicSub{topic: t, sub: sub, cancel: cancel}
	p.loops.Go(func() { p.readLoop(lctx, ts, handle) })
	return ts, nil
}

// readLoop hands every validated message from others to handle until ctx
// ends or the subscription is cancelled.
func (p *presence) readLoop(ctx context.Context, ts *topicSub, handle func(*pubsub.Message, *received)) {
	for {
		m, err := ts.sub.Next(ctx)
		if err != nil {
			return
		}
		if m.Local {
			continue
		}
		if r, ok := m.ValidatorData.(*received); ok {
			handle(m, r)
		}
	}
}

// leave stops following a topic: cancels its loop, subscription and topic.
func (p *presence) leave(name string, ts *topicSub) {
	ts.cancel()
	ts.sub.Cancel()
	ts.topic.Close()
	p.n.ps.UnregisterTopicValidator(name)
}

func (p *presence) follow(ctx context.Context, org string) error {
	ts, err := p.join(ctx, wire.OrgTopic(org), p.orgValidator(org), p.handleOrg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.topics[org] = ts
	p.mu.Unlock()
	p.n.log.Debug("following organization", "org", org)
	return nil
}

// followedOrgs lists the organizations whose topics the node follows.
func (p *presence) followedOrgs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.topics))
	for o := range p.topics {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// reconcile follows every organization the view knows (within --watch) and
// drops those the view forgot.
func (p *presence) reconcile(ctx context.Context) {
	want := map[string]bool{p.n.cfg.Org: true}
	for _, o := range p.n.view.Orgs() {
		if p.follows(o) {
			want[o] = true
		}
	}
	for _, o := range p.followedOrgs() {
		if !want[o] {
			p.mu.Lock()
			ts := p.topics[o]
			delete(p.topics, o)
			p.mu.Unlock()
			p.leave(wire.OrgTopic(o), ts)
			p.n.log.Debug("stopped following organization", "org", o)
		}
	}
	for o := range want {
		p.mu.Lock()
		_, have := p.topics[o]
		full := len(p.topics) >= p.n.cfg.MaxOrgs
		p.mu.Unlock()
		if !have && !full {
			if err := p.follow(ctx, o); err != nil && ctx.Err() == nil {
				p.n.log.Warn("cannot follow organization", "org", o, "err", err)
			}
		}
	}
}

// run publishes heartbeats and directory listings and keeps the topics and
// the connected flags in step, until ctx ends. Directory listings start
// fast and slow down to DirectoryInterval; a newcomer's incomplete listing
// gets an answer within half a second.
func (p *presence) run(ctx context.Context) {
	defer p.loops.Wait()
	// The regular heartbeats start after the start-up ones (startBeats).
	hb := time.NewTicker(p.n.cfg.HeartbeatInterval)
	hb.Stop()
	defer hb.Stop()
	dirWait := 250 * time.Millisecond
	lastWait := time.Duration(math.MaxInt64) // the first listing always goes
	dir := time.NewTimer(0)
	defer dir.Stop()
	answer := time.NewTimer(time.Hour)
	answer.Stop()
	defer answer.Stop()
	var asked time.Time
	beats := startBeats(p.n.cfg.HeartbeatInterval)
	first := time.NewTimer(beats[0])
	defer first.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-first.C:
			p.publishHeartbeat(ctx)
			if len(beats) > 1 {
				first.Reset(beats[1] - beats[0])
				beats = beats[1:]
			} else {
				hb.Reset(p.n.cfg.HeartbeatInterval)
			}
		case <-hb.C:
			p.publishHeartbeat(ctx)
			p.reconcile(ctx)
			p.n.view.RefreshConnected(p.n.isConnected)
			p.n.view.Expire()
		case <-dir.C:
			// A node stays quiet if it heard a listing holding all it
			// knows since its last one: about one listing per period for
			// the whole cluster, as in Serf's push-pull, and a cluster
			// starting together does not list dozens of times a second.
			// The jitter keeps nodes from firing together.
			if time.Since(time.Unix(0, p.dirHeard.Load())) >= lastWait {
				p.publishDirectory(ctx)
			}
			lastWait = dirWait
			p.publishRevocation(ctx)
			p.reconcile(ctx)
			dirWait = min(2*dirWait, p.n.cfg.DirectoryInterval)
			dir.Reset(dirWait - time.Duration(rand.Int64N(int64(dirWait/5)+1)))
		case <-p.dirAsk:
			if asked.IsZero() {
				asked = time.Now()
				answer.Reset(time.Duration(rand.Int64N(int64(500 * time.Millisecond))))
			}
		case <-answer.C:
			if p.dirHeard.Load() < asked.UnixNano() { // nobody answered first
				p.publishDirectory(ctx)
			}
			asked = time.Time{}
		}
	}
}

func (p *presence) close() {
	p.n.host.RemoveStreamHandler(wire.HelloProtocol)
	for _, o := range p.followedOrgs() {
		p.leave(wire.OrgTopic(o), p.topics[o])
	}
	p.leave(wire.DirectoryTopic, p.dir)
}

func (p *presence) ownTopic() *pubsub.Topic {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.topics[p.n.cfg.Org].topic
}

// message is a message of the node's own organization. The sender is the
// pubsub signer: Peer stays empty.
func (p *presence) message(kind string) *wire.Message {
	return &wire.Message{Kind: kind, Org: p.n.cfg.Org, Epoch: p.epoch, Seq: p.seq.Add(1)}
}

// The heartbeat schedule, in heartbeat intervals: the first startFull
// heartbeats are full, so that a cluster starting together needs no round
// of wants; a starting node says Want for its first helloFor intervals; a
// wanting peer gets at most one full heartbeat per wantSpacing intervals.
const (
	startFull   = 5
	wantSpacing = 5
	helloFor    = 2
)

// startBeats returns when a starting node sends its first heartbeats,
// from its start; regular ones follow every interval after the last. The
// first waits a little: at start a node has no mesh peers yet, and a
// heartbeat published then reaches nobody. Then come heartbeats at most a
// second apart while they are before the first interval's end: a newcomer
// whose first heartbeat missed part of the cluster is counted everywhere
// within about a second, however long the interval.
func startBeats(interval time.Duration) []time.Duration {
	unit := min(interval, time.Second)
	beats := []time.Duration{unit * 4 / 10}
	for at := unit; at < interval; at += unit {
		beats = append(beats, at)
	}
	return beats
}

func (p *presence) publishHeartbeat(ctx context.Context) { p.heartbeat(ctx, false) }

// greet sends a full heartbeat: a newcomer learns the credential at once.
func (p *presence) greet(ctx context.Context) { p.heartbeat(ctx, true) }

// heartbeat publishes a heartbeat, full when forced, while starting, when
// a peer asked for credentials or when the addresses changed; else compact.
func (p *presence) heartbeat(ctx context.Context, full bool) {
	if p.leaving.Load() {
		return
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	m := p.message(wire.KindHeartbeat)
	m.Host = p.n.cfg.HostID
	// A starting node wants everyone's heartbeat: peers answer with a
	// greeting instead of making it wait for their next heartbeat.
	m.Want = p.missing.Swap(false) || time.Since(p.started) < p.n.cfg.StartupPeriod()
	addrs := listenAddrs(p.n.host)
	joined := strings.Join(addrs, " ")
	p.beats++
	full = p.fullDue.Swap(false) || full || p.beats <= startFull || joined != p.fullAddrs
	if cred := p.n.member.cred; cred != nil {
		m.CredID = p.n.member.credID
		if full {
			m.Cred = cred
		}
	}
	if full {
		m.Addrs, p.fullAddrs = addrs, joined
	}
	if err := p.ownTopic().Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			p.n.log.Warn("publish heartbeat", "err", err)
		}
		return
	}
	p.n.metrics.sent.WithLabelValues(wire.KindHeartbeat).Inc()
	if full {
		p.n.metrics.fullSent.Inc()
	}
}

// publishLeave publishes the node's leave on its topic and says it to its
// neighbours on hello streams (sayGoodbye).
func (p *presence) publishLeave(ctx context.Context) error {
	p.leaving.Store(true)
	leave := p.message(wire.KindLeave).Encode()
	if err := p.ownTopic().Publish(ctx, leave); err != nil {
		return err
	}
	p.n.metrics.sent.WithLabelValues(wire.KindLeave).Inc()
	p.sayGoodbye(ctx, leave)
	return nil
}

func (p *presence) publishDirectory(ctx context.Context) {
	known := p.n.view.Orgs()
	if len(known) > wire.MaxDirOrgs {
		known = known[:wire.MaxDirOrgs]
	}
	m := &wire.Message{Kind: wire.KindDirectory, Orgs: known}
	if err := p.dir.topic.Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			p.n.log.Warn("publish directory", "err", err)
		}
		return
	}
	p.n.metrics.sent.WithLabelValues(wire.KindDirectory).Inc()
}

// publishRevocation spreads the newest revocation list of the node's own
// organization, so that nodes joining later learn it too.
func (p *presence) publishRevocation(ctx context.Context) {
	raw := p.n.member.ownRevocation()
	if raw == nil {
		return
	}
	m := &wire.Message{Kind: wire.KindRevoke, Org: p.n.cfg.Org, Rev: raw}
	if err := p.ownTopic().Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			p.n.log.Warn("publish revocation list", "err", err)
		}
		return
	}
	p.n.metrics.sent.WithLabelValues(wire.KindRevoke).Inc()
}

// validate is the checks every topic shares (judge) for a message that
// reached the node through via. It records the verdict in metrics.
func (p *presence) validate(via peer.ID, m *pubsub.Message, check func(*received) (pubsub.ValidationResult, string)) pubsub.ValidationResult {
	if m.Local {
		return pubsub.ValidationAccept
	}
	r, res, reason := p.judge(via, m.GetFrom(), m.Data, check)
	if res == pubsub.ValidationAccept {
		m.ValidatorData = r
	}
	p.n.metrics.countMessage(res, reason)
	return res
}

// judge decodes a message that from wrote and that reached the node
// through via, checks that from is the peer it claims to be and the
// per-sender rate, then runs check. The message is returned when accepted.
func (p *presence) judge(via, from peer.ID, data []byte, check func(*received) (pubsub.ValidationResult, string)) (*received, pubsub.ValidationResult, string) {
	msg, err := wire.DecodeMessage(data, p.n.cfg.MaxMessageSize)
	if err != nil {
		return nil, pubsub.ValidationReject, wire.ReasonOf(err)
	}
	switch {
	case msg.Peer == "":
		msg.Peer = from.String()
	case msg.Peer != from.String():
		return nil, pubsub.ValidationReject, "forged-sender"
	}
	if !p.limiter.allow(from) {
		if via == from {
			p.n.flood.strike(from) // flooding with its own messages
		}
		return nil, pubsub.ValidationIgnore, "rate-limited"
	}
	r := &received{Message: msg}
	res, reason := check(r)
	if res != pubsub.ValidationAccept {
		r = nil
	}
	return r, res, reason
}

func (p *presence) validateDirectory(_ context.Context, via peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	return p.validate(via, m, func(msg *received) (pubsub.ValidationResult, string) {
		if msg.Kind != wire.KindDirectory {
			return pubsub.ValidationReject, "wrong-topic"
		}
		return pubsub.ValidationAccept, ""
	})
}

func (p *presence) orgValidator(org string) pubsub.ValidatorEx {
	return func(_ context.Context, via peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		return p.validate(via, m, func(r *received) (pubsub.ValidationResult, string) {
			if r.Org != org {
				return pubsub.ValidationReject, "wrong-topic"
			}
			switch r.Kind {
			case wire.KindHeartbeat:
				return p.checkHeartbeat(r)
			case wire.KindLeave:
				return p.checkLeave(r)
			case wire.KindRevoke:
				return p.checkRevocation(r)
			}
			return pubsub.ValidationReject, "wrong-topic"
		})
	}
}

// checkHeartbeat drops replays and judges the credential: a refused
// credential rejects the message, a bare claim passes as unverified unless
// credentials are required.
func (p *presence) checkHeartbeat(r *received) (pubsub.ValidationResult, string) {
	if p.n.view.IsStale(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}) {
		return pubsub.ValidationIgnore, "stale"
	}
	cred := r.Cred
	switch {
	case len(cred) != 0:
		p.creds.Remember(r.Peer, cred) // judged below; a refused one refuses its compact heartbeats too
	case len(r.CredID) != 0:
		if cred = p.creds.Recall(r.Peer, r.CredID); cred == nil {
			// Named but never received: not proven to this node yet.
			// Counted unverified until the credential comes, which
			// the next heartbeat's Want asks for.
			p.missing.Store(true)
			p.n.metrics.credMissing.Inc()
		}
	}
	member, verified, reason := p.n.member.trust.Verify(cred, r.Peer, r.Org, time.Now())
	switch {
	case reason != "":
		return pubsub.ValidationReject, reason
	case !verified && p.n.cfg.RequireCredentials:
		return pubsub.ValidationIgnore, "unverified"
	}
	r.verified, r.member = verified, member
	return pubsub.ValidationAccept, ""
}

// checkLeave drops a leave older than what the node knows of its sender.
func (p *presence) checkLeave(r *received) (pubsub.ValidationResult, string) {
	if p.n.view.IsStale(r.Peer, orgs.Version{Epoch: r.Epoch, Seq: r.Seq}) {
		return pubsub.ValidationIgnore, "stale"
	}
	return pubsub.ValidationAccept, ""
}

// checkRevocation keeps a newer revocation list of a trusted organization
// and withdraws the verified mark of the peers it names at once.
func (p *presence) checkRevocation(r *received) (pubsub.ValidationResult, string) {
	rev, err := p.n.member.addRevocation(r.Rev)
	switch {
	case orgs.IsStaleRevocation(err):
		return pubsub.ValidationIgnore, "stale"
	case rev == nil:
		return pubsub.ValidationReject, "revocation-invalid"
	case rev.OrgName != r.Org:
		return pubsub.ValidationReject, "wrong-topic"
	}
	if err != nil {
		p.n.log.Warn("cannot store revocation list", "org", rev.OrgName, "err", err)
	}
	n := p.n.view.Unverify(revokedBy(rev))
	p.n.log.Info("revocation list applied", "org", rev.OrgName, "seq", rev.Seq, "peers_unverified", n)
	return pubsub.ValidationAccept, ""
}

func (p *presence) handleDirectory(_ *pubsub.Message, msg *received) {
	for _, o := range msg.Orgs {
		p.n.view.NoteOrg(o)
	}
	known := p.n.view.Orgs()
	if len(known) > wire.MaxDirOrgs {
		return // a listing cannot hold them all: no answer could complete it
	}
	for _, o := range known {
		if !slices.Contains(msg.Orgs, o) {
			select {
			case p.dirAsk <- struct{}{}:
			default:
			}
			return
		}
	}
	p.dirHeard.Store(time.Now().UnixNano())
}

func (p *presence) handleOrg(m *pubsub.Message, r *received) {
	ver := orgs.Version{Epoch: r.Epoch, Seq: r.Seq}
	switch r.Kind {
	case wire.KindHeartbeat:
		p.applyHeartbeat(r, m.ReceivedFrom == m.GetFrom())
		if r.Want {
			p.answerWant(m.GetFrom())
		}
	case wire.KindLeave:
		p.n.view.ApplyLeave(r.Peer, ver)
	}
}

// applyHeartbeat applies an accepted heartbeat to the view; direct says
// that it came from its sender itself, not relayed.
func (p *presence) applyHeartbeat(r *received, direct bool) {
	hb := orgs.Heartbeat{PeerID: r.Peer, Org: r.Org, Version: orgs.Version{Epoch: r.Epoch, Seq: r.Seq},
		Host: r.Host, Addrs: r.Addrs, Direct: direct, Verified: r.verified}
	if r.verified {
		hb.OrgID, hb.Serial = string(r.member.OrgID), r.member.Serial
	}
	out := p.n.view.ApplyHeartbeat(hb)
	if out == orgs.Added || out == orgs.Rejoined {
		p.n.view.SetConnected(r.Peer, p.n.isConnected(r.Peer))
	}
}

// isConnected reports whether the host has a live connection to the peer.
func (n *Node) isConnected(id string) bool {
	pid, err := peer.Decode(id)
	return err == nil && n.host.Network().Connectedness(pid) == network.Connected
}

// answerWant makes the next heartbeat full for a peer that lacks
// credentials, unless this node answered that peer within the last
// wantSpacing heartbeat intervals: a peer that wants in every heartbeat
// (one that hears a credential nobody sends) cannot make every heartbeat
// full.
func (p *presence) answerWant(from peer.ID) {
	now := time.Now()
	p.mu.Lock()
	last, ok := p.answered[from]
	if ok && now.Sub(last) < wantSpacing*p.n.cfg.HeartbeatInterval {
		p.mu.Unlock()
		return
	}
	if len(p.answered) >= p.n.cfg.MaxKnownPeers {
		clear(p.answered)
	}
	p.answered[from] = now
	p.mu.Unlock()
	p.fullDue.Store(true)
	select { // greet soon rather than at the next heartbeat
	case p.greetAsk <- struct{}{}:
	default:
	}
}
