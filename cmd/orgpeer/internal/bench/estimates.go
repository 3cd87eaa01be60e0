package bench

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/cluster"
	"github.com/orgpeer/orgpeer/orgs"
)

// estimatePolls views of every node are read, estimateGap apart, after the
// idle window: enough rows to judge the estimates of a run with sampling
// forced on (--run-flags "--sample-budget 4"), few enough not to load it.
const (
	estimatePolls = 5
	estimateGap   = time.Second
)

// estimates reads every node's view a few times and, if any organization
// is estimated (sampled heartbeats), records how often the estimate's 95 %
// interval held the truth and its mean error. Without estimated rows it
// records nothing: every count was checked exact at convergence.
func estimates(ctx context.Context, c *cluster.Cluster, fig runFigures, log *slog.Logger) error {
	var rows, held int
	var errSum float64
	for i := range estimatePolls {
		if i > 0 && !sleep(ctx, estimateGap) {
			return ctx.Err()
		}
		truth := c.Truth()
		for _, s := range c.Views(ctx) {
			for _, org := range c.OrgNames() {
				row := s.OrgCounts(org)
				if row.Mode != orgs.ModeEstimate || row.Estimate == nil || truth[org] == 0 {
					continue
				}
				t := float64(truth[org])
				rows++
				if row.Estimate.Contains(t) {
					held++
				}
				errSum += math.Abs(row.Estimate.Peers-t) / t
			}
		}
	}
	if rows == 0 {
		return nil
	}
	fig["estimate_rows"] = float64(rows)
	fig["estimate_held_pct"] = 100 * float64(held) / float64(rows)
	fig["estimate_err_avg_pct"] = 100 * errSum / float64(rows)
	log.Info("estimated organizations", "rows", rows, "interval_held_pct", fig["estimate_held_pct"], "mean_error_pct", fig["estimate_err_avg_pct"])
	return nil
}
