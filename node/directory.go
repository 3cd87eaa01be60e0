package node

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// directory lists the organizations the node knows on the directory topic
// and notes those it hears of in the view, so that every node learns of
// every organization and can follow its topic. Listings start fast and slow
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
}

func newDirectory(view *orgs.View, t *topics, interval time.Duration, m *nodeMetrics, log *slog.Logger) *directory {
	return &directory{view: view, topics: t, interval: interval, metrics: m, log: log,
		ask: make(chan struct{}, 1), wait: 250 * time.Millisecond, last: math.MaxInt64} // the first listing always goes
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
	known := d.view.Orgs()
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

// handle notes a listing's organizations and asks for an answer when it
// lacks some this node knows.
func (d *directory) handle(_ *pubsub.Message, msg *received) {
	for _, o := range msg.Orgs {
		d.view.NoteOrg(o)
	}
	known := d.view.Orgs()
	if len(known) > wire.MaxDirOrgs {
		return // a listing cannot hold them all: no answer could complete it
	}
	for _, o := range known {
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
