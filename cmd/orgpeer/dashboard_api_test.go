package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/dashboard"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/demo"
)

// startDemoInProcess runs the demo in this process (so that the race
// detector sees the monitor, the controller and the dashboard), with real
// `orgpeer run` children. It returns the dashboard's base URL, the output,
// and a func that ends the demo like Ctrl-C and returns its error.
func startDemoInProcess(t *testing.T, o demo.Options) (string, *syncBuffer, func() error) {
	t.Helper()
	o.Bin, o.TmpRoot, o.Serve = orgpeerBin(t), t.TempDir(), dashboard.Serve
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- demo.Run(ctx, o, ln, out) }() // ends with ctx
	var result error
	stopped := false
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the demo did not end within 60s")
			}
		}
		return result
	}
	t.Cleanup(func() {
		stop()
		if left := demoChildren(o.TmpRoot); len(left) > 0 {
			t.Errorf("children still running: %v", left)
		}
		if t.Failed() {
			t.Logf("--- demo output:\n%s", tail(out.String(), 40))
		}
	})
	poll(t, 60*time.Second, func() string {
		if strings.Contains(out.String(), "converged:") {
			return ""
		}
		return "not converged"
	})
	return "http://" + ln.Addr().String(), out, stop
}

// sseEvents reads server-sent events from url until ctx ends, sending each
// as kind and data.
func sseEvents(ctx context.Context, t *testing.T, url string) <-chan [2]string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream Content-Type %q", ct)
	}
	ch := make(chan [2]string, 1024)
	go func() { // ends when ctx ends (the body read fails) or the stream ends
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		kind := ""
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				kind = k
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				select {
				case ch <- [2]string{kind, d}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}

func request(t *testing.T, method, url, origin, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// The dashboard's API: the state, the stream, a node's drill-down, the
// controls and their refusals, with the demo running in this process.
func TestDashboardAPI(t *testing.T) {
	t.Parallel()
	base, out, stop := startDemoInProcess(t, demo.Options{Nodes: 3, Orgs: 2, Hosts: 2})

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	events := sseEvents(ctx, t, base+"/api/stream")
	first := <-events
	var st demo.State
	if first[0] != "state" || json.Unmarshal([]byte(first[1]), &st) != nil {
		t.Fatalf("first message of the stream: %.300s", first)
	}
	// The demo may report convergence before the dashboard's next round
	// has seen every member; its next ticks must.
	members, rows := len(st.Members), len(st.Rows)
	for ev := first; members != 3 || rows != 2; {
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatalf("no tick with 3 members in 2 organizations; last message: %.300s", ev)
		}
		var tick demo.Tick
		if ev[0] == "tick" && json.Unmarshal([]byte(ev[1]), &tick) == nil {
			members, rows = len(tick.Members), len(tick.Rows)
		}
	}

	// The refusals and the guard have unit tests in internal/dashboard;
	// these need running nodes.
	const js = "application/json"
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/api/restart", `{"node":"n02"}`, 409, "already running"},
		{"GET", "/api/nodes/n01", "", 200, `"org":"acme"`},
	} {
		code, body := request(t, tc.method, base+tc.path, "", js, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %.200q; want %d and %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}

	// Kill n02 (globex) from the API: the event comes back done, the
	// stream shows it recovered, and the truth follows.
	code, body := request(t, "POST", base+"/api/kill", base, js, `{"node":"n02"}`)
	var ev demo.Event
	if code != 200 || json.Unmarshal([]byte(body), &ev) != nil || !ev.Done || ev.Node != "n02" || ev.Truth["globex"] != 0 || ev.Truth["acme"] != 2 {
		t.Fatalf("kill: %d %s", code, body)
	}
	for recovered := false; !recovered; {
		select {
		case m, ok := <-events:
			if !ok {
				t.Fatal("stream ended before the kill was counted everywhere")
			}
			var e demo.Event
			recovered = m[0] == "event" && json.Unmarshal([]byte(m[1]), &e) == nil && e.ID == ev.ID && e.RecoveredMs != nil
		case <-ctx.Done():
			t.Fatal("no recovery of the kill on the stream")
		}
	}
	code, body = request(t, "GET", base+"/api/nodes/n02", "", "", "")
	if code != 200 || !strings.Contains(body, "n02 is not running") {
		t.Errorf("drill-down of the killed node: %d %s", code, body)
	}
	// Restart it from the API: the same identity comes back.
	code, body = request(t, "POST", base+"/api/restart", "", js, `{"node":"n02"}`)
	if code != 200 || !strings.Contains(body, `"action":"restart"`) || strings.Contains(body, `"error"`) {
		t.Fatalf("restart: %d %s", code, body)
	}
	cancel() // the stream
	if err := stop(); err != nil {
		t.Fatalf("demo: %v", err)
	}
	if o := out.String(); !strings.Contains(o, "summary: 2 events (1 kill -9, 1 restart)") {
		t.Errorf("summary:\n%s", tail(o, 5))
	}
}
