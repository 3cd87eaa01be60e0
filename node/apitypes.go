package node

import "time"

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
}

// APIError is the body of every API error response.
type APIError struct {
	Error string `json:"error"`
}

// Health is the body of /healthz.
type Health struct {
	Status string `json:"status"`
	Peers  int    `json:"connections"`
}
