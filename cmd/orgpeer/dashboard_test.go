package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/dashboard"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/demo"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// chromiumPath finds Debian's Chromium. Without it the test is skipped on a
// developer's machine and fails in CI, where `make deps` installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found: `make deps` installs it (apt-get install -y chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactsDir is where screenshots go: $ORGPEER_ARTIFACTS, or the
// repository's artifacts/ (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ORGPEER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// newBrowser starts a headless Chromium with a fresh profile, and collects
// what the pages write to their consoles.
func newBrowser(t *testing.T) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		// Without these Chromium tries to reach Google's servers.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	t.Cleanup(acancel)
	tctx, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)

	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	messages := chromedp.Console(tctx) // subscribes now: nothing is missed
	var wg sync.WaitGroup
	wg.Go(func() { // ends with the browser's context
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	})
	t.Cleanup(func() { tcancel(); wg.Wait() })
	return tctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), msgs...)
	}
}

// orgCard is one organization as the dashboard shows it.
type orgCard struct {
	Org    string `json:"org"`
	Truth  int    `json:"truth"`
	Min    int    `json:"min"`
	Max    int    `json:"max"`
	Exact  int    `json:"exact"`
	Of     int    `json:"of"`
	Text   string `json:"text"`
	Charts int    `json:"charts"`
}

const readCards = `[...document.querySelectorAll('#orgs .card')].map((c) => ({
	org: c.dataset.org, truth: +c.dataset.truth, min: +c.dataset.min, max: +c.dataset.max,
	exact: +c.dataset.exact, of: +c.dataset.of, text: c.innerText,
	charts: document.querySelectorAll('#charts svg.chart[data-org="' + c.dataset.org + '"] path').length,
}))`

// cardsWhere polls the page until ok accepts its org cards.
func cardsWhere(t *testing.T, ctx context.Context, what string, ok func(map[string]orgCard) bool) map[string]orgCard {
	t.Helper()
	return rowsWhere(t, ctx, readCards, what, func(c orgCard) string { return c.Org }, ok)
}

// rowsWhere polls the page until ok accepts the rows that js reads, by key.
func rowsWhere[T any](t *testing.T, ctx context.Context, js, what string, key func(T) string, ok func(map[string]T) bool) map[string]T {
	t.Helper()
	var got map[string]T
	poll(t, 30*time.Second, func() string {
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]T](js))
		if err != nil {
			return err.Error()
		}
		got = map[string]T{}
		for _, r := range rows {
			got[key(r)] = r
		}
		if !ok(got) {
			return fmt.Sprintf("page does not show %s: %+v", what, rows)
		}
		return ""
	})
	return got
}

