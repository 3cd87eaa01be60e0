package orgs

import (
	"bytes"
	"testing"
)

func TestPeerCredentialsRecallByID(t *testing.T) {
	c := NewPeerCredentials(2)
	a1, a2 := []byte("credential a1"), []byte("credential a2")
	if c.Recall("a", CredentialID(a1)) != nil {
		t.Fatal("recalled a credential never sent")
	}
	c.Remember("a", a1)
	if got := c.Recall("a", CredentialID(a1)); !bytes.Equal(got, a1) {
		t.Fatalf("recall = %q, want %q", got, a1)
	}
	if c.Recall("b", CredentialID(a1)) != nil {
		t.Fatal("another peer's credential recalled: credentials are kept per sender")
	}
	c.Remember("a", a2) // a new credential replaces the old one
	if c.Recall("a", CredentialID(a1)) != nil || !bytes.Equal(c.Recall("a", CredentialID(a2)), a2) {
		t.Fatal("the replaced credential is still recalled, or the new one is not")
	}
	c.Remember("b", a1)
	c.Remember("c", a1) // full: forgets everyone, then keeps c
	if c.Len() != 1 || c.Recall("a", CredentialID(a2)) != nil || c.Recall("c", CredentialID(a1)) == nil {
		t.Fatalf("bound not kept: %d remembered", c.Len())
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
