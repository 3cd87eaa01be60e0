package node

import (
	"strings"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// rejectTracer counts the messages GossipSub itself drops before they reach
// orgpeer's validators: missing or invalid signatures, throttled validation,
// full queues. Verdicts of orgpeer's own validators are counted where they
// are made, so "validation failed/ignored" are left out here.
//
// A peer whose own messages overflow the validation queue is flooding, as
// much as one whose messages the rate limiter refuses: both earn strikes.
type rejectTracer struct {
	m        *nodeMetrics
	inflight *inFlight
	flood    *floodScore
}

var _ pubsub.RawTracer = rejectTracer{}

func (t rejectTracer) RejectMessage(msg *pubsub.Message, reason string) {
	switch reason {
	case pubsub.RejectValidationFailed, pubsub.RejectValidationIgnored:
		return
	case pubsub.RejectValidationQueueFull, pubsub.RejectValidationThrottled:
		t.inflight.forget(msg) // never validated: a later copy may be
		if from := msg.GetFrom(); from != "" && from == msg.ReceivedFrom {
			t.flood.strike(from)
		}
	}
	t.m.messages.WithLabelValues("rejected", "pubsub-"+strings.ReplaceAll(reason, " ", "-")).Inc()
}

func (rejectTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (rejectTracer) OnClosedOutboundStream(peer.ID)                       {}
func (rejectTracer) Join(string)                                          {}
func (rejectTracer) Leave(string)                                         {}
func (rejectTracer) Graft(peer.ID, string)                                {}
func (rejectTracer) Prune(peer.ID, string)                                {}
func (rejectTracer) ValidateMessage(*pubsub.Message)                      {}
func (rejectTracer) DeliverMessage(*pubsub.Message)                       {}
func (rejectTracer) DuplicateMessage(*pubsub.Message)                     {}
func (rejectTracer) ThrottlePeer(peer.ID)                                 {}
func (rejectTracer) RecvRPC(*pubsub.RPC)                                  {}
func (rejectTracer) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (rejectTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (rejectTracer) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (rejectTracer) UndeliverableMessage(*pubsub.Message)                 {}
