package node

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/orgpeer/orgpeer/node/wire"
	"github.com/orgpeer/orgpeer/orgs"
)

// topics is the node's topic membership: the directory topic, and one
// topic per organization it follows (its own, those the view counts within
// --watch, and a few hinted ones on probation; at most maxOrgs). Each
// joined topic has its validator and a read loop that hands what passed to
// a handler.
//
// Topics are keyed by organization name, while the view's counts are keyed
// by org ID: a topic is a channel, not a count. Two organizations of one
// name share it, and bare claims, which have no org ID, must find it too.
type topics struct {
	ps      *pubsub.PubSub
	view    *orgs.View // the organizations there are to follow
	log     *slog.Logger
	own     string   // the node's organization, always followed
	watch   []string // organizations to follow; empty: all
	maxOrgs int
	probe   *probation // hinted organizations; reconcile's

	// orgValidator judges and handleOrg applies what arrives on an
	// organization's topic.
	orgValidator func(org string) pubsub.ValidatorEx
	handleOrg    func(*pubsub.Message, *received)

	dir   *topicSub
	mu    sync.Mutex
	orgs  map[string]*topicSub // followed organizations; changed by reconcile, from run only
	loops sync.WaitGroup       // one read loop per subscription
}

// topicSub is a joined topic, its subscription and its read loop's cancel.
type topicSub struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
}

// start joins the directory topic and the node's own organization.
func (t *topics) start(ctx context.Context, validateDir pubsub.ValidatorEx, handleDir func(*pubsub.Message, *received)) error {
	var err error
	if t.dir, err = t.join(ctx, wire.DirectoryTopic, validateDir, handleDir); err != nil {
		return err
	}
	return t.follow(ctx, t.own)
}

// join joins a topic with its validator and starts its read loop.
func (t *topics) join(ctx context.Context, name string, validate pubsub.ValidatorEx, handle func(*pubsub.Message, *received)) (*topicSub, error) {
	if err := t.ps.RegisterTopicValidator(name, validate); err != nil {
		return nil, err
	}
	tp, err := t.ps.Join(name)
	if err == nil {
		err = tp.SetScoreParams(topicScoreParams())
	}
	if err != nil {
		t.ps.UnregisterTopicValidator(name)
		return nil, err
	}
	sub, err := tp.Subscribe()
	if err != nil {
		tp.Close()
		t.ps.UnregisterTopicValidator(name)
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	ts := &topicSub{topic: tp, sub: sub, cancel: cancel}
	t.loops.Go(func() { readLoop(lctx, ts, handle) })
	return ts, nil
}

// readLoop hands every validated message from others to handle until ctx
// ends or the subscription is cancelled. The node's own publications come
// back on its subscription without ValidatorData (validate accepts them
// unjudged) and are skipped.
func readLoop(ctx context.Context, ts *topicSub, handle func(*pubsub.Message, *received)) {
	for {
		m, err := ts.sub.Next(ctx)
		if err != nil {
			return
		}
		if r, ok := m.ValidatorData.(*received); ok {
			handle(m, r)
		}
	}
}

// leave stops following a topic: cancels its loop, subscription and topic.
func (t *topics) leave(name string, ts *topicSub) {
	ts.cancel()
	ts.sub.Cancel()
	ts.topic.Close()
	t.ps.UnregisterTopicValidator(name)
}

func (t *topics) follow(ctx context.Context, org string) error {
	ts, err := t.join(ctx, wire.OrgTopic(org), t.orgValidator(org), t.handleOrg)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.orgs[org] = ts
	t.mu.Unlock()
	t.log.Debug("following organization", "org", org)
	return nil
}

// followed lists the organizations whose topics the node follows.
func (t *topics) followed() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.orgs))
	for o := range t.orgs {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// follows reports whether the node counts the peers of org: its own, or
// any when --watch is not set, or one of those watched.
func (t *topics) follows(org string) bool {
	return org == t.own || len(t.watch) == 0 || slices.Contains(t.watch, org)
}

// reconcile follows every organization the view counts (within --watch)
// and a few hinted ones on probation, and drops the others.
func (t *topics) reconcile(ctx context.Context) {
	counted := t.view.CountedOrgs()
	isCounted := func(o string) bool { _, ok := slices.BinarySearch(counted, o); return ok }
	want := map[string]bool{t.own: true}
	var hints []string
	for _, o := range t.view.Orgs() {
		switch {
		case !t.follows(o):
		case isCounted(o):
			want[o] = true
		default:
			hints = append(hints, o)
		}
	}
	for _, o := range t.probe.update(time.Now(), hints, isCounted) {
		want[o] = true
	}
	for _, o := range t.followed() {
		if !want[o] {
			t.mu.Lock()
			ts := t.orgs[o]
			delete(t.orgs, o)
			t.mu.Unlock()
			t.leave(wire.OrgTopic(o), ts)
			t.log.Debug("stopped following organization", "org", o)
		}
	}
	for o := range want {
		t.mu.Lock()
		_, have := t.orgs[o]
		full := len(t.orgs) >= t.maxOrgs
		t.mu.Unlock()
		if !have && !full {
			if err := t.follow(ctx, o); err != nil && ctx.Err() == nil {
				t.log.Warn("cannot follow organization", "org", o, "err", err)
			}
		}
	}
}

// ownTopic is the node's own organization's topic.
func (t *topics) ownTopic() *pubsub.Topic {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.orgs[t.own].topic
}

// wait waits for the read loops, which end with the context they were
// joined with.
func (t *topics) wait() { t.loops.Wait() }

// close leaves every topic; run must have returned.
func (t *topics) close() {
	for _, o := range t.followed() {
		t.leave(wire.OrgTopic(o), t.orgs[o])
	}
	t.leave(wire.DirectoryTopic, t.dir)
}
