package node

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/node/nodetest"
	"github.com/orgpeer/orgpeer/orgs"
)

// TestReloadTrustAndRevocations: a running node starts trusting an
// organization, refuses a bad trust list keeping the old one, enforces a
// new revocation list and stops trusting, each without a restart.
func TestReloadTrustAndRevocations(t *testing.T) {
	acme, acmePub := savedOrgKey(t, "acme")
	globex, globexPub := savedOrgKey(t, "globex")
	keys := map[string]*orgs.OrgKey{"acme": acme, "globex": globex}
	ids := map[string]peer.ID{}
	withCred := func(cfg *Config) {
		priv, err := datadir.LoadOrCreateIdentity(cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(priv)
		ids[cfg.Org] = id
		cred, _ := keys[cfg.Org].Issue(id, time.Now().Add(-time.Minute), time.Hour, 1)
		cfg.CredentialFile = filepath.Join(cfg.DataDir, "member.cred")
		if err := os.WriteFile(cfg.CredentialFile, cred, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Trust = []string{acmePub, globexPub}
		if cfg.Org == "acme" {
			cfg.Trust = []string{acmePub}
		}
	}
	var logged nodetest.Buffer
	cfg := testConfig(t, "acme")
	withCred(&cfg)
	a, err := New(t.Context(), cfg, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	gcfg := testConfig(t, "globex")
	gcfg.Bootstrap = a.Info().Addrs[:1]
	withCred(&gcfg)
	newTestNode(t, gcfg)

	counts := func(want string) func() string {
		return func() string {
			s := a.view.Snapshot()
			a, g := s.OrgCounts("acme"), s.OrgCounts("globex")
			if got := fmt.Sprintf("acme %d/%d globex %d/%d", a.Verified, a.Alive, g.Verified, g.Alive); got != want {
				return fmt.Sprintf("verified/alive: %s, want %s", got, want)
			}
			return ""
		}
	}
	nodetest.Eventually(t, 20*time.Second, counts("acme 1/1 globex 0/1"))

	if err := a.Reload(ReloadConfig{Trust: []string{acmePub, globexPub}}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, counts("acme 1/1 globex 1/1"))
	if !strings.Contains(logged.String(), "reload: organization trusted") {
		t.Fatalf("the new trust was not logged:\n%s", logged.String())
	}

	missing := filepath.Join(t.TempDir(), "none.org")
	if err := a.Reload(ReloadConfig{Trust: []string{missing}}); err == nil || !strings.Contains(err.Error(), "none.org") {
		t.Fatalf("a missing trust file: %v", err)
	}
	if msg := counts("acme 1/1 globex 1/1")(); msg != "" {
		t.Fatalf("a refused reload changed the state: %s", msg)
	}

	rev, _ := globex.SignRevocation(&orgs.Revocation{Seq: 1, Issued: time.Now(), Peers: []string{ids["globex"].String()}})
	revPath := filepath.Join(t.TempDir(), "globex.revocations")
	os.WriteFile(revPath, rev, 0o600)
	if err := a.Reload(ReloadConfig{Trust: []string{acmePub, globexPub}, RevocationFiles: []string{revPath}}); err != nil {
		t.Fatal(err)
	}
	if msg := counts("acme 1/1 globex 0/1")(); msg != "" {
		t.Fatalf("after the revocation list: %s", msg)
	}

	if err := a.Reload(ReloadConfig{}); err != nil { // trusts nobody, itself included
		t.Fatal(err)
	}
	if msg := counts("acme 0/1 globex 0/1")(); msg != "" {
		t.Fatalf("after trusting nobody: %s", msg)
	}
	if !strings.Contains(logged.String(), "reload: organization no longer trusted") {
		t.Fatalf("the removal was not logged:\n%s", logged.String())
	}
}
