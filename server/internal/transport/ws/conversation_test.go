package ws_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

const reply1 = "Paris is the capital of France. It has about two million people."

// TestScriptedConversation: speech audio → VAD → transcript → LLM deltas
// → sentences into TTS → paced audio frames → response.done → metrics.
func TestScriptedConversation(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{
		"what is the capital of france": sessiontest.Text("Paris is the capital", " of France. It has about", " two million people."),
	})
	h := newHarness(t, llm, nil)
	h.stt.Transcripts = []string{"what is the capital of france"}
	c := h.dial(true)
	c.ready(nil)

	c.utterance(time.Second)
	tr := c.until(parleyv1.TypeResponseDone, true)
	tr2 := c.until(parleyv1.TypeMetrics, true)

	// The partial comes from the STT goroutine: after speech start, before the final.
	partial := indexOf(tr.order, parleyv1.TypeTranscriptPartial)
	assert.Greater(t, partial, indexOf(tr.order, parleyv1.TypeSpeechStarted))
	assert.Less(t, partial, indexOf(tr.order, parleyv1.TypeTranscriptFinal))
	// Text deltas and audio interleave (TTS starts on the first sentence
	// while the LLM still streams); both follow the final transcript.
	assert.Equal(t, []string{
		parleyv1.TypeSpeechStarted, parleyv1.TypeSpeechStopped, parleyv1.TypeTurnEnded, parleyv1.TypeTranscriptFinal, parleyv1.TypeResponseDone,
	}, without(without(without(tr.types(), parleyv1.TypeTranscriptPartial), parleyv1.TypeTextDelta), parleyv1.TypeAudioStarted))
	assert.Greater(t, indexOf(tr.order, parleyv1.TypeTextDelta), indexOf(tr.order, parleyv1.TypeTranscriptFinal))
	var deltas strings.Builder
	for _, e := range tr.events {
		if e.str("type") == parleyv1.TypeTextDelta {
			deltas.WriteString(e.str("delta"))
		}
	}
	assert.Equal(t, reply1, deltas.String())
	assert.Equal(t, "what", tr.first(parleyv1.TypeTranscriptPartial).str("text"))
	assert.Equal(t, "what is the capital of france", tr.first(parleyv1.TypeTranscriptFinal).str("text"))
	done := tr.first(parleyv1.TypeResponseDone)
	assert.Equal(t, string(session.StatusCompleted), done.str("status"))
	assert.Equal(t, reply1, done.str("text"))

	// Audio: every word is 100 ms = 5 frames of 640 bytes, sent after
	// response.audio.started.
	nWords := len(strings.Fields(reply1))
	require.Len(t, tr.frames, nWords*5)
	for _, f := range tr.frames {
		require.Len(t, f, audio.FrameBytes)
	}
	started := indexOf(tr.order, parleyv1.TypeAudioStarted)
	assert.Less(t, started, indexOf(tr.order, "#audio"))

	// The VAD onset is ~400 ms into the stream; the STT got the pre-roll and the speech.
	assert.InDelta(t, 400, tr.first(parleyv1.TypeSpeechStarted).num("audio_ms"), 60)
	assert.GreaterOrEqual(t, h.stt.AudioBytes()[0], 32000)
	// TTS got the sentences verbatim.
	assert.Equal(t, []string{reply1}, h.tts.Texts())

	// The LLM got the system prompt, the user turn and the tools.
	reqs := llm.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, []sdk.Message{
		{Role: sdk.RoleSystem, Content: "You are a test agent."},
		{Role: sdk.RoleUser, Content: "what is the capital of france"},
	}, reqs[0].Messages)
	assert.Len(t, reqs[0].Tools, 3)

	m := tr2.first(parleyv1.TypeMetrics)
	for _, k := range []string{"stt_final_ms", "llm_ttft_ms", "tts_ttfa_ms", "voice_to_voice_ms"} {
		assert.Contains(t, m, k)
	}
	assert.Equal(t, []sdk.Message{
		{Role: sdk.RoleUser, Content: "what is the capital of france"},
		{Role: sdk.RoleAssistant, Content: reply1},
	}, c.history())
	// The same turn is in the Prometheus histograms.
	for _, name := range []string{"parley_turn_stt_final_seconds", "parley_turn_llm_ttft_seconds",
		"parley_turn_tts_ttfa_seconds", "parley_turn_voice_to_voice_seconds"} {
		assert.Equal(t, uint64(1), histogramCount(t, h, name), name)
	}
	// Time is the audio clock here: voice-to-voice is at least the
	// end-of-turn silence (300 ms), plus what the client's clock moved on
	// while the server worked (at most the 500 ms of silence it sent).
	assert.GreaterOrEqual(t, m.num("voice_to_voice_ms"), 300.0)
	assert.LessOrEqual(t, m.num("voice_to_voice_ms"), 820.0)
}

