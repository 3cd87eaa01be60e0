package orgs

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

func newPeerID(t testing.TB) peer.ID {
	t.Helper()
	_, pub, _ := crypto.GenerateEd25519Key(rand.Reader)
	id, _ := peer.IDFromPublicKey(pub)
	return id
}

func newOrg(t testing.TB, name string) *OrgKey {
	t.Helper()
	k, err := NewOrgKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func trusting(t testing.TB, keys ...*OrgKey) *Trust {
	t.Helper()
	tr := NewTrust()
	for _, k := range keys {
		_, org, err := k.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p, pub, err := ParsePublicOrg(org)
		if err != nil {
			t.Fatal(err)
		}
		tr.AddOrg(p, pub)
	}
	return tr
}

// trusted reports whether tr trusts the organization id.
func trusted(tr *Trust, id OrgID) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	_, ok := tr.orgs[id]
	return ok
}

func TestOrgIDIsSelfCertifying(t *testing.T) {
	k := newOrg(t, "acme")
	if !strings.HasPrefix(string(k.ID), "k51") {
		t.Fatalf("org ID %s is not a base36 libp2p-key CID", k.ID)
	}
	id, pub, err := ParseOrgID(string(k.ID))
	if err != nil || id != k.ID || !pub.Equals(k.Priv.GetPublic()) {
		t.Fatalf("parse %s: %v %v", k.ID, id, err)
	}
	if _, _, err := ParseOrgID("k51notanid"); err == nil {
		t.Fatal("garbage org ID parsed")
	}
	// A bare ID is enough to trust an organization.
	tr := NewTrust()
	if _, err := tr.AddID(string(k.ID)); err != nil || !trusted(tr, k.ID) {
		t.Fatalf("trust by bare ID: %v", err)
	}
}

func TestOrgKeyEncoding(t *testing.T) {
	k := newOrg(t, "acme")
	key, org, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseOrgKey(key)
	if err != nil || back.ID != k.ID || back.Name != "acme" {
		t.Fatalf("parse key: %v %+v", err, back)
	}
	if p, _, err := ParsePublicOrg(org); err != nil || p.ID != k.ID {
		t.Fatalf("parse public: %v", err)
	}
	// A .org file whose ID was edited to another org's is refused.
	other := newOrg(t, "acme")
	if _, _, err := ParsePublicOrg([]byte(strings.ReplaceAll(string(org), string(k.ID), string(other.ID)))); err == nil {
		t.Fatal("tampered .org file accepted")
	}
	if _, err := ParseOrgKey([]byte("{}")); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}