// TestDashboardInHeadlessChromium opens the dashboard of a running demo in
// a real browser: no console errors, every org shown, counts that follow a
// node killed with the page's own button, a drill-down, a screenshot; then
// a node's own page.
func TestDashboardInHeadlessChromium(t *testing.T) {
	t.Parallel()
	ctx, consoleMsgs := newBrowser(t)
	d := startDemo(t, "--nodes", "4", "--orgs", "2", "--hosts", "2", "--duration", "3m")
	url := d.waitFor(t, dashboardRE, 30*time.Second)[1]
	d.waitFor(t, regexp.MustCompile(`converged:`), 60*time.Second)

	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(`#orgs .card`)); err != nil {
		t.Fatal(err)
	}
	before := cardsWhere(t, ctx, "both orgs, every node exact", func(c map[string]orgCard) bool {
		return len(c) == 2 && c["acme"].Exact == 4 && c["acme"].Of == 4 && c["globex"].Exact == 4 && c["globex"].Of == 4 &&
			c["acme"].Truth == 2 && c["globex"].Truth == 2 && c["acme"].Charts > 0 && c["globex"].Charts > 0 &&
			strings.Contains(c["acme"].Text, "acme") && strings.Contains(c["globex"].Text, "globex")
	})
	t.Logf("before: %+v", before)
	poll(t, 10*time.Second, func() string {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#topo line.edge').length`))
		if err != nil || n == 0 {
			return fmt.Sprintf("topology shows %d connections (%v)", n, err)
		}
		return ""
	})

	// Kill a globex node with its button on the page; its org's counts
	// must follow: truth 1, and every node counting 1.
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-action="kill"][data-node="n04"]`)); err != nil {
		t.Fatal(err)
	}
	after := cardsWhere(t, ctx, "globex down to 1, counted by every node", func(c map[string]orgCard) bool {
		g := c["globex"]
		return g.Truth == 1 && g.Min == 1 && g.Max == 1 && g.Exact == 3 && g.Of == 3 && strings.Contains(g.Text, "1 / 1 / 1")
	})
	t.Logf("after the kill: %+v", after)
	var events string
	poll(t, 10*time.Second, func() string {
		events, _ = chromedp.Run(ctx, chromedp.Text(`#events`))
		if !strings.Contains(events, "kill -9") || !strings.Contains(events, "n04") || !strings.Contains(events, "after ") {
			return "event log: " + events
		}
		return ""
	})

	// Drill down into n01 from the topology.
	if err := chromedp.Do(ctx, chromedp.Click(`#topo g.node[data-node="n01"]`), chromedp.WaitVisible(`#drill table`)); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, func() string {
		txt, _ := chromedp.Run(ctx, chromedp.Text(`#drill`))
		if !strings.Contains(txt, "acme (own)") || !strings.Contains(txt, "peers it knows") {
			return "drill-down: " + txt
		}
		return ""
	})
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir(t), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	// A node's own page at / of its API.
	resp, err := http.Get(url + "api/state")
	if err != nil {
		t.Fatal(err)
	}
	var st demo.State
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || len(st.Members) < 1 || st.Members[0].API == "" {
		t.Fatalf("state: %v %+v", err, st.Members)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+st.Members[0].API+"/")); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, func() string {
		txt, _ := chromedp.Run(ctx, chromedp.Text(`body`))
		if !strings.Contains(txt, "acme (own)") || !strings.Contains(txt, "globex") || !strings.Contains(txt, st.Members[0].PeerID) {
			return "node page: " + txt
		}
		return ""
	})
	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "node-page.png"), shot, 0o644)
	}

	for _, m := range consoleMsgs() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console %s (%s:%d)", m, m.URL, m.Line)
		}
	}

	d.interrupt(t)
	out := d.out.String()
	if d.code != 0 || !strings.Contains(out, "summary: 1 event (1 kill -9); back to correct counts") {
		t.Errorf("demo exit %d, summary:\n%s", d.code, tail(out, 5))
	}
}

