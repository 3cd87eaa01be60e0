package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setTimerSlack gives every thread of this process a timer slack of at
// least d: the kernel may then fire their timers up to d late and batch
// wake-ups, which the Go runtime's sysmon thread, polling in 20 µs sleeps
// while the node works, needs (see the performance notes). A thread takes
// its slack from the thread that creates it, and the runtime starts its
// threads before main runs, so the slack is set on this thread and the
// binary executed again in place (same PID, arguments and environment):
// the new image starts every thread from this one. It returns nil without
// executing when the slack is already at least d; it returns only on
// failure otherwise.
func setTimerSlack(d time.Duration) error {
	cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || d <= 0 || time.Duration(cur) >= d {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0); err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	// Executed again only if the kernel kept the value: a real-time thread,
	// say, has no slack, and the new image would try again forever.
	if now, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); err != nil || time.Duration(now) < d {
		return fmt.Errorf("timer slack: the kernel kept %v", time.Duration(now))
	}
	// The path the link /proc/self/exe names, not the link: the kernel
	// names a process after the file it executes, and `ps`, `top` and
	// `pkill orgpeer` would see "exe".
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	return fmt.Errorf("timer slack: %w", syscall.Exec(exe, os.Args, os.Environ()))
}
