package mcptools

import "syscall"

// sysProcAttr makes a local MCP server die with Parley (SIGKILL when the
// thread that started it ends) and puts it in its own process group, so a
// terminal's Ctrl-C reaches Parley only.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
