package vad

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// stop is an expected SpeechStopped.
type stop struct {
	frame  int
	at     time.Duration
	forced bool
}

func TestMaxUtteranceGuard(t *testing.T) {
	// 20 ms frames: MinSpeech 2 frames, MinSilence 3, MaxUtterance 8.
	cfg := config.VAD{MinSpeech: ms(40), MinSilence: ms(60), MaxUtterance: ms(160)}
	rearm := framesCeil(RearmSilence, 1) // 10 frames
	tests := []struct {
		name   string
		cfg    config.VAD
		labels string
		starts []int
		stops  []stop
	}{
		{
			name:   "shorter than the limit: a normal stop",
			cfg:    cfg,
			labels: "0111111000000",
			starts: []int{2},
			stops:  []stop{{frame: 9, at: ms(140)}},
		},
		{
			name:   "steady noise: forced once, then nothing while it lasts",
			cfg:    cfg,
			labels: "0" + strings.Repeat("1", 40),
			starts: []int{2},
			// onset 1, eighth frame of the run is frame 8.
			stops: []stop{{frame: 8, at: ms(180), forced: true}},
		},
		{
			name:   "babble with short gaps never rearms",
			cfg:    cfg,
			labels: "0" + strings.Repeat("11110", 12),
			starts: []int{2},
			// Gaps of one frame keep the run alive (MinSilence 3); the
			// guard fires on the first speech frame at or past 8 frames.
			stops: []stop{{frame: 8, at: ms(180), forced: true}},
		},
		{
			name:   "a talker who goes on after a breath gets a new turn",
			cfg:    cfg,
			labels: "0" + strings.Repeat("1", 10) + strings.Repeat("0", rearm) + "1111111000",
			starts: []int{2, 1 + 10 + rearm + 1},
			stops: []stop{
				{frame: 8, at: ms(180), forced: true},
				{frame: 1 + 10 + rearm + 7 + 2, at: ms(20 * (1 + 10 + rearm + 7))},
			},
		},
		{
			name:   "too short a gap after a forced stop restarts the rearm wait",
			cfg:    cfg,
			labels: "0" + strings.Repeat("1", 10) + strings.Repeat("0", rearm-1) + "11" + strings.Repeat("0", rearm-1) + "111",
			starts: []int{2},
			stops:  []stop{{frame: 8, at: ms(180), forced: true}},
		},
		{
			name:   "guard off (0) lets speech run",
			cfg:    config.VAD{MinSpeech: ms(40), MinSilence: ms(60)},
			labels: "0" + strings.Repeat("1", 40) + "000",
			starts: []int{2},
			stops:  []stop{{frame: 43, at: ms(820)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := NewSegmenter(&scripted{labels: tt.labels}, tt.cfg)
			var starts []int
			var stops []stop
			for i := range tt.labels {
				r := seg.Process(numbered(i))
				switch r.Event {
				case SpeechStarted:
					starts = append(starts, i)
					assert.False(t, r.Forced)
				case SpeechStopped:
					stops = append(stops, stop{frame: i, at: r.At, forced: r.Forced})
					assert.False(t, r.Speaking)
				case None:
				}
			}
			assert.Equal(t, tt.starts, starts, "starts")
			assert.Equal(t, tt.stops, stops, "stops")
		})
	}
}

func TestResetRearmsTheGuard(t *testing.T) {
	cfg := config.VAD{MinSpeech: ms(40), MinSilence: ms(60), MaxUtterance: ms(100)}
	det := &scripted{labels: strings.Repeat("1", 20)}
	seg := NewSegmenter(det, cfg)
	var forced bool
	for i := range 10 {
		forced = forced || seg.Process(numbered(i)).Forced
	}
	assert.True(t, forced)
	seg.Reset()
	var started bool
	for i := range 3 {
		started = started || seg.Process(numbered(i)).Event == SpeechStarted
	}
	assert.True(t, started, "a new stream starts armed")
}

func TestHysteresis(t *testing.T) {
	tests := []struct {
		name  string
		probs []float64
		want  string
	}{
		{"never reaches enter", []float64{0.1, 0.45, 0.49, 0.3}, "0000"},
		{"enter at the threshold", []float64{0.2, 0.5, 0.9}, "011"},
		{"stays between exit and enter", []float64{0.6, 0.4, 0.36, 0.35, 0.34, 0.4}, "111100"},
		{"hovering noise flips once", []float64{0.48, 0.52, 0.47, 0.51, 0.49, 0.53, 0.2}, "0111110"},
		{"re-enter needs enter again", []float64{0.7, 0.1, 0.45, 0.5}, "1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Hysteresis{Enter: 0.5, Exit: 0.35}
			var got strings.Builder
			for _, p := range tt.probs {
				if h.Update(p) {
					got.WriteByte('1')
				} else {
					got.WriteByte('0')
				}
			}
			assert.Equal(t, tt.want, got.String())
			h.Reset()
			assert.False(t, h.Speaking())
		})
	}
}

// fixedProber returns probabilities from a list and counts resets.
type fixedProber struct {
	probs  []float64
	i      int
	resets int
}

func (p *fixedProber) SpeechProbability(*audio.Frame) float64 {
	v := p.probs[p.i%len(p.probs)]
	p.i++
	return v
}
func (p *fixedProber) Reset() { p.i = 0; p.resets++ }

func TestProbabilityDetector(t *testing.T) {
	p := &fixedProber{probs: []float64{0.1, 0.8, 0.4, 0.2}}
	d := NewProbabilityDetector(p, config.VAD{EnterProbability: 0.5, ExitProbability: 0.35})
	var f audio.Frame
	var got []bool
	for range 4 {
		got = append(got, d.IsSpeech(&f))
	}
	assert.Equal(t, []bool{false, true, true, false}, got)
	assert.InDelta(t, 0.2, d.Probability(), 1e-9)
	d.Reset()
	assert.Equal(t, 1, p.resets)
	assert.Zero(t, d.Probability())
}

func TestProbabilityDetectorThreshold(t *testing.T) {
	tests := []struct {
		name        string
		db          float64
		enter, exit float64
	}{
		{"configured", 0, 0.5, 0.35},
		{"energy default 12 dB is 0.5", 12, 0.5, 0.35},
		{"6 dB", 6, 0.25, 0.175},
		{"24 dB capped", 24, 0.95, 0.665},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewProbabilityDetector(&fixedProber{probs: []float64{0}}, config.VAD{EnterProbability: 0.5, ExitProbability: 0.35})
			d.SetThreshold(tt.db)
			assert.InDelta(t, tt.enter, d.h.Enter, 1e-9)
			assert.InDelta(t, tt.exit, d.h.Exit, 1e-9)
			assert.InDelta(t, tt.enter*DBPerProbability, d.Threshold(), 1e-9)
		})
	}
}
