package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/orgs"
)

// streamLog is the events one node streamed.
type streamLog struct {
	name string
	nodetest.EventLog
}

// transitions are the peer and verified events of peer id, after seq.
func (l *streamLog) transitions(id string, after uint64) []api.Event {
	var out []api.Event
	for _, e := range l.All() {
		if e.Seq > after && e.Peer != nil && e.Peer.PeerID == id {
			out = append(out, e)
		}
	}
	return out
}

// lastSeq is the number of the last event streamed.
func (l *streamLog) lastSeq() uint64 {
	evs := l.All()
	for _, e := range slices.Backward(evs) {
		if e.Seq > 0 {
			return e.Seq
		}
	}
	return 0
}

// watchCLI runs `orgpeer watch --json` against p until the test ends, when
// it is interrupted as by Ctrl-C and must exit 0.
func watchCLI(t *testing.T, p *cluster.Proc) *streamLog {
	t.Helper()
	l := &streamLog{name: p.Name() + " (orgpeer watch)"}
	cmd := exec.Command(orgpeerBin(t), "watch", "--data-dir", p.DataDir(), "--json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { // ends with the process's output
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var e api.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				read <- fmt.Errorf("watch printed %q: %v", sc.Text(), err)
				return
			}
			l.Add(e)
		}
		read <- sc.Err()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("orgpeer watch after Ctrl-C: %v (%s)", err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("orgpeer watch still running 5 s after Ctrl-C")
		}
		if err := <-read; err != nil {
			t.Error(err)
		}
	})
	return l
}

