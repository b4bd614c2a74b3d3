package ws_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/vad"
)

// quietScale turns sessiontest.Speech into a quiet voice over the test
// room noise: the energy VAD starts speech on it at its default 12 dB
// threshold but not at 24 dB (scales 0.02 to 0.05 all do; measured with
// vad.Segmenter over the same audio).
const quietScale = 0.03

// TestResponseCancel: response.cancel stops the agent; typed input while
// it speaks interrupts it too (reason new_input) and starts a new turn.
func TestResponseCancel(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{"count": sessiontest.Text(longReply), "again": sessiontest.Text(longReply), "short": sessiontest.Text("Short.")})
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "count"})
	c.until(parleyv1.TypeAudioStarted, true)
	for played := 0; played < 10; {
		if m := c.next(); m.typ == websocket.MessageBinary {
			played++
			h.clock.Advance(frameDur)
		}
	}
	c.sendJSON(map[string]any{"type": "response.cancel"})
	tr := c.until(parleyv1.TypeResponseInterrupted, false)
	intr := tr.events[len(tr.events)-1]
	assert.Equal(t, string(session.ReasonClientCancel), intr.str("reason"))
	// 15 frames sent (look-ahead 5 + 10 played), 10 frames of time: 200 ms heard.
	assert.InDelta(t, 200, intr.num("played_ms"), 0)
	assert.Equal(t, "one two", intr.str("text_played"))

	c.sendJSON(map[string]any{"type": "input.text", "text": "again"})
	c.until(parleyv1.TypeAudioStarted, true)
	c.sendJSON(map[string]any{"type": "input.text", "text": "short"})
	tr = c.until(parleyv1.TypeResponseInterrupted, false)
	assert.Equal(t, string(session.ReasonNewInput), tr.events[len(tr.events)-1].str("reason"))
	tr = c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, "Short.", tr.first(parleyv1.TypeResponseDone).str("text"))
	// Nothing of "again" was played: no assistant message for it.
	hist := c.history()
	assert.Equal(t, []sdk.Message{
		{Role: sdk.RoleUser, Content: "count"}, {Role: sdk.RoleAssistant, Content: "one two"},
		{Role: sdk.RoleUser, Content: "again"}, {Role: sdk.RoleUser, Content: "short"},
		{Role: sdk.RoleAssistant, Content: "Short."},
	}, hist)
}

// TestIdleTimeout: no client traffic for IdleTimeout ends the session (4002).
func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, scripted(nil), func(s *setup) { s.session.IdleTimeout = 30 * time.Second })
	c := h.dial(true)
	c.ready(nil)
	h.clock.Advance(10 * time.Second)
	c.sendJSON(map[string]any{"type": "ping"})
	c.expect(parleyv1.TypePong)
	h.clock.Advance(25 * time.Second) // 25 s since the ping: still alive
	c.sendJSON(map[string]any{"type": "ping"})
	c.expect(parleyv1.TypePong)
	h.clock.Advance(31 * time.Second)
	assert.Equal(t, websocket.StatusCode(parleyv1.CloseIdleTimeout), c.closeStatus())
}

// TestOriginCheck: a foreign Origin is refused unless allowed.
func TestOriginCheck(t *testing.T) {
	h := newHarness(t, scripted(nil), func(s *setup) { s.auth.AllowedOrigins = []string{"https://app.example.com"} })
	for _, tc := range []struct {
		origin string
		ok     bool
	}{{"https://app.example.com", true}, {"https://evil.example.com", false}, {h.srv.URL, true}} {
		t.Run(tc.origin, func(t *testing.T) {
			ctx, cancel := contextWithTimeout()
			defer cancel()
			c, resp, err := websocket.Dial(ctx, h.url, &websocket.DialOptions{
				Subprotocols: []string{parleyv1.Version}, HTTPHeader: map[string][]string{"Origin": {tc.origin}},
			})
			okHTTP(t, resp)
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
				return
			}
			require.Error(t, err)
			assert.Equal(t, 403, resp.StatusCode)
		})
	}
	assert.Eventually(t, func() bool { return h.mgr.Count() == 0 }, waitFor, frameDur)
}

func TestOriginPatterns(t *testing.T) {
	assert.Equal(t, []string{"app.example.com", "*", "localhost:3000"},
		wsOriginPatterns([]string{"https://app.example.com", "*", " http://localhost:3000 ", ""}))
}

