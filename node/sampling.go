package node

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orgpeer/orgpeer/orgs"
	orgsample "github.com/orgpeer/orgpeer/orgs/sample"
)

// sampler is the node's part of sampled heartbeats (orgs/sample, #18): a
// window of samples for each organization whose members sample, and for
// the node's own organization the controller that sets the level it
// publishes at. It answers the view (orgs.Sampling). Safe for concurrent
// use; it never calls the view.
type sampler struct {
	own      string        // the node's organization
	ownID    string        // its org ID, "" for a bare claim
	budget   float64       // Config.SampleBudget: heartbeats per round its organization may publish; 0 never samples
	roundLen time.Duration // a round is a heartbeat interval
	rounds   int           // rounds in a window
	maxOrgs  int           // windows kept: two per followed organization (its verified members and its bare claims)
	now      func() time.Time
	metrics  *samplingMetrics

	censusLen time.Duration // a census window: the sample window

	mu       sync.Mutex
	orgs     map[sampleKey]*orgSample
	census   map[sampleKey]*censusSums
	reported uint64 // the last census window this node reported in
	ctrl     orgsample.Controller
	settled  bool // the controller has had an estimate: it no longer follows the publishers' level
	// sampled is the organizations in estimate mode, by name, with when
	// they were last seen sampling; read under the view's lock (Sampled):
	// its own lock, never held while calling out. An organization leaves
	// estimate mode on evidence only, a window of its members at level 0,
	// never because nothing came: on a stalled node every member falls
	// silent, and a sampled organization's silence must not turn into a
	// storm of suspicions.
	sampledMu sync.RWMutex
	sampled   map[string]time.Time
}

// sampleKey is a view row: an organization's name and the org ID its
// verified members proved ("" for bare claims, which are sampled apart
// so that minted peers cannot inflate a verified estimate).
type sampleKey struct{ org, id string }

type orgSample struct {
	win   *orgsample.Window
	heard time.Time // the last sample
}

func newSampler(cfg *Config, ownID string, now func() time.Time, metrics *samplingMetrics) *sampler {
	rounds := max(1, int((cfg.SampleWindow+cfg.HeartbeatInterval-1)/cfg.HeartbeatInterval))
	return &sampler{own: cfg.Org, ownID: ownID, budget: cfg.SampleBudget, roundLen: cfg.HeartbeatInterval, rounds: rounds,
		maxOrgs: 2 * cfg.MaxOrgs, now: now, metrics: metrics, orgs: map[sampleKey]*orgSample{},
		censusLen: time.Duration(rounds) * cfg.HeartbeatInterval, census: map[sampleKey]*censusSums{},
		ctrl: orgsample.Controller{Budget: cfg.SampleBudget, Window: rounds}, sampled: map[string]time.Time{}}
}

// ownKey is the window that feeds the controller: the node's own row,
// when it may sample at all.
func (s *sampler) ownKey() sampleKey {
	if s.budget <= 0 {
		return sampleKey{org: "\x00none"} // no row has this name
	}
	return sampleKey{s.own, s.ownID}
}

func (s *sampler) round() uint64 { return orgsample.Round(s.now(), s.roundLen) }

// add records an accepted heartbeat that covers round r at the level its
// sender claimed, the rank already checked by the validator. Every
// followed organization has a window, exact ones too: when one starts to
// sample, its window already holds the rounds before, and its estimate
// is there at once (an exact organization holds at most SampleBudget
// members a round).
func (s *sampler) add(org, orgID, peerID string, r uint64, level int) {
	k := sampleKey{org, orgID}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[k]
	if o == nil {
		if len(s.orgs) >= s.maxOrgs {
			return
		}
		o = &orgSample{win: orgsample.NewWindow(s.rounds)}
		s.orgs[k] = o
	}
	if o.win.Add(peerID, r, level, orgsample.Rank(org, r, peerID), s.round()) {
		o.heard = s.now()
		s.metrics.samples.Inc()
	}
	if level > 0 {
		// At once, not at the next tick: its members fall silent now, and
		// the view must not take their silence for failures meanwhile.
		s.sampledMu.Lock()
		s.sampled[org] = s.now()
		s.sampledMu.Unlock()
	}
}

// level is the level the node publishes at now.
func (s *sampler) level() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctrl.Level()
}

// tick runs once a heartbeat interval: the own organization's controller
// takes its new estimate (a starting node first adopts the level its
// organization's members publish at), the organizations in estimate mode
// are noted for the view, and windows idle for a whole window are closed.
func (s *sampler) tick() {
	cur, now := s.round(), s.now()
	sampling, exact := map[string]bool{}, map[string]bool{}
	s.mu.Lock()
	for k, o := range s.orgs {
		e, ok := o.win.Estimate(cur)
		if k == s.ownKey() {
			switch {
			case ok:
				s.ctrl.Update(e.Peers, e.High, cur)
				s.settled = true
			case !s.settled:
				s.ctrl.Follow(o.win.Level(), cur)
			}
		}
		switch {
		case o.win.Level() > 0:
			sampling[k.org] = true
		case ok && e.Samples > 0:
			exact[k.org] = true // a whole window of members at level 0
		}
		// A window closes once its organization is silent for a window;
		// the own organization's feeds the controller and stays.
		if now.Sub(o.heard) > time.Duration(s.rounds)*s.roundLen && k != s.ownKey() {
			delete(s.orgs, k)
		}
	}
	w := s.censusWindow(now)
	for k, c := range s.census {
		if c.w+1 < w {
			delete(s.census, k)
		}
	}
	level := s.ctrl.Level()
	s.mu.Unlock()
	s.metrics.level.Set(float64(level))
	s.sampledMu.Lock()
	for org := range sampling {
		s.sampled[org] = now
	}
	for org, at := range s.sampled {
		// Forgotten after ten windows without a sample: by then the
		// view has let its members go, and the name may be gone.
		if !sampling[org] && (exact[org] || now.Sub(at) > 10*s.censusLen) {
			delete(s.sampled, org)
		}
	}
	s.sampledMu.Unlock()
}

