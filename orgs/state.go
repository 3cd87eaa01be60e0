package orgs

import "fmt"

// PeerState is what a node believes about one peer, from that peer's own
// announcements and their timing. It is never derived from connectedness.
type PeerState uint8

const (
	// StateUnknown is the zero value; no peer in a view is ever in it.
	StateUnknown PeerState = iota
	// StateAlive: a valid heartbeat arrived within the liveness window.
	StateAlive
	// StateSuspect: silent for longer than the liveness window, or silent
	// and found gone by a probe; not yet expired.
	StateSuspect
	// StateLeft: the peer announced that it is leaving.
	StateLeft
)

var stateNames = [...]string{"unknown", "alive", "suspect", "left"}

func (s PeerState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("PeerState(%d)", uint8(s))
}

// ParseState turns "alive", "suspect" or "left" into a PeerState.
func ParseState(s string) (PeerState, error) {
	for i, n := range stateNames {
		if i > 0 && n == s {
			return PeerState(i), nil
		}
	}
	return StateUnknown, fmt.Errorf("unknown peer state %q (want alive, suspect or left)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s PeerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. Unlike ParseState it
// takes "unknown" too: a transition from or to no state (a peer new to
// the view, or forgotten) carries it.
func (s *PeerState) UnmarshalText(b []byte) error {
	if string(b) == stateNames[StateUnknown] {
		*s = StateUnknown
		return nil
	}
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
