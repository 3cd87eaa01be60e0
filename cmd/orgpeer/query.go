package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/viewtable"
	"github.com/orgpeer/orgpeer/node"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/orgs"
)

// target is how a query command reaches a node: --api, else the node.json
// of --data-dir, else the node.json of the default data dir, else the
// default API address. Each flag may come from its ORGPEER_* variable.
type target struct {
	api, dataDir, token, tokenFile *string
	asJSON                         *bool
}

func targetFlags(fs *flag.FlagSet) target {
	return target{
		api:       fs.String("api", "", "API address of the node (host:port)"),
		dataDir:   fs.String("data-dir", "", "data `dir` of a node on this machine, whose node.json names its API (default: the one orgpeer run uses)"),
		token:     fs.String("api-token", "", "bearer token of the API (prefer ORGPEER_API_TOKEN or --api-token-file: a flag shows in ps)"),
		tokenFile: fs.String("api-token-file", "", "file holding the API's bearer token"),
		asJSON:    fs.Bool("json", false, "print JSON for scripts"),
	}
}

// parseTarget parses a query command's flags, the target's from the
// environment too (ORGPEER_API, ORGPEER_DATA_DIR, ORGPEER_API_TOKEN,
// ORGPEER_API_TOKEN_FILE).
func parseTarget(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return targetEnv(fs)
}

// targetEnv takes the target's flags not given from the environment.
func targetEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["api"] && given["data-dir"] {
		return usagef("give --api or --data-dir, not both")
	}
	names := []string{"api-token", "api-token-file"}
	switch {
	case given["api"]:
	case given["data-dir"]: // a data dir on the command line wins over ORGPEER_API
		names = append(names, "data-dir")
	default:
		names = append(names, "api", "data-dir")
	}
	return applyEnv(fs, names...)
}

// nodeConn is a node the CLI talks to, and how it was found.
type nodeConn struct {
	*api.Client
	dir      string        // the data dir whose node.json named it ("" for --api)
	info     *api.SelfInfo // that node.json
	fallback bool          // the default API address, as no node.json was found
}

func (t target) connect() (nodeConn, error) {
	token, err := apiToken(*t.token, *t.tokenFile)
	if err != nil {
		return nodeConn{}, err
	}
	if *t.api != "" {
		return nodeConn{Client: api.NewClient(*t.api, token)}, nil
	}
	dir, explicit := *t.dataDir, *t.dataDir != ""
	if !explicit {
		if dir, err = defaultDataDir(); err != nil {
			return nodeConn{}, err
		}
	}
	info, err := api.ReadInfo(dir)
	switch {
	case err == nil:
		return nodeConn{Client: api.NewClient(info.API, token), dir: dir, info: &info}, nil
	case explicit || !errors.Is(err, fs.ErrNotExist):
		return nodeConn{}, err
	}
	return nodeConn{Client: api.NewClient(node.DefaultAPIAddr, token), dir: dir, fallback: true}, nil
}

// explain says what a refused connection means: the node.json it came
// from is stale, or no node runs where the CLI looked.
func (c nodeConn) explain(err error) error {
	switch {
	case err == nil || !errors.Is(err, syscall.ECONNREFUSED):
		return err
	case c.fallback:
		return fmt.Errorf("no running node found: no %s in %s and nothing answers at %s (give --data-dir or --api)", api.InfoFile, c.dir, node.DefaultAPIAddr)
	case c.info != nil && c.info.PID > 0 && !processRunning(c.info.PID):
		return fmt.Errorf("%s in %s is stale (the node at pid %d is gone)", api.InfoFile, c.dir, c.info.PID)
	case c.info != nil:
		return fmt.Errorf("%s in %s is stale (nothing answers at %s)", api.InfoFile, c.dir, c.info.API)
	}
	return err
}

// processRunning reports whether a process pid exists (perhaps another
// user's).
func processRunning(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func viewCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("view", stdout)
	t := targetFlags(fs)
	watch := fs.Bool("watch", false, "redraw every second, like top, with a trend of alive per organization; Ctrl-C ends it")
	if err := parseTarget(fs, args); err != nil {
		return err
	}
	if *watch && *t.asJSON {
		return usagef("view: give --watch or --json, not both")
	}
	c, err := t.connect()
	if err != nil {
		return err
	}
	if *watch {
		return c.explain(viewWatch(ctx, c.Client, stdout))
	}
	s, err := c.View(ctx)
	if err != nil {
		return c.explain(err)
	}
	if *t.asJSON {
		return printJSON(stdout, s)
	}
	viewtable.Write(stdout, s)
	return nil
}

