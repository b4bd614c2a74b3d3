package vad

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
	"github.com/parleyhq/parley/server/internal/config"
)

// scripted is a Detector that replays labels: '1' speech, '0' not.
type scripted struct {
	labels string
	i      int
	resets int
}

func (s *scripted) IsSpeech(*audio.Frame) bool {
	v := s.i < len(s.labels) && s.labels[s.i] == '1'
	s.i++
	return v
}

func (s *scripted) Reset() { s.i = 0; s.resets++ }

// event is an expected segmenter event at a frame index.
type event struct {
	frame int
	typ   EventType
	at    time.Duration
	// preRoll lists the indices of the frames expected in PreRoll.
	preRoll []int
}

// numbered returns a frame whose first sample is its index.
func numbered(i int) *audio.Frame {
	var f audio.Frame
	f[0] = int16(i)
	f[audio.FrameSamples-1] = int16(-i)
	return &f
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestSegmenterStateMachine(t *testing.T) {
	cfg := config.VAD{MinSpeech: ms(60), MinSilence: ms(100), PreRoll: ms(40)}
	tests := []struct {
		name     string
		cfg      config.VAD
		labels   string
		events   []event
		speaking string // expected Speaking flag per frame
	}{
		{
			name:     "silence only",
			cfg:      cfg,
			labels:   "0000000000",
			speaking: "0000000000",
		},
		{
			name:     "cough shorter than MinSpeech",
			cfg:      cfg,
			labels:   "0001100000110000",
			speaking: "0000000000000000",
		},
		{
			name:   "one utterance",
			cfg:    cfg,
			labels: "00001111111000000000",
			events: []event{
				{frame: 6, typ: SpeechStarted, at: ms(80), preRoll: []int{2, 3, 4, 5, 6}},
				{frame: 15, typ: SpeechStopped, at: ms(220)},
			},
			speaking: "00000011111111100000",
		},
		{
			name:   "pause shorter than MinSilence keeps speaking",
			cfg:    cfg,
			labels: "111100011110000000",
			events: []event{
				{frame: 2, typ: SpeechStarted, at: 0, preRoll: []int{0, 1, 2}},
				{frame: 15, typ: SpeechStopped, at: ms(220)},
			},
			speaking: "001111111111111000",
		},
		{
			name:   "two turns",
			cfg:    cfg,
			labels: "0111000001110000000",
			events: []event{
				{frame: 3, typ: SpeechStarted, at: ms(20), preRoll: []int{0, 1, 2, 3}},
				{frame: 8, typ: SpeechStopped, at: ms(80)},
				{frame: 11, typ: SpeechStarted, at: ms(180), preRoll: []int{7, 8, 9, 10, 11}},
				{frame: 16, typ: SpeechStopped, at: ms(240)},
			},
			speaking: "0001111100011111000",
		},
		{
			name:   "zero durations: one frame each, no pre-roll",
			cfg:    config.VAD{},
			labels: "0101100",
			events: []event{
				{frame: 1, typ: SpeechStarted, at: ms(20), preRoll: []int{1}},
				{frame: 2, typ: SpeechStopped, at: ms(40)},
				{frame: 3, typ: SpeechStarted, at: ms(60), preRoll: []int{3}},
				{frame: 5, typ: SpeechStopped, at: ms(100)},
			},
			speaking: "0101100",
		},
		{
			name:   "durations round up to frames",
			cfg:    config.VAD{MinSpeech: ms(30), MinSilence: ms(21), PreRoll: ms(1)},
			labels: "011001",
			events: []event{
				{frame: 2, typ: SpeechStarted, at: ms(20), preRoll: []int{0, 1, 2}},
				{frame: 4, typ: SpeechStopped, at: ms(60)},
			},
			speaking: "001100",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := NewSegmenter(&scripted{labels: tt.labels}, tt.cfg)
			var got []event
			var speaking []byte
			for i := range len(tt.labels) {
				r := seg.Process(numbered(i))
				if r.Speaking {
					speaking = append(speaking, '1')
				} else {
					speaking = append(speaking, '0')
				}
				if r.Event == None {
					assert.Nil(t, r.PreRoll)
					continue
				}
				e := event{frame: i, typ: r.Event, at: r.At}
				if r.Event == SpeechStarted {
					e.preRoll = []int{}
					for _, f := range r.PreRoll {
						e.preRoll = append(e.preRoll, int(f[0]))
						assert.Equal(t, -f[0], f[audio.FrameSamples-1], "frame copied whole")
					}
				} else {
					assert.Nil(t, r.PreRoll)
				}
				got = append(got, e)
			}
			assert.Equal(t, tt.events, got)
			assert.Equal(t, tt.speaking, string(speaking))
		})
	}
}

