package testbuildkit

import "syscall"

// A test binary killed outright must not leave a daemon behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
