//go:build !linux

package loadtest

import "syscall"

// childAttr: only Linux can tie a child to its parent's life; elsewhere an interrupted bench stops
// its children itself (signal handling in `iotlab bench`) and a killed one leaves them running.
func childAttr() *syscall.SysProcAttr { return nil }
