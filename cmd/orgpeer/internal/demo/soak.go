package demo

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
)

// resources is what one node process costs at one moment.
type resources struct {
	name       string
	rssMB      float64
	goroutines int
}

// sampleResources reads the RSS (from /proc) and goroutine count (from the
// node's /metrics) of every live member, by PID.
func sampleResources(ctx context.Context, c *cluster.Cluster) map[int]resources {
	out := map[int]resources{}
	for _, p := range c.Live() {
		pid, client := p.PID(), p.Client()
		if pid == 0 || client == nil {
			continue
		}
		rss, err := procstat.RSS(pid)
		if err != nil {
			continue
		}
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		text, err := client.Metrics(mctx)
		cancel()
		if err != nil {
			continue
		}
		m, err := procstat.ParseMetrics(strings.NewReader(text))
		g, ok := m["go_goroutines"]
		if err != nil || !ok {
			continue
		}
		out[pid] = resources{name: p.Name(), rssMB: float64(rss) / (1 << 20), goroutines: int(g)}
	}
	return out
}

// Growth a soak tolerates in a surviving node between the sample after
// convergence and the end: the view and the connections of a churning
// network legitimately grow a little; a leak grows without bound.
const (
	soakRSSFactor, soakRSSSlackMB    = 1.5, 10.0
	soakGoroutineFactor, soakGrSlack = 1.5, 30
)

// soakReport prints how the nodes that ran through the whole soak changed,
// and fails when one grew past the tolerance or an event never recovered.
func soakReport(w io.Writer, before, after map[int]resources, s summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SURVIVOR\tRSS MB (start → end)\tGOROUTINES (start → end)\tFLAT")
	var grown []string
	n := 0
	pids := slices.Collect(maps.Keys(after))
	slices.SortFunc(pids, func(x, y int) int { return strings.Compare(after[x].name, after[y].name) })
	for _, pid := range pids {
		a := after[pid]
		b, ok := before[pid]
		if !ok {
			continue // started or restarted during the soak
		}
		n++
		flat := a.rssMB <= soakRSSFactor*b.rssMB+soakRSSSlackMB &&
			float64(a.goroutines) <= soakGoroutineFactor*float64(b.goroutines)+soakGrSlack
		if !flat {
			grown = append(grown, a.name)
		}
		fmt.Fprintf(tw, "%s\t%.1f → %.1f\t%d → %d\t%t\n", a.name, b.rssMB, a.rssMB, b.goroutines, a.goroutines, flat)
	}
	tw.Flush()
	fmt.Fprintf(w, "soak: %d nodes ran throughout; %d events, %d of them back to correct counts\n", n, s.Events, len(s.Recovered))
	switch {
	case n == 0:
		return fmt.Errorf("soak: no node ran from start to end; nothing to judge")
	case len(grown) > 0:
		return fmt.Errorf("soak: memory or goroutines grew past %.1fx+%.0f MB / %.1fx+%d in %v", soakRSSFactor, soakRSSSlackMB, soakGoroutineFactor, soakGrSlack, grown)
	case s.Pending > 0:
		return fmt.Errorf("soak: %d events never got back to correct counts", s.Pending)
	}
	return nil
}
