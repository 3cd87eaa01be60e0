package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/orgs"
)

// headless starts a headless Chromium for the node's page (skipped where
// there is none, failed in CI, where `make deps` installs it) and returns
// its context and the console errors its pages wrote.
func headless(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: `make deps` installs it")
		}
		t.Skip("chromium not found: `make deps` installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true))
	t.Cleanup(acancel)
	tctx, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(tctx) // subscribes now: nothing is missed
	var wg sync.WaitGroup
	wg.Go(func() { // ends with the browser's context
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	})
	t.Cleanup(func() { tcancel(); wg.Wait() })
	return tctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// The node's page shows an estimated organization as an estimate, with its
// interval, and its chart says it counts the members heard; an exact one as
// before. The API behind it serves a hand-made view.
func TestNodePageShowsEstimates(t *testing.T) {
	ctx, consoleErrors := headless(t)
	now := time.Now().UTC()
	view := orgs.Snapshot{Self: "12D3KooWself", Org: "acme", At: now,
		Orgs: []orgs.OrgCounts{
			{Org: "acme", Mode: orgs.ModeExact, Alive: 7, Verified: 7, Hosts: 2},
			{Org: "bigcorp", OrgID: "k51b", Mode: orgs.ModeEstimate, Alive: 41, Verified: 41, Hosts: 39,
				Estimate: &orgs.Estimate{Peers: 1250, Low: 1180, High: 1320, Samples: 412, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}},
			{Org: "hugeco", Mode: orgs.ModeEstimate, Alive: 2, Verified: 2, Hosts: 2,
				Estimate: &orgs.Estimate{Peers: 20400, Low: 19100, High: 21800, Samples: 96, Level: 8, WindowMs: 300_000, Source: orgs.SourceCensus}},
		},
		Total: orgs.OrgCounts{Mode: orgs.ModeExact, Alive: 50, Verified: 50, Hosts: 43},
	}
	series := func(org, id string, alive int) api.Series {
		v := []int{alive, alive, alive}
		return api.Series{Org: org, OrgID: id, StepMs: 1000, Start: now.Add(-2 * time.Second), Alive: v, AliveMin: v, AliveMax: v,
			Verified: v, Hosts: v, Suspect: []int{0, 0, 0}, Left: []int{0, 0, 0}}
	}
	hist := api.History{Self: view.Self, At: now, Series: []api.Series{series("acme", "", 7), series("bigcorp", "k51b", 41)}}
	a := &apiServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.page)
	serve := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { api.WriteJSON(w, http.StatusOK, v, false) }
	}
	mux.HandleFunc("GET /v1/self", serve(api.SelfInfo{PeerID: view.Self, Org: "acme", Host: "h0"}))
	mux.HandleFunc("GET /v1/view", serve(view))
	mux.HandleFunc("GET /v1/peers", serve([]orgs.PeerInfo{}))
	mux.HandleFunc("GET /v1/history", serve(hist))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	type shown struct {
		Rows     map[string][]string `json:"rows"` // org -> mode, alive cell
		Modes    string              `json:"modes"`
		Captions []string            `json:"captions"`
	}
	const read = `({
		rows: Object.fromEntries([...document.querySelectorAll('#view tr[data-org]')].map((r) => [r.dataset.org, [r.dataset.mode, r.cells[1].textContent]])),
		modes: document.getElementById('modes').textContent,
		captions: [...document.querySelectorAll('#history figcaption')].map((c) => c.textContent),
	})`
	var got shown
	nodetest.Eventually(t, 20*time.Second, func() string {
		var err error
		got, err = chromedp.Run(ctx, chromedp.Evaluate[shown](read))
		if err != nil {
			return err.Error()
		}
		want := map[string][]string{
			"acme":    {"exact", "7"},
			"bigcorp": {"estimate", "~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3)"},
			"hugeco":  {"estimate", "~20,400 (19,100–21,800, 95 %, 96 samples / 300 s, level 8, census)"},
			"TOTAL":   {"exact", "50"},
		}
		for org, w := range want {
			if g := got.Rows[org]; len(g) != 2 || g[0] != w[0] || g[1] != w[1] {
				return "page shows " + org + " as " + strings.Join(g, " ") + ", want " + strings.Join(w, " ")
			}
		}
		if !strings.Contains(got.Modes, "only the members this node heard") {
			return "no note on estimates: " + got.Modes
		}
		if !strings.Contains(strings.Join(got.Captions, "|"), "bigcorp: estimate ~1,250 (1,180–1,320") ||
			!strings.Contains(strings.Join(got.Captions, "|"), "acme: 7 alive now") {
			return "captions: " + strings.Join(got.Captions, " | ")
		}
		return ""
	})
	for _, e := range consoleErrors() {
		t.Errorf("console: %s", e)
	}
}
