//go:build linux

package pluginhost

import "syscall"

// sysProcAttr makes the kernel SIGKILL the plugin when the thread that
// started it dies. Each instance's supervisor goroutine locks its OS thread
// for its whole life and starts every process of that instance, so the
// thread dies only when the supervisor ends (after it stopped the plugin)
// or when Parley itself dies — then no plugin outlives Parley.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
