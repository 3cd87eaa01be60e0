package node

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// apiServer is the node's local HTTP API.
type apiServer struct {
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
	view *orgs.View
	info func() api.SelfInfo
	obs  *observer                  // events, history, explanations
	conn func(peerID string) string // orgs.PeerInfo.Conn
}

// newAPIServer serves the view, the node's own record, its health and its
// metrics on ln, behind the token when cfg sets one.
func newAPIServer(ln net.Listener, cfg *Config, log *slog.Logger, view *orgs.View, info func() api.SelfInfo,
	h *health, reg *prometheus.Registry, obs *observer) *apiServer {
	a := &apiServer{ln: ln, log: log, view: view, info: info, obs: obs, conn: func(id string) string { return connKind(h.host, id) }}
	connections := func() int { return len(h.host.Network().Peers()) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.page)
	mux.HandleFunc("GET /healthz", serveChecks(h.live, connections))
	mux.HandleFunc("GET /readyz", serveChecks(h.ready, connections))
	mux.HandleFunc("GET /v1/view", a.viewHandler)
	mux.HandleFunc("GET /v1/peers", a.peers)
	mux.HandleFunc("GET /v1/self", a.self)
	mux.HandleFunc("GET /v1/peers/{id}", a.explainPeer)
	mux.HandleFunc("GET /v1/events", a.events)
	mux.HandleFunc("GET /v1/history", a.history)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.srv = &http.Server{
		Handler:           a.guard(mux, []byte(cfg.APIToken)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second, // pprof profiles take 30 s
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}
	return a
}

// serve serves until shutdown; every request's context ends with ctx, so
// that a stream (/v1/events) ends when the node closes.
func (a *apiServer) serve(ctx context.Context) {
	a.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
		a.log.Error("API server", "err", err)
	}
}

func (a *apiServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
}

// guard applies the token, the DNS-rebinding check and the body limit.
func (a *apiServer) guard(next http.Handler, token []byte) http.Handler {
	loopback := api.IsLoopbackHost(hostOnly(a.ln.Addr().String()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback && !api.IsLoopbackHost(hostOnly(r.Host)) {
			api.WriteError(w, http.StatusForbidden, "host %q is not a loopback name", r.Host)
			return
		}
		if len(token) > 0 {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
				api.WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		next.ServeHTTP(w, r)
	})
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func (a *apiServer) viewHandler(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r) {
		return
	}
	api.WriteJSON(w, http.StatusOK, a.view.Snapshot(), true)
}

func (a *apiServer) self(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r) {
		return
	}
	api.WriteJSON(w, http.StatusOK, a.info(), true)
}

func (a *apiServer) peers(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r, "org", "state") {
		return
	}
	f, err := api.ParsePeerQuery(r.URL.Query().Get("org"), r.URL.Query().Get("state"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ps := a.view.Peers(f)
	for i := range ps {
		ps[i].Conn = a.conn(ps[i].PeerID)
	}
	api.WriteJSON(w, http.StatusOK, ps, true)
}

// onlyParams answers 400 when the query has a parameter not in allowed.
func onlyParams(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "bad query: %v", err)
		return false
	}
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			api.WriteError(w, http.StatusBadRequest, "unknown query parameter %q", k)
			return false
		}
		if len(v) > 1 {
			api.WriteError(w, http.StatusBadRequest, "query parameter %q given %d times", k, len(v))
			return false
		}
	}
	return true
}
