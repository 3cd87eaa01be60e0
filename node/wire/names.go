package wire

import "github.com/libp2p/go-libp2p/core/protocol"

// DirectoryTopic is the pubsub topic on which nodes list the organizations
// they know (KindDirectory messages only).
const DirectoryTopic = "orgpeer/v1/directory"

// OrgTopic is the pubsub topic of an organization's presence: its members'
// heartbeats, leaves and revocation lists.
func OrgTopic(org string) string { return "orgpeer/v1/org/" + org }

// HelloProtocol is the stream protocol on which two connected nodes tell
// each other their own state: the opener writes one encoded Message (a full
// heartbeat, or its leave) and closes its side; the other answers a
// heartbeat with its own full heartbeat and a leave with nothing. The
// stream's secure channel names the sender, so Peer may be left out.
const HelloProtocol protocol.ID = "/orgpeer/hello/1.0.0"

// ProbeHintProtocol is the stream protocol on which a node tells a
// neighbour that it found a peer gone: the opener writes the peer's ID in
// binary and closes; nothing is answered. The receiver probes the peer
// itself and suspects it only on its own proof (node/hints.go).
const ProbeHintProtocol protocol.ID = "/orgpeer/probe-hint/1.0.0"

// PushPullProtocol is the stream protocol on which a starting node asks a
// peer for its view (node/pushpull.go): the opener writes a mode byte (1: a
// join, answered; 2: a join passed on, not answered) and one record, its
// own signed heartbeat; a join is answered with records until the end of
// the stream. A record is a uvarint length, then protobuf fields 1, a
// go-libp2p-pubsub Message (the envelope its author signed), and 2, the
// author's credential when the heartbeat is compact.
const PushPullProtocol protocol.ID = "/orgpeer/push-pull/1.0.0"
