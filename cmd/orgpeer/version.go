package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/orgpeer/orgpeer/node"
)

func versionCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("version", stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(bi))
	return nil
}

// versionText is what `orgpeer version` prints: the protocol and API
// version (node.Version), then what the build recorded: the module's
// version ("(devel)" for a build from a checkout), the VCS revision and its
// time, whether the tree had uncommitted changes, and the Go release.
func versionText(bi *debug.BuildInfo) string {
	s := fmt.Sprintf("orgpeer %s\n", node.Version)
	if bi == nil {
		return s + "build:    no build information in this binary\n"
	}
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	s += fmt.Sprintf("module:   %s %s\n", bi.Main.Path, bi.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		s += fmt.Sprintf("revision: %s", rev)
		if t := settings["vcs.time"]; t != "" {
			s += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			s += ", with uncommitted changes"
		}
		s += "\n"
	}
	return s + fmt.Sprintf("go:       %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