// watchClient streams p's events through the Go client until the test ends.
func watchClient(t *testing.T, p *cluster.Proc) *streamLog {
	t.Helper()
	l := &streamLog{name: p.Name() + " (client)"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Client().Events(ctx, "", l.Add) }()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// cliExplain runs `orgpeer explain` against p.
func cliExplain(t *testing.T, p *cluster.Proc, id string) api.Explanation {
	t.Helper()
	out, errOut, code := orgpeer(t, "explain", id, "--data-dir", p.DataDir(), "--json")
	var x api.Explanation
	if code != 0 || json.Unmarshal([]byte(out), &x) != nil {
		t.Fatalf("explain %s at %s: exit %d %s", id, p.Name(), code, errOut)
	}
	return x
}

// change is a transition as the test expects it: "from->to/cause".
func change(e api.Event) string { return e.From + "->" + e.To + "/" + e.Cause }

// TestMultiProcessEventsExplainAndHistory kills, stops and restarts real
// processes and checks what two others stream (one through `orgpeer
// watch`, one through the client): every change, in order, once, with its
// evidence; the count changes that follow; that `orgpeer explain` tells
// the story; and that the history holds the counts streamed.
func TestMultiProcessEventsExplainAndHistory(t *testing.T) {
	c := newTestCluster(t)
	ps := startAll(t, c, []string{"acme", "globex", "acme", "globex"})
	logs := []*streamLog{watchCLI(t, ps[0]), watchClient(t, ps[1])}
	observers := ps[:2]
	poll(t, 30*time.Second, convergedFn(c))
	crashed, leaver := ps[3], ps[2]
	crashedID, leaverID := crashed.Info().PeerID, leaver.Info().PeerID
	oldEpoch := crashed.Info().Epoch
	// waitFor polls until every log has an event of id ending in state
	// to after seq, and returns the last number each had before.
	waitFor := func(id, to string, after []uint64) {
		t.Helper()
		poll(t, 15*time.Second, func() string {
			for i, l := range logs {
				if !slices.ContainsFunc(l.transitions(id, after[i]), func(e api.Event) bool { return e.To == to }) {
					return fmt.Sprintf("%s streamed no ->%s of %s: %v", l.name, to, id, l.transitions(id, after[i]))
				}
			}
			return ""
		})
	}
	marks := func() []uint64 {
		var m []uint64
		for _, l := range logs {
			m = append(m, l.lastSeq())
		}
		return m
	}

	// Both streams must be open before the kill: events are not replayed,
	// and a stream opens with a snapshot. With probe hints a kill right
	// after convergence is seen within tens of milliseconds, sooner than
	// the `orgpeer watch` process may have subscribed (a fresh-clone run
	// lost the crash so).
	poll(t, 15*time.Second, func() string {
		for _, l := range logs {
			if !slices.ContainsFunc(l.All(), func(e api.Event) bool { return e.Kind == api.EventSnapshot }) {
				return l.name + " streamed no snapshot yet"
			}
		}
		return ""
	})
	beforeKill := marks()
	c.Kill9(crashed)
	waitFor(crashedID, "suspect", beforeKill)
	beforeStop := marks()
	c.Stop(leaver)
	waitFor(leaverID, "left", beforeStop)
	// The crashed peer's story at an observer while it is down.
	x := cliExplain(t, ps[0], crashedID)
	if x.Known != api.KnownInView || x.Peer.State != orgs.StateSuspect || x.Why != orgs.ReasonVerified || x.Message == nil ||
		len(x.Transitions) == 0 || x.Transitions[len(x.Transitions)-1].To != orgs.StateSuspect {
		t.Fatalf("explain of the crashed peer: %+v", x)
	}
	if out, _, code := orgpeer(t, "explain", "--data-dir", ps[0].DataDir(), leaverID); code != 0 ||
		!strings.Contains(out, "Left in acme since") || !strings.Contains(out, "it announced its leave") {
		t.Fatalf("explain of the leaver: exit %d\n%s", code, out)
	}
	beforeRestart := marks()
	if err := c.Restart(context.Background(), crashed); err != nil {
		t.Fatal(err)
	}
	waitFor(crashedID, "alive", beforeRestart)
	poll(t, 30*time.Second, convergedFn(c))
	// A count event follows its transition once the node's 50 ms of
	// coalescing are over: wait for the rejoin's before reading the logs.
	poll(t, 10*time.Second, func() string {
		for i, l := range logs {
			if !slices.ContainsFunc(l.All(), func(e api.Event) bool {
				return e.Kind == api.EventCounts && e.Org == "globex" && e.Seq > beforeRestart[i] && e.Before.Alive == 1 && e.After.Alive == 2
			}) {
				return l.name + ": no count event of globex from 1 to 2 alive yet"
			}
		}
		return ""
	})

	for i, l := range logs {
		evs := l.All()
		// Every number once, in order: nothing dropped, nothing twice.
		var seqs []uint64
		for _, e := range evs {
			if e.Seq > 0 {
				seqs = append(seqs, e.Seq)
			}
			if e.Kind == api.EventDropped {
				t.Fatalf("%s dropped %d events", l.name, e.Dropped)
			}
		}
		for j := range seqs {
			if seqs[j] != seqs[0]+uint64(j) {
				t.Fatalf("%s: event numbers not consecutive at %d: %v", l.name, j, seqs)
			}
		}
		if evs[0].Kind != api.EventSnapshot {
			t.Fatalf("%s: first event %+v, want a snapshot", l.name, evs[0])
		}
		// Each peer's transitions chain: none missing, none repeated.
		last := map[string]string{}
		for _, e := range evs {
			if e.Kind != api.EventPeer {
				continue
			}
			if prev, ok := last[e.Peer.PeerID]; ok && prev != e.From {
				t.Fatalf("%s: %s went %s after reaching %s", l.name, e.Peer.PeerID, change(e), prev)
			}
			last[e.Peer.PeerID] = e.To
		}
		// The crashed peer: suspect (found by a probe, or by the window),
		// then alive again with a higher epoch, and nothing else.
		var got []string
		for _, e := range l.transitions(crashedID, beforeKill[i]) {
			got = append(got, change(e))
		}
		if len(got) != 2 || (got[0] != "alive->suspect/probe" && got[0] != "alive->suspect/window") ||
			(got[1] != "suspect->alive/hello" && got[1] != "suspect->alive/heartbeat") {
			t.Fatalf("%s: the crashed peer went %v", l.name, got)
		}
		back := l.transitions(crashedID, beforeRestart[i])[0]
		if back.Version == nil || back.Version.Epoch <= oldEpoch {
			t.Fatalf("%s: rejoin %+v, want an epoch above %d", l.name, back, oldEpoch)
		}
		gone := l.transitions(leaverID, beforeStop[i])
		if len(gone) != 1 || change(gone[0]) != "alive->left/leave" || gone[0].Version == nil {
			t.Fatalf("%s: the leaver went %+v", l.name, gone)
		}
		// The count changes follow their transitions.
		counts := func(org string, after uint64, from, to int) uint64 {
			for _, e := range evs {
				if e.Kind == api.EventCounts && e.Org == org && e.Seq > after && e.Before.Alive == from && e.After.Alive == to {
					return e.Seq
				}
			}
			t.Fatalf("%s: no count event of %s from %d to %d alive after #%d", l.name, org, from, to, after)
			return 0
		}
		counts("globex", beforeKill[i], 2, 1)
		counts("acme", beforeStop[i], 2, 1)
		counts("globex", beforeRestart[i], 1, 2)
	}

	// The history holds every count the stream told, at its time.
	for _, p := range observers[:1] {
		h, err := p.Client().History(context.Background(), "", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		fine := map[string]api.Series{}
		for _, s := range h.Series {
			if s.Step() == api.SecondStep && !s.Total {
				fine[s.Org] = s
			}
		}
		for _, e := range logs[0].All() {
			if e.Kind != api.EventCounts {
				continue
			}
			s, ok := fine[e.Org]
			if !ok {
				t.Fatalf("no history of %s", e.Org)
			}
			k := int(e.At.Sub(s.Start) / time.Second)
			if k < 0 || k >= len(s.Alive) || s.AliveMin[k] > e.After.Alive || s.AliveMax[k] < e.After.Alive {
				t.Fatalf("%s at %v: the stream said %d alive, the history holds %v..%v (step %d of %d)", e.Org, e.At,
					e.After.Alive, at(s.AliveMin, k), at(s.AliveMax, k), k, len(s.Alive))
			}
		}
		view, _ := p.Client().View(context.Background())
		for org, s := range fine {
			if now := s.Alive[len(s.Alive)-1]; now != view.OrgCounts(org).Alive {
				t.Fatalf("history of %s ends at %d alive, the view counts %d", org, now, view.OrgCounts(org).Alive)
			}
		}
	}
}

func at(s []int, k int) int {
	if k < 0 || k >= len(s) {
		return -1
	}
	return s[k]
}

// TestViewWatchRedrawsUntilInterrupted: `orgpeer view --watch` redraws the
// table in place with a trend column, and Ctrl-C ends it cleanly.
func TestViewWatchRedrawsUntilInterrupted(t *testing.T) {
	c := newTestCluster(t)
	p := c.Add(cluster.Spec{Org: "acme", Host: "h"})
	if err := c.Start(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(orgpeerBin(t), "view", "--watch", "--data-dir", p.DataDir())
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, func() string {
		mu.Lock()
		defer mu.Unlock()
		if strings.Count(out.String(), "\x1b[H\x1b[2J") < 2 {
			return "fewer than two redraws: " + out.String()
		}
		return ""
	})
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("view --watch after Ctrl-C: %v", err)
	}
	s := out.String()
	if !strings.Contains(s, "TREND") || !strings.Contains(s, "acme (own)") || !strings.ContainsAny(s, "▁▂▃▄▅▆▇█") {
		t.Fatalf("view --watch printed:\n%s", s)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
