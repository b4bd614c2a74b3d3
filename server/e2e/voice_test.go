package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
)

// Conversation limits: how long a turn may take before the test gives up.
const (
	turnLimit       = 45 * time.Second
	trailingSilence = 1500 * time.Millisecond
)

var bins builds //nolint:gochecknoglobals // built once per test binary, shared by tests.

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.built {
		_ = os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// speech renders text with Debian's flite (voice slt, 16 kHz) and returns
// the samples.
func speech(t *testing.T, text string) []int16 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q.wav")
	out, err := exec.CommandContext(t.Context(), "flite", "-voice", "slt", "-t", text, "-o", path).CombinedOutput()
	require.NoError(t, err, "flite: %s", out)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	pcm, err := audio.ReadWAV(f)
	require.NoError(t, err)
	require.Equal(t, audio.SampleRate, pcm.SampleRate, "flite slt speaks at 16 kHz")
	return pcm.Samples
}

// event is any server JSON event; the fields the test reads.
type event struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	Delta        string          `json:"delta"`
	Name         string          `json:"name"`
	Arguments    json.RawMessage `json:"arguments"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	VoiceToVoice *float64        `json:"voice_to_voice_ms"`
	STTMS        *float64        `json:"stt_final_ms"`
	LLMTTFTMS    *float64        `json:"llm_ttft_ms"`
	TTSTTFAMS    *float64        `json:"tts_ttfa_ms"`
}

// turn is what one spoken question produced.
type turn struct {
	events      []event
	audioFrames int
	audioBytes  int
}

func (tr *turn) first(typ string) (event, bool) {
	for _, e := range tr.events {
		if e.Type == typ {
			return e, true
		}
	}
	return event{}, false
}

func (tr *turn) text(typ string) string {
	var b strings.Builder
	for _, e := range tr.events {
		if e.Type == typ {
			b.WriteString(e.Text + e.Delta)
		}
	}
	return b.String()
}

// speak streams samples at real time in 20 ms frames followed by trailing
// silence, while reading events until response.done or an error.
func speak(ctx context.Context, t *testing.T, c *websocket.Conn, samples []int16) *turn {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, turnLimit)
	defer cancel()
	tr := &turn{}
	done := make(chan error, 1)
	go func() {
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				done <- err
				return
			}
			if typ == websocket.MessageBinary {
				tr.audioFrames++
				tr.audioBytes += len(data)
				continue
			}
			var e event
			if err := json.Unmarshal(data, &e); err != nil {
				done <- fmt.Errorf("bad event %s: %w", data, err)
				return
			}
			tr.events = append(tr.events, e)
			if e.Type == "response.done" {
				// Keep reading until the metrics event of this turn.
				continue
			}
			if e.Type == "metrics" {
				done <- nil
				return
			}
		}
	}()
	silence := make([]int16, audio.FrameSamples)
	frames := (len(samples) + audio.FrameSamples - 1) / audio.FrameSamples
	total := frames + int(trailingSilence/audio.FrameDuration)
	tick := time.NewTicker(audio.FrameDuration)
	defer tick.Stop()
	buf := make([]byte, 0, audio.FrameBytes)
	for i := range total {
		chunk := silence
		if i < frames {
			end := min((i+1)*audio.FrameSamples, len(samples))
			chunk = samples[i*audio.FrameSamples : end]
		}
		buf = audio.EncodePCM16LE(buf[:0], chunk)
		require.NoError(t, c.Write(ctx, websocket.MessageBinary, buf))
		select {
		case <-tick.C:
		case err := <-done:
			require.NoError(t, err)
			return tr
		}
	}
	// Keep the line "alive" with silence until the turn completes.
	for {
		select {
		case <-tick.C:
			buf = audio.EncodePCM16LE(buf[:0], silence)
			if err := c.Write(ctx, websocket.MessageBinary, buf); err != nil {
				require.NoError(t, <-done)
				return tr
			}
		case err := <-done:
			require.NoError(t, err, "events so far: %+v", tr.events)
			return tr
		}
	}
}

// TestOfflineVoiceLoop is issue 5's end-to-end test: the real server
// binary on configs/parley.yaml with the real pocketsphinx, rules and flite
// plugins, spoken to over /ws/voice at real time.
func TestOfflineVoiceLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the server and plugins")
	}
	srv := startServer(t, bins.get(t))
	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "ws://"+srv.addr+"/ws/voice", &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(1 << 20)

	_, hello, err := c.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(hello), `"connection_established"`)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"session.update","input_sample_rate":16000,"output_sample_rate":16000}`)))

	tests := []struct {
		question   string
		transcript []string
		tool       string
		reply      string
	}{
		{"what time is it", []string{"time"}, "get_current_time", ""},
		{"what is seven times six", []string{"seven", "six"}, "calculator", "42"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.question, " ", "_"), func(t *testing.T) {
			tr := speak(ctx, t, c, speech(t, tt.question))
			for _, e := range tr.events {
				if e.Type == "error" {
					t.Errorf("error event: %s %s", e.Code, e.Message)
				}
			}
			final := tr.text("transcript.final")
			for _, w := range tt.transcript {
				assert.Contains(t, final, w, "transcript.final")
			}
			call, ok := tr.first("tool.call")
			require.True(t, ok, "a tool call happens; events: %+v", tr.events)
			assert.Equal(t, tt.tool, call.Name)
			assert.True(t, json.Valid(call.Arguments), "tool arguments are JSON: %s", call.Arguments)
			reply := tr.text("response.text.delta")
			assert.NotEmpty(t, reply)
			if tt.reply != "" {
				assert.Contains(t, reply, tt.reply)
			}
			_, ok = tr.first("response.audio.started")
			assert.True(t, ok, "response.audio.started")
			assert.Positive(t, tr.audioFrames, "agent audio frames arrive")
			assert.Zero(t, tr.audioBytes%audio.FrameBytes, "20 ms frames of 16 kHz PCM16")
			_, ok = tr.first("response.done")
			assert.True(t, ok, "response.done")
			m, ok := tr.first("metrics")
			require.True(t, ok)
			require.NotNil(t, m.VoiceToVoice, "metrics reports voice-to-voice")
			t.Logf("question %q → transcript %q, reply %q; %d audio frames; stt_final %.0f ms, llm_ttft %.0f ms, tts_ttfa %.0f ms, voice-to-voice %.0f ms",
				tt.question, final, reply, tr.audioFrames, deref(m.STTMS), deref(m.LLMTTFTMS), deref(m.TTSTTFAMS), *m.VoiceToVoice)
		})
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
	assert.False(t, bytes.Contains([]byte(srv.logs.String()), []byte(`"level":"ERROR"`)), "no error logged:\n%s", srv.logs)
	assert.Contains(t, srv.logs.String(), "vad engine silero loaded", "configs/parley.yaml runs the Silero VAD")
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}
