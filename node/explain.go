package node

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// explain tells what the node knows of one peer: its record in the view,
// or the tombstone of its forgetting; how its last message came; the
// verdict on its credential; its connections, probes and transitions; the
// messages of it the node refused.
func (n *Node) explain(id string) api.Explanation {
	now := time.Now()
	x := api.Explanation{PeerID: id, At: now.UTC()}
	ev, heard := n.obs.evidence.Of(id)
	x.PeerEvidence = ev
	p, inView := n.view.Get(id)
	f, forgotten := n.view.Forgotten(id)
	switch {
	case inView && p.Self:
		x.Known, x.Peer = api.KnownSelf, &p
	case inView:
		x.Known, x.Peer = api.KnownInView, &p
	case forgotten:
		x.Known, x.Forgotten = api.KnownForgotten, &f
	case ev.Message != nil || len(ev.Transitions) > 0:
		x.Known = api.KnownForgotten // its tombstone is gone, its evidence is not
	case heard:
		x.Known = api.KnownRefused
	default:
		x.Known = api.KnownNever
	}
	if pid, err := peer.Decode(id); err == nil && n.host != nil {
		for _, c := range n.host.Network().ConnsToPeer(pid) {
			x.Connections = append(x.Connections, c.RemoteMultiaddr().String())
		}
	}
	x.Learned = learned(ev.Message, id)
	x.Why = credentialWhy(x.Peer, ev)
	x.Summary = summary(&x, now)
	return x
}

// learned says in words how a message of peer id came.
func learned(m *orgs.MessageNote, id string) string {
	switch {
	case m == nil:
		return ""
	case m.Source == orgs.SourceHello:
		return "on its own hello stream"
	case m.Via == id || m.Via == "":
		return "straight from it on its organization's topic"
	}
	return "relayed by GossipSub through " + m.Via
}

// credentialWhy is why the peer is verified or not now: a credential
// refused since its last accepted message (revoked, expired, ...) wins over
// what that message proved.
func credentialWhy(p *orgs.PeerInfo, ev orgs.PeerEvidence) string {
	if r := ev.Refusals; r != nil && strings.HasPrefix(r.LastReason, "credential-") && (ev.Message == nil || r.Last.After(ev.Message.At)) {
		return r.LastReason
	}
	switch {
	case p != nil && p.Self:
		return ""
	case p != nil && p.Verified:
		return orgs.ReasonVerified
	case ev.Credential != nil:
		return ev.Credential.Reason
	case p != nil:
		return orgs.UnverifiedNoCredential
	}
	return ""
}

// summary tells the story of x in a few sentences, the most telling first.
func summary(x *api.Explanation, now time.Time) []string {
	ago := func(t time.Time) string {
		return fmt.Sprintf("%s (%v ago)", t.Local().Format(time.TimeOnly), now.Sub(t).Round(100*time.Millisecond))
	}
	var out []string
	say := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	switch x.Known {
	case api.KnownSelf:
		say("This is the node itself, in organization %s.", x.Peer.Org)
		return out
	case api.KnownNever:
		say("Never heard of: no message of this peer reached this node since it started.")
		return out
	case api.KnownInView:
		p := x.Peer
		state := p.State.String()
		say("%s%s in %s since %s, %s.", strings.ToUpper(state[:1]), state[1:], p.Org, ago(p.Since), becauseOf(x.Transitions, p.State))
	case api.KnownForgotten:
		if f := x.Forgotten; f != nil {
			say("Forgotten at %s (%s) after being %s since %s; in %s, last version %d/%d.", ago(f.At), f.Cause, f.From,
				ago(f.Since), f.Org, f.Version.Epoch, f.Version.Seq)
		} else {
			say("Forgotten: this node held it once, and no longer remembers when it forgot it.")
		}
	case api.KnownRefused:
		say("Never counted: every message of it that reached this node was refused.")
	}
	if m := x.Message; m != nil {
		say("Last message: a %s (version %d/%d) at %s, %s.", m.Kind, m.Version.Epoch, m.Version.Seq, ago(m.At), x.Learned)
	}
	if x.Why != "" {
		w := api.ReasonText(x.Why)
		if c := x.Credential; c != nil && c.OrgID != "" {
			w += fmt.Sprintf(" (%s, %s, serial %d, valid %s to %s)", c.OrgName, orgs.OrgID(c.OrgID).Short(), c.Serial,
				c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		}
		say("Credential: %s.", w)
	}
	if x.Peer != nil && !x.Peer.Self {
		switch {
		case len(x.Connections) > 0:
			say("Connected directly: %s.", strings.Join(x.Connections, ", "))
		default:
			say("Not connected directly; it announced %d addresses.", len(x.Peer.Addrs))
		}
	}
	if len(x.Probes) > 0 {
		pr := x.Probes[len(x.Probes)-1]
		verdict := "a TCP address answered or timed out, which proves nothing"
		if pr.Refused {
			verdict = "every TCP address it announced refused a connection: its process is gone"
		}
		say("Last probe at %s: %s.", ago(pr.At), verdict)
	}
	if r := x.Refusals; r != nil {
		reasons := slices.Sorted(maps.Keys(r.ByReason))
		for i, k := range reasons {
			reasons[i] = fmt.Sprintf("%s ×%d", k, r.ByReason[k])
		}
		say("%d of its messages were refused (%s), the last at %s.", r.Total, strings.Join(reasons, ", "), ago(r.Last))
	}
	return out
}

// becauseOf says what caused the last transition to state.
func becauseOf(trs []orgs.TransitionNote, state orgs.PeerState) string {
	for _, t := range slices.Backward(trs) {
		if t.To == state && t.From != t.To {
			return "after " + causeText(t.Cause)
		}
	}
	return "before the transitions this node keeps"
}

func causeText(cause string) string {
	switch cause {
	case orgs.CauseHeartbeat:
		return "a heartbeat"
	case orgs.CauseHello:
		return "its hello"
	case orgs.CauseLeave:
		return "it announced its leave"
	case orgs.CauseProbe:
		return "a probe found every address it announced refusing connections"
	case orgs.CauseWindow:
		return "it stayed silent past the liveness window"
	case orgs.CauseExpiry:
		return "its retention ran out"
	case orgs.CauseEviction:
		return "it was evicted to make room"
	case orgs.CauseRevocation:
		return "its credential was revoked"
	}
	return cause
}

// explainPeer serves /v1/peers/{id}.
func (a *apiServer) explainPeer(w http.ResponseWriter, r *http.Request) {
	if !onlyParams(w, r) {
		return
	}
	id := r.PathValue("id")
	if _, err := peer.Decode(id); err != nil {
		api.WriteError(w, http.StatusBadRequest, "%q is not a peer ID", id)
		return
	}
	api.WriteJSON(w, http.StatusOK, a.obs.explain(id), true)
}
