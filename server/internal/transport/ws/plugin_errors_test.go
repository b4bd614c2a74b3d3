package ws_test

import (
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
	t.Run("LLM crashes mid-stream", func(t *testing.T) {
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
		assert.Equal(t, "unavailable", tr.first(parleyv1.TypeError)["details"].(map[string]any)["plugin_code"])
		c.sendJSON(map[string]any{"type": "input.text", "text": "two"})
		tr = c.until(parleyv1.TypeResponseDone, true)
		assert.Equal(t, "Fine now.", tr.first(parleyv1.TypeResponseDone).str("text"))
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
		assert.Equal(t, string(session.CodeTTSFailed), tr.first(parleyv1.TypeError).str("code"))
		assert.Equal(t, string(session.StatusFailed), tr.first(parleyv1.TypeResponseDone).str("status"))
		c.sendJSON(map[string]any{"type": "input.text", "text": "two"})
		tr = c.until(parleyv1.TypeResponseDone, true)
		assert.Equal(t, string(session.StatusCompleted), tr.first(parleyv1.TypeResponseDone).str("status"))
		assert.Len(t, tr.frames, 5*5)
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
