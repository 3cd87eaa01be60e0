//go:build !linux

package cluster

import "syscall"

// sysProcAttr is empty off Linux, which has no parent-death signal: the
// cluster's StopAll is what ends the members.
func sysProcAttr() *syscall.SysProcAttr { return nil }
