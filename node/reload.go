package node

import (
	"os"
	"time"

	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

// ReloadConfig is the part of Config a running node takes without a
// restart (`orgpeer run` reloads on SIGHUP).
type ReloadConfig struct {
	Trust           []string // trusted organizations: .org files or bare org IDs; replaces Config.Trust
	RevocationFiles []string // revocation lists to enforce and spread; newer ones replace those held
}

// Reload re-reads the trust list and the revocation lists. Everything is
// read and checked first: on an error (a *ConfigError) nothing changed.
// The peers of an organization no longer trusted lose their verified mark
// at once; those of a newly trusted one gain it with their next heartbeat.
// It logs what changed.
func (n *Node) Reload(rc ReloadConfig) error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	next := orgs.NewTrust()
	for _, spec := range rc.Trust {
		if _, _, err := orgfile.Trust(next, spec); err != nil {
			return configErr("--trust %v", err)
		}
	}
	lists := make([][]byte, len(rc.RevocationFiles))
	for i, path := range rc.RevocationFiles {
		raw, err := os.ReadFile(path)
		if err != nil {
			return configErr("--revocations: %v", unwrapPathErr(err))
		}
		if _, err := next.ApplyRevocation(raw); err != nil && !orgs.IsStaleRevocation(err) {
			return configErr("--revocations %s: %v", path, err)
		}
		lists[i] = raw
	}

	m := n.member
	added, removed := m.trust.Replace(next)
	for id, name := range removed {
		k := n.view.Unverify(func(p orgs.PeerInfo) bool { return p.OrgID == string(id) })
		n.log.Info("reload: organization no longer trusted", "org", name, "org_id", id, "peers_unverified", k)
	}
	for id, name := range added {
		n.log.Info("reload: organization trusted", "org", name, "org_id", id)
		if name != "" {
			n.view.KeepOrg(name)
		}
	}
	if len(added) > 0 {
		stored, err := n.dir.Revocations()
		if err != nil {
			n.log.Warn("reload: stored revocation lists", "err", err)
		}
		for _, r := range stored {
			m.trust.ApplyRevocation(r.Raw) // the kept lists of organizations trusted again
		}
	}
	applied := 0
	for i, raw := range lists {
		r, err := m.addRevocation(raw)
		if r == nil {
			continue // not newer than the list held
		}
		if err != nil {
			n.log.Warn("reload: cannot store revocation list", "org", r.OrgName, "err", err)
		}
		k := n.view.Unverify(revokedBy(r))
		n.log.Info("reload: revocation list applied", "org", r.OrgName, "seq", r.Seq, "file", rc.RevocationFiles[i], "peers_unverified", k)
		applied++
	}
	n.verifySelf()
	if len(added)+len(removed)+applied == 0 {
		n.log.Info("reload: trust and revocation lists unchanged")
	}
	return nil
}

// verifySelf marks the node's own entry verified when it holds a credential
// of an organization it trusts: at start and after a reload.
func (n *Node) verifySelf() {
	own := n.member.own
	if own == nil {
		return
	}
	_, verified, _ := n.member.trust.Verify(n.member.cred, n.info.PeerID, n.cfg.Org, time.Now())
	n.view.UpdateSelf(func(p *orgs.PeerInfo) {
		p.Verified, p.Serial, p.OrgID = verified, own.Serial, ""
		if verified {
			p.OrgID = string(own.OrgID)
		}
	})
}
