package serf

import "syscall"

// sysProcAttr has the kernel kill an agent when the process that started
// it dies, so that no agent outlives a crashed benchmark or test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
