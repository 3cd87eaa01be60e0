package bench

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// member is one process of a system under test, up or down.
type member interface {
	comparable
	Name() string
	Org() string
	PID() int
}

// system is a membership system under test, N processes on this machine
// in organizations org1..orgK, each asked through its own API: orgpeer
// (orgpeerSystem) or HashiCorp Serf (serfSystem). The benchmark drives
// both through it, so that both are timed by the same code.
type system[M member] interface {
	// launch starts nodes processes, the first alone and every other one
	// joining through it, and returns when the launch began (what is
	// prepared before, such as identities, is not part of it).
	launch(ctx context.Context, nodes, nOrgs int) (time.Time, error)
	// all returns every member in the order launched; live those up.
	all() []M
	live() []M
	// counts returns how many members of each organization observer
	// counts alive (orgpeer: alive and verified).
	counts(ctx context.Context, observer M) (map[string]int, error)
	// lists returns the state observer gives target in each of its
	// entries for it (none: it does not list it).
	lists(ctx context.Context, observer, target M) ([]string, error)
	kill9(m M)
	// leave is the system's documented graceful stop; it returns once
	// the process has exited.
	leave(m M)
	// restart starts a member that is down again, with the same identity,
	// joining through the first member.
	restart(ctx context.Context, m M) error
}

// Every system lists a member in one of these states, among others
// (orgpeer: suspect; Serf: leaving, failed).
const (
	stateAlive = "alive"
	stateLeft  = "left"
)

// truthOf is the number of members per organization among live.
func truthOf[M member](live []M) map[string]int {
	t := map[string]int{}
	for _, m := range live {
		t[m.Org()]++
	}
	return t
}

// countsWrong says how counts differ from the truth ("" if they do not).
func countsWrong(counts, truth map[string]int) string {
	var wrong []string
	for _, org := range slices.Sorted(maps.Keys(truth)) {
		if counts[org] != truth[org] {
			wrong = append(wrong, fmt.Sprintf("%s %d of %d", org, counts[org], truth[org]))
		}
	}
	return strings.Join(wrong, ", ")
}

// waitConverged waits until every live member counts every organization's
// members alive, exactly, and returns how long after launch the last one
// got there.
func waitConverged[M member](ctx context.Context, s system[M], poll, timeout time.Duration, launch time.Time) (time.Duration, error) {
	truth := truthOf(s.live())
	return waitEach(ctx, s.live(), poll, timeout, launch, func(ctx context.Context, m M) string {
		c, err := s.counts(ctx, m)
		if err != nil {
			return err.Error()
		}
		return countsWrong(c, truth)
	})
}

// events measures a crash, a graceful leave and the crashed member's
// return (kill9_detect_all_s, leave_detect_all_s, rejoin_all_s) by asking
// every other live member every poll. The first member stays up: the
// restarted one joins through it. A phase that not every member gets
// through within timeout goes to late with its figure's key: late's error
// ends the measurement, nil goes on without that figure.
func events[M member](ctx context.Context, s system[M], poll, timeout time.Duration, fig runFigures, log *slog.Logger,
	late func(key string, err error) error) error {
	record := func(key string, took time.Duration, err error) error {
		switch {
		case err == nil:
			fig[key] = took.Seconds()
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		return late(key, err)
	}
	members := s.all()
	n := len(members)
	victim, leaver := members[n-1], members[n-2]
	observers := without(s.live(), victim)
	log.Info("kill -9", "node", victim.Name())
	t0 := time.Now()
	s.kill9(victim)
	took, err := waitEach(ctx, observers, poll, timeout, t0, func(ctx context.Context, o M) string {
		st, err := s.lists(ctx, o, victim)
		if err != nil {
			return err.Error()
		}
		if slices.Contains(st, stateAlive) {
			return "still counts it alive"
		}
		return ""
	})
	if err := record("kill9_detect_all_s", took, wrapf(err, "kill -9 of %s", victim.Name())); err != nil {
		return err
	}

	log.Info("graceful leave", "node", leaver.Name())
	observers = without(observers, leaver)
	t0 = time.Now()
	var stopped sync.WaitGroup
	stopped.Go(func() { s.leave(leaver) })
	took, err = waitEach(ctx, observers, poll, timeout, t0, onceIn(s, leaver, stateLeft))
	stopped.Wait()
	if err := record("leave_detect_all_s", took, wrapf(err, "leave of %s", leaver.Name())); err != nil {
		return err
	}

	log.Info("restarting", "node", victim.Name())
	t0 = time.Now()
	if err := s.restart(ctx, victim); err != nil {
		return err
	}
	took, err = waitEach(ctx, s.live(), poll, timeout, t0, onceIn(s, victim, stateAlive))
	return record("rejoin_all_s", took, wrapf(err, "restart of %s", victim.Name()))
}

// wrapf prefixes err, if any, with what was being done.
func wrapf(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(a, err)...)
}

// onceIn checks that an observer lists target exactly once, in state.
func onceIn[M member](s system[M], target M, state string) func(context.Context, M) string {
	return func(ctx context.Context, o M) string {
		st, err := s.lists(ctx, o, target)
		switch {
		case err != nil:
			return err.Error()
		case len(st) != 1 || st[0] != state:
			return fmt.Sprintf("lists it as %v", st)
		}
		return ""
	}
}

// waitEach asks every observer, every interval, until check returns "" for
// each, and returns how long after t0 the last one got there. check says
// what is still wrong; each of its calls gets 2 s.
func waitEach[M member](ctx context.Context, observers []M, interval, timeout time.Duration, t0 time.Time, check func(context.Context, M) string) (time.Duration, error) {
	wctx, cancel := context.WithDeadline(ctx, t0.Add(timeout))
	defer cancel()
	took := make([]time.Duration, len(observers))
	wrong := make([]string, len(observers))
	var wg sync.WaitGroup
	for i, o := range observers {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				qctx, qcancel := context.WithTimeout(wctx, 2*time.Second)
				w := check(qctx, o)
				qcancel()
				if w != "" && wctx.Err() != nil && wrong[i] != "" {
					return // the deadline cut this question short: the last answer says what was wrong
				}
				if wrong[i] = w; w == "" {
					took[i] = time.Since(t0)
					return
				}
				select {
				case <-wctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
	var late []string
	for i, o := range observers {
		if wrong[i] != "" {
			late = append(late, o.Name()+": "+wrong[i])
		}
	}
	if len(late) > 0 {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("not within %v at %d of %d nodes (%s)", timeout, len(late), len(observers), strings.Join(late, "; "))
	}
	return slices.Max(took), nil
}

func without[M member](ms []M, drop M) []M {
	return slices.DeleteFunc(slices.Clone(ms), func(m M) bool { return m == drop })
}