func TestSegmenterPreRollIsACopy(t *testing.T) {
	seg := NewSegmenter(&scripted{labels: "011"}, config.VAD{MinSpeech: ms(40), PreRoll: ms(20)})
	f := numbered(0)
	seg.Process(f)
	f[0] = 100 // caller reuses its buffer
	seg.Process(numbered(1))
	r := seg.Process(numbered(2))
	require.Equal(t, SpeechStarted, r.Event)
	require.Len(t, r.PreRoll, 3)
	assert.Equal(t, int16(0), r.PreRoll[0][0])
}

func TestSegmenterSpeechDurationAndOffset(t *testing.T) {
	seg := NewSegmenter(&scripted{labels: "0011111000"}, config.VAD{MinSpeech: ms(40), MinSilence: ms(60)})
	want := []time.Duration{0, 0, 0, ms(40), ms(60), ms(80), ms(100), ms(120), ms(140), 0}
	for i, w := range want {
		seg.Process(numbered(i))
		assert.Equal(t, w, seg.SpeechDuration(), "frame %d", i)
		assert.Equal(t, ms(20*(i+1)), seg.Offset())
	}
}

func TestSegmenterSetMinSilence(t *testing.T) {
	seg := NewSegmenter(&scripted{labels: "11100000000000"}, config.VAD{MinSpeech: ms(20), MinSilence: ms(200)})
	var stopAt []int
	for i := range 14 {
		if i == 4 {
			seg.SetMinSilence(ms(40))
			assert.Equal(t, ms(40), seg.MinSilence())
		}
		if r := seg.Process(numbered(i)); r.Event == SpeechStopped {
			stopAt = append(stopAt, i)
			assert.Equal(t, ms(60), r.At)
		}
	}
	assert.Equal(t, []int{4}, stopAt)
}

func TestSegmenterSetMinSpeech(t *testing.T) {
	tests := []struct {
		name      string
		minSpeech time.Duration
		setAt     int // frame index before which SetMinSpeech runs
		set       time.Duration
		labels    string
		// startAt is the frame of SpeechStarted (-1: none); at its offset.
		startAt int
		at      time.Duration
		preRoll []int
	}{
		{name: "raised: a short burst no longer counts", minSpeech: ms(40), setAt: 0, set: ms(100), labels: "011110000", startAt: -1},
		{name: "lowered: a short burst now counts", minSpeech: ms(100), setAt: 0, set: ms(40), labels: "0011000", startAt: 3, at: ms(40), preRoll: []int{0, 1, 2, 3}},
		{name: "lowered during a run: the next speech frame starts speech", minSpeech: ms(100), setAt: 4, set: ms(40), labels: "01111111", startAt: 4, at: ms(20), preRoll: []int{0, 1, 2, 3, 4}},
		{name: "raised during a run: the ring grows and keeps the pre-roll", minSpeech: ms(40), setAt: 2, set: ms(100), labels: "0111111100", startAt: 5, at: ms(20), preRoll: []int{0, 1, 2, 3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := NewSegmenter(&scripted{labels: tt.labels}, config.VAD{MinSpeech: tt.minSpeech, MinSilence: ms(200), PreRoll: ms(40)})
			startAt := -1
			for i := range len(tt.labels) {
				if i == tt.setAt {
					seg.SetMinSpeech(tt.set)
					assert.Equal(t, tt.set, seg.MinSpeech())
				}
				r := seg.Process(numbered(i))
				if r.Event != SpeechStarted {
					continue
				}
				require.Equal(t, -1, startAt, "SpeechStarted twice")
				startAt = i
				assert.Equal(t, tt.at, r.At)
				got := make([]int, 0, len(r.PreRoll))
				for _, f := range r.PreRoll {
					got = append(got, int(f[0]))
				}
				assert.Equal(t, tt.preRoll, got)
			}
			assert.Equal(t, tt.startAt, startAt)
		})
	}
}

