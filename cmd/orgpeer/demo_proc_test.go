package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoProc is a running `orgpeer demo`. Its TMPDIR is a directory of its
// own, so that every child it starts has that directory in its command
// line: the test finds them in /proc by it.
type demoProc struct {
	cmd  *exec.Cmd
	tmp  string
	out  syncBuffer
	errb syncBuffer
	done chan struct{}
	code int
}

// startDemo runs `orgpeer demo args...`. When the test ends the demo is
// interrupted if still running, and no child of it may be left.
func startDemo(t *testing.T, args ...string) *demoProc {
	t.Helper()
	d := &demoProc{tmp: t.TempDir(), done: make(chan struct{})}
	d.cmd = exec.Command(orgpeerBin(t), append([]string{"demo"}, args...)...)
	d.cmd.Env = append(os.Environ(), "TMPDIR="+d.tmp)
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.errb
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owned by the process: ends when it exits
		d.cmd.Wait()
		d.code = d.cmd.ProcessState.ExitCode()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.interrupt(t)
		if t.Failed() {
			t.Logf("--- demo stdout:\n%s\n--- demo stderr:\n%s", tail(d.out.String(), 60), tail(d.errb.String(), 20))
		}
		if left := demoChildren(d.tmp); len(left) > 0 {
			t.Errorf("children of the demo still running: %v", left)
			for _, c := range left {
				syscall.Kill(c.pid, syscall.SIGKILL)
			}
		}
	})
	return d
}

// interrupt sends Ctrl-C (if the demo still runs) and waits for it to exit.
func (d *demoProc) interrupt(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		t.Errorf("the demo did not end within 60s of Ctrl-C")
	}
}

// waitFor polls stdout until re matches, and returns the submatches.
func (d *demoProc) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	var m []string
	poll(t, timeout, func() string {
		if m = re.FindStringSubmatch(d.out.String()); m != nil {
			return ""
		}
		select {
		case <-d.done:
			t.Fatalf("the demo exited (code %d) before printing %q", d.code, re)
		default:
		}
		return "the demo has not printed " + re.String()
	})
	return m
}

// listenLoopback holds a loopback port until the test ends.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// demoChild is an `orgpeer run` process found in /proc.
type demoChild struct {
	pid          int
	org, dataDir string
}

// demoChildren lists the running `orgpeer run` processes whose command
// line mentions dir.
func demoChildren(dir string) []demoChild {
	var out []demoChild
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) < 2 || args[1] != "run" {
			continue
		}
		c := demoChild{pid: pid}
		for i := 1; i+1 < len(args); i++ {
			switch args[i] {
			case "--org":
				c.org = args[i+1]
			case "--data-dir":
				c.dataDir = args[i+1]
			}
		}
		out = append(out, c)
	}
	return out
}