func histogramCount(t *testing.T, h *harness, name string) uint64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestOutputResampled: output_sample_rate 24000 gives 960-byte frames.
func TestOutputResampled(t *testing.T) {
	h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("One two three four.")}), nil)
	c := h.dial(true)
	upd := c.ready(map[string]any{"output_sample_rate": 24000})
	assert.InDelta(t, 24000, upd["output_audio_format"].(map[string]any)["sample_rate"], 0)
	c.sendJSON(map[string]any{"type": "input.text", "text": "count"})
	tr := c.until(parleyv1.TypeResponseDone, true)
	require.NotEmpty(t, tr.frames)
	for _, f := range tr.frames {
		require.Len(t, f, 960)
	}
	// 400 ms of 16 kHz speech, resampled: within a filter delay of 20 frames.
	assert.InDelta(t, 20, len(tr.frames), 1)
	assert.InDelta(t, 24000, tr.first(parleyv1.TypeAudioStarted)["format"].(map[string]any)["sample_rate"], 0)
}

func without(list []string, drop string) []string {
	var out []string
	for _, v := range list {
		if v != drop {
			out = append(out, v)
		}
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

const longReply = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty."

// TestBargeIn: the user talks over the agent for longer than
// InterruptAfter: no audio frame of the response follows
// response.interrupted, and the history keeps only the text played.
func TestBargeIn(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{
		"count to twenty": sessiontest.Text(longReply),
		"stop":            sessiontest.Text("Okay."),
	})
	h := newHarness(t, llm, nil)
	h.stt.Transcripts = []string{"count to twenty", "stop"}
	c := h.dial(true)
	c.ready(nil)
	c.utterance(time.Second)
	tr := c.until(parleyv1.TypeAudioStarted, true)
	respID := tr.first(parleyv1.TypeAudioStarted).str("response_id")
	// The client plays 10 frames (200 ms) of the answer.
	played := 0
	for played < 10 {
		m := c.next()
		require.NoError(t, m.err)
		if m.typ == 2 { // binary
			played++
			h.clock.Advance(frameDur)
		}
	}
	// Now the user talks over it; the mic stream keeps the clock going.
	c.audio(sessiontest.Speech(800*time.Millisecond, audio.SampleRate))
	c.audio(sessiontest.Silence(500*time.Millisecond, audio.SampleRate))

	tr = c.until(parleyv1.TypeResponseInterrupted, false)
	intr := tr.events[len(tr.events)-1]
	assert.Equal(t, respID, intr.str("response_id"))
	assert.Equal(t, string(session.ReasonBargeIn), intr.str("reason"))
	totalFrames := 10 + len(tr.frames)
	playedMS := int(intr.num("played_ms"))
	// Played = sent minus at most the look-ahead still queued at the client.
	assert.LessOrEqual(t, playedMS, totalFrames*20)
	assert.GreaterOrEqual(t, playedMS, totalFrames*20-100)
	assert.Less(t, totalFrames, len(strings.Fields(longReply))*5, "the reply was cut")
	// 100 ms per word: the words fully played.
	want := words(longReply, playedMS/100)
	assert.Equal(t, want, intr.str("text_played"))

	// Nothing of the interrupted response after response.interrupted: the
	// next audio frame belongs to the next response.
	tr = c.until(parleyv1.TypeResponseDone, true)
	firstAudio := indexOf(tr.order, "#audio")
	require.GreaterOrEqual(t, firstAudio, 0)
	assert.Less(t, indexOf(tr.order, parleyv1.TypeAudioStarted), firstAudio)
	for _, e := range tr.events {
		if e.str("type") == parleyv1.TypeTextDelta || e.str("type") == parleyv1.TypeAudioStarted {
			assert.NotEqual(t, respID, e.str("response_id"))
		}
	}
	assert.Equal(t, "Okay.", tr.first(parleyv1.TypeResponseDone).str("text"))
	hist := c.history()
	require.Len(t, hist, 4)
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: want}, hist[1])
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "stop"}, hist[2])
	// The second LLM request saw the truncated history.
	reqs := llm.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, want, reqs[1].Messages[2].Content)
}

