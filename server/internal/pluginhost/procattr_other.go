//go:build !linux

package pluginhost

import "syscall"

// sysProcAttr returns nil: parent-death signals exist on Linux only.
// Elsewhere a plugin outlives a Parley that was SIGKILLed until its next
// write to the closed pipe.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
