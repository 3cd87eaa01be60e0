package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/viewtable"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/node/datadir"
	"github.com/orgpeer/orgpeer/orgs"
)

// target is how a query command reaches a node: --api or --data-dir.
type target struct {
	api, dataDir, token *string
	asJSON              *bool
}

func targetFlags(fs *flag.FlagSet) target {
	return target{
		api:     fs.String("api", "", "API address of the node (host:port)"),
		dataDir: fs.String("data-dir", "", "data dir of a node running on this machine (reads its node.json)"),
		token:   fs.String("api-token", os.Getenv("ORGPEER_API_TOKEN"), "bearer token of the API (env ORGPEER_API_TOKEN)"),
		asJSON:  fs.Bool("json", false, "print JSON for scripts"),
	}
}

func (t target) client() (*api.Client, error) {
	switch {
	case *t.api != "" && *t.dataDir != "":
		return nil, usagef("give --api or --data-dir, not both")
	case *t.api != "":
		return api.NewClient(*t.api, *t.token), nil
	case *t.dataDir != "":
		info, err := api.ReadInfo(*t.dataDir)
		if err != nil {
			return nil, err
		}
		return api.NewClient(info.API, *t.token), nil
	}
	return nil, usagef("give --api ADDR or --data-dir DIR to reach a node")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func viewCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("view", stdout)
	t := targetFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := t.client()
	if err != nil {
		return err
	}
	s, err := c.View(ctx)
	if err != nil {
		return err
	}
	if *t.asJSON {
		return printJSON(stdout, s)
	}
	viewtable.Write(stdout, s)
	return nil
}

func peersCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("peers", stdout)
	t := targetFlags(fs)
	org := fs.String("org", "", "only this organization")
	state := fs.String("state", "", "only peers in this state: alive, suspect or left")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := api.ParsePeerQuery(*org, *state); err != nil {
		return usagef("peers: %v", err)
	}
	c, err := t.client()
	if err != nil {
		return err
	}
	ps, err := c.Peers(ctx, *org, *state)
	if err != nil {
		return err
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
	if err := parseFlags(fs, args); err != nil {
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
	return nil
}

// selfInfo asks the running node; without one it reads, or creates, the
// identity in the data dir so that a credential can be issued before the
// node ever runs.
func selfInfo(ctx context.Context, t target) (api.SelfInfo, error) {
	if *t.api != "" || *t.dataDir == "" {
		c, err := t.client()
		if err != nil {
			return api.SelfInfo{}, err
		}
		return c.Self(ctx)
	}
	info, err := api.ReadInfo(*t.dataDir)
	if err == nil {
		live, err := api.NewClient(info.API, *t.token).Self(ctx)
		if err == nil {
			return live, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return api.SelfInfo{}, err
	}
	priv, err := datadir.LoadOrCreateIdentity(*t.dataDir)
	if err != nil {
		return api.SelfInfo{}, err
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return api.SelfInfo{}, err
	}
	return api.SelfInfo{PeerID: id.String()}, nil
}
