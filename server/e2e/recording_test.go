package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/recording"
	"github.com/parleyhq/parley/server/internal/session"
)

// recordedCall is one /ws/voice session that asked to be recorded.
type recordedCall struct {
	t  *testing.T
	c  *websocket.Conn
	id session.SessionID
}

// dialRecorded connects, opts in to recording and returns the session.
func dialRecorded(ctx context.Context, t *testing.T, addr string) *recordedCall {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(1 << 20)
	_, hello, err := c.Read(ctx)
	require.NoError(t, err)
	var est struct {
		SessionID string `json:"session_id"`
	}
	require.NoError(t, json.Unmarshal(hello, &est))
	require.NoError(t, c.Write(ctx, websocket.MessageText,
		[]byte(`{"type":"session.update","input_sample_rate":16000,"output_sample_rate":16000,"recording":true}`)))
	rc := &recordedCall{t: t, c: c, id: session.SessionID(est.SessionID)}
	upd := rc.until(ctx, "session.updated")
	require.Equal(t, true, upd["recording"], "the session is recorded: %v", upd)
	return rc
}

// until reads until an event of type typ (audio is skipped) and returns it.
func (rc *recordedCall) until(ctx context.Context, typ string) map[string]any {
	rc.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, turnLimit)
	defer cancel()
	for {
		mt, data, err := rc.c.Read(ctx)
		require.NoError(rc.t, err, "waiting for %s", typ)
		if mt != websocket.MessageText {
			continue
		}
		var ev map[string]any
		require.NoError(rc.t, json.Unmarshal(data, &ev))
		if ev["type"] == typ {
			return ev
		}
	}
}

// checkRecording reads session id's files in dir: a valid WAV (the
// project's reader and the recording's own), every log line JSON, and
// reports whether the log ends with recording.ended and its end reason.
func checkRecording(t *testing.T, dir string, id session.SessionID) (rep *recording.Replay, ended map[string]any, types map[string]int) {
	t.Helper()
	wavPath, logPath := recording.Paths(dir, id)
	raw, err := os.ReadFile(wavPath)
	require.NoError(t, err)
	require.Greater(t, len(raw), 44)
	dataSize := binary.LittleEndian.Uint32(raw[40:44])
	assert.Positive(t, dataSize, "the header counts the data written")
	assert.LessOrEqual(t, int(dataSize), len(raw)-44, "the header never counts more than is there")
	f, err := os.Open(wavPath)
	require.NoError(t, err)
	pcm, err := audio.ReadWAV(f)
	_ = f.Close()
	require.NoError(t, err, "a valid WAV")
	assert.Equal(t, recording.SampleRate, pcm.SampleRate)
	rep, err = recording.Load(dir, id)
	require.NoError(t, err)
	assert.Positive(t, energyOf(rep.User), "the user channel has the caller's speech")
	assert.Positive(t, energyOf(rep.Agent), "the agent channel has the agent's speech")

	lf, err := os.Open(logPath)
	require.NoError(t, err)
	defer lf.Close()
	types = map[string]int{}
	sc := bufio.NewScanner(lf)
	sc.Buffer(nil, 1<<20)
	var last map[string]any
	for sc.Scan() {
		var l map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "every line is JSON: %s", sc.Text())
		if ev, ok := l["event"].(map[string]any); ok {
			types[ev["type"].(string)]++
		}
		last = l
	}
	require.NoError(t, sc.Err())
	if last["type"] == recording.TypeEnded {
		ended = last
	}
	return rep, ended, types
}

func energyOf(s []int16) float64 {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return e
}

