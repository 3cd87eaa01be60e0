package node

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
	orgsample "github.com/orgpeer/orgpeer/orgs/sample"
)

// The heartbeat schedule, in heartbeat intervals: the first startFull
// heartbeats are full, so that a cluster starting together needs no round
// of wants; a starting node says Want for its first helloFor intervals; a
// wanting peer gets at most one full heartbeat per wantSpacing intervals.
const (
	startFull   = 5
	wantSpacing = 5
	helloFor    = 2
)

// heartbeats writes this node's own messages of its organization: its
// heartbeats on the topic, its hello for hello streams, and its leave. It
// numbers them all in one sequence within the node's epoch.
//
// Most heartbeats are compact (see wire.Message): a heartbeat is full while
// the node starts, when its addresses change, when it greets, and after a
// peer said Want (fullNext).
type heartbeats struct {
	org     string
	hostID  string
	epoch   uint64
	startup time.Duration // Want in every heartbeat for this long after start
	host    host.Host     // whose listen addresses full heartbeats carry
	cred    []byte        // the node's credential; nil for a bare claim
	credID  []byte
	topics  *topics    // the node's own topic is published on
	view    *orgs.View // the node's own entry is refreshed by each heartbeat sent
	metrics *nodeMetrics
	log     *slog.Logger
	started time.Time

	seq     atomic.Uint64
	leaving atomic.Bool // set by leave: no heartbeat or hello may follow it
	// missing is set when a peer's heartbeat named a credential this node
	// does not have: the next heartbeat says Want. fullDue makes the next
	// heartbeat full.
	missing   atomic.Bool
	fullDue   atomic.Bool
	pubMu     sync.Mutex
	fullAddrs string // the addresses the last full heartbeat carried; under pubMu
	beats     int    // heartbeats published (hellos aside: they take sequence numbers too); under pubMu

	// Sampled heartbeats: the regular heartbeat of each round carries the
	// round it covers and the node's level, and above level 0 goes out
	// only in the rounds whose rank passes the level (see orgsample.Cover).
	sampler   *sampler
	roundLen  time.Duration // the heartbeat interval
	selfID    string
	ownID     string // the node's org ID; "" for a bare claim
	lastRound uint64 // the last round a regular heartbeat covered; under pubMu
}

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

// message is a message of the node's own organization, with its send time
// (receivers bound its age). The sender is the pubsub signer: Peer stays
// empty.
func (b *heartbeats) message(kind string) *wire.Message {
	return &wire.Message{Kind: kind, Org: b.org, Epoch: b.epoch, Seq: b.seq.Add(1), Sent: time.Now().UnixMilli()}
}

// wantCredentials makes the next heartbeat say Want.
func (b *heartbeats) wantCredentials() { b.missing.Store(true) }

// fullNext makes the next heartbeat full.
func (b *heartbeats) fullNext() { b.fullDue.Store(true) }

// publish is the regular heartbeat of a heartbeat interval: it covers a
// round.
func (b *heartbeats) publish(ctx context.Context) { b.heartbeat(ctx, false, true) }

// startBeat is a start-up heartbeat (startBeats): it covers no round.
func (b *heartbeats) startBeat(ctx context.Context) { b.heartbeat(ctx, false, false) }

// greet sends a full heartbeat: a newcomer learns the credential at once.
// It covers no round; a sampling node greets nobody (its next sampled
// heartbeat carries its credential).
func (b *heartbeats) greet(ctx context.Context) { b.heartbeat(ctx, true, false) }

// heartbeat publishes a heartbeat, full when forced, while starting, when
// a peer asked for credentials or when the addresses changed; else compact.
// A regular one (tick) covers the next round. While the node samples
// (level > 0) only regular heartbeats go out, in the rounds whose rank
// passes the level, each with the credential: their receivers mostly
// never heard the node before.
func (b *heartbeats) heartbeat(ctx context.Context, full, tick bool) {
	if b.leaving.Load() {
		return
	}
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	level := 0
	var rounds []uint64
	if b.sampler != nil {
		level = b.sampler.level()
		if tick {
			if rounds = orgsample.Cover(b.lastRound, time.Now(), b.roundLen); len(rounds) > 0 {
				b.lastRound = rounds[len(rounds)-1]
			}
		}
	}
	if level > 0 {
		for _, r := range rounds {
			if orgsample.Passes(orgsample.Rank(b.org, r, b.selfID), level) {
				b.send(ctx, r, level, true)
			}
		}
		b.view.UpdateSelf(func(p *orgs.PeerInfo) { p.LastSeen = time.Now() })
		return
	}
	var round uint64
	if len(rounds) > 0 {
		round = rounds[len(rounds)-1]
	}
	b.send(ctx, round, 0, full)
}

// send publishes one heartbeat covering round (0: none) at level; b.pubMu
// must be held.
func (b *heartbeats) send(ctx context.Context, round uint64, level int, full bool) {
	m := b.message(wire.KindHeartbeat)
	m.Host = b.hostID
	m.Round, m.Level = round, uint32(level)
	// A starting node wants everyone's heartbeat: peers answer with a
	// greeting instead of making it wait for their next heartbeat.
	m.Want = b.missing.Swap(false) || time.Since(b.started) < b.startup
	addrs := listenAddrs(b.host)
	joined := strings.Join(addrs, " ")
	b.beats++
	full = b.fullDue.Swap(false) || full || b.beats <= startFull || joined != b.fullAddrs
	if b.cred != nil {
		m.CredID = b.credID
		if full || level > 0 {
			m.Cred = b.cred
		}
	}
	if full {
		m.Addrs, b.fullAddrs = addrs, joined
	}
	if err := b.topics.ownTopic().Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			b.log.Warn("publish heartbeat", "err", err)
		}
		return
	}
	b.view.UpdateSelf(func(p *orgs.PeerInfo) { p.LastSeen = time.Now() })
	b.metrics.sent.WithLabelValues(wire.KindHeartbeat).Inc()
	if full || m.Cred != nil {
		b.metrics.fullSent.Inc()
	}
	if round != 0 && b.sampler != nil {
		b.sampler.add(b.org, b.ownID, b.selfID, round, level) // the node's own sample: it never hears itself
	}
}

// hello is this node's full heartbeat for a hello stream, with the next
// sequence number; nil once the node has announced its leave.
func (b *heartbeats) hello() *wire.Message {
	if b.leaving.Load() {
		return nil
	}
	m := b.message(wire.KindHeartbeat)
	m.Host, m.Addrs = b.hostID, listenAddrs(b.host)
	if b.cred != nil {
		m.Cred, m.CredID = b.cred, b.credID
	}
	return m
}

// leave publishes the node's leave on its topic and returns it encoded, for
// the neighbours' goodbyes.
func (b *heartbeats) leave(ctx context.Context) ([]byte, error) {
	b.leaving.Store(true)
	leave := b.message(wire.KindLeave).Encode()
	if err := b.topics.ownTopic().Publish(ctx, leave); err != nil {
		return nil, err
	}
	b.metrics.sent.WithLabelValues(wire.KindLeave).Inc()
	return leave, nil
}
