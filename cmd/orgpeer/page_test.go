package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// nodeChart is one organization's chart on a node's own page.
type nodeChart struct {
	Org    string `json:"org"`
	Last   int    `json:"last"`
	Points int    `json:"points"`
	Paths  int    `json:"paths"`
}

const readNodeCharts = `[...document.querySelectorAll('#history svg.chart')].map((s) => ({
	org: s.dataset.org, last: +s.dataset.last, points: +s.dataset.points,
	paths: [...s.querySelectorAll('path')].filter((p) => (p.getAttribute('d') || '').includes('L')).length,
}))`

// TestNodePageChartsHistory opens a node's own page in headless Chromium:
// a chart per organization from /v1/history, drawn with nothing from
// elsewhere, that follows a peer killed meanwhile; no console errors.
func TestNodePageChartsHistory(t *testing.T) {
	ctx, consoleMsgs := newBrowser(t)
	c := newTestCluster(t)
	ps := startAll(t, c, []string{"acme", "globex"})
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ps[0].Info().API+"/")); err != nil {
		t.Fatal(err)
	}
	charts := func(what string, ok func(map[string]nodeChart) bool) {
		t.Helper()
		rowsWhere(t, ctx, readNodeCharts, what, func(c nodeChart) string { return c.Org }, ok)
	}
	charts("both orgs alive, over a few seconds", func(m map[string]nodeChart) bool {
		return m["acme"].Last == 1 && m["globex"].Last == 1 && m[""].Last == 2 && m["globex"].Points >= 3 && m["globex"].Paths == 3
	})
	c.Kill9(ps[1])
	charts("globex down to 0", func(m map[string]nodeChart) bool { return m["globex"].Last == 0 && m["acme"].Last == 1 })
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "node-history.png"), shot, 0o644)
	}
	for _, m := range consoleMsgs() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}