// TestRecordingSurvivesCrashesE2E: the real server and plugins record
// calls into files that are complete and readable after a plugin is
// SIGKILLed mid-reply (the call goes on), after SIGTERM of the server
// during a call, and (valid, up to the last second) after SIGKILL of the
// server.
func TestRecordingSurvivesCrashesE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	dir := t.TempDir()
	env := []string{"PARLEY_RECORDING__ENABLED=true", "PARLEY_RECORDING__DIR=" + dir, "PARLEY_VAD__ENGINE=energy"}
	bin := bins.get(t)
	srv := startServer(t, bin, env...)
	ctx := t.Context()
	question := speech(t, "what time is it")

	t.Run("plugin SIGKILL mid-reply", func(t *testing.T) {
		rc := dialRecorded(ctx, t, srv.addr)
		tr := speak(ctx, t, rc.c, question)
		_, ok := tr.first("response.done")
		require.True(t, ok, "a first whole turn: %+v", tr.events)
		pids := (&pluginPIDs{}).note(ctx, srv.addr)
		require.Positive(t, pids["tts-flite"])
		require.NoError(t, rc.c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"tell me a joke"}`)))
		rc.until(ctx, "response.audio.started")
		require.NoError(t, syscall.Kill(pids["tts-flite"], syscall.SIGKILL))
		rc.until(ctx, "metrics") // the reply ends one way or another
		// The call goes on once the plugin is back.
		var again *turn
		require.Eventually(t, func() bool {
			again = speak(ctx, t, rc.c, question)
			_, ok := again.first("response.done")
			return ok && again.audioFrames > 0
		}, turnLimit, time.Millisecond, "a turn answered with audio after the crash")
		require.NoError(t, rc.c.Close(websocket.StatusNormalClosure, "bye"))
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			_, ended, _ := checkRecording(t, dir, rc.id)
			assert.NotNil(c, ended)
		}, turnLimit, 50*time.Millisecond, "the recording is closed once the client left")
		rep, ended, types := checkRecording(t, dir, rc.id)
		assert.Equal(t, "normal", ended["end_reason"])
		assert.GreaterOrEqual(t, types["metrics"], 2, "per-turn metrics are logged")
		assert.GreaterOrEqual(t, types["response.done"], 2)
		assert.GreaterOrEqual(t, len(rep.Turns), 2, "spoken turns: %+v", rep.Turns)
	})

	t.Run("server SIGTERM during a call", func(t *testing.T) {
		rc := dialRecorded(ctx, t, srv.addr)
		tr := speak(ctx, t, rc.c, question)
		_, ok := tr.first("response.done")
		require.True(t, ok, "a whole turn: %+v", tr.events)
		require.NoError(t, rc.c.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"tell me a joke"}`)))
		rc.until(ctx, "response.audio.started")
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
		select {
		case <-srv.exited:
		case <-time.After(stopLimit):
			t.Fatalf("parley did not exit within %s of SIGTERM", stopLimit)
		}
		require.NoError(t, srv.cmd.Wait(), "a clean exit:\n%s", srv.logs)
		_, ended, types := checkRecording(t, dir, rc.id)
		require.NotNil(t, ended, "the log ends with %s", recording.TypeEnded)
		assert.Equal(t, "shutdown", ended["end_reason"])
		assert.Positive(t, types["response.audio.started"])
	})

	t.Run("server SIGKILL during a call", func(t *testing.T) {
		srv := startServer(t, bin, env...)
		rc := dialRecorded(ctx, t, srv.addr)
		tr := speak(ctx, t, rc.c, question) // several seconds: the header was rewritten since
		_, ok := tr.first("response.done")
		require.True(t, ok, "a whole turn: %+v", tr.events)
		// The microphone goes on (silence) past the writer's hold-back and
		// flush (1 s each), as a live call does, so the reply is on disk:
		// a SIGKILL loses only the last second or so.
		silence := make([]byte, 2*audio.FrameSamples)
		tick := time.NewTicker(audio.FrameDuration)
		for range 150 { // 3 s
			<-tick.C
			require.NoError(t, rc.c.Write(ctx, websocket.MessageBinary, silence))
		}
		tick.Stop()
		require.NoError(t, syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL), "SIGKILL to Parley's process group")
		<-srv.exited
		_ = srv.cmd.Wait()
		rep, ended, types := checkRecording(t, dir, rc.id)
		assert.Nil(t, ended, "killed: no end line")
		assert.False(t, rep.Ended)
		assert.Positive(t, types["transcript.final"], "the log has the turn up to the last flush")
	})
}
