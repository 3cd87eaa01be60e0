package node

import (
	"runtime"
	"runtime/debug"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// nodeMetrics is one node's Prometheus registry: its own, so that several
// nodes can live in one process.
type nodeMetrics struct {
	reg         *prometheus.Registry
	messages    *prometheus.CounterVec // result, reason
	sent        *prometheus.CounterVec // kind
	transitions *prometheus.CounterVec // to
	credMissing prometheus.Counter
	fullSent    prometheus.Counter
	probes      *prometheus.CounterVec // result
	probeDials  *prometheus.CounterVec // scope, result
	hints       *prometheus.CounterVec // event
	pushPull    *prometheus.CounterVec // event
	copies      prometheus.Counter
}

func newMetrics() *nodeMetrics {
	m := &nodeMetrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_messages_total",
			Help: "Messages from other peers (pubsub and hello streams) by validation result and reason.",
		}, []string{"result", "reason"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_messages_sent_total",
			Help: "Messages this node published, by kind (hello: sent on a hello stream to a neighbour).",
		}, []string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_peer_transitions_total",
			Help: "Peer state changes in the view, by new state.",
		}, []string{"to"}),
		credMissing: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_credentials_missing_total",
			Help: "Compact heartbeats naming a credential this node had not received (it then asks with Want).",
		}),
		fullSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_full_heartbeats_sent_total",
			Help: "Heartbeats this node sent in full, with credential and addresses (the rest are compact).",
		}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_probes_total",
			Help: "Probes of silent peers: gone (every TCP address refused: suspect at once) or inconclusive; then asks of the silent peer for its heartbeat: answered or unanswered.",
		}, []string{"result"}),
		probeDials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_probe_dials_total",
			Help: "TCP dials of probes by the scope of the address dialled (loopback, private, public) and result (refused, accepted, timeout, unreachable, error).",
		}, []string{"scope", "result"}),
		hints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_probe_hints_total",
			Help: "Probe hints by event: lost (a counted peer's last connection closed), received (a neighbour found a peer gone), sent, probed, dropped (queue full), rejected (bad input), rate-limited, ignored, repeat (already probed for that heartbeat, or quiet after a probe that proved nothing), not-alive, sampled (a member of an organization in estimate mode: not probed).",
		}, []string{"event"}),
		pushPull: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_push_pull_total",
			Help: "Push-pull exchanges on join by event: asked, answered, refused (no answer: busy), bad-answer, answered-in, busy (an ask not answered: over the rate), bad-request, passed-in, passed-out, pass-dropped (every send slot busy), accepted-record, refused-record (why: orgpeer_messages_total).",
		}, []string{"event"}),
		copies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_copies_dropped_total",
			Help: "Copies of a pubsub message dropped before validation because an earlier copy was still waiting for it.",
		}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "orgpeer_build_info",
		Help: "Always 1: the node's version, the VCS revision it was built from and the Go version that built it.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(buildLabels()...).Set(1)
	m.reg.MustRegister(m.messages, m.sent, m.transitions, m.credMissing, m.fullSent, m.probes, m.probeDials, m.hints, m.pushPull, m.copies, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// buildLabels returns the version, revision and Go version of this binary:
// the revision from its build info ("-dirty" when built from modified
// files; "unknown" when not built from a VCS checkout, as in tests).
func buildLabels() []string {
	revision, goVersion := "unknown", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && revision != "unknown" {
			revision += "-dirty"
		}
	}
	return []string{Version, revision, goVersion}
}

func (m *nodeMetrics) countMessage(res pubsub.ValidationResult, reason string) {
	result := "accepted"
	switch res {
	case pubsub.ValidationReject:
		result = "rejected"
	case pubsub.ValidationIgnore:
		result = "ignored"
	}
	if reason == "" {
		reason = "ok"
	}
	m.messages.WithLabelValues(result, reason).Inc()
}
