package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgpeer/orgpeer/node/api"
	"github.com/orgpeer/orgpeer/orgs"
)

// demoRecoverDeadline bounds the time from a change until every node counts
// the truth again: the liveness window of the local preset (4.5 s) is the
// slowest part; the rest is margin for a busy machine.
const demoRecoverDeadline = 20 * time.Second

// observation is what the test itself sees at one instant: the `orgpeer
// run` processes in /proc (the truth, independent of the demo) and whether
// each of them counts every organization exactly.
type observation struct {
	at       time.Time
	pids     []int // sorted
	allRight bool
	wrong    string // why not, for the failure message
	churning bool   // the start-up was over before this observation
}

// observe derives the truth from /proc and asks every process for its view.
func observe(dir string) observation {
	o := observation{at: time.Now()}
	kids := demoChildren(dir)
	truth := map[string]int{}
	for _, k := range kids {
		o.pids = append(o.pids, k.pid)
		truth[k.org]++
	}
	slices.Sort(o.pids)
	views := make([]orgs.Snapshot, len(kids))
	errs := make([]error, len(kids))
	var wg sync.WaitGroup
	for i, k := range kids {
		wg.Go(func() {
			info, err := api.ReadInfo(k.dataDir)
			if err != nil {
				errs[i] = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			views[i], errs[i] = api.NewClient(info.API, "").View(ctx)
		})
	}
	wg.Wait()
	o.allRight = len(kids) > 0
	for i, k := range kids {
		if errs[i] != nil {
			o.allRight, o.wrong = false, fmt.Sprintf("pid %d: %v", k.pid, errs[i])
			break
		}
		for org, n := range truth {
			if got := views[i].OrgCounts(org).Alive; got != n {
				o.allRight, o.wrong = false, fmt.Sprintf("pid %d counts %d alive in %s, /proc has %d", k.pid, got, org, n)
			}
		}
	}
	return o
}

// procChange is a change of the set of processes the test saw, and the
// first instant after it when every process counted right (zero if none).
type procChange struct {
	at, rightAt time.Time
	from, to    []int
	churning    bool // after the start-up
}

func changesOf(timeline []observation) []procChange {
	var out []procChange
	for i := 1; i < len(timeline); i++ {
		if slices.Equal(timeline[i].pids, timeline[i-1].pids) {
			continue
		}
		c := procChange{at: timeline[i].at, from: timeline[i-1].pids, to: timeline[i].pids, churning: timeline[i-1].churning}
		for _, o := range timeline[i:] {
			if o.allRight {
				c.rightAt = o.at
				break
			}
		}
		out = append(out, c)
	}
	return out
}

var (
	dashboardRE = regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+/)`)
	eventRE     = regexp.MustCompile(`event (\d+): (kill -9|stop|restart|add) n\d+ \(\w+, host-\d\) \[churn\]`)
	recoveredRE = regexp.MustCompile(`event (\d+): every node counts every organization exactly again, ([\d.]+)s after it`)
)

// TestDemoChurnEveryNodeConvergesAfterEveryEvent runs a short demo with
// churn. The test watches on its own: the truth from /proc, each process's
// view from its API. After every change in the set of processes, every
// process must count every organization exactly within the deadline; the
// demo's own report must agree; no child may be left. After four changes
// the test pauses the churn on the dashboard, waits for the last to
// settle, and ends the demo with Ctrl-C.
func TestDemoChurnEveryNodeConvergesAfterEveryEvent(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--nodes", "5", "--orgs", "2", "--hosts", "2", "--churn", "4s", "--duration", "3m")
	url := d.waitFor(t, dashboardRE, 30*time.Second)[1]

	var timeline []observation
	seen := map[int]bool{}
	paused := false
	poll(t, 90*time.Second, func() string {
		converged := strings.Contains(d.out.String(), "converged:")
		o := observe(d.tmp)
		o.churning = converged
		timeline = append(timeline, o)
		for _, p := range o.pids {
			seen[p] = true
		}
		changes := changesOf(timeline)
		churned := 0
		for _, c := range changes {
			if c.churning {
				churned++
			}
		}
		settled := len(changes) > 0 && !changes[len(changes)-1].rightAt.IsZero()
		out := d.out.String()
		kinds := map[string]bool{}
		for _, m := range eventRE.FindAllStringSubmatch(out, -1) {
			kinds[m[2]] = true
		}
		// A restart may show as more than one change of the process set
		// (a launcher's helper process comes and goes), so wait for the
		// demo to have made every kind of event, not for four changes.
		if !paused && churned >= 4 && len(kinds) == 4 {
			// Once this returns, no change is in progress and none will
			// come: the last one must settle.
			postJSON(t, url+"api/churn", `{"paused":true}`)
			paused = true
			return "paused: look again" // after the pause
		}
		if paused && settled && len(eventRE.FindAllString(out, -1)) == len(recoveredRE.FindAllString(out, -1)) {
			return ""
		}
		return fmt.Sprintf("%d changes after the start-up, %d kinds of event, settled %v, paused %v; last: %s", churned, len(kinds), settled, paused, o.wrong)
	})
	d.interrupt(t)
	if d.code != 0 {
		t.Fatalf("demo exit %d", d.code)
	}
	out := d.out.String()

	// The test's own account: every change of the process set is followed,
	// within the deadline, by an instant where every process is right.
	for _, c := range changesOf(timeline) {
		switch took := c.rightAt.Sub(c.at); {
		case c.rightAt.IsZero():
			t.Errorf("change at %s (pids %v -> %v): never every node right again", c.at.Format(time.TimeOnly), c.from, c.to)
		case took > demoRecoverDeadline:
			t.Errorf("change at %s: every node right only after %v", c.at.Format(time.TimeOnly), took)
		default:
			t.Logf("change at %s (%d -> %d processes): every node right %v later", c.at.Format(time.TimeOnly),
				len(c.from), len(c.to), took.Round(10*time.Millisecond))
		}
	}
	// 5 first processes, a restart and an add: 7 PIDs at least.
	if len(seen) < 7 {
		t.Errorf("saw %d distinct child PIDs, want at least 7", len(seen))
	}

	// The demo's account: each event and the time back to correct counts.
	begun, back := eventRE.FindAllStringSubmatch(out, -1), recoveredRE.FindAllStringSubmatch(out, -1)
	kinds := map[string]bool{}
	for _, m := range begun {
		kinds[m[2]] = true
	}
	if len(begun) < 4 || len(kinds) != 4 {
		t.Errorf("demo reported %d events of kinds %v; want kill -9, stop, restart and add", len(begun), slices.Collect(maps.Keys(kinds)))
	}
	if len(back) != len(begun) {
		t.Errorf("demo reported %d events but %d recoveries", len(begun), len(back))
	}
	for _, m := range back {
		if s, _ := strconv.ParseFloat(m[2], 64); time.Duration(s*float64(time.Second)) > demoRecoverDeadline {
			t.Errorf("demo: event %s back to correct counts after %ss", m[1], m[2])
		}
	}
	if strings.Contains(out, "failed:") || !regexp.MustCompile(`summary: \d+ events? \(.*\); back to correct counts: median [\d.]+s, worst [\d.]+s\n`).MatchString(out) {
		t.Errorf("demo summary missing, or an event failed or never recovered:\n%s", tail(out, 15))
	}

	// Every child gone, by PID, and the temp dirs removed.
	for pid := range seen {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), d.tmp) {
			t.Errorf("child pid %d still running after the demo ended", pid)
		}
	}
	if ents, _ := os.ReadDir(d.tmp); len(ents) != 0 {
		t.Errorf("the demo left %d entries in its temp dir (no --keep)", len(ents))
	}
}

// postJSON posts body to url and fails the test unless it answers 200.
func postJSON(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", url, resp.Status, b)
	}
}

func TestDemoBadInput(t *testing.T) {
	ln := listenLoopback(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "2", "--orgs", "1", "--hosts", "3"}, "--hosts"},
		{[]string{"--churn", "10ms"}, "--churn"},
		{[]string{"--web", ln.Addr().String()}, "address already in use"},
		{[]string{"--web", "0.0.0.0:0"}, "loopback only"},
		{[]string{"--web", "nonsense"}, "--web"},
	} {
		_, errOut, code := orgpeer(t, append([]string{"demo"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || !strings.Contains(errOut, tc.want) || len(lines) != 1 {
			t.Errorf("demo %v: exit %d, stderr %q; want exit 2 and one line containing %q", tc.args, code, errOut, tc.want)
		}
	}
}
