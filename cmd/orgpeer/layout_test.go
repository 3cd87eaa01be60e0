package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestInternalPackagesStayClients: the packages under internal/ reach the
// nodes through their API and the orgpeer binary only. They link neither
// the p2p stack (go-libp2p's core types, which orgs uses for keys, aside)
// nor the node or discovery packages (node/api, a leaf, aside).
func TestInternalPackagesStayClients(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/orgpeer/orgpeer/node/api",
			strings.HasPrefix(dep, "github.com/libp2p/go-libp2p/core/"):
		case dep == "github.com/libp2p/go-libp2p",
			strings.HasPrefix(dep, "github.com/libp2p/go-libp2p/"),
			strings.HasPrefix(dep, "github.com/libp2p/go-libp2p-pubsub"),
			strings.HasPrefix(dep, "github.com/libp2p/go-libp2p-kad-dht"),
			dep == "github.com/orgpeer/orgpeer/node",
			strings.HasPrefix(dep, "github.com/orgpeer/orgpeer/node/"),
			strings.HasPrefix(dep, "github.com/orgpeer/orgpeer/discovery"):
			t.Errorf("cmd/orgpeer/internal/... depends on %s", dep)
		}
	}
}
