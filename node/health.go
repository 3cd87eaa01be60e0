package node

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// health checks a running node for /healthz (alive: listening, presence
// running, its own heartbeat fresh in its view) and /readyz (alive and
// joined: a peer heard, or no bootstrap peer to join through).
type health struct {
	host      host.Host
	view      *orgs.View
	self      string        // the node's peer ID
	window    time.Duration // the liveness window its own heartbeats must keep within
	running   func() bool   // whether presence runs
	bootstrap bool          // the node joins through bootstrap peers
	joined    atomic.Bool   // a peer was heard once: the node stays ready
}

// live runs the liveness checks.
func (h *health) live() []api.Check {
	listening := len(h.host.Network().ListenAddresses())
	presence := api.Check{Name: "presence", OK: h.running(), Detail: "running"}
	if !presence.OK {
		presence.Detail = "stopped"
	}
	self, _ := h.view.Get(h.self)
	age := time.Since(self.LastSeen)
	return []api.Check{
		{Name: "listening", OK: listening > 0, Detail: fmt.Sprintf("%d listen addresses", listening)},
		presence,
		{Name: "fresh", OK: age <= h.window,
			Detail: fmt.Sprintf("own heartbeat %v ago (liveness window %v)", age.Round(time.Millisecond), h.window)},
	}
}

// ready runs the liveness checks and whether the node has joined.
func (h *health) ready() []api.Check {
	if !h.joined.Load() {
		t := h.view.Snapshot().Total
		h.joined.Store(!h.bootstrap || t.Alive+t.Suspect+t.Left > 1) // more than the node itself
	}
	joined := api.Check{Name: "joined", OK: h.joined.Load(), Detail: "no peer heard yet"}
	switch {
	case !h.bootstrap:
		joined.Detail = "no bootstrap peers: the node starts a network"
	case joined.OK:
		joined.Detail = "a peer was heard"
	}
	return append(h.live(), joined)
}

// serveChecks answers with the checks: 200 when all passed, 503 if not.
func serveChecks(checks func() []api.Check, connections func() int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !onlyParams(w, r) {
			return
		}
		h := api.Health{Status: "ok", Checks: checks(), Connections: connections()}
		code := http.StatusOK
		if len(h.Failing()) > 0 {
			h.Status, code = "failing", http.StatusServiceUnavailable
		}
		api.WriteJSON(w, code, h, true)
	}
}
