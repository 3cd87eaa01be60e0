package orgfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/orgpeer/orgpeer/orgs"
)

// errExists is returned instead of overwriting a key file.
var errExists = errors.New("already exists; refusing to overwrite it")

// SaveKey writes the private key file (mode 0600) and the public .org file.
// It refuses to overwrite either: a lost org key cannot be made again.
func SaveKey(k *orgs.OrgKey, keyPath, orgPath string) error {
	for _, p := range []string{keyPath, orgPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s %w", p, errExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	key, org, err := k.Marshal()
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(keyPath, key, 0o600); err != nil {
		return err
	}
	return WriteFileAtomic(orgPath, org, 0o644)
}

// LoadKey reads a private org key file.
func LoadKey(path string) (*orgs.OrgKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("org key: %w", err)
	}
	k, err := orgs.ParseOrgKey(b)
	if err != nil {
		return nil, fmt.Errorf("org key %s: %v", path, err)
	}
	return k, nil
}

// LoadPublic reads a .org file.
func LoadPublic(path string) (orgs.PublicOrg, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return orgs.PublicOrg{}, err
	}
	p, _, err := orgs.ParsePublicOrg(b)
	if err != nil {
		return p, fmt.Errorf("%s: %v", path, err)
	}
	return p, nil
}

// Trust adds to t the organization that spec names: the path of its .org
// file or its bare org ID. It returns the org ID and name ("" for an ID).
func Trust(t *orgs.Trust, spec string) (orgs.OrgID, string, error) {
	if _, err := os.Stat(spec); err == nil || strings.HasSuffix(spec, ".org") {
		b, err := os.ReadFile(spec)
		if err != nil {
			return "", "", fmt.Errorf("%s: %v", spec, err)
		}
		p, pub, err := orgs.ParsePublicOrg(b)
		if err != nil {
			return "", "", fmt.Errorf("%s: %v", spec, err)
		}
		t.AddOrg(p, pub)
		return p.ID, p.Name, nil
	}
	id, err := t.AddID(spec)
	if err != nil {
		return "", "", fmt.Errorf("%q is neither a .org file nor an org ID: %v", spec, err)
	}
	return id, "", nil
}