// TestKeepAlive: with pings on, a reading client stays connected and
// answers them; a client that stops reading (no pong) is dropped with 4002.
func TestKeepAlive(t *testing.T) {
	h := newHarness(t, scripted(nil), func(s *setup) { s.ws.PingInterval = 500 * time.Millisecond })
	live := h.dial(true)
	require.Eventually(t, func() bool { return h.mgr.Count() == 1 }, waitFor, time.Millisecond)
	deaf := h.dial(false)
	// The deaf client never reads, so it never answers a ping. Its session
	// must be seen registered first: the upgrade returns to the client before
	// the server registers the session, and a deaf client that started
	// reading would answer later pings.
	require.Eventually(t, func() bool { return h.mgr.Count() == 2 }, waitFor, time.Millisecond)
	require.Eventually(t, func() bool { return h.mgr.Count() == 1 }, waitFor, frameDur)
	live.sendJSON(map[string]any{"type": "ping", "id": "still here"})
	assert.Equal(t, "still here", live.expect(parleyv1.TypePong).str("id"))
	deaf.startReading()
	assert.Equal(t, websocket.StatusCode(parleyv1.CloseIdleTimeout), deaf.closeStatus())
}

// TestSessionUpdateApplies: prompt, voice and language reach the plugins
// (and the STT stream names its session).
func TestSessionUpdateApplies(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("Bonjour.")})
	h := newHarness(t, llm, nil)
	h.stt.Transcripts = []string{"salut"}
	c := h.dial(true)
	upd := c.ready(map[string]any{"system_prompt": "Parle français.", "voice": "awb", "language": "fr", "vad": map[string]any{"min_silence_ms": 400}})
	assert.Equal(t, "awb", upd.str("voice"))
	assert.Equal(t, "fr", upd.str("language"))
	assert.InDelta(t, 400, upd.num("min_silence_ms"), 0)
	c.utterance(600 * time.Millisecond)
	c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, "Parle français.", llm.Requests()[0].Messages[0].Content)
	assert.Equal(t, "awb", h.tts.Configs()[0].Voice)
	assert.Equal(t, 16000, h.tts.Configs()[0].SampleRate)
	assert.Equal(t, "fr", h.stt.Configs()[0].Language)
	assert.Equal(t, string(c.id), h.stt.Configs()[0].SessionID, "the STT stream names its session")
}

// TestSessionUpdateVADSettings: vad.threshold_db and vad.min_speech_ms
// from session.update are reported in session.updated and take effect: a
// higher threshold keeps a quiet utterance from starting speech, a lower
// min_speech lets a short burst count. The unchanged settings are the
// control: the same audio does the opposite.
func TestSessionUpdateVADSettings(t *testing.T) {
	quiet := sessiontest.Speech(600*time.Millisecond, audio.SampleRate)
	for i := range quiet {
		quiet[i] = int16(float64(quiet[i]) * quietScale)
	}
	burst := sessiontest.Speech(80*time.Millisecond, audio.SampleRate)
	tests := []struct {
		name          string
		vad           map[string]any
		audio         []int16
		wantThreshold float64
		wantMinSpeech float64
		wantStarted   bool
	}{
		{name: "default threshold hears a quiet utterance", audio: quiet, wantThreshold: vad.DefaultThreshold, wantMinSpeech: 100, wantStarted: true},
		{name: "high threshold does not", vad: map[string]any{"threshold_db": 24}, audio: quiet, wantThreshold: 24, wantMinSpeech: 100},
		{name: "default min speech ignores a short burst", audio: burst, wantThreshold: vad.DefaultThreshold, wantMinSpeech: 100},
		{name: "lower min speech counts it", vad: map[string]any{"min_speech_ms": 60}, audio: burst, wantThreshold: vad.DefaultThreshold, wantMinSpeech: 60, wantStarted: true},
		{name: "both at once", vad: map[string]any{"threshold_db": 7.5, "min_speech_ms": 60}, audio: burst, wantThreshold: 7.5, wantMinSpeech: 60, wantStarted: true},
	}
	h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("Ok.")}), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(true)
			c.t = t
			upd := map[string]any{}
			if tt.vad != nil {
				upd["vad"] = tt.vad
			}
			ev := c.ready(upd)
			assert.InDelta(t, tt.wantThreshold, ev.num("threshold_db"), 0)
			assert.InDelta(t, tt.wantMinSpeech, ev.num("min_speech_ms"), 0)
			assert.InDelta(t, 300, ev.num("min_silence_ms"), 0)

			c.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
			c.audio(tt.audio)
			c.audio(sessiontest.Silence(500*time.Millisecond, audio.SampleRate))
			// The session handles messages in order: the pong comes after
			// every frame above went through VAD.
			c.sendJSON(map[string]any{"type": "ping", "id": "after audio"})
			tr := c.until(parleyv1.TypePong, false)
			assert.Equal(t, tt.wantStarted, tr.first(parleyv1.TypeSpeechStarted) != nil, "events: %v", tr.types())
			require.NoError(t, c.c.Close(websocket.StatusNormalClosure, "bye"))
		})
	}
}

