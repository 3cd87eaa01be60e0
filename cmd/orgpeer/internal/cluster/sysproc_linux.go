package cluster

import "syscall"

// sysProcAttr has the kernel kill a member when the process that started
// it dies, so that no node outlives a crashed demo or test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
