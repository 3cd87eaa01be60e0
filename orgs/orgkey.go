package orgs

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

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

// errExists is returned instead of overwriting a key file.
var errExists = errors.New("already exists; refusing to overwrite it")

// Save writes the private key file (mode 0600) and, beside it, the public
// .org file. It refuses to overwrite either.
func (k *OrgKey) Save(keyPath, orgPath string) error {
	for _, p := range []string{keyPath, orgPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s %w", p, errExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	raw, err := crypto.MarshalPrivateKey(k.Priv)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(orgKeyFile{Name: k.Name, ID: k.ID, PrivateKey: raw}, "", "  ")
	if err := WriteFileAtomic(keyPath, append(b, '\n'), 0o600); err != nil {
		return err
	}
	b, _ = json.MarshalIndent(k.Public(), "", "  ")
	return WriteFileAtomic(orgPath, append(b, '\n'), 0o644)
}

// LoadOrgKey reads a private org key file and checks that it is whole.
func LoadOrgKey(path string) (*OrgKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("org key: %w", err)
	}
	var f orgKeyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("org key %s is not an org key file: %v", path, err)
	}
	priv, err := crypto.UnmarshalPrivateKey(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("org key %s is corrupt: %v", path, err)
	}
	id, err := OrgIDFromKey(priv.GetPublic())
	if err != nil {
		return nil, err
	}
	if id != f.ID {
		return nil, fmt.Errorf("org key %s: its key does not match its org ID %s", path, f.ID)
	}
	return &OrgKey{Name: f.Name, ID: id, Priv: priv}, nil
}

// LoadPublicOrg reads a .org file and checks that its ID matches its key.
func LoadPublicOrg(path string) (PublicOrg, crypto.PubKey, error) {
	var p PublicOrg
	b, err := os.ReadFile(path)
	if err != nil {
		return p, nil, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, nil, fmt.Errorf("%s is not a .org file: %v", path, err)
	}
	pub, err := crypto.UnmarshalPublicKey(p.PublicKey)
	if err != nil {
		return p, nil, fmt.Errorf("%s: public key: %v", path, err)
	}
	id, err := OrgIDFromKey(pub)
	if err != nil {
		return p, nil, err
	}
	if id != p.ID {
		return p, nil, fmt.Errorf("%s: org ID %s does not match its public key (%s)", path, p.ID, id)
	}
	return p, pub, nil
}