func TestCredentialVerification(t *testing.T) {
	acme, globex := newOrg(t, "acme"), newOrg(t, "globex")
	tr := trusting(t, acme)
	a, b := newPeerID(t), newPeerID(t)
	now := time.Now()
	issue := func(k *OrgKey, p peer.ID, from time.Time, valid time.Duration, serial uint64) []byte {
		t.Helper()
		c, err := k.Issue(p, from, valid, serial)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	good := issue(acme, a, now.Add(-time.Minute), time.Hour, 7)

	// A forged credential: the payload names acme but another key signs it.
	impostor := &OrgKey{Name: "acme", ID: acme.ID, Priv: globex.Priv}
	forged := issue(impostor, a, now.Add(-time.Minute), time.Hour, 8)
	// An envelope of the right shape under another signature domain.
	wrongDomain := func() []byte {
		env, _ := record.Seal(&Revocation{OrgID: acme.ID, OrgName: "acme"}, acme.Priv)
		raw, _ := env.Marshal()
		return raw
	}()

	for _, tc := range []struct {
		name         string
		cred         []byte
		peer, org    string
		at           time.Time
		wantVerified bool
		wantReason   string
	}{
		{"valid", good, a.String(), "acme", now, true, ""},
		{"bare claim", nil, a.String(), "acme", now, false, ""},
		{"untrusted org", issue(globex, a, now, time.Hour, 1), a.String(), "globex", now, false, ""},
		{"signed by another key", forged, a.String(), "acme", now, false, ReasonBadCredential},
		{"garbage", []byte("not an envelope"), a.String(), "acme", now, false, ReasonBadCredential},
		{"revocation passed off as credential", wrongDomain, a.String(), "acme", now, false, ReasonBadCredential},
		{"replayed by another peer", good, b.String(), "acme", now, false, ReasonWrongPeer},
		{"claims another org", good, a.String(), "globex", now, false, ReasonWrongOrg},
		{"expired", good, a.String(), "acme", now.Add(2 * time.Hour), false, ReasonExpired},
		{"not yet valid", good, a.String(), "acme", now.Add(-2 * time.Minute), false, ReasonNotYetValid},
	} {
		_, verified, reason := tr.Verify(tc.cred, tc.peer, tc.org, tc.at)
		if verified != tc.wantVerified || reason != tc.wantReason {
			t.Errorf("%s: verified %v reason %q, want %v %q", tc.name, verified, reason, tc.wantVerified, tc.wantReason)
		}
	}
}

// A key trusted by bare ID vouches for one name only, the first that verified.
func TestBareIDBindsToFirstName(t *testing.T) {
	globex := newOrg(t, "globex")
	tr := NewTrust()
	if _, err := tr.AddID(string(globex.ID)); err != nil {
		t.Fatal(err)
	}
	a, b := newPeerID(t), newPeerID(t)
	now := time.Now()
	own, _ := globex.Issue(a, now.Add(-time.Minute), time.Hour, 1)
	asAcme := &OrgKey{Name: "acme", ID: globex.ID, Priv: globex.Priv} // globex's key, naming acme
	posing, _ := asAcme.Issue(b, now.Add(-time.Minute), time.Hour, 2)
	expired, _ := asAcme.Issue(b, now.Add(-2*time.Hour), time.Hour, 3)

	if _, ok, reason := tr.Verify(expired, b.String(), "acme", now); ok || reason != ReasonExpired {
		t.Fatalf("expired credential: %v %q", ok, reason) // and it binds no name
	}
	if _, ok, reason := tr.Verify(own, a.String(), "globex", now); !ok {
		t.Fatalf("first credential of a bare-ID org refused: %q", reason)
	}
	if _, ok, reason := tr.Verify(posing, b.String(), "acme", now); ok || reason != ReasonWrongOrg {
		t.Fatalf("globex's key vouching for acme: verified %v reason %q, want %q", ok, reason, ReasonWrongOrg)
	}
	if _, ok, _ := tr.Verify(own, a.String(), "globex", now); !ok {
		t.Fatal("the bound name refused afterwards")
	}
	if got := tr.Names(); len(got) != 1 || got[0] != "globex" {
		t.Fatalf("names %v, want the bound one", got)
	}
}

func TestRevocation(t *testing.T) {
	acme, globex := newOrg(t, "acme"), newOrg(t, "globex")
	tr := trusting(t, acme)
	a, b := newPeerID(t), newPeerID(t)
	now := time.Now()
	credA, _ := acme.Issue(a, now.Add(-time.Minute), time.Hour, 1)
	credB, _ := acme.Issue(b, now.Add(-time.Minute), time.Hour, 2)

	rev1, _ := acme.SignRevocation(&Revocation{Seq: 1, Issued: now, Serials: []uint64{1}})
	if _, err := tr.ApplyRevocation(rev1); err != nil {
		t.Fatal(err)
	}
	if _, ok, reason := tr.Verify(credA, a.String(), "acme", now); ok || reason != ReasonRevoked {
		t.Fatalf("revoked by serial: %v %q", ok, reason)
	}
	if _, ok, _ := tr.Verify(credB, b.String(), "acme", now); !ok {
		t.Fatal("unrevoked credential refused")
	}
	rev2, _ := acme.SignRevocation(&Revocation{Seq: 2, Issued: now, Serials: []uint64{1}, Peers: []string{b.String()}})
	if _, err := tr.ApplyRevocation(rev2); err != nil {
		t.Fatal(err)
	}
	if _, ok, reason := tr.Verify(credB, b.String(), "acme", now); ok || reason != ReasonRevoked {
		t.Fatalf("revoked by peer: %v %q", ok, reason)
	}
	if _, err := tr.ApplyRevocation(rev1); !IsStaleRevocation(err) {
		t.Fatalf("older list replayed: %v", err)
	}
	impostor := &OrgKey{Name: "acme", ID: acme.ID, Priv: globex.Priv}
	forged, _ := impostor.SignRevocation(&Revocation{Seq: 9})
	if _, err := tr.ApplyRevocation(forged); err == nil {
		t.Fatal("forged revocation list accepted")
	}
	untrusted, _ := globex.SignRevocation(&Revocation{Seq: 1})
	if _, err := tr.ApplyRevocation(untrusted); err == nil {
		t.Fatal("revocation list of an untrusted org accepted")
	}
	if string(tr.RevocationOf(acme.ID)) != string(rev2) {
		t.Fatal("newest list not kept")
	}
}

func TestVerificationIsCached(t *testing.T) {
	acme := newOrg(t, "acme")
	tr := trusting(t, acme)
	a := newPeerID(t)
	cred, _ := acme.Issue(a, time.Now().Add(-time.Minute), time.Hour, 1)
	for range 100 {
		tr.Verify(cred, a.String(), "acme", time.Now())
		tr.Verify([]byte("junk"), a.String(), "acme", time.Now())
	}
	if len(tr.cache) != 2 {
		t.Fatalf("cache holds %d entries after 200 verifications of 2 credentials", len(tr.cache))
	}
}

func TestTrustReplace(t *testing.T) {
	acme, globex, initech := newOrg(t, "acme"), newOrg(t, "globex"), newOrg(t, "initech")
	tr := trusting(t, acme)
	if _, err := tr.AddID(string(initech.ID)); err != nil {
		t.Fatal(err)
	}
	a, i := newPeerID(t), newPeerID(t)
	now := time.Now()
	credA, _ := acme.Issue(a, now.Add(-time.Minute), time.Hour, 1)
	credI, _ := initech.Issue(i, now.Add(-time.Minute), time.Hour, 1)
	if _, ok, _ := tr.Verify(credI, i.String(), "initech", now); !ok { // binds initech's ID to its name
		t.Fatal("bare-ID credential refused")
	}
	rev, _ := acme.SignRevocation(&Revocation{Seq: 3, Issued: now})
	if _, err := tr.ApplyRevocation(rev); err != nil {
		t.Fatal(err)
	}

	next := trusting(t, globex)
	next.AddID(string(initech.ID))
	added, removed := tr.Replace(next)
	if len(added) != 1 || added[globex.ID] != "globex" || len(removed) != 1 || removed[acme.ID] != "acme" {
		t.Fatalf("added %v, removed %v; want globex added, acme removed", added, removed)
	}
	if _, ok, _ := tr.Verify(credA, a.String(), "acme", now); ok || trusted(tr, acme.ID) || !trusted(tr, globex.ID) {
		t.Fatal("acme still trusted after the replace")
	}
	if got := tr.Names(); strings.Join(got, ",") != "globex,initech" {
		t.Fatalf("names %v: initech's bound name was lost", got)
	}
	if string(tr.RevocationOf(acme.ID)) != string(rev) {
		t.Fatal("revocation list dropped by the replace")
	}
	tr.Replace(trusting(t, acme)) // trusted again: its list applies again
	if _, err := tr.ApplyRevocation(rev); !IsStaleRevocation(err) {
		t.Fatalf("the kept list was forgotten: %v", err)
	}
}
