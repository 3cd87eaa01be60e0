package node

import (
	"context"
	"math"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/orgpeer/orgpeer/node/wire"
	orgsample "github.com/orgpeer/orgpeer/orgs/sample"
)

// handleDirectory hands what arrives on the directory topic to its part:
// listings to the directory, census summaries to the sampler.
func (p *presence) handleDirectory(m *pubsub.Message, r *received) {
	if r.Kind != wire.KindCensus {
		p.dir.handle(m, r)
		return
	}
	sum := orgsample.Summary{Reporter: r.Peer, Window: r.Round, Estimate: orgsample.Estimate{
		Peers: float64(r.PeersMilli) / 1000, Low: float64(r.LowMilli) / 1000, High: float64(r.HighMilli) / 1000,
		Samples: int(min(r.Samples, math.MaxInt32)), Level: int(r.Level)}}
	p.sample.addCensus(r.Org, string(r.member.OrgID), r.Peer, sum)
}

// publishCensus publishes this node's census summary of its organization
// when it is one of the current census window's reporters (see
// sampler.censusDue). Only a member with a credential reports: receivers
// take no summary they cannot verify.
func (p *presence) publishCensus(ctx context.Context) {
	if p.beats.cred == nil {
		return
	}
	sum, ok := p.sample.censusDue(p.beats.selfID)
	if !ok {
		return
	}
	milli := func(x float64) uint64 { return uint64(math.Round(max(x, 0) * 1000)) }
	m := &wire.Message{Kind: wire.KindCensus, Org: p.beats.org, Round: sum.Window, Level: uint32(sum.Level),
		Samples: uint64(sum.Samples), PeersMilli: milli(sum.Peers), LowMilli: milli(sum.Low), HighMilli: milli(sum.High),
		Cred: p.beats.cred, Sent: time.Now().UnixMilli()}
	if err := p.topics.dir.topic.Publish(ctx, m.Encode()); err != nil {
		if ctx.Err() == nil {
			p.beats.log.Warn("publish census", "err", err)
		}
		return
	}
	p.beats.metrics.sent.WithLabelValues(wire.KindCensus).Inc()
}
