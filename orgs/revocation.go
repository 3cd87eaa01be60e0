package orgs

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/record"
)

// Revocation is an organization's signed list of withdrawn credentials, by
// serial or by peer ID. Each list replaces the previous one (higher Seq), so
// a node keeps only the newest per organization.
type Revocation struct {
	OrgID   OrgID     `json:"org_id"`
	OrgName string    `json:"org"`
	Seq     uint64    `json:"seq"`
	Issued  time.Time `json:"issued"`
	Serials []uint64  `json:"serials,omitempty"`
	Peers   []string  `json:"peers,omitempty"`
}

var _ record.Record = (*Revocation)(nil)

// Domain implements record.Record.
func (*Revocation) Domain() string { return revocationDomain }

// Codec implements record.Record.
func (*Revocation) Codec() []byte { return revocationCodec }

// MarshalRecord implements record.Record.
func (r *Revocation) MarshalRecord() ([]byte, error) { return json.Marshal(r) }

// UnmarshalRecord implements record.Record.
func (r *Revocation) UnmarshalRecord(b []byte) error { return json.Unmarshal(b, r) }

func (r *Revocation) orgID() OrgID { return r.OrgID }

// Revokes reports whether m is withdrawn by this list.
func (r *Revocation) Revokes(m *Membership) bool {
	return r.OrgID == m.OrgID && (slices.Contains(r.Serials, m.Serial) || slices.Contains(r.Peers, m.PeerID))
}

// SignRevocation seals r (its org fields set from k) with the org key.
func (k *OrgKey) SignRevocation(r *Revocation) ([]byte, error) {
	r.OrgID, r.OrgName = k.ID, k.Name
	env, err := record.Seal(r, k.Priv)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// OpenRevocation checks a revocation list's signature and that its org ID is
// the key that signed it.
func OpenRevocation(b []byte) (*Revocation, error) {
	var r Revocation
	if err := openSealed(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
