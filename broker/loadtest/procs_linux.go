package loadtest

import "syscall"

// childAttr ties a child to the bench's life: the kernel sends it SIGTERM if the bench dies first,
// so that no broker outlives an interrupted run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
