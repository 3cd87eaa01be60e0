package orgs

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// remembered is the number of peers whose credential c holds.
func remembered(c *PeerCredentials) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.verified.m)
}

func TestPeerCredentialsRecallByID(t *testing.T) {
	c := NewPeerCredentials(2)
	a1, a2 := []byte("credential a1"), []byte("credential a2")
	if c.Recall("a", CredentialID(a1)) != nil {
		t.Fatal("recalled a credential never sent")
	}
	c.RememberVerified("a", a1)
	if got := c.Recall("a", CredentialID(a1)); !bytes.Equal(got, a1) {
		t.Fatalf("recall = %q, want %q", got, a1)
	}
	if c.Recall("b", CredentialID(a1)) != nil {
		t.Fatal("another peer's credential recalled: credentials are kept per sender")
	}
	c.RememberVerified("a", a2) // a new credential replaces the old one
	if c.Recall("a", CredentialID(a1)) != nil || !bytes.Equal(c.Recall("a", CredentialID(a2)), a2) {
		t.Fatal("the replaced credential is still recalled, or the new one is not")
	}
	c.RememberVerified("b", a1)
	c.RememberVerified("c", a1) // full: forgets a, the least recently used, only
	if remembered(c) != 2 || c.Recall("a", CredentialID(a2)) != nil ||
		c.Recall("b", CredentialID(a1)) == nil || c.Recall("c", CredentialID(a1)) == nil {
		t.Fatalf("bound not kept, or more than one forgotten: %d remembered", remembered(c))
	}
}

func TestPeerCredentialsEvictLeastRecentlyUsed(t *testing.T) {
	c := NewPeerCredentials(3)
	cred := func(p string) []byte { return []byte("credential of " + p) }
	for _, p := range []string{"a", "b", "c"} {
		c.RememberVerified(p, cred(p))
	}
	c.Recall("a", CredentialID(cred("a"))) // a used: b is now the least recently used
	c.RememberVerified("d", cred("d"))
	c.RememberVerified("e", cred("e")) // then c
	for p, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true, "e": true} {
		if got := c.Recall(p, CredentialID(cred(p))) != nil; got != want {
			t.Errorf("%s remembered: %v, want %v", p, got, want)
		}
	}
}

// A flood of minted peers with credentials of untrusted keys, ten
// times the memory's size, leaves every verified credential in place.
func TestPeerCredentialsFloodKeepsVerified(t *testing.T) {
	const max = 8
	acme := newOrg(t, "acme")
	tr := trusting(t, acme)
	now := time.Now()
	c := NewPeerCredentials(max)
	admit := func(peer, org string, cred []byte) { // what the node does with a full heartbeat
		if _, ok, _ := tr.Verify(cred, peer, org, now); ok {
			c.RememberVerified(peer, cred)
		}
	}
	honest := map[string][]byte{}
	for range max {
		p := newPeerID(t)
		cred, err := acme.Issue(p, now.Add(-time.Minute), time.Hour, RandomSerial())
		if err != nil {
			t.Fatal(err)
		}
		honest[p.String()] = cred
		admit(p.String(), "acme", cred)
	}
	for i := range 10 * max {
		p := newPeerID(t)
		minted := newOrg(t, fmt.Sprintf("junk%d", i))
		cred, _ := minted.Issue(p, now.Add(-time.Minute), time.Hour, 1)
		admit(p.String(), minted.Name, cred) // untrusted: a bare claim
	}
	for p, cred := range honest {
		if got := c.Recall(p, CredentialID(cred)); !bytes.Equal(got, cred) {
			t.Fatalf("the flood displaced %s's verified credential", p)
		}
	}
	if n := remembered(c); n > max {
		t.Fatalf("%d credentials held, bound %d", n, max)
	}
}

func TestCredentialIDLength(t *testing.T) {
	if len(CredentialID([]byte("x"))) != CredentialIDLen {
		t.Fatal("wrong length")
	}
	if bytes.Equal(CredentialID([]byte("x")), CredentialID([]byte("y"))) {
		t.Fatal("different credentials, same ID")
	}
}
