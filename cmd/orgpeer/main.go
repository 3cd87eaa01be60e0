// Command orgpeer is a libp2p peer that counts, from its own partial view,
// how many peers of each organization it can reach. `orgpeer run` is the
// node; the other subcommands query a running node or drive many of them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/bench"
	"github.com/orgpeer/orgpeer/node/hostfloor"
)

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name, args, help string
	run              func(ctx context.Context, args []string, stdout io.Writer) error
}

// commands is the command table; set in init, as completion reads it.
var commands []command

func init() {
	commands = []command{
		{"run", "--org NAME [--data-dir DIR] [--config FILE] [flags]", "run a node", runCmd},
		{"view", "[--data-dir DIR | --api ADDR] [--json | --watch]", "per-organization counts of a running node", viewCmd},
		{"peers", "[--data-dir DIR | --api ADDR] [--org O] [--state S] [--json]", "the peers this node actually heard, behind the counts", peersCmd},
		{"watch", "[--data-dir DIR | --api ADDR] [--org O] [--json]", "a running node's changes as they happen, one line each", watchCmd},
		{"explain", "PEER_ID [--data-dir DIR | --api ADDR] [--json]", "everything a running node knows of one peer, and why", explainCmd},
		{"id", "[--data-dir DIR | --api ADDR] [--json]", "peer ID and a --bootstrap line for other machines (creates the identity if missing)", idCmd},
		{"org", "init|issue|revoke|show [flags]", "organization keys, membership credentials and revocations", orgCmd},
		{"bench", "[--nodes N,...] [--orgs K] [--runs R] [--json]", "measure convergence, failure detection and per-node costs with real nodes", benchCmd},
		{"demo", "[--nodes N] [--orgs K] [--hosts H] [--churn I] [--duration D] [--web ADDR]", "run many real nodes on this machine, change them, and compare their counts with the truth", demoCmd},
		{"version", "", "version, VCS revision and Go of this binary (also --version)", versionCmd},
		{"completion", "bash|zsh", "shell completion script for every command and flag", completionCmd},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout)
	stop()
	var ue *usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "orgpeer:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "orgpeer:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == bench.FloorCommand { // started by `orgpeer bench`; not in the help
		return benchFloorCmd(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == bench.HostFloorCommand { // started by `orgpeer bench --host-floor`; not in the help
		return hostfloor.Run(ctx, args[1:], os.Stdin, stdout)
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		return versionCmd(ctx, args[1:], stdout)
	}
	return runSub(ctx, "orgpeer", commands, args, stdout)
}

// runSub runs the command args[0] of cmds (prefix names the level, for
// messages), or prints their usage for -h, --help and help.
func runSub(ctx context.Context, prefix string, cmds []command, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stdout, "usage: %s COMMAND [flags]\n\ncommands:\n", prefix)
		for _, c := range cmds {
			fmt.Fprintf(stdout, "  %s\n             %s\n", strings.TrimSpace(fmt.Sprintf("%-10s %s", c.name, c.args)), c.help)
		}
		fmt.Fprintf(stdout, "\n`%s COMMAND -h` lists a command's flags.\n", prefix)
		if len(args) == 0 {
			return usagef("no command given (try: %s help)", prefix)
		}
		return nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	return usagef("unknown command %q (try: %s help)", args[0], prefix)
}

// newFlags returns a flag set that reports errors as one line (usageError)
// and prints its defaults only for -h.
func newFlags(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("orgpeer "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		if r, ok := stdout.(*flagRecorder); ok { // completion asks, not a user
			r.fs = fs
			return
		}
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: orgpeer %s [flags]\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// describe makes fs's usage say what its command does, in text, before the
// flags.
func describe(fs *flag.FlagSet, stdout io.Writer, text string) {
	usage := fs.Usage
	fs.Usage = func() {
		if _, ok := stdout.(*flagRecorder); !ok {
			fmt.Fprintln(stdout, text)
		}
		usage()
	}
}

// parseFlags parses args, turning every failure into a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // Parse has printed the usage
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// listFlag is a repeatable string flag; commas also separate values.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return fmt.Sprint(l.vals) }
func (l *listFlag) Set(s string) error {
	l.set = true
	for _, v := range splitComma(s) {
		l.vals = append(l.vals, v)
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
