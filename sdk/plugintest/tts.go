package plugintest

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

// runTTS runs the TTS checks against tts (a host-side client).
func runTTS(t *testing.T, tts sdk.TTS, opts Options) {
	t.Helper()
	t.Run("info", func(t *testing.T) { checkInfo(t, tts, sdk.KindTTS, opts) })
	t.Run("configure", func(t *testing.T) { checkConfigure(t, tts, opts) })
	noLeaks(t, "stream", func(t *testing.T) { ttsStream(t, tts, opts) })
	noLeaks(t, "cancel", func(t *testing.T) { ttsCancel(t, tts, opts) })
	noLeaks(t, "deadline", func(t *testing.T) { ttsDeadline(t, tts, opts) })
}

// splitText cuts text in two at a space near its middle, the way an LLM's
// deltas arrive in pieces.
func splitText(text string) (string, string) {
	if i := strings.IndexByte(text[len(text)/2:], ' '); i >= 0 {
		cut := len(text)/2 + i + 1
		return text[:cut], text[cut:]
	}
	return text, ""
}

// ttsStream sends the text in two chunks, a flush and CloseSend; the audio
// must be whole PCM16 samples with text spans inside the text sent.
func ttsStream(t *testing.T, tts sdk.TTS, opts Options) {
	text := opts.text()
	ctx, cancel := context.WithTimeout(t.Context(), opts.timeout())
	defer cancel()
	st, err := tts.Synthesize(ctx, opts.ttsConfig())
	require.NoError(t, err, "Synthesize")
	chunks := drain(st.Recv)
	first, second := splitText(text)
	require.NoError(t, st.SendText(first), "SendText")
	if second != "" {
		require.NoError(t, st.SendText(second), "SendText")
	}
	require.NoError(t, st.Flush(), "Flush")
	require.NoError(t, st.CloseSend(), "CloseSend")

	d := chunks.wait(t, opts.timeout())
	require.ErrorIs(t, d.err, io.EOF, "the stream must end cleanly after CloseSend")
	require.NotEmpty(t, d.items, "no audio for %q", text)
	total := 0
	for i, c := range d.items {
		total += len(c.PCM)
		assert.Zero(t, len(c.PCM)%bytesPerSample, "chunk %d: %d bytes is not a whole number of samples", i, len(c.PCM))
		assert.Positive(t, c.SampleRate, "chunk %d sample rate", i)
		assert.GreaterOrEqual(t, c.TextStart, 0, "chunk %d text start", i)
		assert.LessOrEqual(t, c.TextStart, c.TextEnd, "chunk %d text span", i)
		assert.LessOrEqual(t, c.TextEnd, len(text), "chunk %d text end beyond the %d bytes sent", i, len(text))
	}
	assert.Positive(t, total, "total audio bytes")
}

// ttsCancel cancels a stream once it has started speaking.
func ttsCancel(t *testing.T, tts sdk.TTS, opts Options) {
	ctx, stop := context.WithTimeout(t.Context(), opts.timeout())
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := tts.Synthesize(ctx, opts.ttsConfig())
	require.NoError(t, err, "Synthesize")
	chunks := drain(st.Recv)
	require.NoError(t, st.SendText(opts.text()), "SendText")
	require.NoError(t, st.Flush(), "Flush")
	chunks.awaitFirst(t, opts.timeout())
	chunks.cancelled(t, cancel, opts.timeout(), nil)
}

// ttsDeadline holds a stream open past its deadline.
func ttsDeadline(t *testing.T, tts sdk.TTS, opts Options) {
	ctx, cancel := context.WithTimeout(t.Context(), deadlineAfter)
	defer cancel()
	st, err := tts.Synthesize(ctx, opts.ttsConfig())
	if err != nil {
		expectCode(t, err, sdk.CodeDeadlineExceeded)
		return
	}
	chunks := drain(st.Recv)
	d := chunks.wait(t, opts.timeout())
	expectCode(t, d.err, sdk.CodeDeadlineExceeded)
}
