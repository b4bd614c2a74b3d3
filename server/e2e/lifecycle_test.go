package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientKey is the client API key of the lifecycle test: a secret like the
// provider keys, so it must not be logged either.
const clientKey = "e2e-DUMMY-client-key-c0ffee"

// TestLifecycleLogsNoErrors is issue 21's "logs that tell the truth" test:
// the real binary with the offline plugins and a client API key starts,
// holds a spoken conversation (and refuses a wrong key), then everything
// gets SIGTERM the way a service manager stopping the whole control group
// sends it — Parley's process group and every plugin process at once. The
// server must exit 0, not one line of its log (debug included) may be at
// Error, the plugins' ends must read as stopped, durations must be strings,
// and no secret may appear (the harness scans every line).
func TestLifecycleLogsNoErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServer(t, bins.get(t), "PARLEY_AUTH__API_KEYS="+clientKey)
	ctx := t.Context()

	get := func(path, authorization string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.addr+path, nil)
		require.NoError(t, err)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}
	resp := get("/v1/plugins", "Bearer wrong-"+clientKey)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp = get("/v1/plugins?token=wrong-"+clientKey, "")
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp = get("/v1/plugins", "Bearer "+clientKey)
	var status struct {
		Plugins []struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		} `json:"plugins"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&status))
	_ = resp.Body.Close()
	require.Len(t, status.Plugins, 3)

	c, _, err := websocket.Dial(ctx, "ws://"+srv.addr+"/ws/voice?token="+clientKey, &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(1 << 20)
	_, hello, err := c.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(hello), `"connection_established"`)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000,"output_sample_rate":16000}`)))
	tr := speak(ctx, t, c, speech(t, "what time is it"))
	_, ok := tr.first("response.done")
	require.True(t, ok, "a whole turn: %+v", tr.events)
	assert.Positive(t, tr.audioFrames)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))

	pgid := srv.cmd.Process.Pid
	require.NoError(t, syscall.Kill(-pgid, syscall.SIGTERM), "SIGTERM to Parley's process group")
	for _, p := range status.Plugins {
		require.Positive(t, p.PID, "plugin %s pid", p.Name)
		// A plugin may be gone already; anything else is a failure.
		if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil {
			require.ErrorIs(t, err, syscall.ESRCH)
		}
	}
	select {
	case <-srv.exited:
	case <-time.After(stopLimit):
		t.Fatalf("parley did not exit within %s of SIGTERM:\n%s", stopLimit, srv.logs)
	}
	require.NoError(t, srv.cmd.Wait(), "SIGTERM is a clean exit (0):\n%s", srv.logs)

	var lines, stopped int
	var sawDrain bool
	for line := range strings.Lines(srv.logs.String()) {
		lines++
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "every log line is JSON: %s", line)
		assert.NotEqual(t, "ERROR", rec["level"], "Error-level line on a normal start → conversation → SIGTERM: %s", line)
		for _, k := range []string{"took", "duration", "drain_timeout"} {
			if v, ok := rec[k]; ok {
				assert.IsType(t, "", v, "%s is a duration string, not nanoseconds: %s", k, line)
			}
		}
		switch rec["msg"] {
		case "plugin stopped", "plugin stopped by signal":
			stopped++
		case "shutting down":
			sawDrain = true
			assert.Equal(t, "10s", rec["drain_timeout"], "durations are logged as strings")
		}
	}
	assert.True(t, sawDrain, "the shutdown was logged")
	assert.GreaterOrEqual(t, stopped, len(status.Plugins), "each plugin's end reads as stopped:\n%s", srv.logs)
	assert.Contains(t, srv.logs.String(), "parley stopped cleanly")
	t.Logf("%d log lines scanned: none at Error, %d plugin stops at Info", lines, stopped)
}
