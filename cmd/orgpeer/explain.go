package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// explainCmd prints what a node knows of one peer.
func explainCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("explain", stdout)
	t := targetFlags(fs)
	id, err := parseFlagsAndArg(fs, args, "PEER_ID")
	if err != nil {
		return err
	}
	if err := targetEnv(fs); err != nil {
		return err
	}
	if _, err := peer.Decode(id); err != nil {
		return usagef("explain: %q is not a peer ID", id)
	}
	c, err := t.connect()
	if err != nil {
		return err
	}
	x, err := c.Explain(ctx, id)
	if err != nil {
		return c.explain(err)
	}
	if *t.asJSON {
		return printJSON(stdout, x)
	}
	writeExplanation(stdout, x)
	return nil
}

// parseFlagsAndArg parses args, which hold one argument (shown as name)
// before, among or after the flags, and returns that argument.
func parseFlagsAndArg(fs *flag.FlagSet, args []string, name string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() == 0 {
		return "", usagef("%s: give the %s", fs.Name(), name)
	}
	arg := fs.Arg(0)
	return arg, parseFlags(fs, fs.Args()[1:])
}

// writeExplanation prints an explanation: its summary, then the evidence.
func writeExplanation(w io.Writer, x api.Explanation) {
	fmt.Fprintf(w, "peer %s: %s\n", x.PeerID, x.Known)
	for _, s := range x.Summary {
		fmt.Fprintf(w, "  %s\n", s)
	}
	at := func(t time.Time) string { return t.Local().Format("15:04:05.000") }
	if len(x.Transitions) > 0 {
		fmt.Fprintln(w, "\ntransitions (oldest first):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, tr := range x.Transitions {
			from, to := api.FromName(tr.From), api.ToName(tr.To)
			change := from + " -> " + to
			if tr.From == tr.To {
				change = "still " + to
			}
			ver := "-"
			if tr.Version != (orgs.Version{}) {
				ver = fmt.Sprintf("%d/%d", tr.Version.Epoch, tr.Version.Seq)
			}
			verified := ""
			if tr.WasVerified != tr.Verified {
				verified = fmt.Sprintf("verified %t -> %t", tr.WasVerified, tr.Verified)
			}
			fmt.Fprintf(tw, "  %s\t%s\tby %s\t%s\t%s\t%s\n", at(tr.At), change, tr.Cause, ver, verified, tr.Reason)
		}
		tw.Flush()
	}
	if len(x.Probes) > 0 {
		fmt.Fprintln(w, "\nprobes (oldest first):")
		for _, p := range x.Probes {
			verdict := "inconclusive (an address answered or timed out)"
			if p.Refused {
				verdict = "every TCP address refused: gone"
			}
			fmt.Fprintf(w, "  %s  %s\n", at(p.At), verdict)
		}
	}
	if x.Peer != nil && len(x.Peer.Addrs) > 0 {
		fmt.Fprintln(w, "\naddresses it announced:")
		for _, a := range x.Peer.Addrs {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	if len(x.Connections) > 0 {
		fmt.Fprintln(w, "\nconnections of this node to it:")
		for _, a := range x.Connections {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	if r := x.Refusals; r != nil {
		fmt.Fprintf(w, "\nrefused messages: %d, %s to %s\n", r.Total, at(r.First), at(r.Last))
		for _, k := range slices.Sorted(maps.Keys(r.ByReason)) {
			fmt.Fprintf(w, "  %-40s %d\n", k, r.ByReason[k])
		}
	}
}
