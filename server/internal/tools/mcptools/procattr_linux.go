package mcptools

import "syscall"

// sysProcAttr puts a local MCP server in its own process group, so a
// terminal's Ctrl-C reaches Parley only, which then closes it cleanly.
//
// No Pdeathsig: it fires when the *thread* that started the child ends,
// and the plugin host ends OS threads (its supervisors lock theirs), which
// killed MCP servers started from such a thread. A local server needs
// none: when Parley exits, however it exits, the server's stdin closes,
// and an MCP server exits at the end of its input.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
