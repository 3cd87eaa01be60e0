package orgs

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// Reasons a credential is refused; they label the rejection metrics.
const (
	ReasonBadCredential = "credential-invalid"       // not a sealed membership, or not signed by its org key
	ReasonWrongPeer     = "credential-wrong-peer"    // issued to another peer than the sender
	ReasonWrongOrg      = "credential-wrong-org"     // for another organization than the one claimed
	ReasonExpired       = "credential-expired"       // past its expiry
	ReasonNotYetValid   = "credential-not-yet-valid" // before its start
	ReasonRevoked       = "credential-revoked"       // withdrawn by its organization
)

// Trust holds the organizations a node accepts credentials from, their
// newest revocation lists and a cache of opened credentials. It is safe for
// concurrent use.
type Trust struct {
	mu       sync.Mutex
	orgs     map[OrgID]trustedOrg
	revs     map[OrgID]storedRevocation
	cache    map[[32]byte]cached
	maxCache int
}

type trustedOrg struct {
	name string // "" when trusted by bare ID, until a credential verifies (bind)
	pub  crypto.PubKey
}

type storedRevocation struct {
	rec *Revocation
	raw []byte
}

// cached is the outcome of opening one credential: the signature check is
// never repeated for the same bytes.
type cached struct {
	m   *Membership
	err string
}

// NewTrust returns an empty trust store.
func NewTrust() *Trust {
	return &Trust{orgs: map[OrgID]trustedOrg{}, revs: map[OrgID]storedRevocation{},
		cache: map[[32]byte]cached{}, maxCache: 4096}
}

// AddOrg trusts the organization of a .org file.
func (t *Trust) AddOrg(p PublicOrg, pub crypto.PubKey) { t.add(p.ID, p.Name, pub) }

// AddID trusts an organization by its bare ID. It takes the name of the
// first credential of its key that verifies, and refuses credentials naming
// another, so that its key cannot vouch for members of any organization.
func (t *Trust) AddID(s string) (OrgID, error) {
	id, pub, err := ParseOrgID(s)
	if err != nil {
		return "", err
	}
	t.add(id, "", pub)
	return id, nil
}

func (t *Trust) add(id OrgID, name string, pub crypto.PubKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.orgs[id] = trustedOrg{name: name, pub: pub}
}

// Replace makes t trust exactly the organizations other trusts, as a
// reload of the trust list does; t keeps its revocation lists and cache,
// and the name a bare-ID organization took stays while other trusts it by
// the same bare ID. It returns the organizations added and removed, by ID,
// with their names ("" for an unnamed bare ID).
func (t *Trust) Replace(other *Trust) (added, removed map[OrgID]string) {
	other.mu.Lock()
	next := maps.Clone(other.orgs)
	other.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	added, removed = map[OrgID]string{}, map[OrgID]string{}
	for id, o := range t.orgs {
		n, ok := next[id]
		switch {
		case !ok:
			removed[id] = o.name
		case n.name == "":
			next[id] = o // same key (the ID names it); keep the name it took
		}
	}
	for id, o := range next {
		if _, ok := t.orgs[id]; !ok {
			added[id] = o.name
		}
	}
	t.orgs = next
	return added, removed
}

// Names lists the names of trusted organizations known by name.
func (t *Trust) Names() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, o := range t.orgs {
		if o.name != "" {
			out = append(out, o.name)
		}
	}
	slices.Sort(out)
	return out
}

// Verify judges the credential cred presented by peer in a message that
// claims organization org. It returns the membership when cred opened, and
// verified = true only for a valid credential of a trusted organization.
// A refused credential gives a reason (one of the Reason constants). No
// credential, or one of an untrusted organization, is a bare claim: not
// verified, no reason.
func (t *Trust) Verify(cred []byte, peer, org string, now time.Time) (m *Membership, verified bool, reason string) {
	if len(cred) == 0 {
		return nil, false, ""
	}
	m, reason = t.open(cred)
	if reason != "" {
		return nil, false, reason
	}
	switch {
	case m.PeerID != peer:
		return m, false, ReasonWrongPeer
	case m.OrgName != org:
		return m, false, ReasonWrongOrg
	}
	t.mu.Lock()
	o, trusted := t.orgs[m.OrgID]
	rev := t.revs[m.OrgID].rec
	t.mu.Unlock()
	switch {
	case !trusted:
		return m, false, ""
	case o.name != "" && o.name != m.OrgName:
		return m, false, ReasonWrongOrg
	case rev != nil && rev.Revokes(m):
		return m, false, ReasonRevoked
	}
	switch m.ValidAt(now) {
	case "expired":
		return m, false, ReasonExpired
	case "not yet valid":
		return m, false, ReasonNotYetValid
	}
	if o.name == "" && !t.bind(m.OrgID, m.OrgName) {
		return m, false, ReasonWrongOrg
	}
	return m, true, ""
}

// bind names the bare-ID organization id after a credential that verified,
// unless it is named already, so that its key vouches for one name only; it
// reports whether id's name is name.
func (t *Trust) bind(id OrgID, name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.orgs[id]
	if o.name == "" {
		o.name = name
		t.orgs[id] = o
	}
	return o.name == name
}

// open opens cred once; later calls with the same bytes hit the cache.
func (t *Trust) open(cred []byte) (*Membership, string) {
	key := sha256.Sum256(cred)
	t.mu.Lock()
	c, ok := t.cache[key]
	t.mu.Unlock()
	if ok {
		return c.m, c.err
	}
	m, err := OpenCredential(cred)
	c = cached{m: m}
	if err != nil {
		c = cached{err: ReasonBadCredential}
	}
	t.mu.Lock()
	if len(t.cache) >= t.maxCache {
		clear(t.cache)
	}
	t.cache[key] = c
	t.mu.Unlock()
	return c.m, c.err
}

// ApplyRevocation opens a revocation list and keeps it if it is from a
// trusted organization and newer than the one held. It returns the list
// when it was kept.
func (t *Trust) ApplyRevocation(raw []byte) (*Revocation, error) {
	r, err := OpenRevocation(raw)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.orgs[r.OrgID]
	if !ok {
		return nil, fmt.Errorf("revocation list of untrusted organization %s", r.OrgID)
	}
	if o.name != "" && o.name != r.OrgName {
		return nil, fmt.Errorf("revocation list names org %q, trusted as %q", r.OrgName, o.name)
	}
	if cur, ok := t.revs[r.OrgID]; ok && cur.rec.Seq >= r.Seq {
		return nil, errStaleRevocation
	}
	t.revs[r.OrgID] = storedRevocation{rec: r, raw: raw}
	return r, nil
}

var errStaleRevocation = fmt.Errorf("not newer than the revocation list held")

// IsStaleRevocation reports whether err says a revocation list was old news.
func IsStaleRevocation(err error) bool { return err == errStaleRevocation }

// RevocationOf returns the sealed newest revocation list of an organization.
func (t *Trust) RevocationOf(id OrgID) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.revs[id].raw
}
