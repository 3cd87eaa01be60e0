// Package wire is orgpeer's wire format: the one Message every node
// publishes on its topics and says on hello streams, its encoding
// (orgpeer.proto is the schema), the checks a decoded message must pass,
// and the names of the topics and the stream protocol. It imports nothing of
// orgpeer but orgs, so that another implementation can be written from it
// and its schema alone.
package wire

import (
	"bytes"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/orgpeer/orgpeer/orgs"
)

// Message kinds on the wire.
const (
	KindHeartbeat = "hb"     // on an org topic: the sender is alive
	KindLeave     = "leave"  // on an org topic: the sender is leaving
	KindDirectory = "dir"    // on the directory topic: organizations the sender knows
	KindRevoke    = "revoke" // on an org topic: the org's signed revocation list
	KindCensus    = "census" // on the directory topic: a member's summary of its sampled organization's estimate
)

// Bounds a message must respect; DecodeMessage refuses it otherwise.
const (
	MaxHostLen = 64   // bytes of a host ID
	MaxAddrs   = 16   // addresses in a heartbeat
	MaxDirOrgs = 64   // organizations in a directory listing
	maxAddrLen = 256  // bytes of one address
	maxCredLen = 1024 // bytes of a credential
	// MaxLevel bounds a heartbeat's sampling level: orgs/sample.MaxLevel
	// (a member sampled with probability 2^-20 per round), written here
	// so that wire imports nothing of orgpeer but orgs.
	MaxLevel = 80
)

// Message is every message orgpeer publishes. Which fields are set depends
// on Kind. pubsub signs each message with the sender's peer key, so the
// sender is the signer: Peer may be left out, and when set it must equal
// the signer.
//
// Most heartbeats are compact: the credential travels by its ID only, and
// the addresses not at all. A heartbeat is full (credential and addresses)
// while the sender starts, when its addresses change, when it greets a
// newcomer and when a peer says it wants credentials (Want); a receiver
// keeps each peer's last credential and judges compact heartbeats by it.
// codec.go has the encoding.
type Message struct {
	Kind   string
	Peer   string
	Org    string
	Epoch  uint64
	Seq    uint64
	Host   string
	Addrs  []string
	Orgs   []string // directory: known organizations
	Cred   []byte   // heartbeat: membership credential (signed envelope)
	CredID []byte   // heartbeat: orgs.CredentialID of the sender's credential
	Want   bool     // heartbeat: the sender lacks credentials it heard of
	Rev    []byte   // revoke: revocation list (signed envelope)
	Sent   int64    // heartbeat, leave: when the sender sent it, its clock's unix milliseconds; a receiver bounds its age
	// Level and Round are a sampled heartbeat's (orgs/sample): the
	// sampling level its sender publishes at and the round it covers. A
	// receiver counts it as a sample only if the sender's rank for that
	// round passes that level. Round 0: not a sample (a hello, a greeting,
	// a start-up heartbeat, an older version).
	Level uint32 // heartbeat, census: at most MaxLevel
	Round uint64 // heartbeat: rounds of the heartbeat interval since the Unix epoch; census: the census window's number
	// A census summary's estimate: samples, and the size and its 95 %
	// interval in thousandths of a peer.
	Samples    uint64
	PeersMilli uint64
	LowMilli   uint64
	HighMilli  uint64
}

// DecodeError says why a payload was rejected; Reason is a short label
// for metrics.
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string { return e.Reason + ": " + e.Err.Error() }

func decodeErr(reason, format string, a ...any) error {
	return &DecodeError{Reason: reason, Err: fmt.Errorf(format, a...)}
}

// DecodeMessage parses and checks a payload: size, syntax, kind and every
// field's bounds. It does not know who sent it; the topic validator checks
// that against the pubsub signature.
func DecodeMessage(data []byte, maxSize int) (*Message, error) {
	if len(data) > maxSize {
		return nil, decodeErr("oversized", "%d bytes > %d", len(data), maxSize)
	}
	m, err := unmarshal(data)
	if err != nil {
		return nil, decodeErr("malformed", "%v", err)
	}
	if m.Peer != "" {
		if _, err := peer.Decode(m.Peer); err != nil {
			return nil, decodeErr("malformed", "peer id: %v", err)
		}
	}
	switch m.Kind {
	case KindHeartbeat, KindLeave:
		if !orgs.ValidName(m.Org) {
			return nil, decodeErr("malformed", "org %q", m.Org)
		}
		if m.Epoch == 0 || m.Seq == 0 {
			return nil, decodeErr("malformed", "epoch and seq must be positive")
		}
		if len(m.Cred) > maxCredLen {
			return nil, decodeErr("malformed", "credential of %d bytes", len(m.Cred))
		}
		if len(m.CredID) != 0 && len(m.CredID) != orgs.CredentialIDLen {
			return nil, decodeErr("malformed", "credential ID of %d bytes", len(m.CredID))
		}
		if len(m.Cred) != 0 && len(m.CredID) != 0 && !bytes.Equal(m.CredID, orgs.CredentialID(m.Cred)) {
			return nil, decodeErr("malformed", "credential ID does not match the credential")
		}
		if m.Level > MaxLevel {
			return nil, decodeErr("malformed", "sampling level %d > %d", m.Level, MaxLevel)
		}
		if len(m.Host) > MaxHostLen || !printable(m.Host) {
			return nil, decodeErr("malformed", "host id %q", m.Host)
		}
		if len(m.Addrs) > MaxAddrs {
			return nil, decodeErr("malformed", "%d addresses > %d", len(m.Addrs), MaxAddrs)
		}
		for _, a := range m.Addrs {
			if len(a) > maxAddrLen {
				return nil, decodeErr("malformed", "address too long")
			}
			if _, err := ma.NewMultiaddr(a); err != nil {
				return nil, decodeErr("malformed", "address %q: %v", a, err)
			}
		}
	case KindRevoke:
		if !orgs.ValidName(m.Org) || len(m.Rev) == 0 {
			return nil, decodeErr("malformed", "revocation without org or list")
		}
	case KindCensus:
		switch {
		case !orgs.ValidName(m.Org):
			return nil, decodeErr("malformed", "census of org %q", m.Org)
		case len(m.Cred) == 0 || len(m.Cred) > maxCredLen:
			return nil, decodeErr("malformed", "census with a credential of %d bytes", len(m.Cred))
		case m.Round == 0 || m.Sent == 0:
			return nil, decodeErr("malformed", "census without its window or send time")
		case m.Level > MaxLevel:
			return nil, decodeErr("malformed", "sampling level %d > %d", m.Level, MaxLevel)
		case m.LowMilli > m.PeersMilli || m.PeersMilli > m.HighMilli:
			return nil, decodeErr("malformed", "census estimate outside its interval")
		}
	case KindDirectory:
		if len(m.Orgs) > MaxDirOrgs {
			return nil, decodeErr("malformed", "%d organizations > %d", len(m.Orgs), MaxDirOrgs)
		}
		for _, o := range m.Orgs {
			if !orgs.ValidName(o) {
				return nil, decodeErr("malformed", "org %q", o)
			}
		}
	default:
		return nil, decodeErr("malformed", "unknown kind %q", m.Kind)
	}
	return m, nil
}

// printable reports whether s is UTF-8 without control characters: what
// a peer names itself is shown in terminals and pages.
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// ReasonOf returns the metrics label of a decode error.
func ReasonOf(err error) string {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return "malformed"
}