// peersHelp says what `orgpeer peers` lists: the view's own records, never
// the peerstore nor an estimate's members.
const peersHelp = `Lists the peers this node actually heard: every peer whose heartbeat, hello
or leave reached it, with its state, and never one it merely knows of (the
peerstore) or infers. For an organization whose count is an estimate (orgpeer
view marks it ~), these are the members it heard, fewer than the estimate.`

func peersCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("peers", stdout)
	describe(fs, stdout, peersHelp)
	t := targetFlags(fs)
	org := fs.String("org", "", "only this organization")
	state := fs.String("state", "", "only peers in this state: alive, suspect or left")
	if err := parseTarget(fs, args); err != nil {
		return err
	}
	if _, err := api.ParsePeerQuery(*org, *state); err != nil {
		return usagef("peers: %v", err)
	}
	c, err := t.connect()
	if err != nil {
		return err
	}
	ps, err := c.Peers(ctx, *org, *state)
	if err != nil {
		return c.explain(err)
	}
	if *t.asJSON {
		return printJSON(stdout, ps)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tORG\tORG ID\tSTATE\tCONNECTION\tVERIFIED\tHOST\tLAST SEEN\tLEARNED")
	now := time.Now()
	for _, p := range ps {
		name := p.PeerID
		if p.Self {
			name += " (self)"
		}
		id := "-"
		if p.OrgID != "" {
			id = orgs.OrgID(p.OrgID).Short()
		}
		conn := p.Conn // direct or relayed
		if conn == "" {
			conn = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%s\t%s ago\t%s\n", name, p.Org, id, p.State, conn, p.Verified,
			p.Host, now.Sub(p.LastSeen).Round(10*time.Millisecond), p.Learned)
	}
	return tw.Flush()
}

func idCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("id", stdout)
	t := targetFlags(fs)
	if err := parseTarget(fs, args); err != nil {
		return err
	}
	info, err := selfInfo(ctx, t)
	if err != nil {
		return err
	}
	if *t.asJSON {
		return printJSON(stdout, info)
	}
	fmt.Fprintf(stdout, "peer id: %s\n", info.PeerID)
	if info.Org != "" {
		fmt.Fprintf(stdout, "org:     %s\nhost:    %s\napi:     %s\n", info.Org, info.Host, info.API)
	} else {
		fmt.Fprintln(stdout, "(node not running: no organization or addresses yet)")
	}
	for _, a := range info.Addrs {
		fmt.Fprintf(stdout, "addr:    %s\n", a)
	}
	if a := bootstrapAddr(info.Addrs); a != "" {
		fmt.Fprintf(stdout, "\nto join through this node, on another machine:\n  --bootstrap %s\n", a)
	}
	return nil
}

// bootstrapAddr picks, of a node's full addresses, the one to give other
// machines: TCP on a routable address if there is one ("" for none).
func bootstrapAddr(addrs []string) string {
	best, rank := "", -1
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		r := 0
		if ip, err := manet.ToIP(a); err == nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			r += 2
		}
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			r++
		}
		if r > rank {
			best, rank = s, r
		}
	}
	return best
}

// selfInfo asks the running node; without one it reads, or creates, the
// identity in the data dir so that a credential can be issued before the
// node ever runs.
func selfInfo(ctx context.Context, t target) (api.SelfInfo, error) {
	var dir string
	c, err := t.connect()
	switch {
	case err == nil:
		live, err := c.Self(ctx)
		if err == nil || c.dir == "" || !errors.Is(err, syscall.ECONNREFUSED) {
			return live, c.explain(err)
		}
		dir = c.dir // a stale node.json, or nothing at the default API: no node runs
	case *t.dataDir != "" && errors.Is(err, fs.ErrNotExist):
		dir = *t.dataDir // no node.json: the node never ran or stopped cleanly
	default:
		return api.SelfInfo{}, err
	}
	priv, err := datadir.LoadOrCreateIdentity(dir)
	if err != nil {
		return api.SelfInfo{}, err
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return api.SelfInfo{}, err
	}
	return api.SelfInfo{PeerID: id.String()}, nil
}
