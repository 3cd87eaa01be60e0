// Package child starts and stops the processes that the demo, the
// benchmark and the tests run beside themselves (orgpeer nodes, Serf
// agents): output appended to a log file, killed by the kernel if the
// process that started them dies (on Linux), waited for once in the
// background.
package child

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"time"
)

// Process is a started child process. A nil *Process is one never
// started: no PID, not running, nothing to stop.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start starts cmd with its output appended to logPath.
func Start(cmd *exec.Cmd, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() { // owned by the process: ends when it exits
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process's ID (0 for nil).
func (p *Process) PID() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends sig and returns once the process has exited; after grace it
// kills it.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Why Await gave up.
var (
	ErrExited  = errors.New("exited")
	ErrTimeout = errors.New("not ready in time")
)

// Await returns once ready reports true, asking at first every 5 ms, since
// a child is often ready within a tenth of a second and a launch may wait
// for it, then every 50 ms at most. It gives up with ErrExited when the
// process exits first, ErrTimeout after timeout, or ctx's error.
func (p *Process) Await(ctx context.Context, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	wait := 5 * time.Millisecond
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
		if time.Now().After(deadline) {
			return ErrTimeout
		}
	}
}

// Guard has the kernel kill cmd's process when this one dies (Linux), for a
// child started without Start: one whose pipes the caller reads itself.
func Guard(cmd *exec.Cmd) { cmd.SysProcAttr = sysProcAttr() }
