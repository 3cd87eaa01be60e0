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

// PeerCredentials remembers the last verified credential each peer sent in
// full, so that its compact heartbeats, which name the credential by ID
// only, can be judged the same way. It holds at most max peers, forgetting
// the least recently remembered or recalled one so that the peers a node
// hears from keep theirs. It is safe for concurrent use.
type PeerCredentials struct {
	mu       sync.Mutex
	verified *lru[string, peerCred]
}

type peerCred struct {
	id   []byte
	cred []byte
}

// NewPeerCredentials returns an empty memory for at most max peers.
func NewPeerCredentials(max int) *PeerCredentials {
	return &PeerCredentials{verified: newLRU[string, peerCred](max)}
}

// RememberVerified keeps cred as the last credential peer sent. Call it only
// with a credential Trust.Verify found valid for that peer, since anyone can
// mint peer IDs and credentials.
func (c *PeerCredentials) RememberVerified(peer string, cred []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.verified.get(peer, true); ok && bytes.Equal(old.cred, cred) {
		return
	}
	c.verified.put(peer, peerCred{id: CredentialID(cred), cred: bytes.Clone(cred)})
}

// Recall returns the credential peer sent last if its ID is id, else nil;
// the caller must not modify it. Recalling counts as a use: the credential
// is kept longer.
func (c *PeerCredentials) Recall(peer string, id []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pc, ok := c.verified.get(peer, true); ok && bytes.Equal(pc.id, id) {
		return pc.cred
	}
	return nil
}