func TestSegmenterSetMinSpeechRoundsToFrames(t *testing.T) {
	seg := NewSegmenter(&scripted{}, config.VAD{MinSpeech: ms(100)})
	seg.SetMinSpeech(ms(50))
	assert.Equal(t, ms(60), seg.MinSpeech())
	seg.SetMinSpeech(0)
	assert.Equal(t, ms(20), seg.MinSpeech(), "at least one frame")
}

func TestSegmenterReset(t *testing.T) {
	det := &scripted{labels: "0111"}
	seg := NewSegmenter(det, config.VAD{MinSpeech: ms(40)})
	for i := range 4 {
		seg.Process(numbered(i))
	}
	require.True(t, seg.Speaking())
	seg.Reset()
	assert.False(t, seg.Speaking())
	assert.Zero(t, seg.Offset())
	assert.Zero(t, seg.SpeechDuration())
	assert.Equal(t, 1, det.resets)
	seg.Process(numbered(0))
	r := seg.Process(numbered(1))
	assert.Equal(t, None, r.Event)
	r = seg.Process(numbered(2))
	assert.Equal(t, SpeechStarted, r.Event)
	assert.Equal(t, ms(20), r.At)
}

func TestSegmenterSteadyStateDoesNotAllocate(t *testing.T) {
	cfg := config.VAD{MinSpeech: ms(100), MinSilence: ms(300), PreRoll: ms(300)}
	f := numbered(1)
	silent := NewSegmenter(&scripted{labels: ""}, cfg)
	assert.Zero(t, testing.AllocsPerRun(100, func() { silent.Process(f) }), "silence")

	speaking := NewSegmenter(&scripted{labels: strings.Repeat("1", 500)}, cfg)
	for range 10 {
		speaking.Process(f) // past SpeechStarted, which hands out PreRoll
	}
	require.True(t, speaking.Speaking())
	assert.Zero(t, testing.AllocsPerRun(100, func() { speaking.Process(f) }), "speech")
}

func TestSegmenterDoesNotAllocateAfterSetMinSpeech(t *testing.T) {
	cfg := config.VAD{MinSpeech: ms(60), MinSilence: ms(300), PreRoll: ms(300)}
	f := numbered(1)
	seg := NewSegmenter(&scripted{labels: strings.Repeat("1", 500)}, cfg)
	seg.Process(f)
	seg.SetMinSpeech(ms(500)) // grows the ring once, here
	assert.Zero(t, testing.AllocsPerRun(20, func() { seg.Process(f) }), "run before SpeechStarted")
	seg.SetMinSpeech(ms(60))
	for !seg.Speaking() {
		seg.Process(f)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { seg.Process(f) }), "speech")
}

func TestEventTypeString(t *testing.T) {
	assert.Equal(t, "speech_started", SpeechStarted.String())
	assert.Equal(t, "speech_stopped", SpeechStopped.String())
	assert.Equal(t, "none", None.String())
	assert.Equal(t, "unknown", EventType(9).String())
}
