package child

import "syscall"

// sysProcAttr has the kernel kill a child when the process that started
// it dies, so that none outlives a crashed demo, benchmark or test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
