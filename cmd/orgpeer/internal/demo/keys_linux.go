package demo

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"
)

// canReadKeys: Linux has the cbreak mode readKeys needs.
const canReadKeys = true

// readKeys puts the terminal on fd in cbreak mode (keys arrive one by one,
// unechoed; Ctrl-C still interrupts and output keeps its line endings,
// which golang.org/x/term's raw mode would not keep), calls onKey for each
// key until ctx ends or input ends, and restores the terminal.
func readKeys(ctx context.Context, fd int, onKey func(byte)) error {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)

	buf := make([]byte, 16)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		n, err := unix.Poll(fds, 200) // milliseconds: wake up to notice ctx
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return err
		}
		r, err := unix.Read(fd, buf)
		if err != nil || r == 0 {
			return err // input closed
		}
		for _, b := range buf[:r] {
			onKey(b)
		}
	}
	return nil
}
