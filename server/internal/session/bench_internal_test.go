package session

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
)

type discardConn struct{}

func (discardConn) Event(Event) error       { return nil }
func (discardConn) Audio([]byte) error      { return nil }
func (discardConn) Close(EndReason, string) {}

// BenchmarkOutboundFrame measures the CPU of one 20 ms output frame in the
// pacer: span bookkeeping, framing, the output gate and the send, with
// TTS chunks of 100 ms. The clock never makes it wait (huge look-ahead), so
// this is the per-frame cost, not the pacing delay. "resample" adds the
// 16 → 48 kHz conversion of TTS audio done before pacing.
func BenchmarkOutboundFrame(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
	}{{"16kHz", 16000}, {"resample-48kHz", 48000}} {
		b.Run(tc.name, func(b *testing.B) {
			const framesPerChunk = 5
			chunk16 := sessiontest.PCM(sessiontest.Speech(framesPerChunk*audio.FrameDuration, audio.SampleRate))
			var rs *audio.Resampler
			if tc.rate != audio.SampleRate {
				var err error
				rs, err = audio.NewResampler(audio.SampleRate, tc.rate)
				if err != nil {
					b.Fatal(err)
				}
			}
			clock := sessiontest.NewManualClock(time.Unix(0, 0))
			out := newOutput(clock, discardConn{}, time.Duration(1<<62), tc.rate, "resp_1", func(error) {})
			ch := make(chan pacedAudio, 4)
			done := make(chan error, 1)
			go func() { done <- out.pace(context.Background(), ch) }()
			var samples, conv []int16
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += framesPerChunk {
				pcm := chunk16
				if rs != nil {
					samples, _ = audio.DecodePCM16LE(samples[:0], chunk16)
					conv = rs.Process(conv[:0], samples)
					pcm = audio.EncodePCM16LE(nil, conv)
				}
				ch <- pacedAudio{pcm: pcm, textStart: i, textEnd: i + 1}
			}
			close(ch)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
