package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/orgpeer/orgpeer/cmd/orgpeer/internal/procstat"
)

// procCosts measures, from /proc, what each process of ms costs over the
// window, CPU, and at its end, memory, and records their averages and
// maxima, with what the hypervisor and other processes took of the
// machine meanwhile.
func procCosts[M member](ctx context.Context, ms []M, window time.Duration, fig runFigures) error {
	type sample struct {
		at  time.Time
		cpu time.Duration
	}
	take := func(m M) (sample, error) {
		cpu, err := procstat.CPU(m.PID())
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", m.Name(), err)
		}
		return sample{time.Now(), cpu}, nil
	}
	m0, _ := procstat.MachineCPU()
	self0, _ := procstat.CPU(os.Getpid())
	first := make([]sample, len(ms))
	for i, m := range ms {
		var err error
		if first[i], err = take(m); err != nil {
			return err
		}
	}
	if !sleep(ctx, window) {
		return ctx.Err()
	}
	m1, _ := procstat.MachineCPU()
	self1, _ := procstat.CPU(os.Getpid())
	var used time.Duration
	var rss, cpu []float64
	for i, m := range ms {
		last, err := take(m)
		if err != nil {
			return err
		}
		r, err := procstat.RSS(m.PID())
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name(), err)
		}
		rss = append(rss, float64(r)/1e6)
		cpu = append(cpu, 100*(last.cpu-first[i].cpu).Seconds()/last.at.Sub(first[i].at).Seconds())
		used += last.cpu - first[i].cpu
	}
	fig["rss_avg_mb"], fig["rss_max_mb"] = meanOf(rss), slices.Max(rss)
	fig["cpu_idle_avg_pct"], fig["cpu_idle_max_pct"] = meanOf(cpu), slices.Max(cpu)
	if st, ok := procstat.StealPct(m0, m1); ok {
		// The machine's busy time not spent by the processes, the benchmark
		// or the hypervisor: other work that inflates every figure of this run.
		others := (m1.Busy - m0.Busy) - (m1.Steal - m0.Steal) - used - (self1 - self0)
		fig["others_cpu_pct"] = max(0, 100*others.Seconds()/(m1.Total-m0.Total).Seconds())
		fig["steal_idle_pct"] = st
	}
	return nil
}

// startCPU records the CPU time each process of ms has used since it
// started, on average: at convergence, what starting cost.
func startCPU[M member](ms []M, fig runFigures) {
	var secs []float64
	for _, m := range ms {
		if cpu, err := procstat.CPU(m.PID()); err == nil {
			secs = append(secs, cpu.Seconds())
		}
	}
	fig["converge_cpu_avg_s"] = meanOf(secs)
}