// TestFalseInterruption: a cough (speech shorter than MinSpeech) and a
// short backchannel (shorter than InterruptAfter) over the agent do not cut
// it off and do not start a turn.
func TestFalseInterruption(t *testing.T) {
	for _, tc := range []struct {
		name        string
		burst       time.Duration
		wantStarted bool
	}{
		{name: "cough", burst: 60 * time.Millisecond},
		{name: "backchannel", burst: 200 * time.Millisecond, wantStarted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			llm := scripted(map[string][]sdk.GenerateEvent{"count": sessiontest.Text(longReply)})
			h := newHarness(t, llm, nil)
			c := h.dial(true)
			c.ready(nil)
			c.sendJSON(map[string]any{"type": "input.text", "text": "count"})
			c.until(parleyv1.TypeAudioStarted, true)
			c.audio(sessiontest.Silence(200*time.Millisecond, audio.SampleRate))
			c.audio(sessiontest.Speech(tc.burst, audio.SampleRate))
			c.audio(sessiontest.Silence(500*time.Millisecond, audio.SampleRate))
			tr := c.until(parleyv1.TypeResponseDone, true)
			assert.Equal(t, -1, indexOf(tr.order, parleyv1.TypeResponseInterrupted))
			assert.Equal(t, tc.wantStarted, indexOf(tr.order, parleyv1.TypeSpeechStarted) >= 0)
			assert.Equal(t, string(session.StatusCompleted), tr.first(parleyv1.TypeResponseDone).str("status"))
			assert.Equal(t, longReply, tr.first(parleyv1.TypeResponseDone).str("text"))
			assert.Len(t, llm.Requests(), 1, "no new turn")
			assert.Len(t, c.history(), 2)
		})
	}
}

// TestSpeakingAgainBeforeFinal: the user pauses (end of turn) and speaks
// again before the recognizer delivered the first final transcript: the
// first utterance is not lost; its answer starts and is cut by the second
// utterance (barge-in), which becomes the next turn.
func TestSpeakingAgainBeforeFinal(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{"first part": sessiontest.Text(longReply), "second part": sessiontest.Text("Got both.")})
	h := newHarness(t, llm, nil)
	h.stt.Transcripts = []string{"first part", "second part"}
	gate := make(chan struct{})
	h.stt.FinalGate = gate
	c := h.dial(true)
	c.ready(nil)
	c.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
	c.audio(sessiontest.Speech(600*time.Millisecond, audio.SampleRate))
	// The fake recognizer hands out its transcripts in the order streams
	// open: the first utterance's stream must be open before the second's.
	c.until(parleyv1.TypeTranscriptPartial, false)
	c.audio(sessiontest.Silence(400*time.Millisecond, audio.SampleRate))
	c.until(parleyv1.TypeSpeechStopped, false)
	c.audio(sessiontest.Speech(200*time.Millisecond, audio.SampleRate))
	c.until(parleyv1.TypeSpeechStarted, false)
	close(gate) // the first final arrives while the user speaks again
	tr := c.until(parleyv1.TypeTranscriptFinal, false)
	assert.Equal(t, "first part", tr.events[len(tr.events)-1].str("text"))
	c.audio(sessiontest.Speech(600*time.Millisecond, audio.SampleRate))
	// Not played meanwhile: the reply cannot run ahead of the speech.
	tr = c.until(parleyv1.TypeResponseInterrupted, false)
	assert.Equal(t, string(session.ReasonBargeIn), tr.first(parleyv1.TypeResponseInterrupted).str("reason"))
	c.audio(sessiontest.Silence(500*time.Millisecond, audio.SampleRate))
	tr = c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, "second part", tr.first(parleyv1.TypeTranscriptFinal).str("text"))
	assert.Equal(t, "Got both.", tr.first(parleyv1.TypeResponseDone).str("text"))
	// The first reply may be cut before it reached the LLM (the barge-in
	// can come first); either way both turns are in the history.
	reqs := llm.Requests()
	require.NotEmpty(t, reqs)
	msgs := reqs[len(reqs)-1].Messages
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "first part"}, msgs[1])
	assert.Equal(t, sdk.Message{Role: sdk.RoleUser, Content: "second part"}, msgs[len(msgs)-1])
}
