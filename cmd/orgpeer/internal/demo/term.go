package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

const (
	termEvents     = 8                      // events shown under the table on a terminal
	plainEvery     = 2 * time.Second        // plain mode: at most one table this often...
	plainHeartbeat = 15 * time.Second       // ...and at least one this often
	termRedraw     = 250 * time.Millisecond // TTY mode: redraw this often
)

// terminal shows the demo in the terminal: on a TTY a table redrawn in
// place with the latest events under it, otherwise plain lines: a table
// when the counts change and a line per event.
type terminal struct {
	w      io.Writer
	tty    bool
	mon    *Monitor
	header func() string // the line above the table
	keys   string        // the key help; "" when keys are not read

	mu      sync.Mutex
	drawn   int    // lines of the last redraw
	note    string // last message for the user (a refused key)
	printed map[int]int
	last    []Row
	lastAt  time.Time
}

func newTerminal(w io.Writer, tty bool, mon *Monitor, header func() string) *terminal {
	return &terminal{w: w, tty: tty, mon: mon, header: header, printed: map[int]int{}}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// termWidth is the width of the terminal w writes to (80 if unknown).
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}

// run shows updates until ctx ends.
func (t *terminal) run(ctx context.Context) {
	redraw := time.NewTicker(termRedraw)
	defer redraw.Stop()
	if !t.tty {
		redraw.Stop()
	}
	for ctx.Err() == nil {
		updates, cancel := t.mon.Subscribe()
		t.follow(ctx, updates, redraw.C)
		cancel()
	}
}

// follow handles updates until ctx ends or the monitor drops us.
func (t *terminal) follow(ctx context.Context, updates <-chan Update, redraw <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-redraw:
			t.draw()
		case u, ok := <-updates:
			if !ok {
				return
			}
			if t.tty {
				continue // the next redraw shows it
			}
			switch d := u.Data.(type) {
			case Event:
				t.plainEvent(d)
			case Tick:
				t.plainTable(d.Rows)
			}
		}
	}
}

// say shows a message for the user: under the table on a TTY, as a line
// otherwise.
func (t *terminal) say(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.note = msg
	if !t.tty {
		fmt.Fprintln(t.w, msg)
	}
}

// draw redraws the whole block in place.
func (t *terminal) draw() {
	rows, events, _ := t.mon.snapshot()
	now := time.Now()
	var b bytes.Buffer
	fmt.Fprintln(&b, t.header())
	writeTable(&b, rows, now)
	fmt.Fprintln(&b)
	if len(events) == 0 {
		fmt.Fprintln(&b, "no events yet")
	}
	for _, e := range events[max(0, len(events)-termEvents):] {
		fmt.Fprintln(&b, eventLine(e, now))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys != "" {
		fmt.Fprintln(&b, t.keys)
	}
	if t.note != "" {
		fmt.Fprintln(&b, t.note)
	}
	width := termWidth(t.w)
	var out strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&out, "\x1b[%dA\r", t.drawn) // back to the top of the last block
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for _, l := range lines {
		if r := []rune(l); len(r) >= width {
			l = string(r[:width-1])
		}
		out.WriteString(l + "\x1b[K\n")
	}
	out.WriteString("\x1b[J") // clear what the last block had below
	io.WriteString(t.w, out.String())
	t.drawn = len(lines)
}

// plainTable prints the table when the counts changed (at most every
// plainEvery) and otherwise every plainHeartbeat.
func (t *terminal) plainTable(rows []Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	changed := len(rows) != len(t.last)
	for i := range rows {
		changed = changed || !rows[i].sameCounts(t.last[i])
	}
	if since := now.Sub(t.lastAt); (changed && since >= plainEvery) || since >= plainHeartbeat {
		writeTable(t.w, rows, now)
		t.last, t.lastAt = rows, now
	}
}

// Stages of an event already printed in plain mode.
const (
	printedBegin = 1 << iota
	printedDone
	printedRecovered
)

func (t *terminal) plainEvent(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := e.At.Format(time.TimeOnly)
	if t.printed[e.ID]&printedBegin == 0 {
		t.printed[e.ID] |= printedBegin
		fmt.Fprintf(t.w, "%s event %d: %s %s (%s, %s) [%s]\n", at, e.ID, actionLabel(e.Action), e.Node, e.Org, e.Host, e.Source)
	}
	if e.Done && e.Err != "" && t.printed[e.ID]&printedDone == 0 {
		t.printed[e.ID] |= printedDone
		fmt.Fprintf(t.w, "%s event %d failed: %s\n", at, e.ID, e.Err)
	}
	if d, ok := e.recovered(); ok && t.printed[e.ID]&printedRecovered == 0 {
		t.printed[e.ID] |= printedRecovered
		fmt.Fprintf(t.w, "%s event %d: every node counts every organization exactly again, %s after it\n",
			time.Now().Format(time.TimeOnly), e.ID, fmtSeconds(d))
	}
}

// eventLine is one event as the TTY table shows it.
func eventLine(e Event, now time.Time) string {
	status := "counting… " + fmtSeconds(now.Sub(e.At))
	if d, ok := e.recovered(); ok {
		status = "right again after " + fmtSeconds(d)
	}
	if e.Err != "" {
		status = "failed: " + e.Err + "; " + status
	}
	return fmt.Sprintf("#%-3d %s  %-8s %-4s %-10s %-7s %-9s %s", e.ID, e.At.Format(time.TimeOnly),
		actionLabel(e.Action), e.Node, e.Org, e.Host, e.Source, status)
}

// writeTable prints, per organization, the truth against the minimum,
// median and maximum of the nodes' counts, how many nodes are exactly
// right, and the time since the row last changed.
func writeTable(w io.Writer, rows []Row, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tTRUTH\tMIN\tMEDIAN\tMAX\tEXACT\tHOSTS SEEN\tLAST CHANGE\n", now.Format(time.TimeOnly))
	for _, r := range rows {
		lo, mid, hi := "-", "-", "-"
		if r.Answered > 0 {
			lo, mid, hi = fmt.Sprint(r.Min), fmt.Sprint(r.Median), fmt.Sprint(r.Max)
		}
		fmt.Fprintf(tw, "%s\t%d on %d host%s\t%s\t%s\t%s\t%d/%d\t%d\t%s ago\n", r.Org, r.Truth, r.TruthHosts, plural(r.TruthHosts),
			lo, mid, hi, r.Exact, r.Of, r.Hosts, fmtSeconds(now.Sub(r.ChangedAt)))
	}
	tw.Flush()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// fmtSeconds shows a duration in seconds with one decimal.
func fmtSeconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// printSummary prints the events and the times back to correct counts.
func printSummary(w io.Writer, s summary) {
	if s.Events == 0 {
		fmt.Fprintln(w, "summary: no events (--churn, the dashboard or the keys k/s/r/a change the network)")
		return
	}
	var parts []string
	for _, a := range actions {
		if n := s.ByAction[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, actionLabel(a)))
		}
	}
	fmt.Fprintf(w, "summary: %d event%s (%s)", s.Events, plural(s.Events), strings.Join(parts, ", "))
	if len(s.Recovered) > 0 {
		fmt.Fprintf(w, "; back to correct counts: median %s, worst %s", fmtSeconds(s.median()), fmtSeconds(s.worst()))
	}
	if s.Pending > 0 {
		fmt.Fprintf(w, "; %d never back to correct counts before the end", s.Pending)
	}
	fmt.Fprintln(w)
}
