package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/orgs"
)

// TestSlowStreamIsBounded: a stream whose reader stalls holds at most
// eventQueue events; when it reads again it is told how many it lost and
// gets a snapshot, then every later event, and nothing twice.
func TestSlowStreamIsBounded(t *testing.T) {
	h := newEventHub(2)
	sub, _ := h.subscribe("")
	release := make(chan struct{})
	var mu sync.Mutex
	var got []api.Event
	send := func(e api.Event) error {
		<-release // stalls until released: the reader is slow
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		return nil
	}
	snapshot := func() api.Event { return api.Event{Kind: api.EventSnapshot} }
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.stream(ctx, sub, snapshot, send, func() error { return nil }) })

	const published = 5 * eventQueue
	for i := range published {
		h.publish(api.Event{Kind: api.EventPeer, Org: "acme", Cause: fmt.Sprint(i)})
		if n := len(sub.ch); n > eventQueue {
			t.Fatalf("a stalled stream holds %d events", n)
		}
	}
	close(release)
	h.publish(api.Event{Kind: api.EventPeer, Org: "acme", Cause: "last"})
	nodetest.Eventually(t, 5*time.Second, func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 || got[len(got)-1].Cause != "last" {
			return fmt.Sprintf("%d events, the last not yet", len(got))
		}
		return ""
	})
	cancel()
	wg.Wait()

	var seqs []uint64
	var dropped uint64
	kinds := []string{}
	for _, e := range got {
		switch e.Kind {
		case api.EventPeer:
			seqs = append(seqs, e.Seq)
		case api.EventDropped:
			dropped += e.Dropped
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != e.Kind {
			kinds = append(kinds, e.Kind)
		}
	}
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Fatalf("events out of order or twice: %v", seqs)
	}
	if uint64(len(seqs))+dropped != published+1 {
		t.Fatalf("%d events delivered and %d dropped, of %d published", len(seqs), dropped, published+1)
	}
	if dropped == 0 || len(seqs) > eventQueue+2 {
		t.Fatalf("nothing dropped, %d delivered", len(seqs))
	}
	// The first snapshot (the reader stalled on it), the notice and a
	// fresh snapshot, the events after the last loss.
	want := []string{api.EventSnapshot, api.EventDropped, api.EventSnapshot, api.EventPeer}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	if h.streams() != 1 {
		t.Fatalf("%d streams", h.streams())
	}
	h.unsubscribe(sub)
	if _, ok := h.subscribe(""); !ok {
		t.Fatal("no room after an unsubscribe")
	}
}

func TestHistoryRing(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := newRing(time.Second, 5*time.Second)
	r.record(t0.Add(200*time.Millisecond), point{alive: 1})
	r.record(t0.Add(2500*time.Millisecond), point{alive: 3})
	r.record(t0.Add(2700*time.Millisecond), point{alive: 2}) // the same step: the last counts win
	start, pts := r.series(t0.Add(3500*time.Millisecond), t0.Add(-time.Hour))
	alive := func(pts []point) (out []int32) {
		for _, p := range pts {
			out = append(out, p.alive)
		}
		return out
	}
	if !start.Equal(t0) || fmt.Sprint(alive(pts)) != "[1 1 2 2]" {
		t.Fatalf("series from %v: %v", start.Sub(t0), alive(pts))
	}
	// Step 2 began with 1 alive, had 3, ended with 2; step 3 held 2 throughout.
	if p := pts[2]; p.aliveMin != 1 || p.aliveMax != 3 || pts[3].aliveMin != 2 || pts[3].aliveMax != 2 {
		t.Fatalf("least and most alive: %+v, %+v", p, pts[3])
	}
	// Idle for long: the newest counts carried on, the span kept.
	start, pts = r.series(t0.Add(time.Hour), t0.Add(-time.Hour))
	if len(pts) != 5 || !start.Equal(t0.Add(time.Hour-4*time.Second)) || fmt.Sprint(alive(pts)) != "[2 2 2 2 2]" {
		t.Fatalf("after an hour: from %v: %v", start.Sub(t0), alive(pts))
	}
	r.record(t0.Add(10*time.Second), point{alive: 7})
	start, pts = r.series(t0.Add(10*time.Second), t0.Add(8500*time.Millisecond))
	if !start.Equal(t0.Add(8*time.Second)) || fmt.Sprint(alive(pts)) != "[2 2 7]" {
		t.Fatalf("since 8.5 s: from %v: %v", start.Sub(t0), alive(pts))
	}
	if len(r.pts) != 5 || cap(r.pts) != 5 {
		t.Fatalf("ring grew to %d (cap %d)", len(r.pts), cap(r.pts))
	}
}

