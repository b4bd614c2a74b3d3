package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bounds of the Python TTS example's tone as heard by the client: 440 Hz
// crosses zero 880 times a second, about 17.6 times per 20 ms frame. Flite
// speech (the fallback) is far from steady at one rate.
const (
	toneFrameSamples   = 320
	toneMinCrossings   = 16
	toneMaxCrossings   = 19
	toneLoudFrameLevel = 1000 // RMS in PCM16 units: frames quieter than this are gaps
	// restartPoll is how often the restart test looks at /v1/plugins.
	restartPoll = 20 * time.Millisecond
)

// pythonLayers is configs/parley.yaml plus the named example overlays,
// and a last layer of the test's own.
func pythonLayers(t *testing.T, last string, overlays ...string) []string {
	t.Helper()
	root := repoRoot(t)
	base, err := os.ReadFile(filepath.Join(root, "configs", "parley.yaml"))
	require.NoError(t, err)
	layers := []string{string(base)}
	for _, o := range overlays {
		b, err := os.ReadFile(filepath.Join(root, "configs", "examples", o))
		require.NoError(t, err)
		layers = append(layers, string(b))
	}
	return append(layers, last)
}

// voiceConn opens /ws/voice at 16 kHz both ways.
func voiceConn(ctx context.Context, t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(1 << 20)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000,"output_sample_rate":16000}`)))
	return c
}

// textTurn sends text as the user's turn and returns the turn with the
// agent's audio samples.
func textTurn(ctx context.Context, t *testing.T, c *websocket.Conn, text string) (*turn, []int16) {
	t.Helper()
	sendText(ctx, t, c, text)
	ctx, cancel := context.WithTimeout(ctx, turnLimit)
	defer cancel()
	tr := &turn{}
	var samples []int16
	for {
		typ, data, err := c.Read(ctx)
		require.NoError(t, err, "events so far: %+v", tr.events)
		if typ == websocket.MessageBinary {
			tr.audioFrames++
			tr.audioBytes += len(data)
			for i := 0; i+1 < len(data); i += 2 {
				samples = append(samples, int16(binary.LittleEndian.Uint16(data[i:]))) //nolint:gosec // PCM16 bits.
			}
			continue
		}
		var e event
		require.NoError(t, json.Unmarshal(data, &e))
		tr.events = append(tr.events, e)
		if e.Type == "metrics" {
			return tr, samples
		}
	}
}

// noErrors fails for every error event of tr.
func noErrors(t *testing.T, tr *turn) {
	t.Helper()
	for _, e := range tr.events {
		if e.Type == "error" {
			t.Errorf("error event: %s %s", e.Code, e.Message)
		}
	}
}

// toneFrames returns how many loud 20 ms frames the samples have and the
// mean number of zero crossings per loud frame.
func toneFrames(samples []int16) (int, float64) {
	loud, crossings := 0, 0
	for off := 0; off+toneFrameSamples <= len(samples); off += toneFrameSamples {
		frame := samples[off : off+toneFrameSamples]
		var sum float64
		for _, s := range frame {
			sum += float64(s) * float64(s)
		}
		if math.Sqrt(sum/float64(len(frame))) < toneLoudFrameLevel {
			continue
		}
		loud++
		for i := 1; i < len(frame); i++ {
			if (frame[i-1] < 0) != (frame[i] < 0) {
				crossings++
			}
		}
	}
	if loud == 0 {
		return 0, 0
	}
	return loud, float64(crossings) / float64(loud)
}

// TestPythonTTSSpeaks: the real server with the Python TTS example as its
// only TTS (configs/examples/python-tts.yaml, fallback removed): the rules
// agent's answer reaches the client as the Python plugin's 440 Hz tone.
func TestPythonTTSSpeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServerLayers(t, bins.get(t), pythonLayers(t, "pipeline: {tts: [tts-tone-py]}\n", "python-tts.yaml"))
	ctx := t.Context()
	c := voiceConn(ctx, t, srv.addr)
	tr, samples := textTurn(ctx, t, c, "what time is it")
	noErrors(t, tr)
	assert.True(t, strings.HasPrefix(tr.text("response.text.delta"), "It is"), "rules agent's answer: %q", tr.text("response.text.delta"))
	_, ok := tr.first("response.audio.started")
	assert.True(t, ok, "response.audio.started")
	loud, perFrame := toneFrames(samples)
	assert.Positive(t, loud, "the tone is heard")
	assert.GreaterOrEqual(t, perFrame, float64(toneMinCrossings), "440 Hz: zero crossings per frame")
	assert.LessOrEqual(t, perFrame, float64(toneMaxCrossings), "440 Hz: zero crossings per frame")
	assert.Equal(t, "running", pluginStatus(t, srv.addr)["tts-tone-py"].State)
	t.Logf("python tts: %d audio frames, %d loud, %.1f zero crossings per loud frame", tr.audioFrames, loud, perFrame)
}

// TestPythonLLMToolCall: the real server with the Python LLM example as
// its only LLM: asked the time, it calls get_current_time, the server runs
// the tool and the plugin reads the result out; other text is echoed.
func TestPythonLLMToolCall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServerLayers(t, bins.get(t), pythonLayers(t, "pipeline: {llm: [llm-echo-py]}\n", "python-llm.yaml"))
	ctx := t.Context()
	c := voiceConn(ctx, t, srv.addr)

	tr, _ := textTurn(ctx, t, c, "what time is it")
	noErrors(t, tr)
	call, ok := tr.first("tool.call")
	require.True(t, ok, "a tool call; events: %+v", tr.events)
	assert.Equal(t, "get_current_time", call.Name)
	assert.True(t, json.Valid(call.Arguments), "tool arguments are JSON: %s", call.Arguments)
	reply := tr.text("response.text.delta")
	assert.Contains(t, reply, "The tool answered:", "the plugin read the tool's result out")
	assert.Positive(t, tr.audioFrames, "flite speaks the answer")

	logged := false
	for _, line := range strings.Split(srv.logs.String(), "\n") {
		var rec struct {
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Plugin string `json:"plugin"`
			Tool   string `json:"tool"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "calling tool" {
			logged = rec.Level == "INFO" && rec.Plugin == "llm-echo-py" && rec.Tool == "get_current_time"
		}
	}
	assert.True(t, logged, "the Python plugin's log line is in Parley's log at INFO with its fields and the plugin's name")

	tr, _ = textTurn(ctx, t, c, "hello there")
	noErrors(t, tr)
	_, called := tr.first("tool.call")
	assert.False(t, called)
	assert.Equal(t, "You said: hello there", strings.TrimSpace(tr.text("response.text.delta")))
	t.Logf("python llm: tool reply %q", reply)
}

