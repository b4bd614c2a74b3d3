package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mcpNotesPID finds the server's child running `parley mcp-notes`.
func mcpNotesPID(t *testing.T, parent int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) || f[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "mcp-notes") {
			return pid
		}
	}
	return 0
}

// TestOfflineAgentUsesMCPTools: the offline default starts the demo notes
// MCP server (`parley mcp-notes`, stdio); the rules agent calls its tools
// by name in a conversation over /ws/voice; killed, the MCP server is
// started again by the next call and the conversation goes on.
func TestOfflineAgentUsesMCPTools(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServer(t, bins.get(t))
	c, _ := dialVoice(t, srv.addr, "")

	tr := typed(t, c, "remember that the meeting is at noon")
	call, ok := tr.first("tool.call")
	require.True(t, ok, "the agent calls a tool: %+v", tr.events)
	assert.Equal(t, "notes_add_note", call.Name)
	assert.JSONEq(t, `{"text":"The meeting is at noon"}`, string(call.Arguments))
	assert.Equal(t, "Noted: The meeting is at noon. You have one note.", tr.text("response.text.delta"))
	_, failed := tr.first("error")
	assert.False(t, failed, "%+v", tr.events)
	assert.Positive(t, tr.audioFrames, "the answer is spoken")

	tr = typed(t, c, "what are my notes")
	call, ok = tr.first("tool.call")
	require.True(t, ok, "%+v", tr.events)
	assert.Equal(t, "notes_list_notes", call.Name)
	assert.Equal(t, "You have one note. 1: The meeting is at noon.", tr.text("response.text.delta"))

	pid := mcpNotesPID(t, srv.cmd.Process.Pid)
	require.NotZero(t, pid, "the notes MCP server runs as the server's child")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		n := mcpNotesPID(t, srv.cmd.Process.Pid)
		return n == 0 || n != pid
	}, 10*time.Second, 20*time.Millisecond)
	// The notes lived in the killed process; the restarted one has none.
	tr = typed(t, c, "what are my notes")
	assert.Equal(t, "You have no notes.", tr.text("response.text.delta"), "%+v", tr.events)
	restarted := mcpNotesPID(t, srv.cmd.Process.Pid)
	assert.NotZero(t, restarted, "started again")

	// A clean stop closes the MCP server cleanly too (it ends with its
	// input, nothing kills it).
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	require.NoError(t, srv.stop())
	assert.NotContains(t, srv.logs.String(), "MCP server did not close cleanly")
	assert.False(t, pidAlive(restarted), "the MCP server is gone with the server")
	assert.NotContains(t, srv.logs.String(), `"level":"ERROR"`)
}

// TestMCPServerEndsWithKilledParley: a SIGKILLed Parley leaves no local MCP
// server behind: its stdin closes and it exits.
func TestMCPServerEndsWithKilledParley(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServer(t, bins.get(t))
	var pid int
	require.Eventually(t, func() bool {
		pid = mcpNotesPID(t, srv.cmd.Process.Pid)
		return pid != 0
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, srv.cmd.Process.Kill())
	_ = srv.stop()
	require.Eventually(t, func() bool { return !pidAlive(pid) }, 10*time.Second, 20*time.Millisecond,
		"the MCP server exits when Parley is killed")
}
