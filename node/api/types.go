// Package api holds the types of a node's local HTTP API, the parsing of its
// queries and the Go client that the CLI, the demo and the benchmark use. It is a
// leaf: it imports nothing of libp2p, so a client of the API does not link the
// p2p stack (as tailscale keeps ipnstate a leaf).
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
)

// InfoFile is the name of the SelfInfo a running node writes into its data dir,
// where the CLI finds the node's API.
const InfoFile = "node.json"

// SelfInfo is a node's own record: written to node.json, served at
// /v1/self, printed by `orgpeer id`.
type SelfInfo struct {
	PeerID  string    `json:"peer_id"`
	Org     string    `json:"org"`
	OrgID   string    `json:"org_id,omitempty"` // from the node's credential
	Host    string    `json:"host"`
	Addrs   []string  `json:"addrs"` // full multiaddrs, with /p2p/, to bootstrap from
	API     string    `json:"api"`   // host:port of the HTTP API
	Epoch   uint64    `json:"epoch"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid,omitempty"` // the node's process on its machine, to tell a stale node.json
}

// APIError is the body of every API error response.
type APIError struct {
	Error string `json:"error"`
}

// Health is the body of /healthz and /readyz: the verdict and the checks
// behind it. The answer is HTTP 200 when Status is "ok", 503 when it is
// "failing".
type Health struct {
	Status      string  `json:"status"`
	Checks      []Check `json:"checks"`
	Connections int     `json:"connections"` // peers the host holds a connection to
}

// Check is one thing /healthz or /readyz looked at.
type Check struct {
	Name   string `json:"name"` // listening, presence, fresh; joined (readyz only)
	OK     bool   `json:"ok"`
	Detail string `json:"detail"` // what the check saw
}

// Failing lists the checks that failed, as "name: detail".
func (h Health) Failing() []string {
	var out []string
	for _, c := range h.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

// ReadInfo reads the node.json a running node wrote into dir.
func ReadInfo(dir string) (SelfInfo, error) {
	var i SelfInfo
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return i, fmt.Errorf("no running node found in %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &i); err != nil {
		return i, fmt.Errorf("%s: %w", filepath.Join(dir, InfoFile), err)
	}
	return i, nil
}

// ParsePeerQuery checks the filters of /v1/peers; empty values match all.
func ParsePeerQuery(org, state string) (orgs.Filter, error) {
	var f orgs.Filter
	if org != "" {
		if !orgs.ValidName(org) {
			return f, fmt.Errorf("org %q is not a valid organization name", org)
		}
		f.Org = org
	}
	if state != "" {
		s, err := orgs.ParseState(state)
		if err != nil {
			return f, err
		}
		f.State = s
	}
	return f, nil
}
