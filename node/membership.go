package node

import (
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

// membership is what the node knows of proof: its own credential, the
// organizations it trusts and the revocation lists it enforces (kept in
// the data dir across restarts).
type membership struct {
	trust  *orgs.Trust
	cred   []byte           // own credential; nil for a bare claim
	credID []byte           // orgs.CredentialID(cred)
	own    *orgs.Membership // cred opened
	store  *datadir.Dir     // keeps the revocation lists across restarts
}

// loadMembership reads the trust list, the persisted and given revocation
// lists and the node's own credential. Mistakes in them are ConfigErrors:
// a node never starts on a credential that is not its own or not valid.
func loadMembership(cfg *Config, store *datadir.Dir, self peer.ID, now time.Time) (*membership, error) {
	m := &membership{trust: orgs.NewTrust(), store: store}
	for _, spec := range cfg.Trust {
		if _, _, err := orgfile.Trust(m.trust, spec); err != nil {
			return nil, configErr("--trust %v", err)
		}
	}
	stored, err := store.Revocations()
	if err != nil {
		return nil, err
	}
	for _, r := range stored {
		// A list of an organization no longer trusted is not enforced;
		// a damaged one stops the node, since the peers it revokes
		// would count verified again.
		if _, err := orgs.OpenRevocation(r.Raw); err != nil {
			return nil, fmt.Errorf("stored revocation list %s is damaged (%v): restore it, or remove it and pass the list again with --revocations", r.Path, err)
		}
		m.trust.ApplyRevocation(r.Raw)
	}
	for _, path := range cfg.RevocationFiles {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, configErr("--revocations: %v", unwrapPathErr(err))
		}
		if _, err := m.addRevocation(raw); err != nil && !orgs.IsStaleRevocation(err) {
			return nil, configErr("--revocations %s: %v", path, err)
		}
	}
	if cfg.CredentialFile == "" {
		return m, nil
	}
	raw, err := os.ReadFile(cfg.CredentialFile)
	if err != nil {
		return nil, configErr("--credential: %v", err)
	}
	own, err := orgs.OpenCredential(raw)
	if err != nil {
		return nil, configErr("--credential %s: %v", cfg.CredentialFile, err)
	}
	switch {
	case own.PeerID != self.String():
		return nil, configErr("--credential %s was issued to peer %s, but this node is %s", cfg.CredentialFile, own.PeerID, self)
	case own.OrgName != cfg.Org:
		return nil, configErr("--credential %s is for organization %q, but --org is %q", cfg.CredentialFile, own.OrgName, cfg.Org)
	case own.ValidAt(now) != "":
		return nil, configErr("--credential %s is %s (valid %s to %s)", cfg.CredentialFile, own.ValidAt(now),
			own.NotBefore.Format(time.RFC3339), own.NotAfter.Format(time.RFC3339))
	}
	if rev := m.trust.RevocationOf(own.OrgID); rev != nil {
		if r, _ := orgs.OpenRevocation(rev); r != nil && r.Revokes(own) {
			return nil, configErr("--credential %s has been revoked by %s", cfg.CredentialFile, own.OrgName)
		}
	}
	m.cred, m.own, m.credID = raw, own, orgs.CredentialID(raw)
	return m, nil
}

// addRevocation keeps a newer revocation list of a trusted organization and
// stores it in the data dir, so that it is enforced after a restart.
func (m *membership) addRevocation(raw []byte) (*orgs.Revocation, error) {
	r, err := m.trust.ApplyRevocation(raw)
	if err != nil {
		return nil, err
	}
	return r, m.store.SaveRevocation(string(r.OrgID), raw)
}

// ownRevocation is the newest revocation list of the node's own
// organization, which the node spreads; nil when there is none.
func (m *membership) ownRevocation() []byte {
	if m.own == nil {
		return nil
	}
	return m.trust.RevocationOf(m.own.OrgID)
}
