package orgfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgpeer/orgpeer/orgs"
)

func TestOrgKeyFiles(t *testing.T) {
	k := newKey(t, "acme")
	dir := t.TempDir()
	kp, op := filepath.Join(dir, "acme.orgkey"), filepath.Join(dir, "acme.org")
	if err := SaveKey(k, kp, op); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(kp); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode().Perm())
	}
	if err := SaveKey(k, kp, op+"2"); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("overwrite: %v", err)
	}
	back, err := LoadKey(kp)
	if err != nil || back.ID != k.ID || back.Name != "acme" {
		t.Fatalf("load: %v %+v", err, back)
	}
	p, err := LoadPublic(op)
	if err != nil || p.ID != k.ID {
		t.Fatalf("load public: %v", err)
	}
	// A .org file whose ID was edited to another org's is refused.
	other := newKey(t, "acme")
	b, _ := os.ReadFile(op)
	os.WriteFile(op, []byte(strings.ReplaceAll(string(b), string(k.ID), string(other.ID))), 0o644)
	if _, err := LoadPublic(op); err == nil {
		t.Fatal("tampered .org file accepted")
	}
	os.WriteFile(kp, []byte("{}"), 0o600)
	if _, err := LoadKey(kp); err == nil {
		t.Fatal("corrupt key file accepted")
	}
}

func TestTrustSpec(t *testing.T) {
	k := newKey(t, "acme")
	dir := t.TempDir()
	kp, op := filepath.Join(dir, "acme.orgkey"), filepath.Join(dir, "acme.org")
	if err := SaveKey(k, kp, op); err != nil {
		t.Fatal(err)
	}
	tr := orgs.NewTrust()
	if id, name, err := Trust(tr, op); err != nil || id != k.ID || name != "acme" {
		t.Fatalf("trust by file: %v %v %v", id, name, err)
	}
	if id, name, err := Trust(tr, string(k.ID)); err != nil || id != k.ID || name != "" {
		t.Fatalf("trust by ID: %v %v %v", id, name, err)
	}
	if _, _, err := Trust(tr, "k51notanid"); err == nil || !strings.Contains(err.Error(), "neither a .org file nor an org ID") {
		t.Fatalf("garbage spec: %v", err)
	}
	if _, _, err := Trust(tr, filepath.Join(dir, "missing.org")); err == nil {
		t.Fatal("a missing .org file was trusted")
	}
}

func newKey(t testing.TB, name string) *orgs.OrgKey {
	t.Helper()
	k, err := orgs.NewOrgKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
