package e2e

import (
	"encoding/json"
	"net/http"
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

// pluginsView is GET /v1/plugins.
type pluginsView struct {
	Generation  int `json:"generation"`
	Generations []struct {
		Generation int    `json:"generation"`
		State      string `json:"state"`
		Sessions   int    `json:"sessions"`
	} `json:"generations"`
	Plugins []struct {
		Name        string `json:"name"`
		State       string `json:"state"`
		PID         int    `json:"pid"`
		Generation  int    `json:"generation"`
		Generations []int  `json:"generations"`
	} `json:"plugins"`
}

func getPlugins(t *testing.T, base string) pluginsView {
	t.Helper()
	status, _, body := call(t, http.MethodGet, base+"/v1/plugins", backendKey, "")
	require.Equal(t, http.StatusOK, status, string(body))
	var v pluginsView
	require.NoError(t, json.Unmarshal(body, &v))
	return v
}

// pids maps "name@generation" to the pid of every running instance.
func (v pluginsView) pids() map[string]int {
	out := map[string]int{}
	for _, p := range v.Plugins {
		if p.State == "running" {
			out[p.Name+"@"+strconv.Itoa(p.Generation)] = p.PID
		}
	}
	return out
}

// pidAlive reports whether process pid exists.
func pidAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// sessionGeneration is the plugin generation the admin API reports for a
// session.
func sessionGeneration(t *testing.T, base, id string) int {
	t.Helper()
	status, _, body := call(t, http.MethodGet, base+"/v1/sessions/"+id, adminKey, "")
	require.Equal(t, http.StatusOK, status, string(body))
	var s struct {
		Generation int `json:"generation"`
	}
	require.NoError(t, json.Unmarshal(body, &s))
	return s.Generation
}

// askText runs one typed turn and checks it ended without an error event;
// it returns the turn's audio bytes.
func askText(t *testing.T, c *websocket.Conn, text string) int {
	t.Helper()
	tr := typed(t, c, text)
	_, failed := tr.first("error")
	assert.False(t, failed, "no error event: %+v", tr.events)
	_, done := tr.first("response.done")
	require.True(t, done, "the turn is answered: %+v", tr.events)
	return tr.audioBytes
}

// The reload overlays: the TTS instance of the offline default speaking
// faster, then slower (each a new identity, so a new process), and a
// broken one (the pipeline names an instance that does not exist).
const (
	reloadBase    = "plugins: {reload: {drain_timeout: 1m}}\n"
	reloadFast    = "plugins: {reload: {drain_timeout: 1m}, instances: [{name: tts-flite, config: {speed: 1.5}}]}\n"
	reloadSlow    = "plugins: {reload: {drain_timeout: 1m}, instances: [{name: tts-flite, config: {speed: 0.8}}]}\n"
	reloadBroken  = "pipeline: {tts: [no-such-tts]}\n"
	reloadTimeout = 30 * time.Second
)

// TestReloadPlugins: POST /v1/admin/reload during a live WebSocket
// conversation starts the changed TTS as generation 2 while the STT and
// LLM processes carry over (same pids); the live conversation goes on, on
// generation 1, without an error; a new session gets generation 2 (and
// the faster TTS); the old TTS process exits once the old session ends.
// A broken config changes nothing and is answered 422 naming the key;
// SIGHUP reloads the same way, and a broken config on SIGHUP changes
// nothing either.
func TestReloadPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	base, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", "parley.yaml"))
	require.NoError(t, err)
	srv := startServerLayers(t, bins.get(t), []string{string(base), authOverlay, reloadBase})
	api := "http://" + srv.addr
	overlay := srv.layers[2]
	before := getPlugins(t, api)
	require.Equal(t, 1, before.Generation)
	pids1 := before.pids()
	require.Len(t, pids1, 3, "%+v", before)

	old, oldID := dialVoice(t, srv.addr, backendKey)
	oldAudio := askText(t, old, "what is seven times six")
	assert.Equal(t, 1, sessionGeneration(t, api, oldID))

	// Reload by the admin API while the old session is open.
	status, _, body := call(t, http.MethodPost, api+"/v1/admin/reload", backendKey, "")
	assert.Equal(t, http.StatusForbidden, status, "a client key cannot reload: %s", body)
	writeLayer(t, srv.binDir, overlay, reloadFast)
	status, _, body = call(t, http.MethodPost, api+"/v1/admin/reload", adminKey, "")
	require.Equal(t, http.StatusOK, status, string(body))
	var res struct {
		Generation  int      `json:"generation"`
		Changed     bool     `json:"changed"`
		Started     []string `json:"started"`
		CarriedOver []string `json:"carried_over"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	assert.Equal(t, 2, res.Generation)
	assert.True(t, res.Changed)
	assert.Equal(t, []string{"tts-flite"}, res.Started)
	assert.ElementsMatch(t, []string{"stt-pocketsphinx", "llm-rules"}, res.CarriedOver)

	after := getPlugins(t, api)
	assert.Equal(t, 2, after.Generation)
	pids2 := after.pids()
	assert.Equal(t, pids1["stt-pocketsphinx@1"], pids2["stt-pocketsphinx@2"], "the unchanged STT keeps its process")
	assert.Equal(t, pids1["llm-rules@1"], pids2["llm-rules@2"], "the unchanged LLM keeps its process")
	assert.Equal(t, pids1["tts-flite@1"], pids2["tts-flite@1"], "the old TTS still serves the old session")
	require.NotZero(t, pids2["tts-flite@2"])
	assert.NotEqual(t, pids1["tts-flite@1"], pids2["tts-flite@2"], "the changed TTS is a new process")
	require.Len(t, after.Generations, 2, "%+v", after.Generations)
	assert.Equal(t, "draining", after.Generations[0].State)
	assert.Equal(t, 1, after.Generations[0].Sessions)
	assert.Equal(t, "active", after.Generations[1].State)

	// The old conversation goes on, on its generation; a new one gets the
	// new TTS, which says the same answer faster.
	assert.Equal(t, oldAudio, askText(t, old, "what is seven times six"), "the old session still speaks at the old speed")
	assert.Equal(t, 1, sessionGeneration(t, api, oldID))
	fresh, freshID := dialVoice(t, srv.addr, backendKey)
	assert.Equal(t, 2, sessionGeneration(t, api, freshID))
	assert.Less(t, askText(t, fresh, "what is seven times six"), oldAudio, "the new session speaks faster")

	// The old TTS process exits once its last session ended.
	require.NoError(t, old.Close(websocket.StatusNormalClosure, ""))
	oldTTS := pids1["tts-flite@1"]
	require.Eventually(t, func() bool { return !pidAlive(oldTTS) }, reloadTimeout, 50*time.Millisecond,
		"the old generation's TTS process exits after its last session")
	require.Eventually(t, func() bool { return len(getPlugins(t, api).Generations) == 1 }, reloadTimeout, 50*time.Millisecond)
	assert.True(t, pidAlive(pids1["stt-pocketsphinx@1"]), "the carried-over STT keeps running")

	// A broken config changes nothing.
	writeLayer(t, srv.binDir, overlay, reloadBroken)
	status, _, body = call(t, http.MethodPost, api+"/v1/admin/reload", adminKey, "")
	assert.Equal(t, http.StatusUnprocessableEntity, status, string(body))
	assert.Equal(t, "config_invalid", errorCodeOf(t, body))
	assert.Contains(t, string(body), "pipeline.tts", "the error names the key")
	assert.Equal(t, pids2["tts-flite@2"], getPlugins(t, api).pids()["tts-flite@2"])
	askText(t, fresh, "what is seven times six")

	// SIGHUP reloads the same way.
	writeLayer(t, srv.binDir, overlay, reloadSlow)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return getPlugins(t, api).Generation == 3 }, reloadTimeout, 50*time.Millisecond)
	pids3 := getPlugins(t, api).pids()
	assert.Equal(t, pids1["stt-pocketsphinx@1"], pids3["stt-pocketsphinx@3"], "still the first STT process")
	assert.NotEqual(t, pids2["tts-flite@2"], pids3["tts-flite@3"])
	assert.Equal(t, 2, sessionGeneration(t, api, freshID), "a running session keeps its generation")
	askText(t, fresh, "what is seven times six")

	writeLayer(t, srv.binDir, overlay, reloadBroken)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(srv.logs.String(), "config reload rejected") }, reloadTimeout, 50*time.Millisecond)
	assert.Equal(t, 3, getPlugins(t, api).Generation, "a broken config on SIGHUP changes nothing")
	newest, _ := dialVoice(t, srv.addr, backendKey)
	askText(t, newest, "what is seven times six")
	assert.NotContains(t, srv.logs.String(), `"level":"ERROR"`, "nothing is logged at Error")
}
