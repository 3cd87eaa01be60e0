package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/demo"
)

// A dashboard over a cluster whose members were added but never started:
// the guard, the static files and every refusal, without a process.
func TestDashboardGuardsAndRefuses(t *testing.T) {
	c := cluster.New("/nonexistent/orgpeer", t.TempDir())
	c.Add(cluster.Spec{Org: "acme", Host: cluster.HostName(0)})
	c.Add(cluster.Spec{Org: "globex", Host: cluster.HostName(1)})
	s := demo.NewSession(c, demo.Options{Nodes: 2, Orgs: 2, Hosts: 2}, []string{"acme", "globex"}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(Handler(t.Context(), s))
	defer srv.Close()

	const js = "application/json"
	for _, tc := range []struct {
		method, path, host, origin, ctype, body string
		code                                    int
		want                                    string
	}{
		{"GET", "/", "", "", "", "", 200, "<title>orgpeer demo</title>"},
		{"GET", "/app.js", "", "", "", "", 200, "EventSource"},
		{"GET", "/api/state", "", "", "", "", 200, `"hosts":2`},
		{"GET", "/api/state", "evil.example:80", "", "", "", 403, "loopback"},
		{"POST", "/api/kill", "", "http://evil.example", js, `{"node":"n02"}`, 403, "cross-origin"},
		{"POST", "/api/kill", "", "", "text/plain", `{"node":"n02"}`, 415, "application/json"},
		{"POST", "/api/frob", "", "", js, `{}`, 400, "unknown action"},
		{"POST", "/api/kill", "", "", js, `{"node":"n09"}`, 404, "no node"},
		{"POST", "/api/kill", "", "", js, `{"node":"n02"}`, 409, "not running"},
		{"POST", "/api/kill", "", "", js, `{"node":"n02","x":1}`, 400, "bad JSON"},
		{"POST", "/api/add", "", "", js, `{"org":"hooli"}`, 400, "no organization"},
		{"POST", "/api/churn", "", "", js, `{"paused":true}`, 409, "without --churn"},
		{"GET", "/api/nodes/n01", "", "", "", "", 200, `n01 is not running`},
		{"GET", "/api/nodes/n09", "", "", "", "", 404, `no node`},
	} {
		req, _ := http.NewRequestWithContext(context.Background(), tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s %s: %d %.200q; want %d and %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode == 200 && !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, csp)
		}
	}
	var st demo.State
	resp, err := http.Get(srv.URL + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Hosts != 2 || st.Churn != "" || len(st.Events) != 0 {
		t.Fatalf("state: %v %+v", err, st)
	}
}

func TestListenOnlyOnLoopback(t *testing.T) {
	for addr, want := range map[string]string{
		"nonsense":    "HOST:PORT",
		"0.0.0.0:0":   "loopback only",
		"example:80":  "loopback only",
		"[::1]:99999": "invalid port",
	} {
		if ln, err := Listen(addr); err == nil || !strings.Contains(err.Error(), want) {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("Listen(%q): %v, want an error with %q", addr, err, want)
		}
	}
	ln, err := Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a port in use: %v", err)
	}
}
