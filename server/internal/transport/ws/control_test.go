package ws_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// TestResponseCancel: response.cancel stops the agent; typed input while
// it speaks interrupts it too (reason new_input) and starts a new turn.
func TestResponseCancel(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{"count": sessiontest.Text(longReply), "again": sessiontest.Text(longReply), "short": sessiontest.Text("Short.")})
	h := newHarness(t, llm, nil)
	c := h.dial(true)
	c.ready(nil)
	c.sendJSON(map[string]any{"type": "input.text", "text": "count"})
	c.until(session.TypeAudioStarted, true)
	for played := 0; played < 10; {
		if m := c.next(); m.typ == websocket.MessageBinary {
			played++
			h.clock.Advance(frameDur)
		}
	}
	c.sendJSON(map[string]any{"type": "response.cancel"})
	tr := c.until(session.TypeResponseInterrupted, false)
	intr := tr.events[len(tr.events)-1]
	assert.Equal(t, session.ReasonClientCancel, intr.str("reason"))
	// 15 frames sent (look-ahead 5 + 10 played), 10 frames of time: 200 ms heard.
	assert.InDelta(t, 200, intr.num("played_ms"), 0)
	assert.Equal(t, "one two", intr.str("text_played"))

	c.sendJSON(map[string]any{"type": "input.text", "text": "again"})
	c.until(session.TypeAudioStarted, true)
	c.sendJSON(map[string]any{"type": "input.text", "text": "short"})
	tr = c.until(session.TypeResponseInterrupted, false)
	assert.Equal(t, session.ReasonNewInput, tr.events[len(tr.events)-1].str("reason"))
	tr = c.until(session.TypeResponseDone, true)
	assert.Equal(t, "Short.", tr.first(session.TypeResponseDone).str("text"))
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
	c.expect(session.TypePong)
	h.clock.Advance(25 * time.Second) // 25 s since the ping: still alive
	c.sendJSON(map[string]any{"type": "ping"})
	c.expect(session.TypePong)
	h.clock.Advance(31 * time.Second)
	assert.Equal(t, websocket.StatusCode(session.CloseIdleTimeout), c.closeStatus())
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
				Subprotocols: []string{session.ProtocolVersion}, HTTPHeader: map[string][]string{"Origin": {tc.origin}},
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
	assert.Equal(t, "still here", live.expect(session.TypePong).str("id"))
	deaf.startReading()
	assert.Equal(t, websocket.StatusCode(session.CloseIdleTimeout), deaf.closeStatus())
}

// TestSessionUpdateApplies: prompt, voice and language reach the plugins.
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
	c.until(session.TypeResponseDone, true)
	assert.Equal(t, "Parle français.", llm.Requests()[0].Messages[0].Content)
	assert.Equal(t, "awb", h.tts.Configs()[0].Voice)
	assert.Equal(t, 16000, h.tts.Configs()[0].SampleRate)
	assert.Equal(t, "fr", h.stt.Configs()[0].Language)
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
			tr := c.until(session.TypeResponseDone, true)
			assert.InDelta(t, 400, tr.first(session.TypeSpeechStarted).num("audio_ms"), 60)
			assert.Equal(t, "hello", tr.first(session.TypeTranscriptFinal).str("text"))
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
		c.until(session.TypeResponseDone, true)
	}
	// "tool" added 4 messages (user, assistant call, tool result, answer):
	// more than the cap, but the last turn is kept whole, from its user message.
	hist := c.history()
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "tool"}, hist[0])
	assert.Equal(t, "Done.", hist[3].Content)
	c.sendJSON(map[string]any{"type": "input.text", "text": "three"})
	c.until(session.TypeResponseDone, true)
	assert.Equal(t, []sdk.Message{{Role: sdk.RoleUser, Content: "three"}, {Role: sdk.RoleAssistant, Content: "Ok."}}, c.history())
}
