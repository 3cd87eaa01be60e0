package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// The change stream, /v1/events: every transition of the view, and every
// change of an organization's counts, to each subscriber that asked.
const (
	eventQueue     = 256              // events one stream may fall behind by before it loses them
	eventKeepAlive = 15 * time.Second // a comment on an idle stream, so that proxies keep it
	eventWriteWait = 10 * time.Second // a stream whose reader takes longer to accept one write is ended
)

// observer hears the view's transitions (it is the view's EventSink) and
// hands them on: to the log and metrics, to the evidence that explains
// peers, to the event streams, and to watchCounts, which keeps the
// history of counts and streams their changes.
type observer struct {
	log      func(orgs.Transition)
	evidence *orgs.Evidence
	hub      *eventHub
	hist     *countHistory
	view     *orgs.View                   // set once the view exists, before watchCounts runs
	explain  func(string) api.Explanation // set once the node exists, before the API serves
	dirty    chan struct{}                // a transition happened: counts may have changed
}

func newObserver(log func(orgs.Transition), maxPeers int) *observer {
	return &observer{log: log, evidence: orgs.NewEvidence(min(maxPeers, evidencePeers), refusedPeers, nil),
		hub: newEventHub(api.MaxEventStreams), hist: newCountHistory(), dirty: make(chan struct{}, 1)}
}

// Bounds of the evidence: peers whose history is kept, and apart peers
// whose refused messages are counted.
const (
	evidencePeers = 4096
	refusedPeers  = 1024
)

// transition is the view's EventSink: called by one goroutine at a time,
// in order, it never blocks.
func (o *observer) transition(tr orgs.Transition) {
	o.log(tr)
	o.evidence.Transition(tr)
	o.hub.publish(transitionEvent(tr))
	select {
	case o.dirty <- struct{}{}:
	default:
	}
}

// transitionEvent is the event of a transition.
func transitionEvent(tr orgs.Transition) api.Event {
	p := tr.Peer
	e := api.Event{At: tr.At, Kind: api.EventPeer, Org: p.Org, OrgID: p.OrgID, Peer: &p, From: api.FromName(tr.From),
		To: api.ToName(p.State), Cause: tr.Cause, Reason: tr.Reason}
	if !tr.StateChanged() {
		e.Kind = api.EventVerified
	}
	if tr.VerifiedChanged() {
		e.Verified = &p.Verified
	}
	if tr.Version != (orgs.Version{}) {
		e.Version = &tr.Version
	}
	return e
}

// eventHub hands events to the streams subscribed. publish may be called
// concurrently and never blocks: each stream has a queue of eventQueue
// events, and one that falls behind loses its queue and what does not fit,
// is told how many it lost, and gets a fresh snapshot. It serves at most
// max streams at once.
type eventHub struct {
	max int

	mu   sync.Mutex
	seq  uint64
	subs map[*subscriber]struct{}
}

// subscriber is one stream's queue.
type subscriber struct {
	org     string         // only this organization's events; "" for all
	ch      chan api.Event // the queue
	lost    chan struct{}  // signalled when dropped grows
	dropped uint64         // events lost since the stream was last told; under eventHub.mu
}

func newEventHub(max int) *eventHub {
	return &eventHub{max: max, subs: map[*subscriber]struct{}{}}
}

// subscribe adds a stream of org's events ("" for all); false when max
// streams are open.
func (h *eventHub) subscribe(org string) (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, false
	}
	s := &subscriber{org: org, ch: make(chan api.Event, eventQueue), lost: make(chan struct{}, 1)}
	h.subs[s] = struct{}{}
	return s, true
}

func (h *eventHub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// streams is how many streams are subscribed.
func (h *eventHub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// publish numbers e and queues it for every stream of its organization. A
// stream whose queue is full loses the queue too: the snapshot it gets
// next replaces it all.
func (h *eventHub) publish(e api.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	if e.At.IsZero() {
		e.At = time.Now()
	}
	for s := range h.subs {
		if s.org != "" && s.org != e.Org {
			continue
		}
		select {
		case s.ch <- e:
			continue
		default:
		}
		s.dropped++ // e
		for drained := true; drained; {
			select {
			case <-s.ch:
				s.dropped++
			default:
				drained = false
			}
		}
		select {
		case s.lost <- struct{}{}:
		default:
		}
	}
}

// takeDropped returns how many events s lost since the last call.
func (h *eventHub) takeDropped(s *subscriber) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := s.dropped
	s.dropped = 0
	return n
}

// stream sends s's events with send, until ctx ends or send fails: first a
// snapshot, then every event in order; after a loss, a notice of how many
// events were lost and a fresh snapshot. keepAlive is called when the
// stream has been idle for eventKeepAlive.
func (h *eventHub) stream(ctx context.Context, s *subscriber, snapshot func() api.Event, send func(api.Event) error, keepAlive func() error) error {
	if err := send(snapshot()); err != nil {
		return err
	}
	keep := time.NewTicker(eventKeepAlive)
	defer keep.Stop()
	for {
		var err error
		select { // a loss first: the events queued after it are newer than the snapshot that follows
		case <-s.lost:
			err = h.resync(s, snapshot, send)
		default:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.lost:
				err = h.resync(s, snapshot, send)
			case e := <-s.ch:
				err = send(e)
			case <-keep.C:
				err = keepAlive()
			}
		}
		if err != nil {
			return err
		}
	}
}

// resync tells s how many events it lost and sends a fresh snapshot.
func (h *eventHub) resync(s *subscriber, snapshot func() api.Event, send func(api.Event) error) error {
	n := h.takeDropped(s)
	if n == 0 {
		return nil
	}
	if err := send(api.Event{At: time.Now(), Kind: api.EventDropped, Org: s.org, Dropped: n}); err != nil {
		return err
	}
	return send(snapshot())
}

// events serves /v1/events: server-sent events, one JSON api.Event each,
// until the client goes away or the node closes (the request's context
// is the node's: see apiServer.serve).
func (a *apiServer) events(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r, "org") {
		return
	}
	org := r.URL.Query().Get("org")
	if org != "" && !orgs.ValidName(org) {
		api.WriteError(w, http.StatusBadRequest, "org %q is not a valid organization name", org)
		return
	}
	sub, ok := a.obs.hub.subscribe(org)
	if !ok {
		api.WriteError(w, http.StatusServiceUnavailable, "%d event streams are open already: try again later", api.MaxEventStreams)
		return
	}
	defer a.obs.hub.unsubscribe(sub)
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) // the server's read timeout would end the stream
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(format string, args ...any) error {
		rc.SetWriteDeadline(time.Now().Add(eventWriteWait))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return err
		}
		return rc.Flush()
	}
	send := func(e api.Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if e.Seq > 0 {
			return write("id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, b)
		}
		return write("event: %s\ndata: %s\n\n", e.Kind, b)
	}
	snapshot := func() api.Event {
		s := a.view.Snapshot()
		if org != "" {
			rows := s.Orgs[:0]
			for _, o := range s.Orgs {
				if o.Org == org {
					rows = append(rows, o)
				}
			}
			s.Orgs = rows
		}
		return api.Event{At: s.At, Kind: api.EventSnapshot, Org: org, Snapshot: &s}
	}
	a.obs.hub.stream(r.Context(), sub, snapshot, send, func() error { return write(": keep-alive\n\n") })
}
