package recording

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

// BenchmarkWriterFrame is the whole cost of recording 20 ms of a call,
// on one goroutine so nothing is dropped: one input chunk and one output
// frame copied and queued (the session's side), then taken by the writer,
// placed, interleaved and written to a file, with the once-a-second flush
// and header rewrite.
func BenchmarkWriterFrame(b *testing.B) {
	st, err := New(config.Recording{Dir: b.TempDir(), QueueFrames: 2},
		func(session.Event) ([]byte, bool) { return nil, false }, nil, nil)
	require.NoError(b, err)
	start := time.Now()
	w, err := newWriter(st, "sess_bench", start)
	require.NoError(b, err)
	r := &recording{q: make(chan item, 2), met: st.met}
	in := sessiontest.Speech(audio.FrameDuration, audio.SampleRate)
	out := sessiontest.PCM(sessiontest.Speech(audio.FrameDuration, audio.SampleRate))
	framesPerFlush := int(flushEvery / audio.FrameDuration)
	b.ReportAllocs()
	b.ResetTimer()
	at := start
	for i := 0; i < b.N; i++ {
		at = at.Add(audio.FrameDuration)
		r.Input(at, in)
		r.Output(at, out)
		w.handle(<-r.q)
		w.handle(<-r.q)
		if i%framesPerFlush == 0 {
			w.flush()
		}
	}
	w.finish(closing{at: at}, 0)
	b.StopTimer()
	require.NoError(b, w.err)
}
