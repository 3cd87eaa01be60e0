package orgs

import (
	"bytes"
	"crypto/sha256"
	"sync"
)

// CredentialIDLen is the length of a credential ID.
const CredentialIDLen = 8

// CredentialID names a credential in compact heartbeats: the first
// CredentialIDLen bytes of its SHA-256. A collision could only confuse a
// receiver about one sender's own credentials, which it keeps per sender.
func CredentialID(cred []byte) []byte {
	sum := sha256.Sum256(cred)
	return sum[:CredentialIDLen]
}

// PeerCredentials remembers the last credential each peer sent in full, so
// that its compact heartbeats, which name the credential by ID only, can be
// judged the same way. It holds at most max peers; when full it forgets
// them all, and their credentials are asked for again. It is safe for
// concurrent use.
type PeerCredentials struct {
	mu  sync.Mutex
	max int
	m   map[string]peerCred
}

type peerCred struct {
	id   []byte
	cred []byte
}

// NewPeerCredentials returns an empty memory for at most max peers.
func NewPeerCredentials(max int) *PeerCredentials {
	return &PeerCredentials{max: max, m: map[string]peerCred{}}
}

// Remember keeps cred as the last credential peer sent.
func (c *PeerCredentials) Remember(peer string, cred []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[peer]; ok && bytes.Equal(old.cred, cred) {
		return
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[peer] = peerCred{id: CredentialID(cred), cred: bytes.Clone(cred)}
}

// Recall returns the credential peer sent last if its ID is id, else nil.
func (c *PeerCredentials) Recall(peer string, id []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pc, ok := c.m[peer]; ok && bytes.Equal(pc.id, id) {
		return pc.cred
	}
	return nil
}

// Len is the number of peers remembered.
func (c *PeerCredentials) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