// TestPythonPluginRestart: SIGKILLing the Python TTS process is a crash
// like any plugin's: the supervisor restarts it (a new process, restarts
// counted) and the next turn is spoken by the new process.
func TestPythonPluginRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServerLayers(t, bins.get(t), pythonLayers(t, "pipeline: {tts: [tts-tone-py]}\n", "python-tts.yaml"))
	ctx := t.Context()
	before := pluginStatus(t, srv.addr)["tts-tone-py"]
	require.Positive(t, before.PID)
	require.NoError(t, syscall.Kill(before.PID, syscall.SIGKILL))
	var after pluginState
	require.Eventually(t, func() bool {
		st, err := fetchPluginStatus(ctx, srv.addr)
		if err != nil {
			return false
		}
		after = st["tts-tone-py"]
		return after.State == "running" && after.PID != before.PID && after.PID > 0
	}, startLimit, restartPoll, "the plugin runs again as a new process")
	c := voiceConn(ctx, t, srv.addr)
	tr, samples := textTurn(ctx, t, c, "what time is it")
	noErrors(t, tr)
	loud, _ := toneFrames(samples)
	assert.Positive(t, loud, "the restarted plugin speaks")
	down := 0
	for _, r := range serverLog(srv) {
		if r.Msg == "plugin down, restarting" && r.Plugin == "tts-tone-py" {
			down++
		}
	}
	assert.Equal(t, 1, down, "one crash, one restart")
	require.NoError(t, srv.stop())
	assertNoPluginLeft(t, map[int]bool{before.PID: true, after.PID: true})
}

// TestPythonSTTHears: the Python STT and LLM examples together
// (configs/examples/python-stt.yaml and python-llm.yaml, fallbacks
// removed): speech streamed at real time over /ws/voice is counted in
// bursts by the Python STT, and the Python LLM echoes the count.
func TestPythonSTTHears(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	layers := pythonLayers(t, "pipeline: {stt: [stt-bursts-py], llm: [llm-echo-py]}\n", "python-stt.yaml", "python-llm.yaml")
	srv := startServerLayers(t, bins.get(t), layers)
	ctx := t.Context()
	c := voiceConn(ctx, t, srv.addr)
	tr := speak(ctx, t, c, speech(t, "one two three four"))
	noErrors(t, tr)
	final := tr.text("transcript.final")
	assert.Regexp(t, `^[1-9][0-9]* bursts$`, final, "the burst counter's transcript")
	assert.Equal(t, "You said: "+final, strings.TrimSpace(tr.text("response.text.delta")))
	assert.Positive(t, tr.audioFrames, "flite speaks the echo")
	t.Logf("python stt: %q", final)
}