func TestCountHistoryRows(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	h := newCountHistory()
	snap := func(at time.Duration, rows ...orgs.OrgCounts) orgs.Snapshot {
		s := orgs.Snapshot{At: t0.Add(at), Orgs: rows}
		for _, r := range rows {
			s.Total.Alive += r.Alive
		}
		return s
	}
	h.record(snap(0, orgs.OrgCounts{Org: "acme", Alive: 2}, orgs.OrgCounts{Org: "globex", Alive: 1}))
	h.record(snap(3*time.Second, orgs.OrgCounts{Org: "acme", Alive: 1})) // globex forgotten: 0 from now on
	all := h.series(t0.Add(4*time.Second), t0.Add(-time.Minute), "", api.SecondStep)
	var names []string
	for _, s := range all {
		names = append(names, fmt.Sprintf("%s%v:%v", s.Org, s.Total, s.Alive))
	}
	if want := "[acmefalse:[2 2 2 1 1] globexfalse:[1 1 1 0 0] true:[3 3 3 1 1]]"; fmt.Sprint(names) != want {
		t.Fatalf("series %v, want %s", names, want)
	}
	if s := h.series(t0.Add(4*time.Second), t0.Add(-time.Minute), "acme", 0); len(s) != 2 || s[0].StepMs != 1000 || s[1].StepMs != 30000 {
		t.Fatalf("acme at both resolutions: %+v", s)
	}
	// Past historyRows rows, a row the view no longer has makes room.
	var rows []orgs.OrgCounts
	for i := range historyRows + 5 {
		rows = append(rows, orgs.OrgCounts{Org: fmt.Sprintf("o%03d", i), Alive: 1})
	}
	h.record(snap(5*time.Second, rows[:historyRows-1]...))
	h.record(snap(6*time.Second, rows[5:]...))
	if len(h.rows) > historyRows {
		t.Fatalf("%d rows kept", len(h.rows))
	}
}

// subscribe streams n's events into a log until the test ends.
func subscribe(t *testing.T, n *Node, org string) (*nodetest.EventLog, <-chan error) {
	t.Helper()
	l := &nodetest.EventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.NewClient(n.Info().API, "").Events(ctx, org, l.Add) }()
	t.Cleanup(func() { cancel(); <-done })
	nodetest.Eventually(t, 5*time.Second, func() string {
		if e, _ := l.Find(0, func(e api.Event) bool { return e.Kind == api.EventSnapshot }); e.Snapshot == nil {
			return "no snapshot first"
		}
		return ""
	})
	return l, done
}

