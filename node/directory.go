package node

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// directory lists the organizations the node counts on the directory topic
// and notes those it hears of in the view as hints, so that every node
// learns of every organization and can follow its topic (on probation
// first: see probation.go). Only counted organizations are listed onward,
// so that junk names a listing carried die out instead of being
// re-published by every honest node; a sender may add at most
// hintsPerSender hints per hintWindow. Listings start fast and slow
// down to interval. A node stays quiet if it heard a listing holding all it
// knows since its last one: about one listing per period for the whole
// cluster, as in Serf's push-pull, and a cluster starting together does not
// list dozens of times a second. A newcomer's incomplete listing gets an
// answer within half a second.
type directory struct {
	view     *orgs.View
	topics   *topics
	interval time.Duration // the period listings slow down to
	metrics  *nodeMetrics
	log      *slog.Logger

	// ask is signalled when a peer's listing lacks organizations this
	// node knows (a newcomer): run answers with its own listing soon,
	// unless a complete listing from someone else (heard) beats it.
	ask   chan struct{}
	heard atomic.Int64 // unix nanos of the last listing holding all we know

	wait, last time.Duration // the current and the previous period; run's
	asked      time.Time     // when a newcomer's ask came; zero: none pending; run's

	hintMu     sync.Mutex
	hintWindow time.Duration
	hinted     map[peer.ID]senderHints // at most maxHintSenders
}

// Per-sender bounds on hints: an honest node lists only organizations it
// counts, which rarely include one new to this node.
const (
	hintsPerSender = 16
	maxHintSenders = 1024
)

// senderHints is how many hints a sender added since when.
type senderHints struct {
	n     int
	since time.Time
}

func newDirectory(view *orgs.View, t *topics, interval, hintWindow time.Duration, m *nodeMetrics, log *slog.Logger) *directory {
	return &directory{view: view, topics: t, interval: interval, metrics: m, log: log,
		ask: make(chan struct{}, 1), wait: 250 * time.Millisecond, last: math.MaxInt64, // the first listing always goes
		hintWindow: hintWindow, hinted: map[peer.ID]senderHints{}}
}

// tick lists the organizations unless a complete listing was heard within
// the last period, and returns when to tick again: the jitter keeps nodes
// from firing together.
func (d *directory) tick(ctx context.Context) time.Duration {
	if time.Since(time.Unix(0, d.heard.Load())) >= d.last {
		d.publish(ctx)
	}
	d.last = d.wait
	d.wait = min(2*d.wait, d.interval)
	return d.wait - time.Duration(rand.Int64N(int64(d.wait/5)+1))
}

// asking notes a newcomer's ask and returns when to answer it, or false
// when an answer is already due.
func (d *directory) asking() (time.Duration, bool) {
	if !d.asked.IsZero() {
		return 0, false
	}
	d.asked = time.Now()
	return time.Duration(rand.Int64N(int64(500 * time.Millisecond))), true
}

// answer lists the organizations for the newcomer unless someone else's
// complete listing came first.
func (d *directory) answer(ctx context.Context) {
	if d.heard.Load() < d.asked.UnixNano() {
		d.publish(ctx)
	}
	d.asked = time.Time{}
}

func (d *directory) publish(ctx context.Context) {
	known := d.view.CountedOrgs()
	if len(known) > wire.MaxDirOrgs {
		known = known[:wire.MaxDirOrgs]
	}
	m := &wire.Message{Kind: wire.KindDirectory, Orgs: known}
	if err := d.topics.dir.topic.Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("publish directory", "err", err)
		}
		return
	}
	d.metrics.sent.WithLabelValues(wire.KindDirectory).Inc()
}

// handle notes a listing's organizations as hints, within its sender's
// bound, and asks for an answer when it lacks some this node counts.
func (d *directory) handle(m *pubsub.Message, msg *received) {
	known := d.view.Orgs()
	var fresh []string
	for _, o := range msg.Orgs {
		if _, ok := slices.BinarySearch(known, o); !ok {
			fresh = append(fresh, o)
		}
	}
	for _, o := range fresh[:d.allowHints(m.GetFrom(), len(fresh))] {
		d.view.NoteOrg(o)
	}
	counted := d.view.CountedOrgs()
	if len(counted) > wire.MaxDirOrgs {
		return // a listing cannot hold them all: no answer could complete it
	}
	for _, o := range counted {
		if !slices.Contains(msg.Orgs, o) {
			select {
			case d.ask <- struct{}{}:
			default:
			}
			return
		}
	}
	d.heard.Store(time.Now().UnixNano())
}

// allowHints takes up to n new hints from sender's bound and returns how
// many it may add.
func (d *directory) allowHints(sender peer.ID, n int) int {
	if n == 0 {
		return 0
	}
	d.hintMu.Lock()
	defer d.hintMu.Unlock()
	now := time.Now()
	h, ok := d.hinted[sender]
	if !ok || now.Sub(h.since) > d.hintWindow {
		if !ok && len(d.hinted) >= maxHintSenders {
			clear(d.hinted)
		}
		h = senderHints{since: now}
	}
	n = min(n, hintsPerSender-h.n)
	h.n += n
	d.hinted[sender] = h
	return n
}
