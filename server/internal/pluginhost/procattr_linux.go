//go:build linux

package pluginhost

import "syscall"

// sysProcAttr makes the kernel SIGKILL the plugin when the thread that
// started it dies. Each instance's supervisor goroutine locks its OS thread
// for its whole life and starts every process of that instance, so the
// thread dies only when the supervisor ends (after it stopped the plugin)
// or when Parley itself dies — then no plugin outlives Parley.
//
// Each plugin also gets its own process group, so that Ctrl-C in a
// terminal or a signal to Parley's group reaches Parley alone: Parley then
// stops its plugins in order (graceful first) instead of watching them die
// under it mid-drain.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
