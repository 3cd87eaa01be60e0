//go:build !linux

package child

import "syscall"

// sysProcAttr is empty off Linux, which has no parent-death signal: the
// caller's Stop is what ends the children.
func sysProcAttr() *syscall.SysProcAttr { return nil }
