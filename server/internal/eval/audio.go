package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/recording"
)

// Speaker renders text as 16 kHz mono PCM16: the voice of `say` turns.
type Speaker interface {
	Speak(ctx context.Context, text string) ([]int16, error)
}

// ErrNoSpeaker is returned when a scenario has `say` turns and the runner
// was given no Speaker.
var ErrNoSpeaker = errors.New("eval: a say turn needs a TTS plugin")

// maxTurnAudio bounds the audio of one turn.
const maxTurnAudio = 60 * audio.SampleRate

// loadAudio reads the scenario's WAV turns (paths relative to dir) and
// converts them to 16 kHz.
func (sc *Scenario) loadAudio(dir string) error {
	if sc.Replay != "" {
		return sc.loadReplay(dir)
	}
	for i := range sc.Turns {
		t := &sc.Turns[i]
		if t.WAV == "" {
			continue
		}
		path := t.WAV
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		pcm, err := readWAV(path)
		if err != nil {
			return fmt.Errorf("turns[%d].wav: %w", i, err)
		}
		t.audio = pcm
	}
	return nil
}

func readWAV(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := audio.ReadWAV(f)
	if err != nil {
		return nil, err
	}
	return to16k(p.Samples, p.SampleRate)
}

// to16k resamples mono PCM to 16 kHz, bounded to a minute.
func to16k(samples []int16, rate int) ([]int16, error) {
	if rate != audio.SampleRate {
		r, err := audio.NewResampler(rate, audio.SampleRate)
		if err != nil {
			return nil, err
		}
		samples = r.Flush(r.Process(nil, samples))
	}
	if len(samples) > maxTurnAudio {
		return nil, fmt.Errorf("longer than %d s", maxTurnAudio/audio.SampleRate)
	}
	return samples, nil
}

// speak renders the scenario's say turns.
func (sc *Scenario) speak(ctx context.Context, sp Speaker) error {
	for i := range sc.Turns {
		t := &sc.Turns[i]
		if t.Say == "" || t.audio != nil {
			continue
		}
		if sp == nil {
			return ErrNoSpeaker
		}
		pcm, err := sp.Speak(ctx, t.Say)
		if err != nil {
			return fmt.Errorf("turns[%d].say: %w", i, err)
		}
		t.audio = pcm
	}
	return nil
}

// TTSSpeaker speaks with a TTS plugin (one stream per text).
type TTSSpeaker struct {
	TTS   sdk.TTS
	Voice string
}

// Speak synthesizes text and returns it at 16 kHz.
func (s TTSSpeaker) Speak(ctx context.Context, text string) ([]int16, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := s.TTS.Synthesize(ctx, sdk.TTSConfig{Voice: s.Voice, SampleRate: audio.SampleRate, Encoding: sdk.EncodingPCM16LE})
	if err != nil {
		return nil, fmt.Errorf("tts: %w", err)
	}
	if err := st.SendText(text); err != nil {
		return nil, fmt.Errorf("tts: %w", err)
	}
	if err := st.CloseSend(); err != nil {
		return nil, fmt.Errorf("tts: %w", err)
	}
	var (
		out  []int16
		rate int
	)
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tts: %w", err)
		}
		if rate != 0 && ch.SampleRate != rate {
			return nil, fmt.Errorf("tts: the sample rate changed mid-stream (%d → %d Hz)", rate, ch.SampleRate)
		}
		rate = ch.SampleRate
		if out, err = audio.DecodePCM16LE(out, ch.PCM); err != nil {
			return nil, fmt.Errorf("tts: %w", err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tts: no audio for %q", text)
	}
	return to16k(out, rate)
}

// replayPreRoll is the user audio replayed before a recorded turn's
// vad.speech_started (which the server sends vad.min_speech after the
// onset, and the VAD needs some silence before speech).
const replayPreRoll = 500 * time.Millisecond

// loadReplay makes the turns from a recording: each recorded turn's user
// audio, from just before its speech started to its turn.ended.
func (sc *Scenario) loadReplay(dir string) error {
	path := sc.Replay
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	wav, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer wav.Close()
	log, err := os.Open(strings.TrimSuffix(path, recording.WAVExt) + recording.LogExt)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer log.Close()
	rec, err := recording.Read(wav, log)
	if err != nil {
		return fmt.Errorf("replay %s: %w", sc.Replay, err)
	}
	if len(rec.Turns) == 0 {
		return fmt.Errorf("replay %s: the recording holds no spoken user turn", sc.Replay)
	}
	if len(sc.Turns) > len(rec.Turns) {
		return fmt.Errorf("replay %s: %d turns expected, the recording has %d", sc.Replay, len(sc.Turns), len(rec.Turns))
	}
	turns := make([]Turn, len(rec.Turns))
	copy(turns, sc.Turns)
	for i, rt := range rec.Turns {
		turns[i].audio = rec.UserPCM(rt.Start-replayPreRoll, rt.End)
		turns[i].replayed = rt.Transcript
	}
	sc.Turns = turns
	return nil
}
