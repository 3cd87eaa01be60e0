package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/orgpeer/orgpeer/orgs"
	"github.com/orgpeer/orgpeer/orgs/orgfile"
)

var orgCommands = []command{
	{"init", "--name NAME --out NAME.orgkey", "create an organization key (and its public NAME.org)", orgInitCmd},
	{"issue", "--org-key K --peer ID --expires D --out FILE", "issue a membership credential to a peer", orgIssueCmd},
	{"revoke", "--org-key K (--peer ID | --serial N)... --out FILE", "add to the organization's signed revocation list", orgRevokeCmd},
	{"show", "FILE", "print a .org, .orgkey, credential or revocation file, with validity", orgShowCmd},
}

func orgCmd(ctx context.Context, args []string, stdout io.Writer) error {
	return runSub(ctx, "orgpeer org", orgCommands, args, stdout)
}

func orgInitCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("org init", stdout)
	name := fs.String("name", "", "organization name (required)")
	out := fs.String("out", "", "private key file to write (default NAME.orgkey); NAME.org is written beside it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !orgs.ValidName(*name) {
		return usagef("org init: --name %q: want 1-64 of a-z 0-9 . _ - (starting with a letter or digit)", *name)
	}
	if *out == "" {
		*out = *name + ".orgkey"
	}
	pubPath := strings.TrimSuffix(*out, ".orgkey") + ".org"
	k, err := orgs.NewOrgKey(*name)
	if err != nil {
		return err
	}
	if err := orgfile.SaveKey(k, *out, pubPath); err != nil {
		return usagef("org init: %v", err)
	}
	fmt.Fprintf(stdout, "org:     %s\norg id:  %s\nprivate: %s (keep it secret)\npublic:  %s (give it to whoever should trust %s)\n",
		k.Name, k.ID, *out, pubPath, k.Name)
	return nil
}

func loadKeyFlag(path string) (*orgs.OrgKey, error) {
	if path == "" {
		return nil, usagef("--org-key is required")
	}
	k, err := orgfile.LoadKey(path)
	if err != nil {
		return nil, usagef("--org-key: %v", err)
	}
	return k, nil
}

func orgIssueCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("org issue", stdout)
	keyPath := fs.String("org-key", "", "the organization's private key file (required)")
	peerStr := fs.String("peer", "", "peer ID of the member (from `orgpeer id`) (required)")
	expires := fs.Duration("expires", 720*time.Hour, "validity from --not-before")
	notBefore := fs.String("not-before", "", "start of validity, RFC 3339 (default: now)")
	serial := fs.Uint64("serial", 0, "serial number (default: random)")
	out := fs.String("out", "", "credential file to write (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k, err := loadKeyFlag(*keyPath)
	if err != nil {
		return err
	}
	p, err := peer.Decode(*peerStr)
	if err != nil {
		return usagef("org issue: --peer %q is not a peer ID", *peerStr)
	}
	if *out == "" {
		return usagef("org issue: --out is required")
	}
	if *expires <= 0 {
		return usagef("org issue: --expires must be positive")
	}
	from := time.Now()
	if *notBefore != "" {
		if from, err = time.Parse(time.RFC3339, *notBefore); err != nil {
			return usagef("org issue: --not-before: %v", err)
		}
	}
	if *serial == 0 {
		*serial = orgs.RandomSerial()
	}
	cred, err := k.Issue(p, from, *expires, *serial)
	if err != nil {
		return err
	}
	if err := orgfile.WriteFileAtomic(*out, cred, 0o644); err != nil {
		return err
	}
	m, _ := orgs.OpenCredential(cred)
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	printCredential(stdout, m)
	return nil
}

func orgRevokeCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("org revoke", stdout)
	keyPath := fs.String("org-key", "", "the organization's private key file (required)")
	var peers, serials listFlag
	fs.Var(&peers, "peer", "peer ID to revoke, repeatable")
	fs.Var(&serials, "serial", "credential serial to revoke, repeatable")
	out := fs.String("out", "", "revocation list to write; an existing list is extended (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k, err := loadKeyFlag(*keyPath)
	if err != nil {
		return err
	}
	if *out == "" || len(peers.vals)+len(serials.vals) == 0 {
		return usagef("org revoke: --out and at least one --peer or --serial are required")
	}
	r := &orgs.Revocation{}
	if raw, err := os.ReadFile(*out); err == nil {
		if r, err = orgs.OpenRevocation(raw); err != nil || r.OrgID != k.ID {
			return usagef("org revoke: %s is not a revocation list of %s", *out, k.Name)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, s := range peers.vals {
		if _, err := peer.Decode(s); err != nil {
			return usagef("org revoke: --peer %q is not a peer ID", s)
		}
		if !slices.Contains(r.Peers, s) {
			r.Peers = append(r.Peers, s)
		}
	}
	for _, s := range serials.vals {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return usagef("org revoke: --serial %q is not a number", s)
		}
		if !slices.Contains(r.Serials, n) {
			r.Serials = append(r.Serials, n)
		}
	}
	r.Seq++
	r.Issued = time.Now().UTC().Truncate(time.Second)
	raw, err := k.SignRevocation(r)
	if err != nil {
		return err
	}
	if err := orgfile.WriteFileAtomic(*out, raw, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: revocation list %d of %s, %d peers and %d serials revoked\n", *out, r.Seq, k.Name, len(r.Peers), len(r.Serials))
	fmt.Fprintf(stdout, "give it to a member: orgpeer run ... --revocations %s (nodes spread it and keep it)\n", *out)
	return nil
}

func orgShowCmd(_ context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return usagef("org show: give exactly one file")
	}
	path := args[0]
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if m, err := orgs.OpenCredential(raw); err == nil {
		fmt.Fprintf(stdout, "membership credential (signature by the org key checked)\n")
		printCredential(stdout, m)
		return nil
	}
	if r, err := orgs.OpenRevocation(raw); err == nil {
		fmt.Fprintf(stdout, "revocation list %d of %s (%s), issued %s\n", r.Seq, r.OrgName, r.OrgID, r.Issued.Format(time.RFC3339))
		for _, p := range r.Peers {
			fmt.Fprintf(stdout, "  peer   %s\n", p)
		}
		for _, s := range r.Serials {
			fmt.Fprintf(stdout, "  serial %d\n", s)
		}
		return nil
	}
	if p, err := orgfile.LoadPublic(path); err == nil {
		fmt.Fprintf(stdout, "organization %s\norg id: %s (matches its public key)\n", p.Name, p.ID)
		return nil
	}
	if k, err := orgfile.LoadKey(path); err == nil {
		fmt.Fprintf(stdout, "PRIVATE key of organization %s\norg id: %s\n", k.Name, k.ID)
		return nil
	}
	return fmt.Errorf("%s is not an org, org key, credential or revocation file (or its signature is wrong)", path)
}

func printCredential(w io.Writer, m *orgs.Membership) {
	status := "valid"
	if why := m.ValidAt(time.Now()); why != "" {
		status = strings.ToUpper(why)
	} else {
		status += fmt.Sprintf(" (expires in %v)", time.Until(m.NotAfter).Round(time.Minute))
	}
	fmt.Fprintf(w, "org:      %s\norg id:   %s\npeer:     %s\nserial:   %d\nvalid:    %s to %s\nstatus:   %s\n",
		m.OrgName, m.OrgID, m.PeerID, m.Serial, m.NotBefore.Format(time.RFC3339), m.NotAfter.Format(time.RFC3339), status)
}
