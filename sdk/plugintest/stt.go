package plugintest

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
)

const (
	// deadlineAfter is the deadline of the streams that check DeadlineExceeded.
	deadlineAfter = 200 * time.Millisecond
	// cancelFrames is how many frames the cancel check sends before cancelling.
	cancelFrames = 5
)

// runSTT runs the STT checks against stt (a host-side client).
func runSTT(t *testing.T, stt sdk.STT, opts Options) {
	t.Helper()
	t.Run("info", func(t *testing.T) { checkInfo(t, stt, sdk.KindSTT, opts) })
	t.Run("configure", func(t *testing.T) { checkConfigure(t, stt, opts) })
	noLeaks(t, "stream", func(t *testing.T) { sttStream(t, stt, opts) })
	noLeaks(t, "cancel", func(t *testing.T) { sttCancel(t, stt, opts) })
	noLeaks(t, "deadline", func(t *testing.T) { sttDeadline(t, stt, opts) })
}

// frameBytes is the size of one 20 ms frame at rate.
func frameBytes(rate int) int {
	return int(int64(rate)*int64(frameDuration)/int64(time.Second)) * bytesPerSample
}

// sttStream sends the whole audio in one SendAudio, a flush, the audio again
// in 20 ms frames, and CloseSend; the stream must end with io.EOF.
func sttStream(t *testing.T, stt sdk.STT, opts Options) {
	cfg, audio := opts.sttConfig(), opts.audio()
	ctx, cancel := context.WithTimeout(t.Context(), opts.timeout())
	defer cancel()
	st, err := stt.Transcribe(ctx, cfg)
	require.NoError(t, err, "Transcribe")
	events := drain(st.Recv)

	require.NoError(t, st.SendAudio(audio), "SendAudio with %d bytes in one chunk", len(audio))
	require.NoError(t, st.Flush(), "Flush")
	frame := frameBytes(cfg.SampleRate)
	for off := 0; off < len(audio); off += frame {
		require.NoError(t, st.SendAudio(audio[off:min(off+frame, len(audio))]), "SendAudio frame at %d", off)
	}
	require.NoError(t, st.CloseSend(), "CloseSend")

	d := events.wait(t, opts.timeout())
	require.ErrorIs(t, d.err, io.EOF, "the stream must end cleanly after CloseSend")
	for i, ev := range d.items {
		assert.GreaterOrEqual(t, ev.Start, time.Duration(0), "event %d start", i)
		assert.GreaterOrEqual(t, ev.End, ev.Start, "event %d end", i)
		assert.GreaterOrEqual(t, ev.Confidence, float32(0), "event %d confidence", i)
		assert.LessOrEqual(t, ev.Confidence, float32(1), "event %d confidence", i)
		if !cfg.InterimResults {
			assert.True(t, ev.Final, "event %d: partial transcript although interim results are off", i)
		}
	}
}

// sttCancel cancels a stream that is still receiving audio.
func sttCancel(t *testing.T, stt sdk.STT, opts Options) {
	cfg, audio := opts.sttConfig(), opts.audio()
	ctx, stop := context.WithTimeout(t.Context(), opts.timeout())
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := stt.Transcribe(ctx, cfg)
	require.NoError(t, err, "Transcribe")
	events := drain(st.Recv)
	frame := frameBytes(cfg.SampleRate)
	require.NoError(t, st.SendAudio(audio[:min(len(audio), cancelFrames*frame)]), "SendAudio")
	events.cancelled(t, cancel, opts.timeout(), nil)
}

// sttDeadline holds a stream open past its deadline.
func sttDeadline(t *testing.T, stt sdk.STT, opts Options) {
	cfg, audio := opts.sttConfig(), opts.audio()
	ctx, cancel := context.WithTimeout(t.Context(), deadlineAfter)
	defer cancel()
	st, err := stt.Transcribe(ctx, cfg)
	if err != nil {
		expectCode(t, err, sdk.CodeDeadlineExceeded)
		return
	}
	events := drain(st.Recv)
	_ = st.SendAudio(audio[:min(len(audio), frameBytes(cfg.SampleRate))]) // may race the deadline
	d := events.wait(t, opts.timeout())
	expectCode(t, d.err, sdk.CodeDeadlineExceeded)
}