// TestSessionUpdateVADOutOfLimits: VAD settings outside the server's limits
// are refused with invalid_field naming the field and the allowed range;
// the settings in force do not change and the session continues.
func TestSessionUpdateVADOutOfLimits(t *testing.T) {
	tests := []struct {
		name  string
		vad   map[string]any
		field string
		value string
		rng   string
	}{
		{name: "threshold above", vad: map[string]any{"threshold_db": 30}, field: "vad.threshold_db", value: "30", rng: "6..24"},
		{name: "threshold below", vad: map[string]any{"threshold_db": 2.5}, field: "vad.threshold_db", value: "2.5", rng: "6..24"},
		{name: "min speech above", vad: map[string]any{"min_speech_ms": 900}, field: "vad.min_speech_ms", value: "900", rng: "60..500"},
		{name: "min speech below", vad: map[string]any{"min_speech_ms": 20}, field: "vad.min_speech_ms", value: "20", rng: "60..500"},
		{name: "one bad field refuses the whole update", vad: map[string]any{"threshold_db": 9, "min_speech_ms": 1000}, field: "vad.min_speech_ms", value: "1000", rng: "60..500"},
	}
	h := newHarness(t, scripted(nil), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(true)
			c.t = t
			c.ready(nil)
			c.sendJSON(map[string]any{"type": parleyv1.TypeSessionUpdate, "vad": tt.vad})
			ev := c.expect(parleyv1.TypeError)
			assert.Equal(t, string(session.CodeInvalidField), ev.str("code"))
			assert.Contains(t, ev.str("message"), tt.field)
			assert.Contains(t, ev.str("message"), tt.rng)
			details, ok := ev["details"].(map[string]any)
			require.True(t, ok, "details is an object")
			assert.Equal(t, tt.field, details["field"])
			assert.Equal(t, tt.value, details["value"])

			upd := c.ready(map[string]any{"voice": "awb"})
			assert.InDelta(t, vad.DefaultThreshold, upd.num("threshold_db"), 0, "unchanged")
			assert.InDelta(t, 100, upd.num("min_speech_ms"), 0, "unchanged")
			assert.Equal(t, "awb", upd.str("voice"))
			require.NoError(t, c.c.Close(websocket.StatusNormalClosure, "bye"))
		})
	}
}

// TestInputSampleRates: audio at 8, 24 and 48 kHz is resampled to 16 kHz
// before VAD and STT.
func TestInputSampleRates(t *testing.T) {
	for _, rate := range []int{8000, 24000, 48000} {
		t.Run(strconv.Itoa(rate), func(t *testing.T) {
			h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("Heard.")}), nil)
			h.stt.Transcripts = []string{"hello"}
			c := h.dial(true)
			c.ready(map[string]any{"input_sample_rate": rate})
			var samples []int16
			samples = append(samples, sessiontest.Silence(400*time.Millisecond, rate)...)
			samples = append(samples, sessiontest.Speech(time.Second, rate)...)
			samples = append(samples, sessiontest.Silence(500*time.Millisecond, rate)...)
			for _, f := range sessiontest.Frames(sessiontest.PCM(samples), rate) {
				c.sendRaw(websocket.MessageBinary, f)
				h.clock.Advance(frameDur)
			}
			tr := c.until(parleyv1.TypeResponseDone, true)
			assert.InDelta(t, 400, tr.first(parleyv1.TypeSpeechStarted).num("audio_ms"), 60)
			assert.Equal(t, "hello", tr.first(parleyv1.TypeTranscriptFinal).str("text"))
			// The STT got 16 kHz audio: about the second of speech plus pre-roll.
			// pre-roll 200 ms + 1 s of speech + 300 ms of silence until the end of turn
			assert.InDelta(t, 1.5*32000, float64(h.stt.AudioBytes()[0]), 0.1*32000)
		})
	}
}

// TestHistoryCap: the history keeps at most MaxHistory messages and
// always starts with a user message.
func TestHistoryCap(t *testing.T) {
	llm := &sessiontest.LLM{Reply: func(req sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
		if req.Messages[len(req.Messages)-1].Role == sdk.RoleTool {
			return sessiontest.Text("Done."), nil
		}
		if req.Messages[len(req.Messages)-1].Content == "tool" {
			return sessiontest.Call("x", "calculator", `{"expression":"1"}`), nil
		}
		return sessiontest.Text("Ok."), nil
	}}
	h := newHarness(t, llm, func(s *setup) { s.session.MaxHistory = 3 })
	c := h.dial(true)
	c.ready(nil)
	for _, text := range []string{"one", "two", "tool"} {
		c.sendJSON(map[string]any{"type": "input.text", "text": text})
		c.until(parleyv1.TypeResponseDone, true)
	}
	// "tool" added 4 messages (user, assistant call, tool result, answer):
	// more than the cap, but the last turn is kept whole, from its user message.
	hist := c.history()
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "tool"}, hist[0])
	assert.Equal(t, "Done.", hist[3].Content)
	c.sendJSON(map[string]any{"type": "input.text", "text": "three"})
	c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, []sdk.Message{{Role: sdk.RoleUser, Content: "three"}, {Role: sdk.RoleAssistant, Content: "Ok."}}, c.history())
}
