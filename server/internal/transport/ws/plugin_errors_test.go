package ws_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

func crash() error { return &sdk.Error{Code: sdk.CodeUnavailable, Message: "plugin process exited"} }

// TestPluginErrors: a failing or crashing plugin fails that turn with an
// error event carrying the plugin's code; the next turn works.
func TestPluginErrors(t *testing.T) {
	t.Run("LLM refuses", func(t *testing.T) {
		calls := 0
		llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
			calls++
			if calls == 1 {
				return nil, &sdk.Error{Code: sdk.CodeResourceExhausted, Message: "rate limited", RetryAfter: 2 * time.Second}
			}
			return sessiontest.Text("Back again."), nil
		}}
		h := newHarness(t, llm, nil)
		c := h.dial(true)
		c.ready(nil)
		c.sendJSON(map[string]any{"type": "input.text", "text": "one"})
		tr := c.until(parleyv1.TypeResponseDone, true)
		ev := tr.first(parleyv1.TypeError)
		require.NotNil(t, ev)
		assert.Equal(t, string(session.CodeLLMFailed), ev.str("code"))
		assert.Equal(t, "resource_exhausted", ev["details"].(map[string]any)["plugin_code"])
		assert.Equal(t, "2000", ev["details"].(map[string]any)["retry_after_ms"])
		assert.Equal(t, string(session.StatusFailed), tr.first(parleyv1.TypeResponseDone).str("status"))
		c.sendJSON(map[string]any{"type": "input.text", "text": "two"})
		tr = c.until(parleyv1.TypeResponseDone, true)
		assert.Equal(t, string(session.StatusCompleted), tr.first(parleyv1.TypeResponseDone).str("status"))
		assert.Equal(t, "Back again.", tr.first(parleyv1.TypeResponseDone).str("text"))
	})
	t.Run("LLM crashes before anything was said", func(t *testing.T) {
		calls := 0
		llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
			calls++
			if calls == 1 {
				return []sdk.GenerateEvent{{TextDelta: "Let me "}}, crash()
			}
			return sessiontest.Text("Fine now."), nil
		}}
		h := newHarness(t, llm, nil)
		c := h.dial(true)
		c.ready(nil)
		c.sendJSON(map[string]any{"type": "input.text", "text": "one"})
		tr := c.until(parleyv1.TypeResponseDone, true)
		// Asked again; the false start never reached the client.
		assert.Nil(t, tr.first(parleyv1.TypeError))
		assert.Equal(t, "Fine now.", deltas(tr))
		assert.Equal(t, string(session.StatusCompleted), tr.first(parleyv1.TypeResponseDone).str("status"))
		assert.Equal(t, "Fine now.", tr.first(parleyv1.TypeResponseDone).str("text"))
		assert.Equal(t, 2, calls)
	})
	t.Run("LLM crashes after part was spoken", func(t *testing.T) {
		calls := 0
		llm := &sessiontest.LLM{Reply: func(sdk.GenerateRequest) ([]sdk.GenerateEvent, error) {
			calls++
			if calls == 1 {
				return []sdk.GenerateEvent{{TextDelta: "First part. "}, {TextDelta: "And then"}}, crash()
			}
			return sessiontest.Text("Fine now."), nil
		}}
		h := newHarness(t, llm, nil)
		c := h.dial(true)
		c.ready(nil)
		c.sendJSON(map[string]any{"type": "input.text", "text": "one"})
		tr := c.until(parleyv1.TypeResponseDone, true)
		ev := tr.first(parleyv1.TypeError)
		require.NotNil(t, ev)
		assert.Equal(t, string(session.CodeLLMInterrupted), ev.str("code"))
		done := tr.first(parleyv1.TypeResponseDone)
		assert.Equal(t, string(session.StatusFailed), done.str("status"))
		assert.Equal(t, "First part.", done.str("text"), "the reply ends at what was said")
		assert.Len(t, tr.frames, 2*5, "both spoken words were played out")
		hist := c.history()
		require.Len(t, hist, 2)
		assert.Equal(t, "First part.", hist[1].Content)
		assert.Equal(t, 1, calls, "not asked again once something was spoken")
	})
	t.Run("TTS crashes mid-stream", func(t *testing.T) {
		h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("A fairly long answer here.")}), nil)
		h.tts.Fail = func(n int) error {
			if n == 1 {
				return crash()
			}
			return nil
		}
		c := h.dial(true)
		c.ready(nil)
		c.sendJSON(map[string]any{"type": "input.text", "text": "one"})
		tr := c.until(parleyv1.TypeResponseDone, true)
		// Resumed at the word whose audio was arriving: nothing said twice.
		assert.Nil(t, tr.first(parleyv1.TypeError))
		assert.Equal(t, string(session.StatusCompleted), tr.first(parleyv1.TypeResponseDone).str("status"))
		// The span being spoken ("A ") is asked again and its audio skipped.
		assert.Equal(t, []string{"A fairly long answer here.", "A fairly long answer here."}, h.tts.Texts())
		assert.Len(t, tr.frames, 5*5, "each of the 5 words played once")
		assert.Equal(t, "A fairly long answer here.", c.history()[1].Content)
	})
	t.Run("TTS keeps crashing", func(t *testing.T) {
		h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"*": sessiontest.Text("A fairly long answer here.")}), nil)
		h.tts.Fail = func(int) error { return crash() }
		c := h.dial(true)
		c.ready(nil)
		c.sendJSON(map[string]any{"type": "input.text", "text": "one"})
		tr := c.until(parleyv1.TypeResponseDone, true)
		ev := tr.first(parleyv1.TypeError)
		require.NotNil(t, ev)
		assert.Equal(t, string(session.CodeTTSFailed), ev.str("code"))
		assert.Equal(t, true, ev["retryable"])
		done := tr.first(parleyv1.TypeResponseDone)
		assert.Equal(t, string(session.StatusFailed), done.str("status"))
		// Four streams each gave one word before failing; what was played
		// (5 frames a word) is the reply's text and the history's.
		words := strings.Join(strings.Fields("A fairly long answer here.")[:len(tr.frames)/5], " ")
		assert.Equal(t, words, done.str("text"))
		said := ""
		for _, m := range c.history()[1:] {
			said += m.Content
		}
		assert.Equal(t, words, said, "the history holds what was played")
		assert.Len(t, h.tts.Texts(), 4, "three resumptions, then it gives up")
		h.tts.Fail = nil
		c.sendJSON(map[string]any{"type": "input.text", "text": "two"})
		tr = c.until(parleyv1.TypeResponseDone, true)
		assert.Equal(t, string(session.StatusCompleted), tr.first(parleyv1.TypeResponseDone).str("status"))
	})
	t.Run("STT crashes mid-stream", func(t *testing.T) {
		h := newHarness(t, scripted(map[string][]sdk.GenerateEvent{"heard once": sessiontest.Text("Heard you.")}), nil)
		h.stt.Transcripts = []string{"lost", "heard once"}
		h.stt.Fail = func(n int) error {
			if n == 1 {
				return crash()
			}
			return nil
		}
		c := h.dial(true)
		c.ready(nil)
		c.utterance(600 * time.Millisecond)
		// The utterance is replayed into a new stream: answered, no error.
		tr := c.until(parleyv1.TypeResponseDone, true)
		assert.Nil(t, tr.first(parleyv1.TypeError))
		assert.Equal(t, "heard once", tr.first(parleyv1.TypeTranscriptFinal).str("text"))
		assert.Equal(t, "Heard you.", tr.first(parleyv1.TypeResponseDone).str("text"))
		assert.Equal(t, 2, h.stt.Streams())
	})
}

// deltas joins the text deltas of a trace.
func deltas(tr *trace) string {
	var b strings.Builder
	for _, e := range tr.events {
		if e.str("type") == parleyv1.TypeTextDelta {
			b.WriteString(e.str("delta"))
		}
	}
	return b.String()
}