// Sampled is orgs.Sampling's: whether the organization is in estimate mode.
func (s *sampler) Sampled(org string) bool {
	s.sampledMu.RLock()
	defer s.sampledMu.RUnlock()
	_, ok := s.sampled[org]
	return ok
}

// Estimate is orgs.Sampling's: the row's estimate when it is in estimate
// mode, from the samples this node heard; else, for an organization it
// does not hear at all, the median of its members' census summaries; nil
// when it is exact.
func (s *sampler) Estimate(org, orgID string) *orgs.Estimate {
	k, cur := sampleKey{org, orgID}, s.round()
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orgs[k]; o != nil {
		e, ok := o.win.Estimate(cur)
		switch {
		case ok && e.Level > 0:
			return &orgs.Estimate{Peers: e.Peers, Low: e.Low, High: e.High, Samples: e.Samples, Level: e.Level,
				WindowMs: int64(e.Rounds) * s.roundLen.Milliseconds(), Source: orgs.SourceSamples}
		case ok:
			return nil // exact
		}
	}
	if c := s.census[k]; c != nil {
		if e, ok := orgsample.Merge(c.latest(s.censusWindow(s.now()))); ok {
			return &orgs.Estimate{Peers: e.Peers, Low: e.Low, High: e.High, Samples: e.Samples, Level: e.Level,
				WindowMs: s.censusLen.Milliseconds(), Source: orgs.SourceCensus}
		}
	}
	return nil
}

// Rows is orgs.Sampling's: the organizations known from their census.
func (s *sampler) Rows() []orgs.RowKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.censusWindow(s.now())
	var rows []orgs.RowKey
	for k, c := range s.census {
		if len(c.latest(w)) > 0 {
			rows = append(rows, orgs.RowKey{Org: k.org, OrgID: k.id})
		}
	}
	return rows
}

// The census (orgsample.Merge): in each census window (a sample window
// long) a few members of a sampled organization, those whose census rank
// passes, publish a signed summary of their estimate on the directory
// topic, so that nodes that do not follow the organization know its size.

// maxReporters bounds the summaries kept of one organization and window:
// about orgsample.Reporters are due, and each needs a credential.
const maxReporters = 32

// censusSums is one organization's summaries of the latest census window
// heard from it. Reporters report at their first heartbeat in a window, so
// a window's summaries arrive within an interval of its start.
type censusSums struct {
	w    uint64
	sums map[string]orgsample.Summary
}

// latest is the summaries, if they are of window w or the one before.
func (c *censusSums) latest(w uint64) []orgsample.Summary {
	if c.w+1 < w {
		return nil
	}
	out := make([]orgsample.Summary, 0, len(c.sums))
	for _, v := range c.sums {
		out = append(out, v)
	}
	return out
}

func (s *sampler) censusWindow(t time.Time) uint64 { return orgsample.Round(t, s.censusLen) }

// addCensus keeps a verified member's summary of its organization.
func (s *sampler) addCensus(org, orgID, reporter string, sum orgsample.Summary) {
	k := sampleKey{org, orgID}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.census[k]
	if c == nil {
		if len(s.census) >= s.maxOrgs {
			return
		}
		c = &censusSums{sums: map[string]orgsample.Summary{}}
		s.census[k] = c
	}
	switch {
	case sum.Window > c.w:
		c.w, c.sums = sum.Window, map[string]orgsample.Summary{}
	case sum.Window < c.w:
		return // late: the window has moved on
	}
	if len(c.sums) < maxReporters {
		c.sums[reporter] = sum
	}
}

// censusDue returns the summary this node reports for its organization in
// the current census window: when the organization samples and this
// node's census rank passes; once per window.
func (s *sampler) censusDue(selfID string) (orgsample.Summary, bool) {
	w := s.censusWindow(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[s.ownKey()]
	if o == nil || s.reported == w {
		return orgsample.Summary{}, false
	}
	e, ok := o.win.Estimate(s.round())
	if !ok || e.Level == 0 || !orgsample.Reports(orgsample.CensusRank(s.own, w, selfID), e.Peers) {
		return orgsample.Summary{}, false
	}
	s.reported = w
	return orgsample.Summary{Reporter: selfID, Window: w, Estimate: e}, true
}

// samplingMetrics counts what sampling does; registered on the node's
// registry beside nodeMetrics.
type samplingMetrics struct {
	samples prometheus.Counter
	refused *prometheus.CounterVec // reason
	level   prometheus.Gauge
}

func newSamplingMetrics(reg prometheus.Registerer) *samplingMetrics {
	m := &samplingMetrics{
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orgpeer_samples_total",
			Help: "Sampled heartbeats counted towards an organization's estimate (at most one per peer and round).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orgpeer_samples_refused_total",
			Help: "Heartbeats accepted but not counted as samples: rank (the sender's rank does not pass the level it claims) or round (the round it claims is not its send time's).",
		}, []string{"reason"}),
		level: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orgpeer_sample_publish_level",
			Help: "The sampling level this node publishes its own heartbeats at: it publishes in a round when its rank is below 2^(-level/4); 0 is every round.",
		}),
	}
	reg.MustRegister(m.samples, m.refused, m.level)
	return m
}
