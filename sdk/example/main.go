// Command example is a complete Parley TTS plugin that needs no network:
// it "speaks" every word as a short beep. Copy it to start a real plugin.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"sync"

	"github.com/parleyhq/parley/sdk"
)

// settings is the plugin's `config` section in Parley's configuration.
type settings struct {
	WordMS  int     `json:"word_ms"`  // beep length per word
	PitchHz float64 `json:"pitch_hz"` // beep pitch
}

// beeper implements sdk.TTS.
type beeper struct {
	mu  sync.Mutex
	cfg settings
}

func newBeeper() *beeper { return &beeper{cfg: settings{WordMS: 150, PitchHz: 440}} }

func (b *beeper) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "tts-beep", Version: "1.0.0", Kind: sdk.KindTTS,
		AudioFormats: []sdk.AudioFormat{{Encoding: sdk.EncodingPCM16LE, SampleRate: 16000, Channels: 1}}}, nil
}

func (b *beeper) Configure(_ context.Context, raw json.RawMessage) error {
	s := settings{WordMS: 150, PitchHz: 440}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a typo in the config must not pass silently
	if err := dec.Decode(&s); err != nil {
		return sdk.Errorf(sdk.CodeInvalidArgument, "settings: %s", err.Error())
	}
	if s.WordMS < 10 || s.WordMS > 1000 {
		return sdk.InvalidField("word_ms", "must be 10..1000, got %d", s.WordMS)
	}
	if s.PitchHz < 50 || s.PitchHz > 4000 {
		return sdk.InvalidField("pitch_hz", "must be 50..4000, got %g", s.PitchHz)
	}
	b.mu.Lock()
	b.cfg = s
	b.mu.Unlock()
	return nil
}

func (b *beeper) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = 16000
	}
	if cfg.SampleRate < 8000 || cfg.SampleRate > 48000 {
		return nil, sdk.InvalidField("sample_rate", "must be 8000..48000, got %d", cfg.SampleRate)
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	b.mu.Lock()
	s := b.cfg
	b.mu.Unlock()
	return sdk.NewTTSStream(ctx, func(ctx context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		var text strings.Builder
		spoken := 0 // bytes of text already spoken
		speak := func(upTo int) error {
			words := len(strings.Fields(text.String()[spoken:upTo]))
			start := spoken
			spoken = upTo
			if words == 0 {
				return nil
			}
			samples := int(float64(words*s.WordMS*cfg.SampleRate) / 1000 / float64(cfg.Speed))
			return emit(sdk.AudioChunk{PCM: beep(samples, cfg.SampleRate, s.PitchHz), SampleRate: cfg.SampleRate,
				TextStart: start, TextEnd: upTo})
		}
		for msg := range in { // ends when the host calls CloseSend
			text.WriteString(msg.Text)
			upTo := strings.LastIndexByte(text.String(), ' ') + 1 // whole words only
			if msg.Flush {
				upTo = text.Len()
			}
			if err := speak(max(upTo, spoken)); err != nil {
				return err // ctx is done: the host cancelled
			}
		}
		return speak(text.Len())
	}), nil
}

// beep returns n samples of a sine tone as PCM16LE.
func beep(n, rate int, hz float64) []byte {
	pcm := make([]byte, 2*n)
	for i := range n {
		v := 8000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(v)))
	}
	return pcm
}

func main() { sdk.Serve(sdk.ServeConfig{TTS: newBeeper()}) }
