//go:build !linux

package serf

import "syscall"

// sysProcAttr is empty off Linux, which has no parent-death signal: the
// cluster's StopAll is what ends the agents.
func sysProcAttr() *syscall.SysProcAttr { return nil }
