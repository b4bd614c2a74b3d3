package session_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/session/sessiontest"
	"github.com/parleyhq/parley/server/internal/vad"
)

func testVAD() config.VAD {
	return config.VAD{
		MinSpeech: 100 * time.Millisecond, MinSilence: 300 * time.Millisecond, PreRoll: 200 * time.Millisecond,
		MaxUtterance:  3 * time.Second,
		MinSilenceMin: 100 * time.Millisecond, MinSilenceMax: 2 * time.Second,
		ThresholdMin: 6, ThresholdMax: 24, MinSpeechMin: 60 * time.Millisecond, MinSpeechMax: 500 * time.Millisecond,
	}
}

// TestSyntheticSpeechIsDetected checks the premise of the VAD-driven tests:
// the energy detector accepts sessiontest.Speech and rejects Silence.
func TestSyntheticSpeechIsDetected(t *testing.T) {
	cfg := testVAD()
	seg := vad.NewSegmenter(vad.NewEnergyDetector(cfg), cfg)
	var samples []int16
	samples = append(samples, sessiontest.Silence(600*time.Millisecond, audio.SampleRate)...)
	samples = append(samples, sessiontest.Speech(time.Second, audio.SampleRate)...)
	samples = append(samples, sessiontest.Silence(600*time.Millisecond, audio.SampleRate)...)
	var fr audio.Framer
	var events []vad.Result
	fr.Push(samples, func(f *audio.Frame) {
		if r := seg.Process(f); r.Event != vad.None {
			events = append(events, r)
		}
	})
	require.Len(t, events, 2)
	require.Equal(t, vad.SpeechStarted, events[0].Event)
	require.InDelta(t, 600*time.Millisecond, events[0].At, float64(60*time.Millisecond))
	require.Equal(t, vad.SpeechStopped, events[1].Event)
	require.InDelta(t, 1600*time.Millisecond, events[1].At, float64(100*time.Millisecond))
}
