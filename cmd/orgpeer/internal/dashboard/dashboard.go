// Package dashboard serves the demo's web page on loopback: the state as
// JSON, its updates as server-sent events, a node's own view, and POST
// endpoints that change the network through the demo's controller.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/demo"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

//go:embed static
var staticFiles embed.FS

const sseKeepAlive = 15 * time.Second

// dashboard is the HTTP front of one running demo.
type dashboard struct {
	ctx context.Context // the demo's: streams end with it
	s   *demo.Session
}

// Listen binds the dashboard's address, which must be on loopback: the
// dashboard can stop processes.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, errors.New("want HOST:PORT on loopback, e.g. 127.0.0.1:8080")
	}
	if !api.IsLoopbackHost(host) {
		return nil, errors.New("the dashboard can stop processes, so it serves on loopback only (127.0.0.1)")
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, errors.New("address already in use")
	}
	return ln, err
}

// Handler serves the dashboard of s; its streams end with ctx.
func Handler(ctx context.Context, s *demo.Session) http.Handler {
	d := &dashboard{ctx: ctx, s: s}
	return d.handler()
}

func (d *dashboard) handler() http.Handler {
	static, _ := fs.Sub(staticFiles, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/state", d.stateHandler)
	mux.HandleFunc("GET /api/stream", d.stream)
	mux.HandleFunc("GET /api/nodes/{name}", d.nodeHandler)
	mux.HandleFunc("POST /api/{action}", d.actionHandler)
	mux.HandleFunc("POST /api/churn", d.churnHandler)
	return d.guard(mux)
}

// guard refuses requests whose Host is not a loopback name (DNS
// rebinding) and changes from another origin (CSRF), and sets a strict
// content security policy: the page loads nothing from anywhere else.
func (d *dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if !api.IsLoopbackHost(host) {
			http.Error(w, "not a loopback host name", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				http.Error(w, "want Content-Type: application/json", http.StatusUnsupportedMediaType)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func (d *dashboard) stateHandler(w http.ResponseWriter, r *http.Request) {
	api.WriteJSON(w, http.StatusOK, d.s.State(), false)
}

// stream sends the whole state, then every update, as server-sent events,
// until the client goes away or the demo ends.
func (d *dashboard) stream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	updates, cancel := d.s.Monitor.Subscribe() // before the state: nothing is missed
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	send := func(kind string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			d.s.Log.Warn("dashboard: encode", "kind", kind, "err", err)
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if !send("state", d.s.State()) {
		return
	}
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case u, ok := <-updates:
			if !ok || !send(u.Kind, u.Data) {
				return // dropped for lagging: the browser reconnects and gets the state again
			}
		}
	}
}

// nodeDetail is the drill-down of one node: its state and its own view.
type nodeDetail struct {
	Member cluster.MemberState `json:"member"`
	View   *orgs.Snapshot      `json:"view,omitempty"`
	Peers  []orgs.PeerInfo     `json:"peers,omitempty"`
	Err    string              `json:"error,omitempty"`
}

func (d *dashboard) nodeHandler(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p := d.s.Cluster.Member(name)
	if p == nil {
		api.WriteJSON(w, http.StatusNotFound, nodeDetail{Err: fmt.Sprintf("no node %q", name)}, false)
		return
	}
	var out nodeDetail
	for _, m := range d.s.Cluster.States() {
		if m.Name == name {
			out.Member = m
		}
	}
	client := p.Client()
	if client == nil {
		out.Err = name + " is not running"
		api.WriteJSON(w, http.StatusOK, out, false)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	view, err := client.View(ctx)
	if err == nil {
		out.View = &view
		out.Peers, err = client.Peers(ctx, "", "")
	}
	if err != nil {
		out.Err = err.Error()
	}
	api.WriteJSON(w, http.StatusOK, out, false)
}

func (d *dashboard) actionHandler(w http.ResponseWriter, r *http.Request) {
	var req demo.ActionRequest
	if !readJSON(w, r, &req) {
		return
	}
	req.Action, req.Source = r.PathValue("action"), "dashboard"
	ev, err := d.s.Controller.Apply(d.ctx, req)
	var ae *demo.ActionError
	switch {
	case errors.As(err, &ae):
		api.WriteJSON(w, ae.Code, map[string]string{"error": ae.Msg}, false)
	default: // a change that failed half-way is an event too, with its error
		api.WriteJSON(w, http.StatusOK, ev, false)
	}
}

// churnHandler pauses or resumes the churn; it answers once no change is
// in progress.
func (d *dashboard) churnHandler(w http.ResponseWriter, r *http.Request) {
	var req demo.ChurnState
	if !readJSON(w, r, &req) {
		return
	}
	if d.s.Churn == "" {
		api.WriteJSON(w, http.StatusConflict, map[string]string{"error": "this demo runs without --churn"}, false)
		return
	}
	d.s.Controller.Pause(req.Paused)
	api.WriteJSON(w, http.StatusOK, req, false)
}

// readJSON decodes the request's body into v, refusing unknown fields; on
// failure it has answered 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		api.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON body: " + err.Error()}, false)
		return false
	}
	return true
}

// Serve runs the dashboard of s on ln until ctx ends (its streams end
// with ctx too), then shuts it down.
func Serve(ctx context.Context, s *demo.Session, ln net.Listener) {
	srv := &http.Server{
		Handler:           Handler(ctx, s),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	})
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.Log.Error("dashboard", "err", err)
	}
	if !stop() {
		<-done // the shutdown started: wait for it
	}
}