// TestEventsTellJoinLeaveAndCounts: a node streams a peer's arrival, its
// leave with the leave's version, and its organization's counts; its
// history holds the counts it streamed.
func TestEventsTellJoinLeaveAndCounts(t *testing.T) {
	a := newTestNode(t, testConfig(t, "acme"))
	log, _ := subscribe(t, a, "")
	other, _ := subscribe(t, a, "globex") // sees acme's events not at all
	cfg := testConfig(t, "acme")
	cfg.Bootstrap = a.Info().Addrs[:1]
	b := newTestNode(t, cfg)
	bid := b.Info().PeerID
	var joined api.Event
	nodetest.Eventually(t, 10*time.Second, func() string {
		joined, _ = log.Find(0, func(e api.Event) bool { return e.Kind == api.EventPeer && e.Peer.PeerID == bid })
		if joined.Seq == 0 {
			return "no event of b"
		}
		return ""
	})
	if joined.From != "new" || joined.To != "alive" || (joined.Cause != orgs.CauseHello && joined.Cause != orgs.CauseHeartbeat) ||
		joined.Version == nil || joined.Version.Epoch != 1 || joined.Reason != orgs.UnverifiedNoCredential {
		t.Fatalf("join event: %+v", joined)
	}
	nodetest.Eventually(t, 5*time.Second, func() string {
		if e, _ := log.Find(0, func(e api.Event) bool { return e.Kind == api.EventCounts && e.Org == "acme" && e.After.Alive == 2 }); e.Seq == 0 {
			return "no count event of acme's 2 alive"
		}
		return ""
	})
	if err := b.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Close()
	var left api.Event
	nodetest.Eventually(t, 5*time.Second, func() string {
		left, _ = log.Find(0, func(e api.Event) bool { return e.Kind == api.EventPeer && e.Peer.PeerID == bid && e.To == "left" })
		if left.Seq == 0 {
			return "no leave event"
		}
		return ""
	})
	if left.From != "alive" || left.Cause != orgs.CauseLeave || left.Version == nil || left.Version.Seq <= joined.Version.Seq {
		t.Fatalf("leave event: %+v after %+v", left, joined)
	}
	var counted api.Event
	nodetest.Eventually(t, 5*time.Second, func() string {
		counted, _ = log.Find(0, func(e api.Event) bool {
			return e.Kind == api.EventCounts && e.Org == "acme" && e.Before.Alive == 2 && e.After.Alive == 1
		})
		if counted.Seq == 0 {
			return "no count event of acme's 1 alive"
		}
		return ""
	})
	if counted.Seq < left.Seq {
		t.Fatalf("the count change (%d) came before its transition (%d)", counted.Seq, left.Seq)
	}
	// Every number once, in order.
	var seqs []uint64
	for _, e := range log.All() {
		if e.Seq > 0 {
			seqs = append(seqs, e.Seq)
		}
	}
	for i := range seqs {
		if seqs[i] != seqs[0]+uint64(i) {
			t.Fatalf("event numbers %v", seqs)
		}
	}
	if e, _ := other.Find(0, func(e api.Event) bool { return e.Kind != api.EventSnapshot }); e.Kind != "" {
		t.Fatalf("a stream of globex got %+v", e)
	}

	// The history holds acme's 2 alive and then 1.
	h, err := api.NewClient(a.Info().API, "").History(context.Background(), "acme", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Series) != 2 || h.Series[0].StepMs != 1000 {
		t.Fatalf("history of acme: %+v", h.Series)
	}
	fine := h.Series[0]
	if i := slices.Index(fine.AliveMax, 2); i < 0 || fine.Alive[len(fine.Alive)-1] != 1 || slices.Index(fine.AliveMin[i:], 1) < 0 {
		t.Fatalf("acme alive over time: %v, most %v, least %v", fine.Alive, fine.AliveMax, fine.AliveMin)
	}
}

// TestEventStreamsAreLimitedAndEndWithTheNode: at most MaxEventStreams
// streams, one more is refused with 503; a stream ends when its client
// goes, and every stream ends when the node closes.
func TestEventStreamsAreLimitedAndEndWithTheNode(t *testing.T) {
	cfg := testConfig(t, "acme")
	cfg.APIToken = "s3cret" // the API's token rules apply to streams too
	n, err := New(context.Background(), cfg, WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if code, body := request(t, n.Info().API, "/v1/events", "", ""); code != 401 {
		t.Fatalf("a stream without the token: %d %s", code, body)
	}
	c := api.NewClient(n.Info().API, cfg.APIToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, api.MaxEventStreams)
	first, cancelFirst := context.WithCancel(ctx)
	for i := range api.MaxEventStreams {
		sctx := ctx
		if i == 0 {
			sctx = first
		}
		wg.Go(func() { errs <- c.Events(sctx, "", func(api.Event) error { return nil }) })
	}
	nodetest.Eventually(t, 5*time.Second, func() string {
		if got := n.obs.hub.streams(); got != api.MaxEventStreams {
			return fmt.Sprintf("%d streams", got)
		}
		return ""
	})
	err = c.Events(ctx, "", func(api.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "event streams are open") {
		t.Fatalf("stream %d: %v", api.MaxEventStreams+1, err)
	}
	cancelFirst()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("a stream whose client went: %v", err)
	}
	nodetest.Eventually(t, 5*time.Second, func() string {
		if got := n.obs.hub.streams(); got != api.MaxEventStreams-1 {
			return fmt.Sprintf("%d streams after a client went", got)
		}
		return ""
	})
	closed := time.Now()
	n.Close()
	wg.Wait()
	if d := time.Since(closed); d > 2*time.Second {
		t.Fatalf("Close took %v with streams open", d)
	}
	close(errs)
	for err := range errs {
		if err == nil || !strings.Contains(err.Error(), "ended the stream") {
			t.Fatalf("a stream at Close: %v", err)
		}
	}
	if got := n.obs.hub.streams(); got != 0 {
		t.Fatalf("%d streams after Close", got)
	}
}
