package plugintest

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// runLLM runs the LLM checks against llm (a host-side client).
func runLLM(t *testing.T, llm sdk.LLM, opts Options) {
	t.Helper()
	t.Run("info", func(t *testing.T) { checkInfo(t, llm, sdk.KindLLM, opts) })
	t.Run("configure", func(t *testing.T) { checkConfigure(t, llm, opts) })
	noLeaks(t, "stream", func(t *testing.T) { llmStream(t, llm, opts) })
	noLeaks(t, "cancel", func(t *testing.T) { llmCancel(t, llm, opts) })
	noLeaks(t, "deadline", func(t *testing.T) { llmDeadline(t, llm, opts) })
}

// hasDone reports whether a Done event was received.
func hasDone(events []sdk.GenerateEvent) bool {
	for _, ev := range events {
		if ev.Done != nil {
			return true
		}
	}
	return false
}

// llmStream checks that a generation is well formed and ends with Done.
func llmStream(t *testing.T, llm sdk.LLM, opts Options) {
	ctx, cancel := context.WithTimeout(t.Context(), opts.timeout())
	defer cancel()
	st, err := llm.Generate(ctx, opts.request())
	require.NoError(t, err, "Generate")
	d := drain(st.Recv).wait(t, opts.timeout())
	require.ErrorIs(t, d.err, io.EOF, "the stream must end cleanly after Done")
	require.NotEmpty(t, d.items, "no events")
	for i, ev := range d.items {
		set := 0
		for _, ok := range []bool{ev.TextDelta != "", ev.ToolCall != nil, ev.Done != nil} {
			if ok {
				set++
			}
		}
		assert.Equal(t, 1, set, "event %d must set exactly one of TextDelta, ToolCall, Done: %+v", i, ev)
		if ev.ToolCall != nil {
			assert.NotEmpty(t, ev.ToolCall.Name, "event %d tool call name", i)
			assert.NotEmpty(t, ev.ToolCall.ID, "event %d tool call id", i)
		}
		if ev.Done != nil {
			assert.Equal(t, len(d.items)-1, i, "Done must be the last event")
			assert.NotEmpty(t, ev.Done.StopReason, "Done.StopReason")
		}
	}
	assert.NotNil(t, d.items[len(d.items)-1].Done, "the last event must be Done")
}

// llmCancel cancels a generation after its first event. A generation that
// had already finished may end with io.EOF instead of Canceled.
func llmCancel(t *testing.T, llm sdk.LLM, opts Options) {
	ctx, stop := context.WithTimeout(t.Context(), opts.timeout())
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := llm.Generate(ctx, opts.request())
	require.NoError(t, err, "Generate")
	events := drain(st.Recv)
	events.awaitFirst(t, opts.timeout())
	events.cancelled(t, cancel, opts.timeout(), hasDone)
}

// llmDeadline checks that an expired deadline surfaces as DeadlineExceeded.
func llmDeadline(t *testing.T, llm sdk.LLM, opts Options) {
	ctx, cancel := context.WithTimeout(t.Context(), 0)
	defer cancel()
	st, err := llm.Generate(ctx, opts.request())
	if err != nil {
		expectCode(t, err, sdk.CodeDeadlineExceeded)
		return
	}
	d := drain(st.Recv).wait(t, opts.timeout())
	expectCode(t, d.err, sdk.CodeDeadlineExceeded)
}
