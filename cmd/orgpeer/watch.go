package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/viewtable"
	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// watchCmd prints a node's events as they happen, one line each, until
// Ctrl-C.
func watchCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("watch", stdout)
	t := targetFlags(fs)
	org := fs.String("org", "", "only this organization's events")
	if err := parseTarget(fs, args); err != nil {
		return err
	}
	if _, err := api.ParsePeerQuery(*org, ""); err != nil {
		return usagef("watch: %v", err)
	}
	c, err := t.connect()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout) // one object per line
	err = c.Events(ctx, *org, func(e api.Event) error {
		if *t.asJSON {
			return enc.Encode(e)
		}
		_, err := fmt.Fprintln(stdout, eventLine(e))
		return err
	})
	if ctx.Err() != nil {
		return nil // Ctrl-C
	}
	return c.explain(err)
}

// eventLine is an event as `orgpeer watch` prints it.
func eventLine(e api.Event) string {
	at := e.At.Local().Format("15:04:05.000")
	switch e.Kind {
	case api.EventPeer, api.EventVerified:
		var b strings.Builder
		fmt.Fprintf(&b, "%s  %-8s %s  ", at, e.Org, e.Peer.PeerID)
		if e.Kind == api.EventPeer {
			fmt.Fprintf(&b, "%s -> %s", e.From, e.To)
		} else {
			fmt.Fprintf(&b, "still %s", e.To)
		}
		fmt.Fprintf(&b, "  by %s", e.Cause)
		if e.Version != nil {
			fmt.Fprintf(&b, " %d/%d", e.Version.Epoch, e.Version.Seq)
		}
		switch {
		case e.Verified != nil && *e.Verified:
			fmt.Fprintf(&b, "; now verified")
		case e.Verified != nil:
			fmt.Fprintf(&b, "; no longer verified (%s)", e.Reason)
		}
		return b.String()
	case api.EventCounts:
		b, a := e.Before, e.After
		if b.Estimated() || a.Estimated() { // the heard counts of an estimate row are not news
			return fmt.Sprintf("%s  %-8s %s -> %s", at, e.Org, countLine(*b), countLine(*a))
		}
		return fmt.Sprintf("%s  %-8s alive %d -> %d, verified %d -> %d, hosts %d -> %d", at, e.Org,
			b.Alive, a.Alive, b.Verified, a.Verified, b.Hosts, a.Hosts)
	case api.EventSnapshot:
		var rows []string
		for _, o := range e.Snapshot.Orgs {
			if o.Estimated() {
				rows = append(rows, fmt.Sprintf("%s estimated %s (%d heard)", o.Org, o.Estimate, o.Alive))
				continue
			}
			rows = append(rows, fmt.Sprintf("%s %d alive (%d verified, %d hosts)", o.Org, o.Alive, o.Verified, o.Hosts))
		}
		if len(rows) == 0 {
			rows = append(rows, "no organization")
		}
		return fmt.Sprintf("%s  view: %s", at, strings.Join(rows, "; "))
	case api.EventDropped:
		return fmt.Sprintf("%s  dropped %d events: this stream fell behind; the view follows", at, e.Dropped)
	}
	return fmt.Sprintf("%s  %s", at, e.Kind)
}

// countLine is one side of a counts event that involves an estimate:
// "estimate ~1,250 (...)" or "exact 97 alive".
func countLine(c orgs.OrgCounts) string {
	if c.Estimated() {
		return "estimate " + c.Estimate.String()
	}
	return fmt.Sprintf("exact %d alive", c.Alive)
}

// trendSpan is how far back the sparklines of `view --watch` reach.
const trendSpan = time.Minute

// viewWatch redraws the view table every second, like top, with a
// sparkline of each organization's alive count over the last minute,
// until ctx ends.
func viewWatch(ctx context.Context, c *api.Client, stdout io.Writer) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s, err := c.View(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		h, err := c.History(ctx, "", trendSpan)
		if err != nil && ctx.Err() == nil {
			return err
		}
		trends := map[string]string{}
		for _, sr := range h.Series {
			if sr.Step() == api.SecondStep {
				trends[trendKey(sr.Org, sr.OrgID, sr.Total)] = viewtable.Sparkline(sr.Alive)
			}
		}
		var b strings.Builder
		b.WriteString("\x1b[H\x1b[2J") // home, clear: redraw in place
		viewtable.WriteTrend(&b, s, func(o orgs.OrgCounts) string {
			return trends[trendKey(o.Org, o.OrgID, o == s.Total)]
		})
		fmt.Fprintf(&b, "\nalive over the last %v, one bar a second; Ctrl-C ends\n", trendSpan)
		if _, err := io.WriteString(stdout, b.String()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func trendKey(org, id string, total bool) string {
	if total {
		return "\x00total"
	}
	return org + "\x00" + id
}
