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

// withTurnTaking is the configured default of turn.*.
func withTurnTaking(s *setup) {
	s.opts = append(s.opts, session.WithTurnTaking(session.TurnTaking{
		Detector: session.RulesDetector(), CompleteDelay: 250 * time.Millisecond, IncompleteDelay: 1200 * time.Millisecond,
		SpeechHang: 200 * time.Millisecond, MaxEndpointDelay: 3 * time.Second, Preemptive: true, MinInterruptionWords: 1,
		Backchannels:            []string{"uh-huh", "mm-hmm", "yeah", "okay", "right", "i see", "sure"},
		ResumeFalseInterruption: true, PauseAfter: 150 * time.Millisecond, FalseInterruptionTimeout: time.Second,
	}))
}

// untilText reads until an event of typ whose text is text.
func (c *client) untilText(typ, text string) *trace {
	c.t.Helper()
	all := &trace{}
	for {
		tr := c.until(typ, false)
		all.events = append(all.events, tr.events...)
		all.order = append(all.order, tr.order...)
		all.frames = append(all.frames, tr.frames...)
		if tr.events[len(tr.events)-1].str("text") == text {
			return all
		}
	}
}

func count(tr *trace, typ string) int {
	n := 0
	for _, t := range tr.types() {
		if t == typ {
			n++
		}
	}
	return n
}

const sampleRate = audio.SampleRate

// TestPauseInsideSentenceOverTheWire: an 800 ms pause inside "set a timer
// for … five minutes" is one turn; the preemptive reply to the first half
// is dropped and none of its audio is ever sent.
func TestPauseInsideSentenceOverTheWire(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{"set a timer for five minutes": sessiontest.Text("Timer set.")})
	h := newHarness(t, llm, withTurnTaking)
	h.stt.Transcripts = []string{"set a timer for", "five minutes"}
	c := h.dial(true)
	c.ready(nil)
	c.audio(sessiontest.Silence(400*time.Millisecond, sampleRate))
	c.audio(sessiontest.Speech(600*time.Millisecond, sampleRate))
	c.audio(sessiontest.Silence(220*time.Millisecond, sampleRate))
	tr := c.untilText(parleyv1.TypeTranscriptPartial, "set a timer for")
	require.Eventually(t, func() bool { return len(llm.Requests()) == 1 }, waitFor, 5*time.Millisecond, "the preemptive call")
	c.audio(sessiontest.Silence(580*time.Millisecond, sampleRate))
	c.audio(sessiontest.Speech(600*time.Millisecond, sampleRate))
	c.audio(sessiontest.Silence(220*time.Millisecond, sampleRate))
	tr2 := c.untilText(parleyv1.TypeTranscriptPartial, "set a timer for five minutes")
	assert.Empty(t, tr.frames, "no agent audio")
	assert.Empty(t, tr2.frames, "no agent audio before the turn ended")
	assert.Zero(t, count(tr2, parleyv1.TypeTurnEnded))
	c.audio(sessiontest.Silence(300*time.Millisecond, sampleRate))
	done := c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, 1, count(done, parleyv1.TypeTurnEnded))
	assert.Equal(t, "set a timer for five minutes", done.first(parleyv1.TypeTranscriptFinal).str("text"))
	assert.Equal(t, "Timer set.", done.first(parleyv1.TypeResponseDone).str("text"))
	assert.Equal(t, 2, count(&trace{order: append(tr.types(), tr2.types()...)}, parleyv1.TypeSpeechStopped)+count(done, parleyv1.TypeSpeechStopped))
	m := c.until(parleyv1.TypeMetrics, false).first(parleyv1.TypeMetrics)
	assert.Equal(t, true, m["preemptive"])
	require.Len(t, llm.Requests(), 2, "the dropped preemptive call and the used one")
}

// TestCompleteQuestionOverTheWire: a finished question ends the turn
// within 300 ms of the end of speech.
func TestCompleteQuestionOverTheWire(t *testing.T) {
	llm := scripted(map[string][]sdk.GenerateEvent{"what time is it": sessiontest.Text("Noon.")})
	h := newHarness(t, llm, withTurnTaking)
	h.stt.Transcripts = []string{"what time is it"}
	c := h.dial(true)
	c.ready(nil)
	c.audio(sessiontest.Silence(400*time.Millisecond, sampleRate))
	c.audio(sessiontest.Speech(800*time.Millisecond, sampleRate))
	c.audio(sessiontest.Silence(220*time.Millisecond, sampleRate))
	c.untilText(parleyv1.TypeTranscriptPartial, "what time is it")
	c.audio(sessiontest.Silence(100*time.Millisecond, sampleRate))
	ended := c.until(parleyv1.TypeTurnEnded, false).first(parleyv1.TypeTurnEnded)
	assert.Equal(t, "complete", ended.str("decision"))
	assert.LessOrEqual(t, ended.num("endpoint_delay_ms"), 300.0)
	c.until(parleyv1.TypeResponseDone, true)
	m := c.until(parleyv1.TypeMetrics, false).first(parleyv1.TypeMetrics)
	assert.LessOrEqual(t, m.num("endpoint_delay_ms"), 300.0)
	assert.Equal(t, "complete", m.str("turn_decision"))
}