// TestDashboardShowsEstimates opens the dashboard over a hand-made state
// in which the nodes estimate bigcorp: its card marks their point
// estimates and says how many estimate it; a node's drill-down gives the
// estimate with its interval, census marked, and exact rows as before.
func TestDashboardShowsEstimates(t *testing.T) {
	t.Parallel()
	ctx, consoleMsgs := newBrowser(t)
	c := cluster.New("/nonexistent/orgpeer", t.TempDir())
	c.Add(cluster.Spec{Org: "acme", Host: cluster.HostName(0)})
	s := demo.NewSession(c, demo.Options{Nodes: 1, Orgs: 2, Hosts: 1}, []string{"acme", "bigcorp"}, slog.New(slog.DiscardHandler))
	now := time.Now()
	state := demo.State{Started: now.Add(-time.Minute), Hosts: 1, Orgs: []string{"acme", "bigcorp"}, HistoryLen: 10,
		Members: []cluster.MemberState{{Name: "n01", Org: "acme", Host: "host-0", Up: true, PID: 42}},
		Rows: []demo.Row{
			{Org: "acme", Truth: 1, TruthHosts: 1, Min: 1, Median: 1, Max: 1, Hosts: 1, Exact: 1, Of: 1, Answered: 1, ChangedAt: now},
			{Org: "bigcorp", Truth: 1300, TruthHosts: 40, Min: 1250, Median: 1250, Max: 1250, Hosts: 39, Exact: 1, Estimates: 1, Of: 1, Answered: 1, ChangedAt: now},
		},
		History: []demo.Sample{{T: now.UnixMilli(), Truth: map[string]int{"acme": 1, "bigcorp": 1300},
			Counts: map[string]map[string]int{"n01": {"acme": 1, "bigcorp": 1250}}}},
	}
	view := orgs.Snapshot{Self: "12D3KooWn01", Org: "acme", At: now,
		Orgs: []orgs.OrgCounts{
			{Org: "acme", Mode: orgs.ModeExact, Alive: 1, Verified: 1, Hosts: 1},
			{Org: "bigcorp", Mode: orgs.ModeEstimate, Alive: 41, Connected: 3, Verified: 41, Hosts: 39,
				Estimate: &orgs.Estimate{Peers: 1250, Low: 1180, High: 1320, Samples: 412, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}},
			{Org: "hugeco", Mode: orgs.ModeEstimate, Alive: 2, Verified: 2, Hosts: 2,
				Estimate: &orgs.Estimate{Peers: 20400, Low: 19100, High: 21800, Samples: 96, Level: 8, WindowMs: 300_000, Source: orgs.SourceCensus}},
		},
		Total: orgs.OrgCounts{Mode: orgs.ModeExact, Alive: 44, Verified: 44, Hosts: 42},
	}
	mux := http.NewServeMux()
	mux.Handle("/", dashboard.Handler(t.Context(), s)) // the page and its script
	mux.HandleFunc("GET /api/stream", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(state)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: state\ndata: %s\n\n", b)
		w.(http.Flusher).Flush()
		select { // the test's context ends before srv.Close waits for this
		case <-r.Context().Done():
		case <-t.Context().Done():
		}
	})
	mux.HandleFunc("GET /api/nodes/n01", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]any{"member": state.Members[0], "view": view, "peers": []orgs.PeerInfo{}}, false)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#orgs .card`)); err != nil {
		t.Fatal(err)
	}
	cardsWhere(t, ctx, "bigcorp's card as estimates", func(c map[string]orgCard) bool {
		b, a := c["bigcorp"], c["acme"]
		return strings.Contains(b.Text, "~1250 / ~1250 / ~1250") && strings.Contains(b.Text, "1 estimates it") &&
			strings.Contains(b.Text, "within their 95 % interval") &&
			strings.Contains(a.Text, "1 / 1 / 1") && strings.Contains(a.Text, "1 of 1 nodes exact") && !strings.Contains(a.Text, "~")
	})
	if err := chromedp.Do(ctx, chromedp.Click(`#topo g.node[data-node="n01"]`), chromedp.WaitVisible(`#drill table`)); err != nil {
		t.Fatal(err)
	}
	type drillRow struct {
		Org, Mode, Alive, Connected, Title string
	}
	const readDrill = `[...document.querySelectorAll('#drill tr[data-org]')].map((r) => ({
		Org: r.dataset.org, Mode: r.dataset.mode, Alive: r.cells[1].textContent, Connected: r.cells[2].textContent, Title: r.cells[1].title }))`
	rows := rowsWhere(t, ctx, readDrill, "the drill-down's estimates", func(r drillRow) string { return r.Org }, func(m map[string]drillRow) bool {
		return m["acme"].Mode == "exact" && m["acme"].Alive == "1" &&
			m["bigcorp"].Mode == "estimate" && m["bigcorp"].Alive == "~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3)" && m["bigcorp"].Connected == "3" &&
			strings.Contains(m["bigcorp"].Title, "only the 41 members this node heard") &&
			m["hugeco"].Alive == "~20,400 (19,100–21,800, 95 %, 96 samples / 300 s, level 8, census)" &&
			m["TOTAL"].Mode == "exact" && m["TOTAL"].Alive == "44"
	})
	t.Logf("drill-down: %+v", rows)
	if txt, _ := chromedp.Run(ctx, chromedp.Text(`#drill`)); !strings.Contains(txt, "~: an estimate from sampled heartbeats") {
		t.Errorf("no note on estimates in the drill-down: %s", txt)
	}
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "dashboard-estimates.png"), shot, 0o644)
	}
	for _, m := range consoleMsgs() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}
