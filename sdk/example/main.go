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
	defer b.mu.Unlock()
	b.cfg = s
	return nil
}

func (b *beeper) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	if cfg.SampleRate < 8000 || cfg.SampleRate > 48000 {
		return nil, sdk.InvalidField("sample_rate", "must be 8000..48000, got %d", cfg.SampleRate)
	}
	b.mu.Lock()
	s := b.cfg
	b.mu.Unlock()
	return sdk.NewTTSStream(ctx, func(ctx context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		var text strings.Builder
		spoken := 0 // bytes of text already spoken
		speak := func(upTo int) error {
			words := len(strings.Fields(text.String()[spoken:upTo]))
			chunk := sdk.AudioChunk{SampleRate: cfg.SampleRate, TextStart: spoken, TextEnd: upTo}
			spoken = upTo
			if words == 0 {
				return nil
			}
			chunk.PCM = beep(words*s.WordMS*cfg.SampleRate/1000, cfg.SampleRate, s.PitchHz)
			return emit(chunk) // fails once the host cancelled
		}
		for msg := range in { // closed by CloseSend or cancellation
			text.WriteString(msg.Text)
			upTo := strings.LastIndexByte(text.String(), ' ') + 1 // whole words only
			if msg.Flush {
				upTo = text.Len()
			}
			if err := speak(max(upTo, spoken)); err != nil {
				return err
			}
		}
		return speak(text.Len())
	}), nil
}

// beep returns n samples of a sine tone as PCM16LE at a quarter of full scale.
func beep(n, rate int, hz float64) []byte {
	const amplitude = math.MaxInt16 / 4
	pcm := make([]byte, 2*n)
	for i := range n {
		v := amplitude * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(v)))
	}
	return pcm
}

func main() { sdk.Serve(sdk.ServeConfig{TTS: &beeper{cfg: settings{WordMS: 150, PitchHz: 440}}}) }