// overReply starts a long reply and plays its first second.
func overReply(c *client) {
	c.sendJSON(map[string]string{"type": "input.text", "text": "tell me a story"})
	c.until(parleyv1.TypeAudioStarted, true)
	for range 50 {
		m := c.next()
		if m.err == nil {
			c.h.clock.Advance(frameDur)
		}
	}
}

// TestBargeInUnderstandsWords: over a long reply "uh-huh" never
// interrupts, a burst with no words pauses and resumes it (the history
// keeps the whole reply), "stop, what time is it" interrupts it.
func TestBargeInUnderstandsWords(t *testing.T) {
	story := strings.Repeat("la ", 39) + "la."
	llm := scripted(map[string][]sdk.GenerateEvent{
		"tell me a story": sessiontest.Text(story), "stop what time is it": sessiontest.Text("It is noon."),
	})
	h := newHarness(t, llm, withTurnTaking)
	h.stt.Transcripts = []string{"uh-huh", "", "stop what time is it"}
	c := h.dial(true)
	c.ready(nil)
	c.audio(sessiontest.Silence(400*time.Millisecond, sampleRate))

	// "uh-huh", short: not even a pause.
	overReply(c)
	c.audio(sessiontest.Speech(120*time.Millisecond, sampleRate))
	c.audio(sessiontest.Silence(300*time.Millisecond, sampleRate))
	tr := c.until(parleyv1.TypeBackchannel, false)
	assert.Equal(t, "uh-huh", tr.first(parleyv1.TypeBackchannel).str("text"))
	c.h.clock.Advance(200 * time.Millisecond)
	tr = c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, story, tr.first(parleyv1.TypeResponseDone).str("text"))
	assert.Zero(t, count(tr, parleyv1.TypeResponseInterrupted))
	c.until(parleyv1.TypeMetrics, false)

	// A 200 ms burst that yields no words: paused, then resumed.
	overReply(c)
	c.audio(sessiontest.Speech(200*time.Millisecond, sampleRate))
	intr := c.until(parleyv1.TypeResponseInterrupted, false).first(parleyv1.TypeResponseInterrupted)
	assert.Equal(t, true, intr["resumable"])
	c.audio(sessiontest.Silence(300*time.Millisecond, sampleRate))
	res := c.until(parleyv1.TypeResponseResumed, false).first(parleyv1.TypeResponseResumed)
	assert.Equal(t, intr.str("text_played"), res.str("text_played"))
	assert.Equal(t, intr.num("played_ms"), res.num("played_ms"))
	c.h.clock.Advance(200 * time.Millisecond)
	tr = c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, story, tr.first(parleyv1.TypeResponseDone).str("text"))
	hist := c.history()
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: story}, hist[len(hist)-1], "the whole reply was heard in the end")
	c.until(parleyv1.TypeMetrics, false)

	// "stop, what time is it": words interrupt for good; it is answered.
	overReply(c)
	c.audio(sessiontest.Speech(120*time.Millisecond, sampleRate))
	intr = c.until(parleyv1.TypeResponseInterrupted, false).first(parleyv1.TypeResponseInterrupted)
	assert.Nil(t, intr["resumable"])
	c.audio(sessiontest.Speech(600*time.Millisecond, sampleRate))
	c.audio(sessiontest.Silence(600*time.Millisecond, sampleRate))
	tr = c.until(parleyv1.TypeResponseDone, true)
	assert.Equal(t, "It is noon.", tr.first(parleyv1.TypeResponseDone).str("text"))
	assert.Zero(t, count(tr, parleyv1.TypeResponseResumed))
	hist = c.history()
	assert.Equal(t, sdk.Message{Role: sdk.RoleAssistant, Content: intr.str("text_played")}, hist[len(hist)-3])
}

// TestTurnSettingsRefused: an out-of-range turn setting in session.update
// is refused naming the key; the session keeps its settings.
func TestTurnSettingsRefused(t *testing.T) {
	h := newHarness(t, scripted(nil), withTurnTaking)
	c := h.dial(true)
	up := c.ready(map[string]any{"turn": map[string]any{"complete_delay_ms": 150}})
	turn, _ := up["turn"].(map[string]any)
	assert.Equal(t, 150.0, turn["complete_delay_ms"])
	for field, bad := range map[string]any{
		"complete_delay_ms": 5000, "incomplete_delay_ms": 100, "min_interruption_words": 0, "false_interruption_timeout_ms": 20,
	} {
		c.sendJSON(map[string]any{"type": "session.update", "turn": map[string]any{field: bad}})
		e := c.expect(parleyv1.TypeError)
		assert.Equal(t, "invalid_field", e.str("code"), field)
		details, _ := e["details"].(map[string]any)
		assert.Equal(t, "turn."+field, details["field"])
	}
	c.sendJSON(map[string]any{"type": "session.update", "voice": "slt"})
	turn, _ = c.expect(parleyv1.TypeSessionUpdated)["turn"].(map[string]any)
	assert.Equal(t, 150.0, turn["complete_delay_ms"], "the refused updates changed nothing")
	assert.Equal(t, 1200.0, turn["incomplete_delay_ms"])
}
