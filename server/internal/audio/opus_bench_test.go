package audio

import (
	"testing"

	pionopus "github.com/pion/opus"
	"github.com/stretchr/testify/require"
)

// benchSpeech is generated speech encoded as the WebRTC transport receives it.
func benchPackets(b *testing.B) [][]byte {
	b.Helper()
	speech := fliteSpeech(b, "Hello there. What is the weather like in Paris today? I would like to book a table for two.")
	up, err := NewResampler(SampleRate, OpusSampleRate)
	require.NoError(b, err)
	return encodeAll(b, OpusSampleRate, up.Flush(up.Process(nil, speech.Samples)))
}

// BenchmarkOpusDecode compares the decoders the WebRTC transport could use
// to turn one 20 ms Opus packet into a 16 kHz frame: libopus (cgo) straight
// to 16 kHz, libopus at 48 kHz plus Parley's resampler, and pion/opus (pure
// Go) at 48 kHz plus the resampler or straight to 16 kHz.
func BenchmarkOpusDecode(b *testing.B) {
	pkts := benchPackets(b)
	b.Run("libopus-16k", func(b *testing.B) {
		dec, err := NewOpusDecoder(SampleRate)
		require.NoError(b, err)
		out := make([]int16, 0, FrameSamples*6)
		b.ResetTimer()
		for i := range b.N {
			out, err = dec.Decode(out[:0], pkts[i%len(pkts)])
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libopus-48k+resample", func(b *testing.B) {
		dec, err := NewOpusDecoder(OpusSampleRate)
		require.NoError(b, err)
		rs, err := NewResampler(OpusSampleRate, SampleRate)
		require.NoError(b, err)
		out := make([]int16, 0, OpusFrameSamples*6)
		down := make([]int16, 0, FrameSamples*6)
		b.ResetTimer()
		for i := range b.N {
			out, err = dec.Decode(out[:0], pkts[i%len(pkts)])
			if err != nil {
				b.Fatal(err)
			}
			down = rs.Process(down[:0], out)
		}
	})
	b.Run("pion-48k+resample", func(b *testing.B) {
		dec, err := pionopus.NewDecoderWithOutput(OpusSampleRate, 1)
		require.NoError(b, err)
		rs, err := NewResampler(OpusSampleRate, SampleRate)
		require.NoError(b, err)
		out := make([]int16, OpusFrameSamples*6)
		down := make([]int16, 0, FrameSamples*6)
		b.ResetTimer()
		for i := range b.N {
			n, err := dec.DecodeToInt16(pkts[i%len(pkts)], out)
			if err != nil {
				b.Fatal(err)
			}
			down = rs.Process(down[:0], out[:n])
		}
	})
	b.Run("pion-16k", func(b *testing.B) {
		dec, err := pionopus.NewDecoderWithOutput(SampleRate, 1)
		require.NoError(b, err)
		out := make([]int16, FrameSamples*6)
		b.ResetTimer()
		for i := range b.N {
			if _, err := dec.DecodeToInt16(pkts[i%len(pkts)], out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpusEncode is the cost of encoding one 20 ms frame of speech.
func BenchmarkOpusEncode(b *testing.B) {
	for _, rate := range []int{SampleRate, OpusSampleRate} {
		b.Run(map[int]string{SampleRate: "16k", OpusSampleRate: "48k"}[rate], func(b *testing.B) {
			speech := fliteSpeech(b, "Hello there. What is the weather like in Paris today?")
			src := speech.Samples
			if rate != SampleRate {
				up, err := NewResampler(SampleRate, rate)
				require.NoError(b, err)
				src = up.Flush(up.Process(nil, src))
			}
			enc, err := NewOpusEncoder(rate)
			require.NoError(b, err)
			frames := len(src) / enc.FrameSamples()
			out := make([]byte, 0, OpusMaxPacketBytes)
			b.ResetTimer()
			for i := range b.N {
				f := i % frames * enc.FrameSamples()
				if out, err = enc.Encode(out[:0], src[f:f+enc.FrameSamples()]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
