package audio

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fliteSpeech synthesises text with the Debian flite CLI (16 kHz WAV).
func fliteSpeech(t testing.TB, text string) PCM {
	t.Helper()
	path, err := exec.LookPath("flite")
	require.NoError(t, err, "the flite CLI (Debian package flite) is needed")
	var out bytes.Buffer
	cmd := exec.Command(path, "-voice", "slt", "-t", text, "-o", "/dev/stdout")
	cmd.Stdout = &out
	require.NoError(t, cmd.Run())
	pcm, err := ReadWAV(&out)
	require.NoError(t, err)
	require.Equal(t, SampleRate, pcm.SampleRate)
	return pcm
}

// encodeAll encodes samples at rate into 20 ms Opus packets (a short tail is dropped).
func encodeAll(t testing.TB, rate int, samples []int16) [][]byte {
	t.Helper()
	enc, err := NewOpusEncoder(rate)
	require.NoError(t, err)
	var pkts [][]byte
	for f := enc.FrameSamples(); len(samples) >= f; samples = samples[f:] {
		p, err := enc.Encode(nil, samples[:f])
		require.NoError(t, err)
		pkts = append(pkts, p)
	}
	return pkts
}

func TestOpusRoundTrip(t *testing.T) {
	src := tone(440, 8000, OpusSampleRate, OpusSampleRate/2)
	pkts := encodeAll(t, OpusSampleRate, src)
	require.Len(t, pkts, 25)
	for _, rate := range []int{SampleRate, OpusSampleRate} {
		t.Run(map[int]string{SampleRate: "16k", OpusSampleRate: "48k"}[rate], func(t *testing.T) {
			dec, err := NewOpusDecoder(rate)
			require.NoError(t, err)
			assert.Equal(t, rate, dec.Rate())
			var out []int16
			for _, p := range pkts {
				out, err = dec.Decode(out, p)
				require.NoError(t, err)
			}
			assert.Len(t, out, len(pkts)*rate/50)
			// The tone survives: level within 3 dB of the source after the codec's start-up.
			assert.InDelta(t, DBFS(src[OpusSampleRate/10:]), DBFS(out[rate/10:]), 3)
		})
	}
}

func TestOpusConceal(t *testing.T) {
	pkts := encodeAll(t, OpusSampleRate, tone(300, 8000, OpusSampleRate, OpusSampleRate))
	cases := []struct {
		name string
		next func(i int) []byte
	}{
		{name: "plc", next: func(int) []byte { return nil }},
		{name: "fec", next: func(i int) []byte { return pkts[i+1] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dec, err := NewOpusDecoder(SampleRate)
			require.NoError(t, err)
			var out []int16
			for i := 0; i < len(pkts)-1; i++ {
				if i%5 == 4 { // every fifth packet lost
					out, err = dec.Conceal(out, c.next(i), FrameSamples)
				} else {
					out, err = dec.Decode(out, pkts[i])
				}
				require.NoError(t, err)
			}
			assert.Len(t, out, (len(pkts)-1)*FrameSamples)
			assert.Greater(t, DBFS(out[len(out)-FrameSamples:]), -30.0, "audio continues after losses")
		})
	}
}

func TestOpusErrors(t *testing.T) {
	_, err := NewOpusDecoder(44100)
	require.ErrorIs(t, err, ErrOpus)
	_, err = NewOpusEncoder(11025)
	require.ErrorIs(t, err, ErrOpus)
	enc, err := NewOpusEncoder(OpusSampleRate)
	require.NoError(t, err)
	_, err = enc.Encode(nil, make([]int16, 100))
	require.ErrorIs(t, err, ErrOpus)
	dec, err := NewOpusDecoder(SampleRate)
	require.NoError(t, err)
	_, err = dec.Conceal(nil, nil, 0)
	require.ErrorIs(t, err, ErrOpus)
}

func FuzzOpusDecode(f *testing.F) {
	for _, p := range encodeAll(f, OpusSampleRate, tone(200, 6000, OpusSampleRate, OpusSampleRate/10)) {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		dec, err := NewOpusDecoder(SampleRate)
		require.NoError(t, err)
		out, err := dec.Decode(nil, pkt)
		if err == nil {
			assert.LessOrEqual(t, len(out), SampleRate*opusMaxFrameMillis/1000)
		}
	})
}
