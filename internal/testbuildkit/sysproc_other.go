//go:build !linux

package testbuildkit

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
