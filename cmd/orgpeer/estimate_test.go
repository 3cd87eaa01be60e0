package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// estimatedView is a hand-made view of a node of acme that counts acme
// exactly and estimates bigcorp, of which it heard two members.
func estimatedView() (orgs.Snapshot, []orgs.PeerInfo) {
	now := time.Now()
	s := orgs.Snapshot{Self: "12D3KooWself", Org: "acme", At: now,
		Orgs: []orgs.OrgCounts{
			{Org: "acme", Mode: orgs.ModeExact, Alive: 1, Verified: 1, Hosts: 1},
			{Org: "bigcorp", Mode: orgs.ModeEstimate, Alive: 2, Verified: 2, Hosts: 2,
				Estimate: &orgs.Estimate{Peers: 1250, Low: 1180, High: 1320, Samples: 412, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}},
		},
		Total: orgs.OrgCounts{Mode: orgs.ModeExact, Alive: 3, Verified: 3, Hosts: 3},
	}
	ps := []orgs.PeerInfo{
		{PeerID: "12D3KooWself", Org: "acme", State: orgs.StateAlive, Self: true, Host: "h0", LastSeen: now, Learned: orgs.LearnedSelf},
		{PeerID: "12D3KooWbig1", Org: "bigcorp", State: orgs.StateAlive, Host: "h1", LastSeen: now, Learned: orgs.LearnedRelayed},
		{PeerID: "12D3KooWbig2", Org: "bigcorp", State: orgs.StateAlive, Host: "h2", LastSeen: now, Learned: orgs.LearnedDirect},
	}
	return s, ps
}

// fakeNode serves a hand-made view and its peers as a node's API does.
func fakeNode(t *testing.T, s orgs.Snapshot, ps []orgs.PeerInfo) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/view", func(w http.ResponseWriter, r *http.Request) { api.WriteJSON(w, 200, s, false) })
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) { api.WriteJSON(w, 200, ps, false) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// `orgpeer view` marks an estimated organization and gives its interval;
// `orgpeer peers` lists the members heard, and its help says so.
func TestViewAndPeersOfAnEstimate(t *testing.T) {
	s, ps := estimatedView()
	addr := fakeNode(t, s, ps)
	var out strings.Builder
	if err := dispatch(t.Context(), []string{"view", "--api", addr}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"~1,250*", "* bigcorp: estimate ~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3)", "only the 2 members this node heard"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("view lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if err := dispatch(t.Context(), []string{"peers", "--api", addr}, &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "bigcorp"); n != 2 {
		t.Errorf("peers lists %d bigcorp peers, want the 2 heard:\n%s", n, out.String())
	}

	out.Reset()
	dispatch(t.Context(), []string{"peers", "--help"}, &out)
	if h := out.String(); !strings.Contains(h, "peers this node actually heard") || !strings.Contains(h, "fewer than the estimate") ||
		!strings.Contains(h, "usage: orgpeer peers") {
		t.Errorf("peers --help:\n%s", h)
	}
}

// `orgpeer watch` prints an estimate's count event as the estimates, and a
// snapshot's estimated row as an estimate, not as its heard counts.
func TestWatchLinesOfAnEstimate(t *testing.T) {
	s, _ := estimatedView()
	big := s.Orgs[1]
	smaller := big
	smaller.Estimate = &orgs.Estimate{Peers: 1000, Low: 940, High: 1062, Samples: 330, Level: 3, WindowMs: 60_000, Source: orgs.SourceSamples}
	exact := orgs.OrgCounts{Org: "bigcorp", Mode: orgs.ModeExact, Alive: 97, Verified: 97, Hosts: 50}
	for _, tc := range []struct {
		e    api.Event
		want string
	}{
		{api.Event{Kind: api.EventCounts, Org: "bigcorp", Before: &big, After: &smaller},
			"bigcorp  estimate ~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3) -> estimate ~1,000 (940–1,062, 95 %, 330 samples / 60 s, level 3)"},
		{api.Event{Kind: api.EventCounts, Org: "bigcorp", Before: &exact, After: &big}, "bigcorp  exact 97 alive -> estimate ~1,250"},
		{api.Event{Kind: api.EventSnapshot, Snapshot: &s}, "acme 1 alive (1 verified, 1 hosts); bigcorp estimated ~1,250 (1,180–1,320, 95 %, 412 samples / 60 s, level 3) (2 heard)"},
	} {
		if got := eventLine(tc.e); !strings.Contains(got, tc.want) {
			t.Errorf("eventLine: %q, want %q in it", got, tc.want)
		}
	}
	b, _ := json.Marshal(big)
	if !strings.Contains(string(b), `"mode":"estimate"`) || !strings.Contains(string(b), `"window_ms":60000`) {
		t.Errorf("an estimate row's JSON: %s", b)
	}
}
