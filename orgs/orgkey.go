package orgs

import (
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multibase"
)

// OrgID names an organization by its public key, self-certifying the way a
// libp2p peer ID is: it is the peer ID of the org key, written as a CIDv1
// (libp2p-key codec) in base36, like an IPNS name ("k51q...").
type OrgID string

// OrgIDFromKey derives the ID of the organization whose public key is pub.
func OrgIDFromKey(pub crypto.PubKey) (OrgID, error) {
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return "", err
	}
	s, err := peer.ToCid(id).StringOfBase(multibase.Base36)
	if err != nil {
		return "", err
	}
	return OrgID(s), nil
}

// ParseOrgID checks s and returns the org public key it names.
func ParseOrgID(s string) (OrgID, crypto.PubKey, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return "", nil, fmt.Errorf("org ID %q: %w", s, err)
	}
	id, err := peer.FromCid(c)
	if err != nil {
		return "", nil, fmt.Errorf("org ID %q: %w", s, err)
	}
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return "", nil, fmt.Errorf("org ID %q does not embed its key: %w", s, err)
	}
	canon, err := OrgIDFromKey(pub)
	if err != nil {
		return "", nil, err
	}
	return canon, pub, nil
}

// Short abbreviates an org ID for tables.
func (id OrgID) Short() string {
	if len(id) <= 12 {
		return string(id)
	}
	return string(id[:4]) + "…" + string(id[len(id)-6:])
}

// OrgKey is an organization's signing key. Only its administrators hold it.
type OrgKey struct {
	Name string
	ID   OrgID
	Priv crypto.PrivKey
}

// PublicOrg is what other operators are given to trust an organization.
type PublicOrg struct {
	Name      string `json:"name"`
	ID        OrgID  `json:"org_id"`
	PublicKey []byte `json:"public_key"` // libp2p protobuf encoding
}

type orgKeyFile struct {
	Name       string `json:"name"`
	ID         OrgID  `json:"org_id"`
	PrivateKey []byte `json:"private_key"` // libp2p protobuf encoding
}

// NewOrgKey generates an Ed25519 org key.
func NewOrgKey(name string) (*OrgKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	id, err := OrgIDFromKey(priv.GetPublic())
	if err != nil {
		return nil, err
	}
	return &OrgKey{Name: name, ID: id, Priv: priv}, nil
}

// Public returns the public half, for a .org file.
func (k *OrgKey) Public() PublicOrg {
	pub, _ := crypto.MarshalPublicKey(k.Priv.GetPublic())
	return PublicOrg{Name: k.Name, ID: k.ID, PublicKey: pub}
}

// Marshal encodes the private key file and the public .org file.
func (k *OrgKey) Marshal() (keyFile, orgFile []byte, err error) {
	raw, err := crypto.MarshalPrivateKey(k.Priv)
	if err != nil {
		return nil, nil, err
	}
	keyFile, _ = json.MarshalIndent(orgKeyFile{Name: k.Name, ID: k.ID, PrivateKey: raw}, "", "  ")
	orgFile, _ = json.MarshalIndent(k.Public(), "", "  ")
	return append(keyFile, '\n'), append(orgFile, '\n'), nil
}

// ParseOrgKey decodes a private org key file and checks that it is whole.
func ParseOrgKey(b []byte) (*OrgKey, error) {
	var f orgKeyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not an org key file: %v", err)
	}
	priv, err := crypto.UnmarshalPrivateKey(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("corrupt org key: %v", err)
	}
	id, err := OrgIDFromKey(priv.GetPublic())
	if err != nil {
		return nil, err
	}
	if id != f.ID {
		return nil, fmt.Errorf("its key does not match its org ID %s", f.ID)
	}
	return &OrgKey{Name: f.Name, ID: id, Priv: priv}, nil
}

// ParsePublicOrg decodes a .org file and checks that its ID matches its key.
func ParsePublicOrg(b []byte) (PublicOrg, crypto.PubKey, error) {
	var p PublicOrg
	if err := json.Unmarshal(b, &p); err != nil {
		return p, nil, fmt.Errorf("not a .org file: %v", err)
	}
	pub, err := crypto.UnmarshalPublicKey(p.PublicKey)
	if err != nil {
		return p, nil, fmt.Errorf("public key: %v", err)
	}
	id, err := OrgIDFromKey(pub)
	if err != nil {
		return p, nil, err
	}
	if id != p.ID {
		return p, nil, fmt.Errorf("org ID %s does not match its public key (%s)", p.ID, id)
	}
	return p, pub, nil
}
