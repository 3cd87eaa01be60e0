package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The module's import rules, written down so that the layout stays true: a
// package that starts to reach where it should not fails this test, as
// go-libp2p's core/ imports nothing of p2p/ and tailscale's ipnstate is a
// leaf by rule.

const module = "github.com/orgpeer/orgpeer"

// libp2pStack is what a client of the API must never link: the host, its
// transports, pubsub and the DHT. go-libp2p/core (keys, peer IDs, signed
// records) is allowed: credentials are built on it.
func libp2pStack(path string) bool {
	switch {
	case strings.HasPrefix(path, "github.com/libp2p/go-libp2p/core"):
		return false
	case path == "github.com/libp2p/go-libp2p", strings.HasPrefix(path, "github.com/libp2p/go-libp2p/"),
		strings.HasPrefix(path, "github.com/libp2p/go-libp2p-pubsub"),
		strings.HasPrefix(path, "github.com/libp2p/go-libp2p-kad-dht"):
		return true
	}
	return false
}

type goPackage struct {
	ImportPath string
	Imports    []string // direct imports of the non-test files
	Deps       []string // every package linked, transitively
}

func listPackages(t testing.TB) map[string]goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// ours returns the module's own packages among paths.
func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, p)
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	for _, e := range checkRules(listPackages(t)) {
		t.Error(e)
	}
}

// TestImportRulesCatchBreaks feeds the checker a layout that breaks each
// rule, so that the rules test can fail.
func TestImportRulesCatchBreaks(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	broken := map[string]goPackage{
		m("orgs"):                         {Imports: []string{"os"}, Deps: []string{"os", m("node/wire")}},
		m("discovery"):                    {Deps: []string{"github.com/libp2p/go-libp2p-pubsub"}},
		m("node/api"):                     {Deps: []string{m("orgs"), m("node/wire"), "github.com/libp2p/go-libp2p/p2p/host/basic"}},
		m("node/wire"):                    {Deps: []string{m("orgs"), m("node/datadir")}},
		m("node/nodetest"):                {Deps: []string{m("node")}},
		m("cmd/orgpeer/internal/bench"):   {Deps: []string{m("node/api"), "github.com/libp2p/go-libp2p-kad-dht"}},
		m("cmd/orgpeer/internal/cluster"): {Deps: []string{m("node")}},
	}
	for path, p := range broken {
		p.ImportPath = path
		broken[path] = p
	}
	errs := strings.Join(checkRules(broken), "\n")
	for _, want := range []string{"orgs imports os", "orgs imports " + m("node/wire"), "discovery links",
		"node/api links", "node/api imports " + m("node/wire"), "node/wire imports " + m("node/datadir"),
		"node/nodetest imports node", "internal/bench links", "internal/cluster imports " + m("node"),
		"package node is missing"} {
		if !strings.Contains(errs, want) {
			t.Errorf("a broken rule went unseen: no %q in\n%s", want, errs)
		}
	}
}

func checkRules(pkgs map[string]goPackage) (errs []string) {
	for _, want := range []string{"orgs", "discovery", "node", "node/wire", "node/api", "node/datadir",
		"node/nodetest", "orgs/orgfile", "cmd/orgpeer", "cmd/orgpeer/internal/cluster", "cmd/orgpeer/internal/bench"} {
		if _, ok := pkgs[module+"/"+want]; !ok {
			errs = append(errs, fmt.Sprintf("package %s is missing: the layout has changed; change this test with it", want))
		}
	}
	for path, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
		own := ours(p.Deps)
		allowOnly := func(rule string, allowed ...string) {
			for _, d := range own {
				ok := false
				for _, a := range allowed {
					ok = ok || d == module+"/"+a
				}
				if !ok {
					errs = append(errs, fmt.Sprintf("%s imports %s: %s", rel, d, rule))
				}
			}
		}
		switch {
		case rel == "orgs":
			allowOnly("orgs is pure logic and imports no other package of the module")
			for _, d := range p.Imports {
				if d == "os" || d == "flag" || strings.HasPrefix(d, "net") {
					errs = append(errs, fmt.Sprintf("orgs imports %s: it has no files, flags or network (an injected clock only)", d))
				}
			}
		case rel == "orgs/orgfile":
			allowOnly("orgs/orgfile is the files of orgs", "orgs")
		case rel == "discovery":
			allowOnly("discovery is the DHT only")
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/libp2p/go-libp2p-pubsub") {
					errs = append(errs, fmt.Sprintf("discovery links %s: it is the DHT only", d))
				}
			}
		case rel == "node/wire", rel == "node/api":
			allowOnly(rel+" imports at most orgs", "orgs")
			if rel == "node/api" {
				for _, d := range p.Deps {
					if libp2pStack(d) {
						errs = append(errs, fmt.Sprintf("node/api links %s: it is a leaf that a client links without the p2p stack", d))
					}
				}
			}
		case rel == "node/nodetest":
			for _, d := range own {
				if d == module+"/node" {
					errs = append(errs, "node/nodetest imports node: node's own tests use it")
				}
			}
		case strings.HasPrefix(rel, "cmd/orgpeer/internal/"):
			for _, d := range own {
				if d == module+"/node" || d == module+"/discovery" || d == module+"/node/datadir" {
					errs = append(errs, fmt.Sprintf("%s imports %s: the CLI's internal packages are clients of node/api and the cluster", rel, d))
				}
			}
			for _, d := range p.Deps {
				if libp2pStack(d) {
					errs = append(errs, fmt.Sprintf("%s links %s: the CLI's internal packages never link the libp2p stack", rel, d))
				}
			}
		}
	}
	return errs
}
